#!/usr/bin/python3
# kcat (librdkafka) producer/consumer round trips: keys, headers, NULL
# values, offsets (beginning/end/absolute/relative), -e, compression,
# binary payloads, auto-created topics.
import json
import os
import random
import shutil
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

if not shutil.which("kcat"):
    tap.skip_all("kcat is not installed")
odtest.watchdog(240)
b = odtest.Broker().start()
TMP = b.tmp
BASE = ["kcat", "-b", b.bootstrap, "-m", "15", "-X", "broker.address.family=v4"]


def kcat(args, input=None, timeout=60):
    rc, out, err = odtest.run(BASE + args, timeout=timeout, input=input)
    if rc != 0:
        tap.diag("kcat %s -> rc %s\n%s" % (" ".join(args), rc, err.decode(errors="replace")[-1500:]))
    return rc, out, err


def consume_json(topic, *args, timeout=60):
    rc, out, err = kcat(["-C", "-t", topic, "-e", "-J", "-q"] + list(args), timeout=timeout)
    msgs = []
    for line in out.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                msgs.append(json.loads(line))
            except ValueError:
                tap.diag("bad JSON line from kcat: %r" % line[:200])
    return rc, msgs


# ---- keys (-K), NULLs (-Z), headers (-H), auto-created topic ------------------
T = "kcat-auto"
lines = ["k1:v1", "k2:", ":v3", "k4:v4 with spaces: and colons", "no-delimiter-line", "k6:v6"]
want = [("k1", "v1"), ("k2", None), (None, "v3"), ("k4", "v4 with spaces: and colons"),
        (None, "no-delimiter-line"), ("k6", "v6")]
t0 = int(time.time() * 1000)
rc, out, err = kcat(["-P", "-t", T, "-K", ":", "-Z", "-H", "hdr1=val1", "-H", "hdr2=",
                     "-p", "0"], input=("\n".join(lines) + "\n").encode())
t1 = int(time.time() * 1000)
tap.is_(rc, 0, "kcat -P -K -Z -H to a new topic exits 0")

rc, out, err = kcat(["-L", "-J", "-t", T])
try:
    md = json.loads(out.decode())
    parts = [t for t in md.get("topics", []) if t.get("topic") == T][0]["partitions"]
except (ValueError, IndexError, KeyError):
    parts = None
tap.is_(len(parts) if parts is not None else None, 1,
        "topic auto-created by the producer has num.partitions (1) partitions")

rc, msgs = consume_json(T, "-o", "beginning")
tap.is_(rc, 0, "kcat -C -e -o beginning exits 0")
tap.is_([(m.get("partition"), m.get("offset")) for m in msgs], [(0, i) for i in range(6)],
        "all 6 messages, offsets 0..5 in partition 0")
tap.is_([(m.get("key"), m.get("payload")) for m in msgs], want,
        "keys and values round-trip; -Z empty key/value come back as NULL")
tap.is_([m.get("headers") for m in msgs], [["hdr1", "val1", "hdr2", ""]] * 6,
        "headers round-trip (including an empty header value)")
tap.ok(all(m.get("tstype") == "create" and t0 - 1000 <= m.get("ts", 0) <= t1 + 1000 for m in msgs),
       "CreateTime timestamps preserved") or tap.diag([(m.get("tstype"), m.get("ts")) for m in msgs])

rc, msgs = consume_json(T, "-o", "2")
tap.is_([m.get("offset") for m in msgs], [2, 3, 4, 5], "-o 2 starts at offset 2")
tap.is_([m.get("payload") for m in msgs][:1], ["v3"], "-o 2: first payload is the third message")
rc, msgs = consume_json(T, "-o", "-2")
tap.is_([m.get("offset") for m in msgs], [4, 5], "-o -2 gives the last two messages")
t_end = time.monotonic()
rc, msgs = consume_json(T, "-o", "end")
tap.ok(rc == 0 and msgs == [], "-o end -e: no messages, exits 0")
tap.ok(time.monotonic() - t_end < 30, "-o end -e exits promptly")
rc, msgs = consume_json(T, "-o", "beginning", "-c", "3")
tap.is_([m.get("offset") for m in msgs], [0, 1, 2], "-c 3 stops after three messages")
rc, msgs = consume_json(T, "-o", "6")
tap.ok(rc == 0 and msgs == [], "-o at the high watermark: nothing, exits 0")

# Appending continues the offsets.
rc, out, err = kcat(["-P", "-t", T, "-K", ":", "-p", "0"], input=b"k7:v7\nk8:v8\n")
rc, msgs = consume_json(T, "-o", "6")
tap.is_([(m.get("offset"), m.get("key"), m.get("payload")) for m in msgs],
        [(6, "k7", "v7"), (7, "k8", "v8")], "a second producer run appends at offsets 6, 7")

