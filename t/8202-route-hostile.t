#!/usr/bin/python3
# Hostile and broken routes (doc/routing.md): an endless loop (also inside
# pcall), a memory hog, huge headers, results of the wrong shape, copies to
# nowhere or by an unknown partitioner, too many copies, two routes copying
# to each other (copies are not routed again: no loop), dead letters to a
# missing topic, every record of a batch dead-lettered (plain and
# idempotent). A failing route rejects its batch with INVALID_RECORD
# "route script failed: ..." and appends nothing; the broker keeps serving;
# the failure is logged with the script's file and line and counted; SIGHUP
# replaces the routes.
import os
import signal
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import routetest as rt  # noqa: E402
import tap  # noqa: E402
from odtest import i32, string  # noqa: E402

try:
    import confluent_kafka as ck
except ImportError as e:
    tap.skip_all("client library missing: %s" % e)
odtest.watchdog(300)
TMP = odtest.scratch()
LUA = rt.write(TMP, "hostile.lua", r'''
odradek.route("loop", function(rec) while true do end end)
odradek.route("ploop", function(rec)
  for i = 1, 100 do pcall(function() while true do end end) end
  return true
end)
odradek.route("hog", function(rec)
  local t = {} for i = 1, 1e7 do t[i] = string.rep("x", 1024) .. i end
  return true
end)
odradek.route("bomb", function(rec) rec.headers.big = string.rep("x", 1 << 40) return true end)
odradek.route("big", function(rec) rec.headers.big = string.rep("x", 2 << 20) return true end)
odradek.route("shape", function(rec) return "yes" end)
odradek.route("nothing", function(rec) end)
odradek.route("hdrtable", function(rec) rec.headers = 7 return true end)
odradek.route("hdrvalue", function(rec) rec.headers.x = {} return true end)
odradek.route("nowhere", function(rec) rec:copy("no-such-topic", "murmur2") return true end)
odradek.route("badpart", function(rec) rec:copy("ping", "no-such-partitioner") return true end)
odradek.route("many", function(rec)
  for i = 1, 20 do rec:copy("ping", "murmur2") end
  return true
end)
odradek.route("dlqnowhere", function(rec) return "dlq", "no-such-topic", "x" end)
odradek.route("alldlq", function(rec) return rec:dead_letter("dlq", "everything") end)
odradek.route("manyh", function(rec) return true end)
odradek.route("fan", function(rec) rec:copy("small", "murmur2") return true end)
odradek.route("ping", function(rec) rec:copy("pong", "murmur2") return true end)
odradek.route("pong", function(rec) rec:copy("ping", "murmur2") return true end)
''')

b = rt.broker(scripts=[LUA], sets={"lua.memory.max.bytes": str(8 << 20)}).start()
admin = odtest.ck_admin(b.bootstrap)
TOPICS = ["loop", "ploop", "hog", "bomb", "big", "shape", "nothing", "hdrtable", "hdrvalue",
          "nowhere", "badpart", "many", "dlqnowhere", "alldlq", "ping", "pong", "dlq", "free"]
for t in TOPICS:
    odtest.ck_create_topic(admin, t, 1)
odtest.ck_create_topic(admin, "fan", 1)
odtest.ck_create_topic(admin, "manyh", 1)
odtest.ck_create_topic(admin, "small", 1, {"max.message.bytes": "3000"})


def end(c, t):
    return odtest.list_offsets(c, {(t, 0): -1})[(t, 0)][2]


