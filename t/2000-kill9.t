#!/usr/bin/python3
# kill -9 the broker while a producer (acks=1) is running; after a restart
# on the same data dir every acknowledged message is at its acknowledged
# offset, offsets are contiguous from 0, and the topic still exists.
# Three rounds, with growing message sizes.
import os
import random
import sys
import threading
import time
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck
    from confluent_kafka.admin import NewTopic
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "300")))
T = "kill9"
P = 3
ROUNDS = 3
SIZES = [20, 2000, 20000]  # value padding per round
b = odtest.Broker().start()
log = odtest.RdLog()
admin = odtest.ck_admin(b.bootstrap, logger=log)
try:
    odtest.ck_create_topic(admin, T, P, {"segment.bytes": "1048576"})
except Exception as e:
    tap.diag("create with segment.bytes=1048576 failed (%r); default segments" % e)
    odtest.ck_create_topic(admin, T, P)
del admin

acked = {}      # (partition, offset) -> (len, crc32) of the acknowledged value
conflicts = []  # the same offset acknowledged for two different values
rng = random.Random(9)


def value(rnd, i):
    head = b"r%d-%d|" % (rnd, i)
    pad = SIZES[rnd]
    return head + (head * (pad // len(head) + 1))[:pad]


class ProducerThread(threading.Thread):
    def __init__(self, rnd):
        super().__init__(daemon=True)
        self.rnd = rnd
        self.stop = threading.Event()
        self.n_acked = 0
        self.n_failed = 0
        self.n_sent = 0
        self.exc = None

    def cb(self, err, msg):
        if err is not None:
            self.n_failed += 1
            return
        self.n_acked += 1
        v = msg.value()
        k = (msg.partition(), msg.offset())
        rec = (len(v), zlib.crc32(v))
        old = acked.get(k)
        if old is not None and old != rec and len(conflicts) < 10:
            conflicts.append((k, old, rec))
        acked[k] = rec

    def run(self):
        try:
            p = ck.Producer(odtest.ck_conf(b.bootstrap, **{
                "acks": "1", "linger.ms": 5, "message.timeout.ms": 4000,
                "queue.buffering.max.messages": 20000, "reconnect.backoff.max.ms": 200}),
                logger=log)
            i = 0
            while not self.stop.is_set() and i < 2000000:
                try:
                    p.produce(T, value(self.rnd, i), None, i % P, on_delivery=self.cb)
                    self.n_sent += 1
                    i += 1
                except BufferError:
                    p.poll(0.01)
                if i % 200 == 0:
                    p.poll(0)
            p.flush(20)  # the rest fails after message.timeout.ms
        except Exception as e:  # reported by the main thread
            self.exc = e


for rnd in range(ROUNDS):
    before = len(acked)
    th = ProducerThread(rnd)
    th.start()
    # Kill only after a good number of acknowledgements, at a random moment.
    enough = odtest.wait_until(lambda: th.n_acked >= 3000 or not th.is_alive(), 60, 0.01)
    # Metadata changes acknowledged just before the kill must survive it too.
    # (A fresh AdminClient each time: librdkafka re-asks for topics it has
    # seen, which could auto-create a deleted one again.)
    meta = odtest.ck_admin(b.bootstrap, logger=log)
    fs = meta.create_topics([NewTopic("k9-meta-%d" % rnd, 2, 1)], request_timeout=30)
    fs.update(meta.delete_topics(["k9-meta-%d" % (rnd - 1)], request_timeout=30) if rnd else {})
    meta_errs = {}
    for t, f in fs.items():
        try:
            f.result(30)
        except Exception as e:
            meta_errs[t] = repr(e)
    del meta, fs
    tap.ok(not meta_errs, "round %d: created k9-meta-%d%s" % (
        rnd, rnd, ", deleted k9-meta-%d" % (rnd - 1) if rnd else "")) or tap.diag(repr(meta_errs))
    time.sleep(rng.uniform(0, 0.3))
    acked_at_kill = th.n_acked
    b.kill9()
    tap.ok(th.n_acked > 0 and enough, "round %d: producer had %d acknowledgements when the broker "
           "was killed" % (rnd, acked_at_kill))
    th.stop.set()
    th.join(40)
    tap.ok(not th.is_alive() and th.exc is None, "round %d: producer thread finished (%d sent, "
           "%d acked, %d failed)" % (rnd, th.n_sent, th.n_acked, th.n_failed)) or tap.diag(repr(th.exc))

    try:
        b.start(timeout=40)
        tap.ok(True, "round %d: broker restarts on the same data dir after kill -9" % rnd)
    except odtest.BrokerError as e:
        tap.ok(False, "round %d: broker restarts after kill -9: %s" % (rnd, e))
        break

    meta = odtest.ck_admin(b.bootstrap, logger=log)
    md = meta.list_topics(timeout=15)
    del meta
    t = md.topics.get(T)
    tap.ok(t is not None and t.error is None and len(t.partitions) == P,
           "round %d: topic still exists with %d partitions" % (rnd, P))
    t = md.topics.get("k9-meta-%d" % rnd)
    tap.ok(t is not None and len(t.partitions) == 2,
           "round %d: topic created just before the kill exists with 2 partitions" % rnd)
    if rnd:
        tap.ok("k9-meta-%d" % (rnd - 1) not in md.topics,
               "round %d: topic deleted just before the kill stays deleted" % rnd)
    try:
        got, hw = odtest.ck_read(b.bootstrap, T, list(range(P)), timeout=120, logger=log)
    except Exception as e:
        tap.ok(False, "round %d: read back: %s" % (rnd, e))
        break
    gaps = []
    for p in range(P):
        offs = [m.offset() for m in got[p]]
        if offs != list(range(len(offs))) or len(offs) != hw[p]:
            first = next((j for j, o in enumerate(offs) if o != j), len(offs))
            gaps.append("partition %d: %d messages, high watermark %d, first gap at %d"
                        % (p, len(offs), hw[p], first))
    tap.ok(not gaps, "round %d: offsets contiguous from 0 up to the high watermark" % rnd) or \
        tap.diag("\n".join(gaps))
    stored = {}
    for p in range(P):
        for m in got[p]:
            v = m.value() or b""
            stored[(p, m.offset())] = (len(v), zlib.crc32(v))
    missing = [k for k in acked if k not in stored]
    wrong = [k for k in acked if k in stored and stored[k] != acked[k]]
    tap.ok(not missing and not wrong,
           "round %d: all %d acknowledged messages present at their offsets, byte-exact"
           % (rnd, len(acked))) or tap.diag("missing %d (e.g. %s), different %d (e.g. %s)"
                                            % (len(missing), sorted(missing)[:5], len(wrong),
                                               sorted(wrong)[:5]))
    tap.ok(not conflicts, "round %d: no offset acknowledged twice for different data" % rnd) or \
        tap.diag(repr(conflicts))
    tap.ok(len(acked) > before, "round %d: this round added acknowledged messages (%d -> %d)"
           % (rnd, before, len(acked)))

if tap.failed():
    log.diag()
sys.exit(odtest.finish())
