#!/usr/bin/python3
# Lua routes (odradek.route, doc/routing.md) with real producers
# (confluent_kafka, kafka-python, kafkajs) and raw Produce v8: the issue's
# example (JSON check -> INVALID_RECORD with the script's reason, a header
# added, a copy to orders-by-region chosen by a Lua partitioner); the
# rebuilt batches keep their codec and carry the new headers; dead letters
# (rec:dead_letter and return "dlq") leave the batch with the others and
# land in the dead-letter topic with the reason; rec fields; re-keyed copies
# by a module partitioner; an untouched batch is stored byte for byte;
# an idempotent retry answered as a duplicate makes no second copy;
# per-hook metrics.
import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import routetest as rt  # noqa: E402
import tap  # noqa: E402
from odtest import i32, string  # noqa: E402

try:
    import confluent_kafka as ck
    import kafka
except ImportError as e:
    tap.skip_all("client library missing: %s" % e)
odtest.watchdog(300)
TMP = odtest.scratch()

LUA = rt.write(TMP, "routes.lua", r'''
odradek.partitioner("by_region", function(key, value, headers, n)
  return (tonumber(headers["region"]) or 0) % n
end)
odradek.route("orders", function(rec)
  if not rec.value or rec.value:sub(1, 1) ~= "{" then return false, "orders must be JSON objects" end
  rec.headers["routed-by"] = "lua"
  rec:copy("orders-by-region", "by_region")   -- topic, partitioner name
  return true
end)

odradek.route("payments", function(rec)
  if rec.value == "bad" then return rec:dead_letter("payments-dlq", "bad payment") end
  if rec.value == "worse" then return "dlq", "payments-dlq", "worse payment" end
  rec.headers["seen-topic"] = rec.topic
  rec.headers["seen-partition"] = rec.partition
  rec.headers["seen-principal"] = rec.principal
  rec.headers["seen-ts"] = rec.timestamp
  rec.headers["drop-me"] = nil
  if rec.headers["customer"] then rec:copy("by-customer", "murmur2", rec.headers["customer"]) end
  return true
end)

odradek.route("plain", function(rec) rec:copy("plain-copy", "murmur2"); return true end)
''')

b = rt.broker(scripts=[LUA]).start()
BS = b.bootstrap
admin = odtest.ck_admin(BS)
for name, n in [("orders", 3), ("orders-by-region", 4), ("payments", 1), ("payments-dlq", 2),
                ("by-customer", 5), ("plain", 1), ("plain-copy", 1)]:
    odtest.ck_create_topic(admin, name, n)


def hdr(m):
    return dict((k, v) for k, v in (m.headers() or []))


# ---- confluent_kafka through the issue's route -------------------------------------------
p = ck.Producer(odtest.ck_conf(BS, **{"linger.ms": 5, "compression.type": "lz4",
                                      "client.id": "ck-route"}), logger=odtest.RdLog())
res = {}
# The padding makes every batch compressible: librdkafka sends a batch that
# lz4 would not shrink (one small record, when a loaded machine splits the
# batches) uncompressed.
for i in range(30):
    p.produce("orders", key=b"o-%d" % i, value=json.dumps({"n": i, "pad": "x" * 200}).encode(),
              partition=i % 3,
              headers=[("region", str(i).encode())],
              on_delivery=lambda e, m, i=i: res.__setitem__(i, e))
p.flush(20)
tap.ok(len(res) == 30 and all(e is None for e in res.values()),
       "confluent_kafka (lz4): 30 JSON orders accepted") or tap.diag(repr(res))
bad = []
p.produce("orders", key=b"o-bad", value=b"not json", partition=0,
          on_delivery=lambda e, m: bad.append(e))
p.flush(20)
tap.ok(bad and bad[0] is not None and bad[0].code() == ck.KafkaError.INVALID_RECORD,
       "a value that is not JSON: INVALID_RECORD") or tap.diag(repr(bad))

got, hw = odtest.ck_read(BS, "orders", [0, 1, 2])
ords = [m for ms in got.values() for m in ms]
tap.is_(len(ords), 30, "orders holds the 30 accepted records, not the rejected one")
tap.ok(all(hdr(m).get("routed-by") == b"lua" and "region" in hdr(m) for m in ords),
       "every stored order carries routed-by=lua next to its own headers")
with odtest.Conn(b.port) as c:
    fr = odtest.fetch(c, {("orders", 0): 0})[("orders", 0)]
    batches = odtest.parse_batches(fr["records"])
