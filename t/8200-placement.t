#!/usr/bin/python3
# The per-topic placement check (placement.partitioner, placement.action;
# doc/routing.md) with real producers: the classic bug - librdkafka's
# default (consistent_random, CRC32) and kafka-python's (murmur2) writing
# the same keys to a topic checked against murmur2: librdkafka's misplaced
# records are rejected with INVALID_RECORD, kafka-python's accepted, and
# librdkafka with partitioner=murmur2_random accepted. The warn action
# counts (metrics endpoint) and logs with client id and principal. Lua
# partitioners (odradek.partitioner): a Lua murmur2 agrees with the module
# on every key; a failing one does not judge; a name clash with a module is
# a start error.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import routetest as rt  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck
    import kafka
except ImportError as e:
    tap.skip_all("client library missing: %s" % e)
odtest.watchdog(300)
TMP = odtest.scratch()

LUA = rt.write(TMP, "parts.lua", rt.LUA_MURMUR2 + r'''
odradek.partitioner("lua_murmur2", function(key, value, headers, n)
  return murmur2(key or "") % n
end)
odradek.partitioner("by_region", function(key, value, headers, n)
  return (tonumber(headers["region"]) or 0) % n
end)
odradek.partitioner("broken", function(key, value, headers, n)
  error("deliberately broken")
end)
odradek.partitioner("too_far", function(key, value, headers, n) return n end)
odradek.partitioner("spin", function(key, value, headers, n) while true do end end)
''')

b = rt.broker(scripts=[LUA]).start()
BS = b.bootstrap
admin = odtest.ck_admin(BS)
N = 6
odtest.ck_create_topic(admin, "placed", N, {"placement.partitioner": "murmur2"})
odtest.ck_create_topic(admin, "placed-warn", N, {"placement.partitioner": "murmur2",
                                                  "placement.action": "warn"})
odtest.ck_create_topic(admin, "placed-lua", N, {"placement.partitioner": "lua_murmur2"})
odtest.ck_create_topic(admin, "placed-region", 4, {"placement.partitioner": "by_region"})
odtest.ck_create_topic(admin, "placed-broken", 4, {"placement.partitioner": "broken"})
odtest.ck_create_topic(admin, "placed-far", 4, {"placement.partitioner": "too_far"})
odtest.ck_create_topic(admin, "placed-spin", 2, {"placement.partitioner": "spin"})
odtest.ck_create_topic(admin, "placed-none", 2, {"placement.partitioner": "nosuch"})

KEYS = [("key-%d" % i).encode() for i in range(60)]
MISPLACED = [k for k in KEYS if rt.crc32_partition(k, N) != rt.murmur2_partition(k, N)]
tap.ok(10 < len(MISPLACED) < len(KEYS), "the key set has keys CRC32 and murmur2 place apart "
       "(%d of %d)" % (len(MISPLACED), len(KEYS)))


def ck_produce(topic, extra=None, keys=KEYS):
    """One record per key, flushed one at a time (no batch mixes keys):
    {key: (error or None, partition)}."""
    conf = odtest.ck_conf(BS, **{"linger.ms": 0, "retries": 0, "client.id": "rd-producer"})
    conf.update(extra or {})
    p = ck.Producer(conf, logger=odtest.RdLog())
    out = {}
    for k in keys:
        def cb(err, m, k=k):
            out[k] = (err, m.partition())
        p.produce(topic, key=k, value=b"v-" + k, on_delivery=cb)
        p.flush(20)
    return out


def kp_produce(topic, keys=KEYS):
    p = kafka.KafkaProducer(bootstrap_servers=BS, client_id="kp-producer", linger_ms=0,
                            retries=0, api_version=(2, 8))
    out = {}
    for k in keys:
        fut = p.send(topic, key=k, value=b"v-" + k)
        try:
            md = fut.get(20)
            out[k] = (None, md.partition)
        except kafka.errors.KafkaError as e:
            out[k] = (e, None)
    p.close(10)
    return out


