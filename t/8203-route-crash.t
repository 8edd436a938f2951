#!/usr/bin/python3
# What a route guarantees across kill -9 (doc/routing.md, "Guarantees"):
# copies are at least once. A kill -9 under a confluent_kafka producer, a
# restart: every record of the topic (acknowledged or not) has its copy, the
# routes of the records after the last route checkpoint having been
# replayed; every copy has its original. A checkpoint set back (what a crash
# between an original and its copies leaves) is replayed; after a clean stop
# nothing is. An idempotent batch that lost a record to a dead-letter topic
# keeps its last sequence in the log: after kill -9 the producer's next
# sequence is accepted, not OUT_OF_ORDER_SEQUENCE.
import os
import sys
import threading

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
LUA = rt.write(TMP, "crash.lua", r'''
odradek.route("orders", function(rec)
  rec.headers["routed-by"] = "lua"
  rec:copy("orders-copy", "murmur2")
  return true
end)
odradek.route("pay", function(rec)
  if rec.value == "bad" then return rec:dead_letter("pay-dlq", "bad") end
  return true
end)
''')
b = rt.broker(scripts=[LUA], metrics=False).start()
admin = odtest.ck_admin(b.bootstrap)
for t, n in [("orders", 3), ("orders-copy", 2), ("pay", 1), ("pay-dlq", 1)]:
    odtest.ck_create_topic(admin, t, n)

acked = set()
stop = threading.Event()


def produce_forever():
    p = ck.Producer(odtest.ck_conf(b.bootstrap, **{"linger.ms": 2, "retries": 0, "acks": 1,
                                                   "message.timeout.ms": 5000}),
                    logger=odtest.RdLog())
    rt.produce_until(stop, p, "orders", lambda i: (b"k-%d" % i, b"v-%d" % i),
                     lambda e, m: acked.add(m.value()) if e is None else None,
                     every=50, pause=0.01)
    p.flush(6)


th = threading.Thread(target=produce_forever)
th.start()
odtest.wait_until(lambda: len(acked) > 3000, 60)
b.kill9()
stop.set()
th.join(30)
n_acked = len(acked)
tap.ok(n_acked > 3000, "%d records acknowledged before kill -9" % n_acked)
b.start()
got, _ = odtest.ck_read(b.bootstrap, "orders", [0, 1, 2])
orig = [m.value() for ms in got.values() for m in ms]
cp, _ = odtest.ck_read(b.bootstrap, "orders-copy", [0, 1])
copies = [m.value() for ms in cp.values() for m in ms]
tap.ok(acked <= set(orig), "every acknowledged record is in orders after the restart")
tap.ok(set(orig) <= set(copies), "every record in orders has its copy after the restart "
       "(the routes of the records after the last checkpoint were replayed)") or \
    tap.diag("%d originals without a copy" % len(set(orig) - set(copies)))
tap.ok(set(copies) <= set(orig), "every copy has its original")
tap.ok(len(copies) >= len(orig), "copies are at least once (%d originals, %d copies; the "
       "replayed ones twice)" % (len(orig), len(copies)))
tap.ok("replayed the routes of offsets" in b.log_text(), "the replay is logged")

# ---- a checkpoint behind the log end is replayed (what a crash leaves) ------------------
b.stop()
with open(os.path.join(b.data, "orders-0", "route-checkpoint.state"), "w") as f:
    f.write("v1 0\n")
b.start()
got0, _ = odtest.ck_read(b.bootstrap, "orders", [0])
cp2, _ = odtest.ck_read(b.bootstrap, "orders-copy", [0, 1])
src = {}
for ms in cp2.values():
    for m in ms:
        src.setdefault(dict(m.headers())["odradek.copy.of"], []).append(m.value())
n0 = len(got0[0])
tap.ok(all(len(src.get(b"orders/0/%d" % m.offset(), [])) >= 2 for m in got0[0]),
       "with the checkpoint of orders-0 at 0, each of its %d records is copied once more" % n0)
tap.ok(all(v == [m.value()] * len(v) for m in got0[0]
           for v in [src[b"orders/0/%d" % m.offset()]]),
       "odradek.copy.of names the source topic, partition and offset")
b.stop()
b.start()
cp3, _ = odtest.ck_read(b.bootstrap, "orders-copy", [0, 1])
tap.is_(sum(len(v) for v in cp3.values()), sum(len(v) for v in cp2.values()),
        "after a clean stop (checkpoint at the log end) nothing is replayed")

# ---- routes removed, records produced, routes back: nothing replayed --------------------
with open(LUA) as f:
    script = f.read()
with open(LUA, "w") as f:
    f.write("-- no routes for a while\n")
b.restart()
with open(os.path.join(b.data, "orders-1", "route-checkpoint.state")) as f:
    tap.is_(f.read(), "v1 none\n", "a topic without routes has its checkpoints cleared at start")
with odtest.Conn(b.port) as c:
    for i in range(5):
        rt.produce_v8(c, "orders", 1, odtest.build_batch([(b"late", b"late-%d" % i)]))
with open(LUA, "w") as f:
    f.write(script)
b.restart()
cp4, _ = odtest.ck_read(b.bootstrap, "orders-copy", [0, 1])
tap.is_(sum(len(v) for v in cp4.values()), sum(len(v) for v in cp3.values()),
        "routes added again do not copy what was produced while there were none")

# ---- idempotent producer, a record dead-lettered, then kill -9 ----------------------------
with odtest.Conn(b.port) as c:
    r = c.request(22, 0, string(None) + i32(60000))
    r.i32()
    e, pid, epoch = r.i16(), r.i64(), r.i16()
    b1 = odtest.build_batch([(b"a", b"ok-0"), (b"b", b"bad"), (b"c", b"ok-2")],
                            producer_id=pid, producer_epoch=epoch, base_sequence=0)
    first = rt.produce_v8(c, "pay", 0, b1)
tap.is_(first[0], 0, "an idempotent batch with a dead-lettered record is accepted")
b.kill9()
b.start()
with odtest.Conn(b.port) as c:
    b2 = odtest.build_batch([(b"d", b"ok-3")], producer_id=pid, producer_epoch=epoch,
                            base_sequence=3)
    nxt = rt.produce_v8(c, "pay", 0, b2)
    recs = [x[3] for x in odtest.fetch_all(c, "pay", 0)[0]]
    dlq = [x[3] for x in odtest.fetch_all(c, "pay-dlq", 0)[0]]
tap.is_(nxt[0], 0, "after kill -9 the producer's next sequence (3) is accepted") or \
    tap.diag(repr(nxt))
tap.is_((recs, dlq), ([b"ok-0", b"ok-2", b"ok-3"], [b"bad"]),
        "the topic and the dead-letter topic hold what they should")
odtest.finish()
