#!/usr/bin/python3
"""bench-ext.py - what the ABI 1.3 events and the Lua policies cost.
Starts brokers of its own (ODRADEK_BUILD as for the tests) on 127.0.0.1:
  - produce of 1000-record batches (uncompressed and gzip) through raw
    Produce v3, with no module listening and with t/lib/evmod.c loaded (its
    REQUEST and APPEND callbacks run for every request; APPEND gets gzip
    batches decompressed and scans them with memmem);
  - CreateTopics of one topic per request, without and with a Lua policy
    (the issue's create_topics example).
Prints requests per second and the ratios, all measured in one run.
Usage: ODRADEK_BUILD=_build python3 scripts/bench-ext.py [batches] [topics]"""
import os
import subprocess
import sys
import tempfile
import time
import zlib

sys.dont_write_bytecode = True
TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(TOP, "t", "lib"))
import odtest  # noqa: E402
from odtest import i8, i16, i32, i64, u32, varint  # noqa: E402

NB = int(sys.argv[1]) if len(sys.argv) > 1 else 400
NT = int(sys.argv[2]) if len(sys.argv) > 2 else 300
TMP = tempfile.mkdtemp(prefix="bench-ext-")


def batch(n, gzip):
    ts = int(time.time() * 1000)
    recs = []
    for i in range(n):
        body = i8(0) + varint(i) + varint(i) + odtest._rec_bytes(b"key-%06d" % i) + \
            odtest._rec_bytes(b"v" * 100) + varint(0)
        recs.append(varint(len(body)) + body)
    recs = b"".join(recs)
    attrs = 0
    if gzip:
        z = zlib.compressobj(1, zlib.DEFLATED, 31)
        recs = z.compress(recs) + z.flush()
        attrs = 1
    after = (i16(attrs) + i32(n - 1) + i64(ts) + i64(ts + n - 1) + i64(-1) + i16(-1) + i32(-1) +
             i32(n) + recs)
    return i64(0) + i32(9 + len(after)) + i32(-1) + i8(2) + u32(odtest.crc32c(after)) + after


def produce_rate(b, gzip, rnd):
    data = batch(1000, gzip)
    topic = "team-bench-%d-%d" % (gzip, rnd)
    with odtest.Conn(b.port) as c:
        odtest.create_topics(c, [(topic, 1, 1)])
        t0 = time.monotonic()
        for _ in range(NB):
            r = odtest.produce(c, {(topic, 0): data})
            assert r[(topic, 0)][0] == 0, r
        return NB / (time.monotonic() - t0)


def create_rate(b, prefix):
    with odtest.Conn(b.port) as c:
        t0 = time.monotonic()
        for i in range(NT):
            r = odtest.create_topics(c, [("%s%d" % (prefix, i), 1, 1)])
            assert list(r.values()) == [0], r
        return NT / (time.monotonic() - t0)


so = os.path.join(TMP, "evmod.so")
subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-I", os.path.join(TOP, "core"),
                "-fPIC", "-shared", "-pthread", "-o", so, os.path.join(TOP, "t", "lib", "evmod.c")],
               check=True)
cfg = os.path.join(TMP, "evmod.properties")
with open(cfg, "w") as f:
    f.write("load_module storage_segment\nload_module kraft\nload_module %s\n" % so)
script = os.path.join(TMP, "policy.lua")
with open(script, "w") as f:
    f.write('''odradek.policy("create_topics", function(req)
  if not req.name:match("^team%-") then return false, "topic names must start with team-" end
  if req.partitions > 12 then return false, "at most 12 partitions per topic" end
  return true
end)
''')

# All three brokers run at once and are measured in turns, three rounds,
# keeping each one's best: the machine is shared, and turns spread the
# noise over all of them.
brokers = {}
for name, kw in [("plain", {}), ("evmod", {"config": cfg}),
                 ("lua", {"sets": {"lua.scripts": script}})]:
    b = odtest.Broker(tmp=os.path.join(TMP, name), name=name, **kw)
    os.makedirs(b.tmp, exist_ok=True)
    brokers[name] = b.start()
res = {n: {"produce": 0, "produce_gzip": 0, "create": 0} for n in brokers}
for rnd in range(3):
    for name, b in brokers.items():
        r = res[name]
        r["produce"] = max(r["produce"], produce_rate(b, False, rnd))
        r["produce_gzip"] = max(r["produce_gzip"], produce_rate(b, True, rnd))
        r["create"] = max(r["create"], create_rate(b, "team-%d-" % rnd))
for b in brokers.values():
    b.stop()

print("1000-record batches per second (Produce v3, acks=1), %d batches, best of 3:" % NB)
for k in ("produce", "produce_gzip"):
    print("  %-13s no listener %8.0f   evmod (REQUEST+APPEND) %8.0f   ratio %.2f" %
          (k, res["plain"][k], res["evmod"][k], res["evmod"][k] / res["plain"][k]))
print("CreateTopics per second, one topic each, %d topics, best of 3:" % NT)
print("  no policy %8.0f   Lua create_topics policy %8.0f   ratio %.2f" %
      (res["plain"]["create"], res["lua"]["create"], res["lua"]["create"] / res["plain"]["create"]))
