#!/usr/bin/python3
"""bench-route.py - what the placement check and Lua routes cost on the
produce path (doc/routing.md). One broker (ODRADEK_BUILD as for the tests,
the partitioners module loaded), raw Produce v3 of 1000-record batches
(uncompressed) to topics that differ only in their routing:
  plain        no check, no route
  placed       placement.partitioner=murmur2 (every key hashed; the batch
               is built so that every record is where murmur2 puts it)
  placed-lua   placement.partitioner=lua_murmur2 (murmur2 in Lua)
  routed       a route that accepts without changing anything
  headers      a route that adds a header (the batch is rebuilt)
  copied       a route that adds a header and copies every record
Prints batches per second and the ratio to plain, measured in one run.
Usage: ODRADEK_BUILD=_build python3 scripts/bench-route.py [batches]"""
import os
import sys
import tempfile
import time

sys.dont_write_bytecode = True
TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(TOP, "t", "lib"))
import odtest  # noqa: E402
import routetest as rt  # noqa: E402

NB = int(sys.argv[1]) if len(sys.argv) > 1 else 200
TMP = tempfile.mkdtemp(prefix="bench-route-")
LUA = rt.write(TMP, "bench.lua", rt.LUA_MURMUR2 + r'''
odradek.partitioner("lua_murmur2", function(key, value, headers, n) return murmur2(key) % n end)
odradek.route("routed", function(rec) return true end)
odradek.route("headers", function(rec) rec.headers["routed-by"] = "lua" return true end)
odradek.route("copied", function(rec)
  rec.headers["routed-by"] = "lua"
  rec:copy("copies", "murmur2")
  return true
end)
''')

# Keys that murmur2 puts in partition 0 of 2, so the placed topics accept.
keys = []
i = 0
while len(keys) < 1000:
    k = b"key-%06d" % i
    if rt.murmur2_partition(k, 2) == 0:
        keys.append(k)
    i += 1
data = odtest.build_batch([(k, b"v" * 100) for k in keys])

b = rt.broker(scripts=[LUA], metrics=False, tmp=TMP,
              sets={"lua.instructions.max": "100000000"}).start()
CASES = [("plain", {}), ("placed", {"placement.partitioner": "murmur2"}),
         ("placed-lua", {"placement.partitioner": "lua_murmur2"}), ("routed", {}),
         ("headers", {}), ("copied", {})]
admin = odtest.ck_admin(b.bootstrap)
for name, cfg in CASES + [("copies", {})]:
    odtest.ck_create_topic(admin, name, 2, cfg)


def rate(topic):
    with odtest.Conn(b.port) as c:
        t0 = time.monotonic()
        for _ in range(NB):
            r = odtest.produce(c, {(topic, 0): data})
            assert r[(topic, 0)][0] == 0, (topic, r)
        return NB / (time.monotonic() - t0)


best = {}
for rnd in range(3):
    for name, _ in CASES:
        best[name] = max(best.get(name, 0), rate(name))
b.stop()
print("| topic | batches/s | ratio to plain |")
print("| --- | --- | --- |")
for name, _ in CASES:
    print("| %s | %.0f | %.2f |" % (name, best[name], best[name] / best["plain"]))
