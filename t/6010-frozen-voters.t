#!/usr/bin/python3
# 6010-frozen-voters.t - two of three voters frozen together (SIGSTOP) and
# thawed together (SIGCONT), as a long GC pause or a stalled VM would: once
# the quorum heals, Raft (KIP-595 with KIP-996's pre-vote) must agree on a
# leader again within a few election timeouts, and a produce with acks=all
# (librdkafka, replication factor 3) must succeed. Each pattern twice:
#  - the leader and one follower frozen (the live follower alone cannot win
#    and keeps asking for pre-votes; the thawed leader finds nobody fetched);
#  - both followers frozen (the lone leader resigns, check quorum).
# The stall (6 s) is several fetch timeouts, so every timer of the frozen
# nodes is overdue when they resume.
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)

FREEZE_S = 6
odtest.watchdog(300)
c = cluster.Cluster(3, sets={"controller.quorum.fetch.timeout.ms": "1000"}).start()
c.ready()
with odtest.Conn(c.bports[0]) as conn:
    tap.is_(odtest.create_topics(conn, [("frozen", 1, 3)]), {"frozen": 0},
            "a topic with replication factor 3")


def produce_all():
    """One record with acks=all through librdkafka; None when delivered."""
    p = ck.Producer({"bootstrap.servers": c.bootstrap, "acks": "all",
                     "message.timeout.ms": 30000})
    got = []
    p.produce("frozen", b"after the thaw", on_delivery=lambda err, msg: got.append(err))
    p.flush(40)
    return got[0] if got else "not delivered within 40 s"


for rnd in range(4):
    leader, epoch = c.wait_leader(timeout=30)
    followers = [i for i in (1, 2, 3) if i != leader]
    what = "leader %d and follower %d" % (leader, followers[0]) if rnd % 2 == 0 \
        else "followers %d and %d" % tuple(followers)
    frozen = [leader, followers[0]] if rnd % 2 == 0 else followers
    for i in frozen:
        os.kill(c.node(i).pid, signal.SIGSTOP)
    try:
        time.sleep(FREEZE_S)
    finally:
        for i in frozen:
            os.kill(c.node(i).pid, signal.SIGCONT)
    t0 = time.monotonic()
    try:
        # The same leader and epoch may stand (a thawed leader that hears
        # its follower fetch before its check-quorum timer runs): only the
        # agreement counts.
        l2, e2 = c.wait_leader(timeout=30)
        seen = "leader %d of epoch %d, was %d of %d, %.2f s after the thaw" % (
            l2, e2, leader, epoch, time.monotonic() - t0)
    except odtest.BrokerError as e:
        l2, seen = None, str(e)
    tap.ok(l2 is not None, "round %d: %s frozen %d s and thawed: every node names one "
           "leader (%s)" % (rnd, what, FREEZE_S, seen))
    if l2 is None:
        break
    err = produce_all()
    tap.ok(err is None, "round %d: ... and an acks=all produce is acknowledged (%s)"
           % (rnd, err or "no error"))
sys.exit(odtest.finish())