# ---- the classic bug ---------------------------------------------------------------------
rd = ck_produce("placed")
bad = [k for k, (e, p) in rd.items() if e is not None]
tap.is_(sorted(bad), sorted(MISPLACED),
        "librdkafka's default partitioner: exactly the keys CRC32 misplaces are rejected")
tap.ok(all(rd[k][0].code() == ck.KafkaError.INVALID_RECORD for k in bad),
       "... with INVALID_RECORD") or tap.diag(repr([rd[k][0] for k in bad[:3]]))
tap.ok(all(rd[k][1] == rt.murmur2_partition(k, N) for k in KEYS if k not in bad),
       "the librdkafka records accepted are in murmur2's partition")
kp = kp_produce("placed")
tap.ok(all(e is None for e, p in kp.values()), "kafka-python (murmur2): every record accepted") \
    or tap.diag(repr([e for e, p in kp.values() if e][:3]))
tap.ok(all(kp[k][1] == rt.murmur2_partition(k, N) for k in KEYS), "... in murmur2's partition")
rdm = ck_produce("placed", {"partitioner": "murmur2_random"})
tap.ok(all(e is None for e, p in rdm.values()),
       "librdkafka with partitioner=murmur2_random: every record accepted")
got, hw = odtest.ck_read(BS, "placed", list(range(N)))
total = sum(len(v) for v in got.values())
tap.is_(total, len(KEYS) - len(MISPLACED) + 2 * len(KEYS),
        "the topic holds the accepted records only")
tap.ok(all(rt.murmur2_partition(m.key(), N) == p for p, ms in got.items() for m in ms),
       "every stored record is where murmur2 puts it")

# The message names the key's expected partition (Produce v8 error_message).
k = MISPLACED[0]
wrong = rt.crc32_partition(k, N)
with odtest.Conn(b.port) as c:
    err, off, msg, rerrs = rt.produce_v8(c, "placed", wrong,
                                         odtest.build_batch([(k, b"raw")]))
tap.is_(err, 87, "raw Produce v8 of a misplaced key: INVALID_RECORD")
tap.ok(msg and ("key '%s' belongs in partition %d of %d by placement.partitioner=murmur2"
                % (k.decode(), rt.murmur2_partition(k, N), N)) in msg,
       "the message names the key's expected partition") or tap.diag(repr(msg))
with odtest.Conn(b.port) as c:
    err, off, msg, rerrs = rt.produce_v8(c, "placed", 1, odtest.build_batch([(None, b"nokey")]))
tap.is_(err, 0, "a null key is not judged")
with odtest.Conn(b.port) as c:
    batch = odtest.build_batch([(KEYS[0], b"a"), (MISPLACED[0], b"b")])
    err, off, msg, rerrs = rt.produce_v8(c, "placed", rt.murmur2_partition(KEYS[0], N), batch)
tap.ok(err == 87 or rt.murmur2_partition(MISPLACED[0], N) == rt.murmur2_partition(KEYS[0], N),
       "one misplaced record refuses its whole batch")

# ---- warn: counted and logged --------------------------------------------------------
before = rt.metric(b.metrics_url, "odradek_placement_misplaced_records_total",
                   topic="placed-warn", action="warn")
rw = ck_produce("placed-warn")
tap.ok(all(e is None for e, p in rw.values()), "placement.action=warn: every record accepted")
after = rt.metric(b.metrics_url, "odradek_placement_misplaced_records_total",
                  topic="placed-warn", action="warn")
tap.is_(after - before, len(MISPLACED), "the misplaced records are counted on /metrics")
rej = rt.metric(b.metrics_url, "odradek_placement_misplaced_records_total", topic="placed",
                action="reject")
tap.ok(rej >= len(MISPLACED), "rejections are counted too")
log = b.log_text()
tap.ok("placement: client 'rd-producer' (User:ANONYMOUS" in log and "placed-warn" in log,
       "the warning names the client id and the principal")
tap.ok(log.count("misplaced record(s) to placed-warn") < len(MISPLACED),
       "the warning is rate-limited (fewer lines than misplaced records)")

