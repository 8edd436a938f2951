#!/usr/bin/python3
# The group coordinator answers SyncGroup only once the group record (members and their
# assignments) is in the ISR of its __consumer_offsets partition, as Kafka's storeGroup with
# acks=-1: on a 3-node cluster with one offsets partition of 3 replicas,
#  (a) healthy: JoinGroup + SyncGroup hand out the leader's assignment;
#  (b) both followers frozen (SIGSTOP; the lag time is long, so they stay in the ISR and the
#      high watermark cannot pass the record): the leader's SyncGroup fails after
#      offsets.commit.timeout.ms with REBALANCE_IN_PROGRESS (Kafka's mapping of a timed-out
#      group write), the group rebalances;
#  (c) thawed: the member rejoins and SyncGroup hands out the assignment; the followers' logs
#      have the group record.
import os
import signal
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import groups as G  # noqa: E402
import groupstore  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "240")))

c = groupstore.cluster()


def join(cn, group, member=""):
    return groupstore.join(cn, group, member, session_ms=30000, rebalance_ms=30000)


coord = groupstore.coordinator([c.bports[0]], "g-a")
tap.ok(coord is not None, "FindCoordinator: node %s" % coord)
tap.ok(odtest.wait_until(lambda: groupstore.offsets_isr(c.bports[coord - 1]) == [1, 2, 3], 30),
       "__consumer_offsets-0 has all three replicas in sync")
others = [n for n in (1, 2, 3) if n != coord]
asg = G.assignment({"t": [0]})

# ---- (a) healthy ---------------------------------------------------------------
with odtest.Conn(c.bports[coord - 1], timeout=30) as cn:
    j = join(cn, "g-a")
    tap.is_((j["error"], j["leader"] == j["member_id"]), (0, True), "g-a: joined, leads")
    s = G.sync_group(cn, "g-a", j["generation"], j["member_id"], [(j["member_id"], asg)])
    tap.is_((s["error"], s["assignment"]), (0, asg), "g-a: SyncGroup hands out the assignment")

# ---- (b) followers frozen: the group record cannot reach the ISR -----------------
tap.is_(groupstore.coordinator([c.bports[0]], "g-b"), coord,
        "g-b has the same coordinator (one offsets partition)")
for n in others:
    os.kill(c.node(n).pid, signal.SIGSTOP)
try:
    with odtest.Conn(c.bports[coord - 1], timeout=30) as cn:
        j = join(cn, "g-b")
        tap.is_(j["error"], 0, "g-b: joined (generation %d)" % j["generation"])
        s = G.sync_group(cn, "g-b", j["generation"], j["member_id"], [(j["member_id"], asg)],
                         timeout=30)
        tap.is_(s["error"], G.REBALANCE_IN_PROGRESS,
                "the leader's SyncGroup: REBALANCE_IN_PROGRESS once offsets.commit.timeout.ms "
                "passed without the ISR")
        tap.is_(s["assignment"], b"", "no assignment handed out")
        member = j["member_id"]
finally:
    for n in others:
        os.kill(c.node(n).pid, signal.SIGCONT)

# ---- (c) thawed ------------------------------------------------------------------
with odtest.Conn(c.bports[coord - 1], timeout=30) as cn:
    j = join(cn, "g-b", member)
    tap.is_(j["error"], 0, "g-b: rejoined, generation %d" % j["generation"])
    s = G.sync_group(cn, "g-b", j["generation"], j["member_id"], [(j["member_id"], asg)])
    tap.is_((s["error"], s["assignment"]), (0, asg), "SyncGroup hands out the assignment now")


def has_record(node_id):
    d = os.path.join(c.node(node_id).data, "__consumer_offsets-0")
    data = b""
    for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if f.endswith(".log"):
            with open(os.path.join(d, f), "rb") as fh:
                data += fh.read()
    return b"g-b" in data


tap.ok(odtest.wait_until(lambda: all(has_record(n) for n in others), 30),
       "both followers have g-b's group record")
tap.ok(all(c.node(n).proc.poll() is None for n in (1, 2, 3)), "every node still runs")
c.stop()
tap.done()