FAILED = "route script failed: "
with odtest.Conn(b.port) as c:
    for topic, want, what in [
            ("loop", "instruction budget of 1000000 exceeded", "an endless loop"),
            ("ploop", "instruction budget", "endless loops caught by pcall"),
            ("hog", "lua.memory.max.bytes", "a memory hog"),
            ("bomb", "string too large", "a string.rep bomb in a header"),
            ("shape", "returned string", "a result of the wrong shape"),
            ("nothing", "returned nil", "no result"),
            ("hdrtable", "rec.headers is a number", "headers replaced by a number"),
            ("hdrvalue", "a value must be a string", "a header value that is a table"),
            ("nowhere", "no topic 'no-such-topic'", "a copy to a missing topic"),
            ("badpart", "unknown partitioner 'no-such-partitioner'", "an unknown partitioner"),
            ("many", "more than 8 copies of one record (route.copies.max)", "too many copies"),
            ("dlqnowhere", "dead-letters to 'no-such-topic'", "a dead letter to nowhere")]:
        err, off, msg, _ = rt.produce_v8(c, topic, 0, odtest.build_batch([(b"k", b"v")]))
        tap.ok(err == 87 and msg and msg.startswith(FAILED) and want in msg,
               "%s: INVALID_RECORD '%s...%s'" % (what, FAILED, want)) or tap.diag(repr(msg))
        tap.is_(end(c, topic), 0, "... nothing appended to %s" % topic)
    err, off, msg, _ = rt.produce_v8(c, "big", 0, odtest.build_batch([(b"k", b"v")]))
    tap.is_(err, 10, "a 2 MiB header pushes the rebuilt batch past max.message.bytes: "
                     "MESSAGE_TOO_LARGE")
    err, off, _, _ = rt.produce_v8(c, "free", 0, odtest.build_batch([(b"k", b"v")]))
    tap.is_(err, 0, "the broker keeps serving a topic without routes")

    # copies are not routed again: ping <-> pong cannot loop
    for t in ("ping", "pong"):
        tap.is_(rt.produce_v8(c, t, 0, odtest.build_batch([(b"k", b"to-" + t.encode())]))[0], 0,
                "a record to %s is accepted" % t)
    tap.is_((end(c, "ping"), end(c, "pong")), (2, 2),
            "ping and pong hold one record and one copy each (copies are not routed)")

    # a record with 20000 headers (a name given twice each) through a route
    hdrs = [(b"h%d" % (i // 2), b"%d" % i) for i in range(20000)]
    tap.is_(rt.produce_v8(c, "manyh", 0, odtest.build_batch([(b"k", b"v", hdrs)]))[0], 0,
            "a record with 20000 headers passes an accepting route")
    got = odtest.fetch_all(c, "manyh", 0)[0]
    tap.ok(len(got) == 1 and got[0][4] == hdrs, "... stored with its headers as they were")

    # copies are grouped per target partition, each batch within max.message.bytes
    recs = [(b"k%d" % i, b"x" * 1000) for i in range(10)] + [(b"big", b"y" * 5000)]
    tap.is_(rt.produce_v8(c, "fan", 0, odtest.build_batch(recs))[0], 0,
            "11 records to a route copying to a topic with max.message.bytes=3000")
    small = odtest.fetch(c, {("small", 0): 0})[("small", 0)]
    bs = odtest.parse_batches(small["records"])
    tap.ok(sum(x["count"] for x in bs) == 10 and len(bs) >= 4 and
           all(x["crc_ok"] for x in bs),
           "the 10 copies that fit are appended in several batches (%d)" % len(bs))
    tap.ok(all(len(x["records"][0][3]) == 1000 for x in bs), "the 5000-byte copy is dropped")

    # every record dead-lettered
    err, off, msg, _ = rt.produce_v8(c, "alldlq", 0,
                                     odtest.build_batch([(b"a", b"1"), (b"b", b"2")]))
    tap.is_((err, off, end(c, "alldlq"), end(c, "dlq")), (0, -1, 0, 2),
            "a batch whose records all go to the dead-letter topic: accepted, base offset -1")
    r = c.request(22, 0, string(None) + i32(60000))
    r.i32()
    e, pid, epoch = r.i16(), r.i64(), r.i16()
    ib = odtest.build_batch([(b"a", b"1")], producer_id=pid, producer_epoch=epoch,
                            base_sequence=0)
    err, off, msg, _ = rt.produce_v8(c, "alldlq", 0, ib)
    tap.ok(err == 87 and "every record of an idempotent producer's batch was dead-lettered"
           in (msg or ""), "... from an idempotent producer: INVALID_RECORD (a sequence needs "
           "a record)") or tap.diag(repr((err, msg)))
    tap.is_(end(c, "dlq"), 2, "... and nothing is dead-lettered")

# A real client through a failing route.
p = ck.Producer(odtest.ck_conf(b.bootstrap, **{"retries": 0}), logger=odtest.RdLog())
res = []
p.produce("loop", key=b"k", value=b"v", on_delivery=lambda e, m: res.append(e))
p.flush(30)
tap.ok(res and res[0] is not None and res[0].code() == ck.KafkaError.INVALID_RECORD,
       "confluent_kafka through an endless route: INVALID_RECORD") or tap.diag(repr(res))

log = b.log_text()
tap.ok("lua route loop (" in log and "hostile.lua:2" in log and "the batch is rejected" in log,
       "the failure is logged with the route's file and line")
U = b.metrics_url
tap.ok(rt.metric(U, "odradek_lua_hook_errors_total", kind="route", hook="loop") >= 2,
       "route errors are counted per hook")

# SIGHUP: new routes replace the old ones.
with open(LUA, "w") as f:
    f.write('odradek.route("loop", function(rec) return true end)\n')
os.kill(b.pid, signal.SIGHUP)
odtest.wait_until(lambda: "lua: reloaded 1 script(s)" in b.log_text(), 10)
with odtest.Conn(b.port) as c:
    tap.is_(rt.produce_v8(c, "loop", 0, odtest.build_batch([(b"k", b"v")]))[0], 0,
            "after SIGHUP the fixed route accepts")
    tap.is_(rt.produce_v8(c, "hog", 0, odtest.build_batch([(b"k", b"v")]))[0], 0,
            "... and topics whose routes are gone are not routed")
tap.ok(not b.sanitizer_reports(), "no sanitizer reports")
odtest.finish()