# ---- offsets by timestamp (kcat -Q) ------------------------------------------------
def query(ts):
    rc, out, err = kcat(["-Q", "-J", "-t", "%s:0:%d" % (T, ts)])
    try:
        return json.loads(out.decode())[T]["0"]["offset"]
    except (ValueError, KeyError, TypeError):
        tap.diag("kcat -Q output: %r" % out[:300])
        return None


tap.is_(query(0), 0, "kcat -Q at timestamp 0: offset 0")
tap.is_(query(int(time.time() * 1000) + 3600 * 1000), -1, "kcat -Q after the last timestamp: -1")

# ---- compression codecs, random partitioner over 3 partitions ---------------
with odtest.Conn(b.port) as c:
    res = odtest.create_topics(c, [("kcat-%s" % z, 3, 1) for z in
                                   ("none", "gzip", "snappy", "lz4", "zstd")])
tap.ok(all(v == 0 for v in res.values()), "created five 3-partition topics") or tap.diag(res)
N = 2000
for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
    topic = "kcat-%s" % codec
    # Compressible and incompressible payloads, varying sizes.
    rnd = random.Random(codec)
    vals = []
    for i in range(N):
        if i % 3 == 0:
            v = "%06d-" % i + "abcdefgh" * rnd.randint(0, 40)
        else:
            v = "%06d-" % i + "".join(rnd.choice("0123456789abcdef") for _ in range(rnd.randint(0, 100)))
        vals.append(v)
    inp = "".join("key%d:%s\n" % (i, v) for i, v in enumerate(vals)).encode()
    rc, out, err = kcat(["-P", "-t", topic, "-K", ":", "-z", codec, "-X", "linger.ms=20"], input=inp)
    tap.is_(rc, 0, "%s: kcat -P -z %s of %d messages exits 0" % (codec, codec, N))
    rc, msgs = consume_json(topic, "-o", "beginning")
    tap.is_(len(msgs), N, "%s: %d messages read back" % (codec, N))
    got = {}
    for m in msgs:
        got.setdefault(m.get("partition"), []).append(m)
    ok_parts = all([m.get("offset") for m in ms] == list(range(len(ms))) for ms in got.values())
    tap.ok(ok_parts, "%s: offsets contiguous from 0 in every partition" % codec)
    tap.ok(len(got) >= 2, "%s: messages spread over partitions (%s)" % (codec, sorted(got)))
    exact = all(m.get("key") == "key%d" % int(m.get("payload", "x")[:6]) and
                m.get("payload") == vals[int(m["payload"][:6])] for m in msgs
                if isinstance(m.get("payload"), str) and m["payload"][:6].isdigit())
    allseen = sorted(int(m["payload"][:6]) for m in msgs
                     if isinstance(m.get("payload"), str) and m["payload"][:6].isdigit()) == list(range(N))
    tap.ok(exact and allseen, "%s: every key/value byte-exact, each exactly once" % codec)
    inorder = all([int(m["payload"][:6]) for m in ms] == sorted(int(m["payload"][:6]) for m in ms)
                  for ms in got.values() if all(isinstance(m.get("payload"), str) for m in ms))
    tap.ok(inorder, "%s: per-partition order is production order" % codec)

# ---- binary payloads: one file = one message ----------------------------------
rnd = random.Random(7)
blobs = [bytes(range(256)) * 4, bytes(rnd.getrandbits(8) for _ in range(300000)),
         b"\n\x00\r\n" * 1000]
paths = []
for i, blob in enumerate(blobs):
    p = os.path.join(TMP, "blob%d" % i)
    with open(p, "wb") as f:
        f.write(blob)
    paths.append(p)
rc, out, err = kcat(["-P", "-t", "kcat-binary", "-p", "0"] + paths)
tap.is_(rc, 0, "kcat -P with files (binary, 300 KB) exits 0")
for i, blob in enumerate(blobs):
    rc, out, err = kcat(["-C", "-t", "kcat-binary", "-p", "0", "-o", str(i), "-c", "1", "-e",
                         "-q", "-f", "%s"])
    tap.ok(rc == 0 and out == blob, "binary message %d (%d bytes) byte-exact" % (i, len(blob))) or \
        tap.diag("got %d bytes" % len(out))

with odtest.Conn(b.port) as c:
    tap.is_(odtest.api_versions(c, 0)["error"], 0, "broker still answers ApiVersions")
sys.exit(odtest.finish())
