#!/usr/bin/python3
"""chaos-kill.py - kill -9 partition leaders of a local 3-node Odradek cluster
again and again while unmodified clients produce and consume, then check
what Jepsen checks: no acknowledged write lost, none duplicated, no offset
handed out twice, consumers neither skip nor stall, and the consumer
group's committed offsets never go back across coordinator moves.

    scripts/chaos-kill.py --kills 50            # longer than the test's run
    scripts/chaos-kill.py --kills 20 --seed 7   # the same choices again

Each round picks a random partition of the topic, kills its leader with
SIGKILL, waits until the controller has moved the leadership and an
acks=all write succeeds again, restarts the node and waits until it is
back in every ISR and the group consumes again, so the next round always
starts from a healthy cluster (no round depends on how fast anything
happened). Clients:
  - librdkafka (confluent_kafka) producer: acks=all, enable.idempotence;
  - kafka-python producer: acks=all, retries=0 (it has no idempotence, so
    it never resends: what it was told is acknowledged must be there once);
  - a librdkafka consumer in a group, committing what it has processed.
Topic: RF 3, min.insync.replicas=2, unclean.leader.election.enable=false.

Exit status 0 when every check holds; the summary goes to stdout as JSON
(with --json) or as TAP-like lines. Needs ODRADEK_BUILD (or TOP/_build).
"""
import argparse
import collections
import json
import os
import random
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "t", "lib"))
sys.dont_write_bytecode = True
import cluster  # noqa: E402
import odtest  # noqa: E402

TOPIC = "chaos"
PARTS = 3


class Quiet:
    """librdkafka's log lines: the last ones kept, shown only on failure."""
    def __init__(self):
        self.lines = collections.deque(maxlen=20000)

    # debug=cgrp's lines of every commit and assignment check: not kept
    NOISE = ("DUMP", "COMMIT ", "OFFSET_COMMIT", "ASSIGNDONE", "Enqueue OffsetCommit")

    def log(self, level, fmt, *args):
        msg = fmt % args if args else fmt
        if not any(w in msg for w in self.NOISE):
            self.lines.append("%.3f %s" % (time.monotonic(), msg))


def layout(admin):
    """{partition: (leader, isr)}; {} when no broker answered in time (under
    load librdkafka may still be giving up a killed node's connection): the
    callers wait for a layout, so a slow answer is asked again."""
    from confluent_kafka import KafkaException
    try:
        md = admin.list_topics(TOPIC, timeout=10)
    except KafkaException:
        return {}
    t = md.topics.get(TOPIC)
    if t is None or t.error is not None:
        return {}
    return {p.id: (p.leader, sorted(p.isrs)) for p in t.partitions.values()}


class CkProducer(threading.Thread):
    """Idempotent acks=all producer; values 'ck-<n>' with n increasing."""
    def __init__(self, bootstrap):
        super().__init__(daemon=True)
        import confluent_kafka as ck
        self.p = ck.Producer(odtest.ck_conf(
            bootstrap, acks="all", enable_idempotence=True, linger_ms=2,
            message_timeout_ms=120000, request_timeout_ms=5000,
            topic_metadata_refresh_interval_ms=500), logger=Quiet())
        self.acked = []  # (partition, offset, value)
        self.failed = 0
        self.sent = 0
        self.stop = False

    def run(self):
        n = 0
        while not self.stop:
            v = b"ck-%d" % n
            try:
                self.p.produce(TOPIC, key=b"%d" % (n % 97), value=v, on_delivery=self._dr)
                n += 1
                self.sent = n
            except BufferError:
                pass
            self.p.poll(0.001 if n % 50 else 0.01)
        self.p.flush(180)

    def _dr(self, err, m):
        if err is None:
            self.acked.append((m.partition(), m.offset(), m.value()))
        else:
            self.failed += 1


class KpProducer(threading.Thread):
    """kafka-python acks=all, retries=0; values 'kp-<n>'."""
    def __init__(self, bootstrap):
        super().__init__(daemon=True)
        import kafka
        self.kp = kafka.KafkaProducer(bootstrap_servers=bootstrap, acks="all", retries=0,
                                      linger_ms=2, request_timeout_ms=10000,
                                      metadata_max_age_ms=1000, api_version=(2, 5),
                                      max_block_ms=30000)
        self.acked = []
        self.failed = 0
        self.stop = False
        self.lock = threading.Lock()

    def run(self):
        n = 0
        while not self.stop:
            v = b"kp-%d" % n
            n += 1
            try:
                f = self.kp.send(TOPIC, key=b"%d" % (n % 89), value=v)
                f.add_callback(self._ok, v)
                f.add_errback(self._err)
            except Exception:  # noqa: BLE001 - any client error counts as not acknowledged
                self.failed += 1
                time.sleep(0.05)
            if n % 20 == 0:
                time.sleep(0.005)
        try:
            self.kp.flush(60)
        except Exception:  # noqa: BLE001
            pass
        self.kp.close(10)

    def _ok(self, v, md):
        with self.lock:
            self.acked.append((md.partition, md.offset, v))

    def _err(self, e):
        self.failed += 1


