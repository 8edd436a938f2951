#!/usr/bin/python3
# Committed offsets are durable: consumers that commit synchronously resume
# exactly where they committed after a clean broker restart (SIGTERM) and
# after SIGKILL, with no message skipped or repeated; offset metadata strings
# round-trip (kafka-python OffsetAndMetadata; raw OffsetFetch) across a
# restart; simple consumers (assign() + commit, no group membership) commit
# and fetch; auto.offset.reset earliest / latest / none behave as the
# clients expect when nothing is committed.
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck
    import kafka
    from kafka.consumer.fetcher import NoOffsetForPartitionError
    from kafka.structs import OffsetAndMetadata
    from kafka.structs import TopicPartition as KTP
except ImportError as e:
    tap.skip_all("confluent_kafka or kafka-python not available: %s" % e)
import groups as G  # noqa: E402

odtest.watchdog(170)
b = odtest.Broker(sets={"group.initial.rebalance.delay.ms": "0"}).start()
with odtest.Conn(b.port) as c:
    if G.JOIN_GROUP not in odtest.api_versions(c, 0)["apis"]:
        tap.skip_all("the broker does not advertise JoinGroup (no group coordinator)")
BS = b.bootstrap
TOPIC, P, N = "off-t", 3, 300
odtest.ck_create_topic(odtest.ck_admin(BS), TOPIC, P)
ALL = G.produce_numbered(BS, TOPIC, P, 0, N)
log = odtest.RdLog()


def ck_consumer(group, **extra):
    conf = odtest.ck_conf(BS, **{"group.id": group, "enable.auto.commit": False,
                                 "auto.offset.reset": "earliest", "session.timeout.ms": 10000,
                                 "heartbeat.interval.ms": 500, "fetch.wait.max.ms": 100})
    conf.update(extra)
    return ck.Consumer(conf, logger=log)


