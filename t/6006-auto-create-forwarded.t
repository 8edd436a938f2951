#!/usr/bin/python3
# 6006-auto-create-forwarded.t - topics a broker creates by itself go to the
# active controller too: a producer talking only to a broker that is not
# the controller writes to a topic that does not exist yet (Metadata's
# auto-creation, forwarded as CreateTopics), and a consumer group
# coordinated through that broker creates __consumer_offsets and commits;
# idempotent producers on both non-controllers get their producer ids from
# blocks the controller allocates (AllocateProducerIds).
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)

odtest.watchdog(150)
c = cluster.Cluster(3).start()
leader, _ = c.wait_leader()
c.wait_brokers(3)
other = [i for i in (1, 2, 3) if i != leader][0]
bs = c.bootstrap_of([other])

p = ck.Producer({"bootstrap.servers": bs, "logger": odtest.RdLog(),
                 "message.timeout.ms": 30000})
errs = []
for i in range(20):
    p.produce("auto-created", value=b"v%d" % i,
              on_delivery=lambda e, m: errs.append(e) if e else None)
left = p.flush(40)
tap.ok(left == 0 and not errs, "20 records to a new topic through broker %d (not the "
       "controller): delivered (%s)" % (other, errs[:1]))

def known_everywhere():
    for i in (1, 2, 3):
        with odtest.Conn(c.bports[i - 1]) as conn:
            t = odtest.metadata(conn, ["auto-created"])["topics"].get("auto-created")
        if not t or t["error"] != 0:
            return False
    return True
tap.ok(odtest.wait_until(known_everywhere, 20), "the auto-created topic is in every image")

cons = ck.Consumer({"bootstrap.servers": bs, "group.id": "g6006", "logger": odtest.RdLog(),
                    "auto.offset.reset": "earliest", "enable.auto.commit": False})
cons.subscribe(["auto-created"])
got = []
deadline = odtest.time.monotonic() + 60
while len(got) < 20 and odtest.time.monotonic() < deadline:
    m = cons.poll(1.0)
    if m is not None and not m.error():
        got.append(m.value())
tap.is_(len(got), 20, "a consumer group through broker %d reads them all" % other)
committed = None
try:
    cons.commit(asynchronous=False)
    committed = cons.committed([ck.TopicPartition("auto-created", 0)], timeout=20)
except ck.KafkaException as e:
    tap.diag("commit: %r" % e)
cons.close()
tap.ok(committed and committed[0].offset > 0,
       "it commits offsets (__consumer_offsets created through the controller)")
others = [i for i in (1, 2, 3) if i != leader]
for i in others:
    ip = ck.Producer({"bootstrap.servers": c.bootstrap_of([i]), "logger": odtest.RdLog(),
                      "enable.idempotence": True, "message.timeout.ms": 30000})
    errs = []
    for k in range(10):
        ip.produce("auto-created", value=b"i%d" % k,
                   on_delivery=lambda e, m: errs.append(e) if e else None)
    left = ip.flush(40)
    tap.ok(left == 0 and not errs, "an idempotent producer through broker %d delivers (%s)"
           % (i, errs[:1]))
blocks = [ln for ln in c.node(leader).log_text().splitlines() if "producer id block" in ln]
tap.ok(not blocks, "the controller allocated its blocks without failures %s" % blocks[:2])
sys.exit(odtest.finish())