tap.ok(batches and all(x["attributes"] & 7 == 3 and x["crc_ok"] for x in batches),
       "the rebuilt batches keep lz4 and carry a right CRC")
cp, _ = odtest.ck_read(BS, "orders-by-region", [0, 1, 2, 3])
copies = [(p_, m) for p_, ms in cp.items() for m in ms]
tap.is_(len(copies), 30, "30 copies in orders-by-region")
tap.ok(all(int(hdr(m)["region"]) % 4 == p_ for p_, m in copies),
       "each copy is in partition region % 4 (the Lua partitioner)")
tap.ok(all(hdr(m).get("routed-by") == b"lua" for p_, m in copies),
       "copies carry the headers as the route left them")
tap.is_(sorted(m.key() for p_, m in copies), sorted(m.key() for m in ords),
        "copies keep their keys and values")

# ---- the reason on the wire (Produce v8 error_message) -----------------------------------
with odtest.Conn(b.port) as c:
    end0 = odtest.list_offsets(c, {("orders", 0): -1})[("orders", 0)][2]
    mixed = odtest.build_batch([(b"a", b'{"ok":1}'), (b"b", b"nope")])
    err, off, msg, rerrs = rt.produce_v8(c, "orders", 0, mixed)
    end1 = odtest.list_offsets(c, {("orders", 0): -1})[("orders", 0)][2]
tap.is_((err, msg), (87, "orders must be JSON objects"),
        "raw Produce v8: INVALID_RECORD with the script's reason")
tap.is_(end1, end0, "nothing of the rejected batch is appended (its good record neither)")

# ---- kafka-python (gzip) ----------------------------------------------------------------
kp = kafka.KafkaProducer(bootstrap_servers=BS, compression_type="gzip", api_version=(2, 8),
                         client_id="kp-route")
fs = [kp.send("orders", key=b"kp-%d" % i, value=json.dumps({"kp": i}).encode(), partition=1,
              headers=[("region", str(i).encode())]) for i in range(10)]
ok_ = all(f.get(20).partition == 1 for f in fs)
try:
    kp.send("orders", key=b"kp-bad", value=b"[]", partition=1).get(20)
    kbad = None
except kafka.errors.KafkaError as e:
    kbad = e
kp.close(10)
tap.ok(ok_, "kafka-python (gzip): 10 orders accepted")
# kafka-python 2.0.2 has no class for code 87 and reports it as UnknownError.
tap.ok(kbad is not None and type(kbad).__name__ in ("InvalidRecordError", "UnknownError"),
       "kafka-python: a JSON array is refused") or tap.diag(repr(kbad))

# ---- kafkajs ---------------------------------------------------------------------------
node_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
if shutil.which("node") and os.path.isdir(os.path.join(node_dir, "node_modules", "kafkajs")):
    proc = subprocess.run(["node", os.path.join(node_dir, "kafkajs-route.js"), BS],
                          capture_output=True, text=True, timeout=120)
    try:
        js = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        js = {"error": "no JSON from node: %r %r" % (proc.stdout[-300:], proc.stderr[-300:])}
    tap.ok("error" not in js and all(r["error"] == 0 for r in js.get("produced", [])),
           "kafkajs (gzip): 20 orders accepted") or tap.diag(repr(js))
    tap.ok(js.get("bad") not in (None, "accepted") and
           "orders must be JSON objects" in js.get("badMessage", "") + js.get("bad", "") or
           js.get("bad") == "INVALID_RECORD",
           "kafkajs: the non-JSON value is refused (%s)" % js.get("bad")) or tap.diag(repr(js))
else:
    tap.skip("kafkajs is not installed", 2)
cp, _ = odtest.ck_read(BS, "orders-by-region", [0, 1, 2, 3])
tap.is_(sum(len(v) for v in cp.values()), 30 + 10 + (20 if shutil.which("node") else 0),
        "every accepted order of the three clients has its copy")

# ---- dead letters, rec fields, re-keying ----------------------------------------------
with odtest.Conn(b.port) as c:
    batch = odtest.build_batch([
        (b"p1", b"good", [("customer", b"c-17"), ("drop-me", b"x")]),
        (b"p2", b"bad"), (b"p3", b"worse", [("why", b"w")]), (b"p4", b"good2")],
        base_ts=1700000000000)
    err, off, msg, rerrs = rt.produce_v8(c, "payments", 0, batch)
    tap.is_(err, 0, "a batch with dead-lettered records is accepted")
    recs, hwm = odtest.fetch_all(c, "payments", 0)
    dl = odtest.fetch_all(c, "payments-dlq", 0)[0]
    bc = {}
    for part in range(5):
        for r in odtest.fetch_all(c, "by-customer", part)[0]:
            bc[part] = bc.get(part, []) + [r]
