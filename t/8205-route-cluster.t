#!/usr/bin/python3
# Routes in a 3-node cluster (doc/routing.md, "In a cluster"): a route on A (led by node 1)
# copies to B, whose partitions nodes 2 and 3 lead; node 1 forwards the copies to them in
# Produce requests (acks=all) and holds its route checkpoint until they are acknowledged.
#  (a) confluent_kafka and kafka-python produce to A: every record has its copy in B
#      (odradek.copy.of names it), no copy is routed again;
#  (b) kill -9 of B-0's leader during production: after the failover every acknowledged
#      record of A has its copy;
#  (c) kill -9 of the routing broker (node 1) during production: after its restart (the
#      replay forwards again) every acknowledged original has at least one copy;
#  (d) a loop (L1 -> L2 on node 1, L2 -> L1 on node 2) makes exactly one copy of each;
#  (e) route.forward.buffer.bytes small and the target's leader down: a produce to the
#      routed topic is refused with NOT_ENOUGH_REPLICAS and the documented message, nothing
#      of it appended; librdkafka retries and succeeds once the leader is back;
#  (f) with the target's leader down, the source's route checkpoint stays at the copy not
#      acknowledged; kill -9 of the routing broker: the replay makes the copy;
#  (g) a replay whose copies exceed route.forward.buffer.bytes pauses and goes on;
#  (h) a target topic deleted while its copies wait: they are lost, counted, released.
import os
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster  # noqa: E402
import odtest  # noqa: E402
import routetest as rt  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck
    from confluent_kafka.admin import NewTopic
    import kafka
except ImportError as e:
    tap.skip_all("client library missing: %s" % e)
odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "600")))

NOT_ENOUGH_REPLICAS = 19
TMP = odtest.scratch()
LUA = rt.write(TMP, "cluster.lua", r'''
odradek.route("A", function(rec) rec:copy("B", "murmur2"); return true end)
odradek.route("L1", function(rec) rec:copy("L2", "murmur2"); return true end)
odradek.route("L2", function(rec) rec:copy("L1", "murmur2"); return true end)
odradek.route("C", function(rec) rec:copy("D", "murmur2"); return true end)
''')
sets = [("load_module", m) for m in rt.BASE_MODULES]
sets += [("lua.scripts", LUA), ("replica.lag.time.max.ms", "3000"),
         ("broker.session.timeout.ms", "3000"), ("broker.heartbeat.interval.ms", "500"),
         ("auto.leader.rebalance.enable", "false")]
c = cluster.Cluster(3, sets=sets)
murls = {}
for n in (1, 2, 3):
    mp = odtest.free_port()
    c.node(n).sets.append(("metrics.listener", "http://127.0.0.1:%d" % mp))
    murls[n] = "http://127.0.0.1:%d/metrics" % mp
c.start()
c.wait_leader()
c.wait_brokers(3)
admin = odtest.ck_admin(c.bootstrap)
layout = {"A": [[1]], "B": [[2, 3, 1], [3, 2, 1]], "L1": [[1]], "L2": [[2]], "C": [[1]],
          "D": [[2]]}
fs = admin.create_topics([NewTopic(t, num_partitions=len(r), replica_assignment=r) for t, r in layout.items()],
                         operation_timeout=30, request_timeout=30)
for t, f in fs.items():
    f.result(40)
for t, r in layout.items():
    odtest.wait_topic(admin, t, len(r), 30)


def leaders(topic):
    for _ in range(10):  # a node just killed may be the one asked
        try:
            md = admin.list_topics(topic, timeout=10).topics[topic]
            return {p: m.leader for p, m in md.partitions.items()}
        except ck.KafkaException:
            continue
    raise RuntimeError("no metadata for %s" % topic)


def pending(node):
    return rt.metric(murls[node], "odradek_route_forward_pending_records")


def drained(nodes=(1, 2, 3), timeout=90):
    return odtest.wait_until(lambda: all(pending(n) == 0 for n in nodes if c.node(n).running()),
                             timeout, 0.2)


def read_all(topic):
    got, _ = odtest.ck_read(c.bootstrap, topic, sorted(leaders(topic)), timeout=90)
    return [m for ms in got.values() for m in ms]


def copy_of(m):
    return dict(m.headers() or []).get("odradek.copy.of")