class GroupConsumer(threading.Thread):
    """Consumes in group 'chaos-g', commits synchronously every 200 messages;
    records committed positions so that a move backwards is seen."""
    def __init__(self, bootstrap):
        super().__init__(daemon=True)
        import confluent_kafka as ck
        self.ck = ck
        self.quiet = Quiet()
        self.c = ck.Consumer(odtest.ck_conf(
            bootstrap, group_id="chaos-g", enable_auto_commit=False,
            auto_offset_reset="earliest", session_timeout_ms=10000,
            heartbeat_interval_ms=1000, topic_metadata_refresh_interval_ms=500,
            debug="cgrp,topic"), logger=self.quiet)
        self.pos = {}        # partition -> next offset to read
        self.committed = {}  # partition -> highest offset committed
        self.backwards = []  # (partition, offset seen, offset expected)
        self.received = 0
        self.stop = False

    def run(self):
        self.c.subscribe([TOPIC])
        since = 0
        while not self.stop:
            for m in self.c.consume(500, 0.2):
                if m.error():
                    continue
                p = m.partition()
                if p in self.pos and m.offset() < self.pos[p] and m.offset() < self.committed.get(p, -1):
                    self.backwards.append((p, m.offset(), self.committed[p], round(time.monotonic(), 3)))
                self.pos[p] = m.offset() + 1
                self.received += 1
                since += 1
            if since >= 200:
                since = 0
                try:
                    offs = [self.ck.TopicPartition(TOPIC, p, o) for p, o in self.pos.items()]
                    self.c.commit(offsets=offs, asynchronous=False)
                    for tp in offs:
                        self.committed[tp.partition] = max(self.committed.get(tp.partition, -1),
                                                           tp.offset)
                except self.ck.KafkaException:
                    pass  # coordinator moving: the next commit carries the same offsets
        self.c.close()



def committed_offsets(bootstrap):
    """The group's committed offsets, asked afresh (a new client, no join)."""
    import confluent_kafka as ck
    c = ck.Consumer(odtest.ck_conf(bootstrap, group_id="chaos-g"), logger=Quiet())
    try:
        tps = c.committed([ck.TopicPartition(TOPIC, p) for p in range(PARTS)], timeout=30)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def known_keys():
    """Configuration keys this build knows (--config-doc), so that tuned
    timeouts of the control plane are only set where they exist."""
    import subprocess
    b = odtest.find_build()
    out = subprocess.run([os.path.join(b, "odradekd"), "--config-doc", "--set",
                          "module.dir=" + os.path.join(b, ".libs")],
                         capture_output=True, text=True, timeout=30).stdout
    return set(w.strip().strip("`") for ln in out.splitlines() for w in ln.split("|")[1:2])