# ---- Lua partitioners ----------------------------------------------------------------
kl = kp_produce("placed-lua")
tap.ok(all(e is None for e, p in kl.values()),
       "a Lua murmur2 placement check accepts kafka-python's murmur2 placement of every key")
rl = ck_produce("placed-lua")
tap.is_(sorted(k for k, (e, p) in rl.items() if e), sorted(MISPLACED),
        "... and rejects exactly librdkafka's CRC32 misplacements (Lua and module agree)")
with odtest.Conn(b.port) as c:
    good = odtest.build_batch([(b"k", b"v", [("region", b"7")])])
    e1 = rt.produce_v8(c, "placed-region", 3, good)[0]
    e2 = rt.produce_v8(c, "placed-region", 2, good)[0]
tap.ok(e1 == 0 and e2 == 87, "a header-based Lua partitioner: region 7 of 4 partitions is 3")
with odtest.Conn(b.port) as c:
    e3 = rt.produce_v8(c, "placed-broken", 2, odtest.build_batch([(b"k", b"v")]))[0]
    e4 = rt.produce_v8(c, "placed-far", 1, odtest.build_batch([(b"k", b"v")]))[0]
    e5 = rt.produce_v8(c, "placed-spin", 1, odtest.build_batch([(b"k", b"v")]))[0]
tap.ok(e3 == 0 and e4 == 0 and e5 == 0,
       "a failing, out-of-range or endless Lua partitioner does not judge (accepted)")
with odtest.Conn(b.port) as c:
    many = odtest.build_batch([(b"k%d" % i, b"v") for i in range(300)])
    calls0 = rt.metric(b.metrics_url, "odradek_lua_hook_calls_total", kind="partitioner",
                       hook="spin")
    e6 = rt.produce_v8(c, "placed-spin", 0, many)[0]
    calls1 = rt.metric(b.metrics_url, "odradek_lua_hook_calls_total", kind="partitioner",
                       hook="spin")
tap.ok(e6 == 0 and calls1 - calls0 == 1,
       "300 records through an endless partitioner: one budget for the batch, one call, "
       "accepted unjudged") or tap.diag(repr((e6, calls1 - calls0)))
log = b.log_text()
tap.ok("lua partitioner broken (" in log and "parts.lua:" in log and
       "deliberately broken" in log, "the failure is logged with the script's file and line")
tap.ok("returned 4 for 4 partitions" in log, "an out-of-range answer is logged")
tap.ok("instruction budget" in log, "the endless partitioner meets the instruction budget")
tap.ok(rt.metric(b.metrics_url, "odradek_lua_hook_errors_total", kind="partitioner",
                 hook="broken") >= 1, "partitioner errors are counted per hook")
with odtest.Conn(b.port) as c:
    err, off, msg, rerrs = rt.produce_v8(c, "placed-none", 0, odtest.build_batch([(b"k", b"v")]))
tap.ok(err == 87 and "no partitioner of this broker" in (msg or ""),
       "an unknown placement.partitioner rejects (reject action) with a message")
tap.ok(not b.sanitizer_reports(), "no sanitizer reports")
b.stop()

# ---- start errors --------------------------------------------------------------------
for name, text, want in [
        ("clash.lua", 'odradek.partitioner("murmur2", function() return 0 end)\n',
         "a module already registers a partitioner of that name"),
        ("twice.lua", 'odradek.partitioner("p", function() return 0 end)\n'
                      'odradek.partitioner("p", function() return 1 end)\n',
         "registered 2 times")]:
    s = rt.write(TMP, name, text)
    bb = rt.broker(scripts=[s], metrics=False, tmp=odtest.scratch(name))
    try:
        bb.start(timeout=10)
        tap.ok(False, "%s refused at start" % name)
        bb.stop()
    except odtest.BrokerError:
        tap.ok(want in bb.log_text() and name in bb.log_text(),
               "%s: the start fails naming the script and '%s'" % (name, want)) or \
            bb.diag_log(10)
odtest.finish()