tap.is_([r[3] for r in recs], [b"good", b"good2"], "payments keeps the accepted records, in order")
tap.is_(off, recs[0][0], "the answer's base offset is the first kept record's")
h = dict(recs[0][4])
tap.is_((h.get(b"seen-topic"), h.get(b"seen-partition"), h.get(b"seen-principal"),
         h.get(b"seen-ts"), b"drop-me" in h),
        (b"payments", b"0", b"User:ANONYMOUS", b"1700000000000", False),
        "rec.topic, partition, principal, timestamp; a header set to nil is removed")
tap.is_(recs[0][1], 1700000000000, "the record keeps its timestamp")
dlh = [dict(r[4]) for r in dl]
tap.is_([r[3] for r in dl], [b"bad", b"worse"], "payments-dlq holds the dead letters")
tap.is_([x.get(b"odradek.dlq.reason") for x in dlh], [b"bad payment", b"worse payment"],
        "... with the route's reason (rec:dead_letter and return \"dlq\")")
tap.ok(all(x.get(b"odradek.dlq.topic") == b"payments" and
           x.get(b"odradek.dlq.partition") == b"0" for x in dlh) and dlh[1].get(b"why") == b"w",
       "... with their source topic and partition, and their own headers")
want = rt.murmur2_partition(b"c-17", 5)
tap.ok(list(bc) == [want] and bc[want][0][2] == b"c-17" and bc[want][0][3] == b"good",
       "rec:copy(topic, \"murmur2\", key): re-keyed and placed by murmur2 of the new key") \
    or tap.diag(repr(bc))

# ---- untouched headers are kept byte for byte -----------------------------------------
with odtest.Conn(b.port) as c:
    dup = [("h", b"1"), ("h", b"2"), ("n", None)]
    rt.produce_v8(c, "plain", 0, odtest.build_batch([(b"k", b"v", dup)]))
    a = odtest.fetch_all(c, "plain", 0)[0]
    cpy = odtest.fetch_all(c, "plain-copy", 0)[0]
tap.is_(a[0][4], [(b"h", b"1"), (b"h", b"2"), (b"n", None)],
        "a route that changes no header keeps them (duplicates, null values)")
tap.is_(cpy[0][4], a[0][4] + [(b"odradek.copy.of", b"plain/0/0")],
        "... and so does its copy, which names its source (odradek.copy.of)")

# ---- an idempotent retry makes no second copy -----------------------------------------
with odtest.Conn(b.port) as c:
    r = c.request(22, 0, string(None) + i32(60000))
    r.i32()
    e, pid, epoch = r.i16(), r.i64(), r.i16()
    ib = odtest.build_batch([(b"idem", b'{"i":1}', [("region", b"1")])], producer_id=pid,
                            producer_epoch=epoch, base_sequence=0)
    first = rt.produce_v8(c, "orders", 2, ib)
    again = rt.produce_v8(c, "orders", 2, ib)
tap.ok(e == 0 and first[0] == 0 and again[0] == 0 and again[1] == first[1],
       "the retry of an idempotent batch is answered as the first time") or \
    tap.diag(repr((e, first, again)))
cp, _ = odtest.ck_read(BS, "orders-by-region", [1])
tap.is_(sum(1 for m in cp[1] if m.key() == b"idem"), 1, "... and makes no second copy")

# ---- metrics ---------------------------------------------------------------------------
U = b.metrics_url
tap.ok(rt.metric(U, "odradek_lua_hook_calls_total", kind="route", hook="orders") >= 3,
       "route calls are counted per hook")
tap.ok(rt.metric(U, "odradek_lua_hook_rejects_total", kind="route", hook="orders") >= 3,
       "route rejects are counted")
tap.ok(rt.metric(U, "odradek_route_copies_total", kind="route", hook="orders") >= 40,
       "copies are counted")
tap.is_(rt.metric(U, "odradek_route_dead_letters_total", kind="route", hook="payments"), 2.0,
        "dead letters are counted")
tap.ok(rt.metric(U, "odradek_lua_hook_calls_total", kind="partitioner", hook="by_region") >= 40,
       "the Lua partitioner's calls are counted")
tap.ok(rt.metric(U, "odradek_lua_hook_seconds_total", kind="route", hook="orders") > 0,
       "time in the hook is summed")
odtest.finish()