tap.is_(leaders("B"), {0: 2, 1: 3}, "B's partitions are led by nodes 2 and 3, A's by node 1")

# ---- (a) both clients, every record copied once to the other brokers ----------------------
acked = set()
p = ck.Producer(odtest.ck_conf(c.bootstrap, **{"acks": "all", "linger.ms": 5}),
                logger=odtest.RdLog())
for i in range(600):
    p.produce("A", key=b"k-%d" % i, value=b"ck-%d" % i,
              on_delivery=lambda e, m: acked.add(m.value()) if e is None else None)
p.flush(60)
kp = kafka.KafkaProducer(bootstrap_servers=c.bootstrap, acks="all", api_version=(2, 8))
futs = [kp.send("A", key=b"kp-%d" % i, value=b"kp-%d" % i) for i in range(400)]
kp.flush(60)
for i, f in enumerate(futs):
    if f.succeeded():
        acked.add(b"kp-%d" % i)
tap.is_(len(acked), 1000, "confluent_kafka and kafka-python: 1000 records acknowledged")
tap.ok(drained(), "the forwarded copies are acknowledged (pending 0 on every node)")
orig = read_all("A")
copies = read_all("B")
byval = {}
for m in copies:
    byval.setdefault(m.value(), []).append(m)
src = {m.value(): b"A/%d/%d" % (m.partition(), m.offset()) for m in orig}
tap.ok(all(v in byval for v in acked), "every acknowledged record has its copy in B") or \
    tap.diag("%d without" % len([v for v in acked if v not in byval]))
tap.ok(all(len(byval[v]) == 1 and copy_of(byval[v][0]) == src[v] for v in acked),
       "each exactly once, odradek.copy.of naming its original's partition and offset")
tap.ok(all(copy_of(m) is None for m in orig), "nothing was copied into A (copies are not "
       "routed again)")
tap.is_(sorted({m.partition() for m in copies}), [0, 1], "the copies went to both B partitions "
        "(nodes 2 and 3)")
tap.ok(rt.metric(murls[1], "odradek_route_forwarded_total", kind="route", hook="A") >= 1000,
       "odradek_route_forwarded_total{hook=A} on node 1 counts them")
tap.is_(rt.metric(murls[1], "odradek_route_lost_total", kind="route", hook="A"), 0.0,
        "none lost")


# ---- (b) and (c): kill -9 under a producer -----------------------------------------------
def produce_during(fault, tag):
    """confluent_kafka produces to A (about 2000 records a second, so a loaded
    machine keeps up) until 1000 more are acknowledged after fault() (called once
    1000 are) returned; returns the acknowledged values."""
    ok = set()
    stop = threading.Event()

    def run():
        pr = ck.Producer(odtest.ck_conf(c.bootstrap, **{"acks": "all", "linger.ms": 2,
                                                       "message.timeout.ms": 60000}),
                         logger=odtest.RdLog())
        # refused: a restarted node answers Metadata before its image has caught
        # up with the quorum (no topic A yet): librdkafka refuses for a moment
        rt.produce_until(stop, pr, "A", lambda i: (b"%s-%d" % (tag, i),) * 2,
                         lambda e, m: ok.add(m.value()) if e is None else None,
                         every=20, nap=0.01, refused=(ck.KafkaException,))
        pr.flush(90)
    th = threading.Thread(target=run, daemon=True)
    th.start()
    odtest.wait_until(lambda: len(ok) >= 1000, 90)
    try:
        fault()
    finally:
        n = len(ok)
        odtest.wait_until(lambda: len(ok) >= n + 1000, 120)
        stop.set()
    th.join(150)
    return ok


def kill_b0_leader():
    victim = leaders("B")[0]
    produce_during.victim = victim
    c.node(victim).kill9()
    odtest.wait_until(lambda: leaders("B").get(0, -1) not in (-1, victim), 60)


ok_b = produce_during(kill_b0_leader, b"b")
victim = produce_during.victim
tap.ok(leaders("B")[0] != victim, "B-0 moved from node %d to node %d after kill -9"
       % (victim, leaders("B")[0]))
tap.ok(drained(), "node 1's copies for B are acknowledged after the failover")
have = {m.value() for m in read_all("B")}
tap.ok(ok_b <= have, "every one of the %d records acknowledged around the kill has its copy"
       % len(ok_b)) or tap.diag("%d without" % len(ok_b - have))