def consume_n(cons, n, timeout=40):
    """Exactly n messages, one poll() at a time (so the stored positions
    are those of the messages returned). Returns [(partition, offset, value)]."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        m = cons.poll(0.2)
        if m is None:
            continue
        if m.error() is not None:
            if m.error().code() != ck.KafkaError._PARTITION_EOF:
                tap.diag("consume error: %s" % m.error())
            continue
        out.append((m.partition(), m.offset(), m.value().decode()))
    return out


def next_offsets(msgs):
    nxt = {}
    for p, o, _ in msgs:
        nxt[p] = max(nxt.get(p, 0), o + 1)
    return nxt


def raw_committed(group, parts=range(P), topic=TOPIC):
    with odtest.Conn(b.port) as cc:
        f = G.offset_fetch(cc, group, {topic: list(parts)}, version=5)
    return {p: f["offsets"][(topic, p)][:2] for p in parts}


# ---- subscribe, commit, clean restart, resume ---------------------------------------------
GRP = "off-g"
c1 = ck_consumer(GRP)
c1.subscribe([TOPIC])
first = consume_n(c1, 150)
c1.commit(asynchronous=False)
pos1 = next_offsets(first)
c1.close()
tap.is_(len(first), 150, "first consumer: 150 messages, then a synchronous commit")
tap.is_({p: o for p, (o, _) in raw_committed(GRP).items() if o >= 0}, pos1,
        "OffsetFetch shows the committed positions %s" % pos1)
b.restart(clean=True)
tap.is_(b.last_rc, 0, "broker stopped cleanly (SIGTERM) and restarted")
tap.is_({p: o for p, (o, _) in raw_committed(GRP).items() if o >= 0}, pos1,
        "after the restart OffsetFetch still shows them")
c2 = ck_consumer(GRP)
c2.subscribe([TOPIC])
second = consume_n(c2, 75)
firsts = {}
for p, o, _ in second:
    firsts.setdefault(p, o)
tap.ok(all(firsts[p] == pos1.get(p, 0) for p in firsts),
       "the next consumer resumes exactly at the committed offsets (%s)" % firsts) or \
    tap.diag("committed %s" % pos1)
c2.commit(asynchronous=False)
pos2 = next_offsets(first + second)
c2.close()
b.kill9()
b.start()
tap.ok(True, "broker killed with SIGKILL and restarted")
tap.is_({p: o for p, (o, _) in raw_committed(GRP).items() if o >= 0}, pos2,
        "after SIGKILL the last acknowledged commit is there %s" % pos2)
c3 = ck_consumer(GRP)
c3.subscribe([TOPIC])
third = consume_n(c3, N - 225)
extra = consume_n(c3, 1, timeout=2)
c3.close()
vals = [v for _, _, v in first + second + third]
tap.ok(len(vals) == N and set(vals) == ALL and not extra,
       "across three consumers and two restarts every message was consumed exactly once") or \
    tap.diag("%d values, %d distinct, missing %s, extra %s" % (len(vals), len(set(vals)),
                                                               sorted(ALL - set(vals))[:5], extra))

# ---- a running group across a broker crash ----------------------------------------------------
# Members stay up while the broker is killed and restarted under them: they
# reconnect, rejoin (the coordinator reloads the group from
# __consumer_offsets) and continue from the last commit: nothing is skipped.
RT, RG = "off-run", "off-run-g"
odtest.ck_create_topic(odtest.ck_admin(BS), RT, P)
runners = [G.CkMember("run%d" % i, BS, RG, [RT], **{"reconnect.backoff.max.ms": 500})
           for i in range(2)]
G.poll_all(runners, 30, lambda: G.exactly_once_owned(runners, P))
want_a = G.produce_numbered(BS, RT, P, 0, 600)


def poll_commit(seconds, until):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for m in runners:
            if m.poll(0.05):
                m.commit()
        if until():
            return True
    return False


ok = poll_commit(30, G.consumed_until(runners, want_a))
tap.ok(ok, "a running group of two consumes 600 messages, committing after each batch")
b.kill9()
b.start()
want_b = G.produce_numbered(BS, RT, P, 600, 600)
ok = poll_commit(60, G.consumed_until(runners, want_a | want_b))
missing, dups, extra = G.dup_report(runners, want_a | want_b)
tap.ok(ok and not missing, "after SIGKILL and restart under them they continue and consume the "
       "600 new messages, nothing skipped") or tap.diag("missing %d %s" % (len(missing), missing[:5]))
tap.ok(not dups, "... and nothing committed before the crash is consumed again") or \
    tap.diag("dups %d %s" % (len(dups), dups[:5]))
G.close_all(runners)

# ---- simple consumers (assign, no subscribe) and metadata strings ----------------------------
sc = ck_consumer("off-simple")
sc.assign([ck.TopicPartition(TOPIC, 0, 0)])
got = consume_n(sc, 10)
try:
    sc.commit(asynchronous=False)
    sc.commit(offsets=[ck.TopicPartition(TOPIC, 1, 33)], asynchronous=False)
    cm = sc.committed([ck.TopicPartition(TOPIC, 0), ck.TopicPartition(TOPIC, 1)], timeout=10)
    tap.is_([(x.partition, x.offset, x.error) for x in cm], [(0, 10, None), (1, 33, None)],
            "confluent simple consumer (assign): commit of consumed and of explicit offsets, committed()")
except ck.KafkaException as e:
    tap.ok(False, "confluent simple consumer commit: %s" % e)
sc.close()
tap.diag("confluent_kafka %s cannot commit metadata strings (TopicPartition has no metadata); "
         "kafka-python and raw requests cover them" % ck.version()[0])
kc = kafka.KafkaConsumer(bootstrap_servers=BS, group_id="off-meta", enable_auto_commit=False)
kc.assign([KTP(TOPIC, 0), KTP(TOPIC, 1)])
META0, META1 = "hello metadata", "\u00fcn\u00efcode \u2713 " + "x" * 200
try:
    kc.commit({KTP(TOPIC, 0): OffsetAndMetadata(17, META0), KTP(TOPIC, 1): OffsetAndMetadata(3, META1)})
    tap.is_((kc.committed(KTP(TOPIC, 0), metadata=True), kc.committed(KTP(TOPIC, 1), metadata=True)),
            (OffsetAndMetadata(17, META0), OffsetAndMetadata(3, META1)),
            "kafka-python simple consumer: commit with OffsetAndMetadata, committed() returns the metadata")
except Exception as e:
    tap.ok(False, "kafka-python commit with metadata: %r" % e)
kc.close()
with odtest.Conn(b.port) as cc:
    r = G.offset_commit(cc, "off-raw", {(TOPIC, 2): (99, "raw meta"), (TOPIC, 1): (1, None)}, version=2)
tap.is_(r, {(TOPIC, 2): 0, (TOPIC, 1): 0}, "raw OffsetCommit v2 (generation -1) with metadata")
b.restart(clean=True)
tap.is_(raw_committed("off-meta", [0, 1]), {0: (17, META0), 1: (3, META1)},
        "after a restart raw OffsetFetch returns kafka-python's offsets and metadata")
tap.is_(raw_committed("off-raw", [1, 2]), {1: (1, ""), 2: (99, "raw meta")},
        "... and the raw commit's (null metadata reads back empty)")
tap.is_(raw_committed("off-simple", [0, 1]), {0: (10, ""), 1: (33, "")},
        "... and the confluent simple consumer's")
kc = kafka.KafkaConsumer(bootstrap_servers=BS, group_id="off-meta", enable_auto_commit=False,
                         auto_offset_reset="none")
kc.assign([KTP(TOPIC, 0)])
try:
    tap.is_(kc.committed(KTP(TOPIC, 0), metadata=True), OffsetAndMetadata(17, META0),
            "kafka-python after the restart: committed() with metadata")
    recs = []
    deadline = time.monotonic() + 20
    while not recs and time.monotonic() < deadline:
        recs = [m for rs in kc.poll(timeout_ms=200).values() for m in rs]
    tap.is_(recs[0].offset if recs else None, 17, "a simple kafka-python consumer resumes at 17")
except Exception as e:
    tap.ok(False, "kafka-python after restart: %r" % e)
kc.close()

# ---- auto.offset.reset when nothing is committed ----------------------------------------------
ce = ck_consumer("off-earliest")
ce.subscribe([TOPIC])
got = consume_n(ce, N)
ce.close()
tap.ok(len(got) == N and sorted(set((p, min(o for pp, o, _ in got if pp == p)) for p, _, _ in got)) ==
       [(p, 0) for p in range(P)], "confluent auto.offset.reset=earliest: all %d messages, every "
       "partition from offset 0" % N)

import json  # noqa: E402
stats = {}


def on_stats(js):
    try:
        parts = json.loads(js)["topics"][TOPIC]["partitions"]
        stats.update({int(k): (v.get("fetch_state"), v.get("next_offset")) for k, v in parts.items()
                      if int(k) >= 0})
    except (KeyError, ValueError):
        pass


# librdkafka's position() stays invalid until a message is consumed; its
# statistics show where the fetcher stands after the offset reset.
cl = ck_consumer("off-latest", **{"auto.offset.reset": "latest", "statistics.interval.ms": 100,
                                  "stats_cb": on_stats})
cl.subscribe([TOPIC])
hw = {p: len(range(p, N, P)) for p in range(P)}


def at_end():
    cl.poll(0.1)
    return len(cl.assignment()) == P and all(stats.get(p) == ("active", hw[p]) for p in range(P))


ready = odtest.wait_until(at_end, 30, 0)
tap.ok(ready, "confluent auto.offset.reset=latest: positioned at the high watermarks %s" % hw) or \
    tap.diag("fetcher state %s" % stats)
newer = G.produce_numbered(BS, TOPIC, P, N, 30)
got = consume_n(cl, 30)
cl.close()
tap.ok(set(v for _, _, v in got) == newer and all(o >= hw[p] for p, o, _ in got),
       "... and consumes only the 30 messages produced after joining")

cn = ck_consumer("off-none", **{"auto.offset.reset": "error"})
cn.subscribe([TOPIC])
err = None
deadline = time.monotonic() + 30
while err is None and time.monotonic() < deadline:
    m = cn.poll(0.2)
    if m is not None and m.error() is not None and m.error().code() != ck.KafkaError._PARTITION_EOF:
        err = m.error().code()
    elif m is not None and m.error() is None:
        err = "message at %d/%d" % (m.partition(), m.offset())
cn.close()
tap.is_(err, ck.KafkaError._AUTO_OFFSET_RESET,
        "confluent auto.offset.reset=error (none): the client reports _AUTO_OFFSET_RESET")

kn = kafka.KafkaConsumer(bootstrap_servers=BS, group_id="off-kp-none", auto_offset_reset="none",
                         enable_auto_commit=False, session_timeout_ms=10000,
                         heartbeat_interval_ms=500)
kn.subscribe([TOPIC])
raised = None
deadline = time.monotonic() + 30
while raised is None and time.monotonic() < deadline:
    try:
        recs = kn.poll(timeout_ms=200)
        if recs:
            raised = "got records"
    except NoOffsetForPartitionError as e:
        raised = e
    except Exception as e:
        raised = repr(e)
kn.close()
tap.ok(isinstance(raised, NoOffsetForPartitionError),
       "kafka-python auto_offset_reset='none': poll() raises NoOffsetForPartitionError") or \
    tap.diag(repr(raised))
kl = kafka.KafkaConsumer(bootstrap_servers=BS, group_id="off-kp-earliest", auto_offset_reset="earliest",
                         enable_auto_commit=False, session_timeout_ms=10000, heartbeat_interval_ms=500)
kl.subscribe([TOPIC])
recs = []
deadline = time.monotonic() + 30
while len(recs) < N + 30 and time.monotonic() < deadline:
    recs += [m for rs in kl.poll(timeout_ms=200).values() for m in rs]
kl.close()
tap.is_(sorted(set(m.value.decode() for m in recs)), sorted(ALL | newer),
        "kafka-python auto_offset_reset='earliest' in a new group: everything from the beginning")
if tap.failed():
    log.diag(30)
sys.exit(odtest.finish())