def wait(fn, what, timeout):
    if not odtest.wait_until(fn, timeout, 0.1):
        raise RuntimeError("timed out after %ss waiting for %s" % (timeout, what))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--round-timeout", type=float, default=60.0,
                    help="longest wait for one step of a round (default 60 s)")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    import confluent_kafka as ck  # noqa: F401
    from confluent_kafka.admin import NewTopic

    # Timeouts a test can afford; the defaults are Kafka's (see doc/cluster.md).
    tuned = {"replica.lag.time.max.ms": "3000", "broker.session.timeout.ms": "3000",
             "broker.heartbeat.interval.ms": "500", "auto.leader.rebalance.enable": "false"}
    keys = known_keys()
    c = cluster.Cluster(3, sets={k: v for k, v in tuned.items() if k in keys})
    result = {"seed": seed, "kills": [], "ok": False}
    procs = []
    try:
        c.start()
        c.wait_leader()
        c.wait_brokers(3)
        admin = odtest.ck_admin(c.bootstrap, logger=Quiet())
        fs = admin.create_topics([NewTopic(TOPIC, PARTS, 3, config={
            "min.insync.replicas": "2", "unclean.leader.election.enable": "false"})],
            operation_timeout=30, request_timeout=30)
        fs[TOPIC].result(40)
        odtest.wait_topic(admin, TOPIC, PARTS, 30)
        wait(lambda: all(len(v[1]) == 3 for v in layout(admin).values()), "a full ISR", 30)
        ckp, kpp, cons = CkProducer(c.bootstrap), KpProducer(c.bootstrap), GroupConsumer(c.bootstrap)
        procs = [ckp, kpp, cons]
        for t in procs:
            t.start()
        wait(lambda: len(ckp.acked) > 100 and len(kpp.acked) > 100, "first acknowledgements", 60)
        wait(lambda: cons.received > 0, "the group consumer's first records", a.round_timeout)
        for k in range(a.kills):
            part = rng.randrange(PARTS)
            lay = {}
            wait(lambda: lay.update(layout(admin)) or lay.get(part, (-1,))[0] >= 1,
                 "round %d: a leader of partition %d" % (k, part), a.round_timeout)
            victim = lay[part][0]
            before = len(ckp.acked)
            consumed = cons.received
            t0 = time.monotonic()
            c.node(victim).kill9()
            # The leadership moves (the controller fences the dead broker) ...
            wait(lambda: (layout(admin).get(part, (-1,))[0] not in (-1, victim)),
                 "a new leader of partition %d after killing node %d" % (part, victim),
                 a.round_timeout)
            # ... and acks=all writes succeed again.
            wait(lambda: len(ckp.acked) > before + 10, "acknowledged writes after the kill",
                 a.round_timeout)
            took = time.monotonic() - t0
            c.node(victim).start()
            wait(lambda: all(len(v[1]) == 3 for v in layout(admin).values()),
                 "node %d back in every ISR" % victim, a.round_timeout)
            # The group consumes again before the next kill. Leaderships pile up on the nodes
            # that were not killed (no preferred-leader rebalance), so the victim is often the
            # group's coordinator too: without this wait a kill can come every time before the
            # group has rejoined, and a group that never recovers would go unnoticed.
            wait(lambda: cons.received > consumed, "round %d: the group consuming again" % k,
                 a.round_timeout)
            result["kills"].append({"round": k, "partition": part, "node": victim,
                                    "at": round(t0, 3),
                                    "acks_again_s": round(took, 3)})
            if not a.json:
                print("# round %d: killed node %d (leader of %s-%d); acks=all again after %.2f s"
                      % (k, victim, TOPIC, part, took), flush=True)
        for t in procs:
            t.stop = True
        for t in procs:
            t.join(240)
        # ---- the checks ----
        read, hw = odtest.ck_read(c.bootstrap, TOPIC, list(range(PARTS)), timeout=120)
        at = {}
        dup_values = 0
        seen = set()
        for p, msgs in read.items():
            for m in msgs:
                at[(p, m.offset())] = m.value()
                if m.value() in seen:
                    dup_values += 1
                seen.add(m.value())
        lost = [x for x in ckp.acked + kpp.acked if at.get((x[0], x[1])) != x[2]]
        dense = all([m.offset() for m in msgs] == list(range(msgs[0].offset(), msgs[0].offset() +
                                                            len(msgs)))
                    for msgs in read.values() if msgs)
        order_ok = True
        for prefix in (b"ck-", b"kp-"):
            for p, msgs in read.items():
                seq = [int(m.value()[3:]) for m in msgs if m.value().startswith(prefix)]
                if prefix == b"ck-" and seq != sorted(seq):
                    order_ok = False
        committed = committed_offsets(c.bootstrap)
        # What the group has committed is what it last committed (never older).
        backwards = [p for p, o in cons.committed.items() if committed.get(p, -1) < o]
        result.update({
            "acked_librdkafka": len(ckp.acked), "acked_kafka_python": len(kpp.acked),
            "failed_librdkafka": ckp.failed, "failed_kafka_python": kpp.failed,
            "records_read": sum(len(v) for v in read.values()), "high_watermarks": hw,
            "lost_acknowledged": len(lost), "duplicate_values": dup_values,
            "dense_offsets": dense, "librdkafka_in_order": order_ok,
            "consumed_by_group": cons.received, "group_offsets_backwards": len(cons.backwards),
            "group_committed": committed, "group_committed_lost": backwards})
        result["ok"] = (not lost and dup_values == 0 and dense and order_ok and
                        not cons.backwards and not backwards and cons.committed and
                        len(result["kills"]) == a.kills)
        if cons.backwards:
            result["backwards_sample"] = cons.backwards[:10]
            for n in c.nodes:
                result.setdefault("logs", {})[n.node_id] = [
                    ln for ln in n.log_text().splitlines()
                    if "__consumer_offsets" in ln or "coordinator" in ln or "start" in ln][-400:]
        if not cons.received or cons.backwards:
            # What librdkafka's group code did (debug=cgrp,topic), to say why it never
            # consumed or went back.
            result["consumer_log"] = list(cons.quiet.lines)[-int(os.environ.get("CHAOS_LOG_LINES", "300")):]
        if lost:
            result["lost_sample"] = [(p, o, v.decode()) for p, o, v in lost[:10]]
    except Exception as e:  # noqa: BLE001 - reported in the summary
        result["error"] = str(e)
        for n in c.nodes:
            tail = n.log_text().splitlines()[-15:]
            result.setdefault("logs", {})[n.node_id] = tail
    finally:
        for t in procs:
            t.stop = True
        c.stop()
    if a.json:
        print(json.dumps(result, indent=1, default=str))
    else:
        for k, v in result.items():
            if k not in ("kills", "logs"):
                print("# %s: %s" % (k, v))
        for nid, lines in result.get("logs", {}).items():
            for ln in lines:
                print("# node%s: %s" % (nid, ln))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