tap.ok(rt.metric(murls[1], "odradek_route_forward_retries_total", kind="route", hook="A") > 0,
       "the copies for the killed leader were sent again (retries counted)")
c.node(victim).start()
c.wait_brokers(3)


def kill_router():
    c.node(1).kill9()
    c.node(1).start()


ok_c = produce_during(kill_router, b"c")
tap.ok(drained(), "after node 1's restart its copies are acknowledged")
have = {m.value() for m in read_all("B")}
tap.ok(ok_c <= have, "every one of the %d records acknowledged around node 1's kill -9 has at "
       "least one copy" % len(ok_c)) or tap.diag("%d without" % len(ok_c - have))
tap.ok("replayed the routes of offsets" in c.node(1).log_text(),
       "node 1 replayed the routes after the last checkpoint")
bad = [m for m in read_all("B") if not (copy_of(m) or b"").startswith(b"A/")]
tap.is_(len(bad), 0, "every record of B is a copy of a record of A")

# ---- (d) a loop: each side copies to the other, exactly one copy each ----------------------
kp = kafka.KafkaProducer(bootstrap_servers=c.bootstrap, acks="all", api_version=(2, 8))
for i in range(100):
    kp.send("L1", value=b"l1-%d" % i)
    kp.send("L2", value=b"l2-%d" % i)
kp.flush(60)
tap.ok(drained(), "the loop's copies are acknowledged")
l1, l2 = read_all("L1"), read_all("L2")


def split(ms):
    return ([m.value() for m in ms if copy_of(m) is None],
            sorted(m.value() for m in ms if copy_of(m) is not None))


o1, c1 = split(l1)
o2, c2 = split(l2)
tap.is_((len(o1), len(o2)), (100, 100), "100 originals in each topic")
tap.is_(c2, sorted(o1), "L2 holds exactly one copy of each of L1's records")
tap.is_(c1, sorted(o2), "L1 holds exactly one copy of each of L2's records")

# ---- (e) the buffer cap ------------------------------------------------------------------
c.node(1).stop()
c.node(1).sets.append(("route.forward.buffer.bytes", "4096"))
c.node(1).start()
c.wait_brokers(3)
odtest.wait_until(lambda: leaders("C") == {0: 1}, 30)
c.node(2).kill9()  # D's only replica: its copies wait
big = [(b"k%d" % i, b"x" * 600) for i in range(10)]
with odtest.Conn(c.bports[0]) as cn:
    first = rt.produce_v8(cn, "C", 0, odtest.build_batch(big), acks=1)
    odtest.wait_until(lambda: pending(1) >= 10, 30)
    second = rt.produce_v8(cn, "C", 0, odtest.build_batch([(b"k", b"refused")]), acks=1)
tap.is_(first[0], 0, "a produce to C while the buffer has room is accepted")
tap.is_(second[0], NOT_ENOUGH_REPLICAS, "with 6 KB of copies waiting (cap 4096) the next is "
        "refused with NOT_ENOUGH_REPLICAS") or tap.diag(repr(second))
tap.like(second[2] or "", r"route\.forward\.buffer\.bytes",
         "the error message names route.forward.buffer.bytes")
tap.ok(rt.metric(murls[1], "odradek_route_forward_refused_total", kind="route", hook="C") >= 1,
       "the refusal is counted")
delivered = []
pr = ck.Producer(odtest.ck_conf(c.bootstrap, **{"acks": "all", "message.timeout.ms": 120000}),
                 logger=odtest.RdLog())
pr.produce("C", key=b"retry", value=b"retried",
           on_delivery=lambda e, m: delivered.append(e))
pr.poll(3)
tap.is_(delivered, [], "librdkafka's produce is not delivered while the buffer is full "
        "(it retries)")
c.node(2).start()
pr.flush(120)
tap.is_(delivered, [None], "after D's leader is back the retry is acknowledged")
tap.ok(drained(), "the waiting copies are acknowledged")
vals = [m.value() for m in read_all("C")]
tap.ok(b"refused" not in vals and b"retried" in vals,
       "the refused batch was not appended; the retried one was")
dvals = [m.value() for m in read_all("D")]
tap.ok(set(vals) <= set(dvals) and len(dvals) >= len(vals), "D holds a copy of each record of C")

# ---- (f) the route checkpoint waits for the acknowledgement ------------------------------
def ckpt(topic):
    with open(os.path.join(c.node(1).data, "%s-0" % topic, "route-checkpoint.state")) as f:
        return f.read()


c.node(2).kill9()  # D's leader again
with odtest.Conn(c.bports[0]) as cn:
    held = rt.produce_v8(cn, "C", 0, odtest.build_batch([(b"held", b"held-1")]), acks=1)
    odtest.wait_until(lambda: pending(1) >= 1, 30)
    clock = rt.produce_v8(cn, "A", 0, odtest.build_batch([(b"clock", b"clock-1")]), acks=1)
# A's checkpoint reaching its log end proves a checkpoint pass ran after the C record.
tap.ok(odtest.wait_until(lambda: ckpt("A") == "v1 %d\n" % (clock[1] + 1), 30),
       "A-0's checkpoint moved past its new record (copied to B on node 3)")
tap.is_(ckpt("C"), "v1 %d\n" % held[1], "C-0's checkpoint stays at the record whose copy "
        "node 2 has not acknowledged")
c.node(1).kill9()
c.node(2).start()
c.node(1).start()
c.wait_brokers(3)
tap.ok(drained(), "after both restarts nothing is pending")
tap.ok(b"held-1" in [m.value() for m in read_all("D")],
       "the copy pending at node 1's kill -9 was made by the replay")

# ---- (g) a replay larger than the buffer pauses and goes on ------------------------------
c.node(1).stop()
c.node(2).stop()
with open(os.path.join(c.node(1).data, "C-0", "route-checkpoint.state"), "w") as f:
    f.write("v1 0\n")  # what a crash long ago would leave: all of C-0 to replay
c.node(1).start()
tap.ok(odtest.wait_until(lambda: "the replay waits" in c.node(1).log_text(), 60),
       "with D's leader down the replay of C-0 pauses at route.forward.buffer.bytes")
tap.ok(rt.metric(murls[1], "odradek_route_forward_pending_bytes") < 4096 + 8192,
       "the copies it holds stay within the cap plus one batch")
tap.is_(ckpt("C"), "v1 0\n", "C-0's checkpoint stays where the replay began")
c.node(2).start()
c.wait_brokers(3)
n_c = len(read_all("C"))
tap.ok(odtest.wait_until(lambda: ckpt("C") == "v1 %d\n" % n_c, 90),
       "once D's leader is back the replay finishes; the checkpoint reaches C-0's end")
tap.ok(drained(), "and its copies are acknowledged")
per = {}
for m in read_all("D"):
    per[copy_of(m)] = per.get(copy_of(m), 0) + 1
tap.ok(all(per.get(b"C/0/%d" % o, 0) >= 2 for o in range(n_c)),
       "every record of C-0 has its copy made again by the replay") or tap.diag(repr(per))

# ---- (h) a target deleted while its copies wait: lost, counted, released ------------------
lost0 = rt.metric(murls[1], "odradek_route_lost_total", kind="route", hook="C")
c.node(2).kill9()
with odtest.Conn(c.bports[0]) as cn:
    gone = rt.produce_v8(cn, "C", 0, odtest.build_batch([(b"gone", b"gone-1")]), acks=1)
tap.is_(gone[0], 0, "a produce to C with D's leader down is accepted")
tap.ok(odtest.wait_until(lambda: pending(1) >= 1, 30), "its copy waits")
admin.delete_topics(["D"], operation_timeout=30)["D"].result(40)
tap.ok(drained(nodes=(1,)), "D deleted: the waiting copy is released")
tap.is_(rt.metric(murls[1], "odradek_route_lost_total", kind="route", hook="C") - lost0, 1.0,
        "and counted in odradek_route_lost_total")
tap.ok("copies for D-0 lost: the topic or partition is gone" in c.node(1).log_text(),
       "and logged")
tap.ok(odtest.wait_until(lambda: ckpt("C") == "v1 %d\n" % (gone[1] + 1), 30),
       "C-0's checkpoint moves past it")
c.node(2).start()
c.stop_proxies()
sys.exit(odtest.finish())
