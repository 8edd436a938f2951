#!/usr/bin/python3
# A static member that restarts with a new member id (KIP-345) is answered only once the group
# record naming the new id is in the ISR of its __consumer_offsets partition, as Kafka's
# storeGroup callback in the stable-group replacement: on a 3-node cluster with one offsets
# partition of 3 replicas,
#  (a) raw: with both followers frozen (SIGSTOP; the lag time is long, so they stay in the ISR
#      and the high watermark cannot pass the record), the replacing JoinGroup gets
#      REBALANCE_IN_PROGRESS (Kafka's mapping of a timed-out group write) after
#      offsets.commit.timeout.ms, no member id, and the old member id is valid again;
#  (b) raw, thawed: the replacement is answered with the new id and the same generation, the
#      old id is fenced (FENCED_INSTANCE_ID);
#  (c) confluent_kafka with group.instance.id: closed (static members send no LeaveGroup) and
#      restarted, it gets its partitions back under a new member id without a rebalance;
#  (d) the coordinator killed right after: the new coordinator loaded both replacements, so
#      the raw member's new id heartbeats in the same generation and the confluent_kafka
#      member keeps its assignment and consumes without rejoining.
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import groups as G  # noqa: E402
import groupstore  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402

G.require_static_membership()
from confluent_kafka.admin import NewTopic  # noqa: E402

COORDINATOR_LOAD_IN_PROGRESS = 14
odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "300")))

c = groupstore.cluster()
SESSION = 30000


def coordinator(group, via=(1, 2, 3)):
    return groupstore.coordinator([c.bports[n - 1] for n in via], group, among=via, timeout=60)


def join(cn, group, member="", timeout=30):
    return groupstore.join(cn, group, member, session_ms=SESSION, rebalance_ms=SESSION,
                           instance_id="inst-raw", topics=("st",), timeout=timeout)


admin = odtest.ck_admin(c.bootstrap)
fs = admin.create_topics([NewTopic("st", 2, 3)], operation_timeout=30,
                         request_timeout=30)
fs["st"].result(30)
odtest.wait_topic(admin, "st", 2, 30)
coord = coordinator("g-raw")
tap.ok(odtest.wait_until(lambda: groupstore.offsets_isr(c.bports[coord - 1]) == [1, 2, 3], 30),
       "__consumer_offsets-0 has all three replicas in sync (coordinator: node %s)" % coord)
tap.is_(coordinator("g-ck"), coord, "g-ck has the same coordinator (one offsets partition)")
others = [n for n in (1, 2, 3) if n != coord]
asg = G.assignment({"st": [0, 1]})

# A static raw member, stable in generation `gen`.
with odtest.Conn(c.bports[coord - 1], timeout=30) as cn:
    j = join(cn, "g-raw")
    s = G.sync_group(cn, "g-raw", j["generation"], j["member_id"], [(j["member_id"], asg)],
                     instance_id="inst-raw")
tap.is_((j["error"], s["error"]), (0, 0), "g-raw: a static member joined and synced")
gen, first_id = j["generation"], j["member_id"]

# ---- (a) followers frozen: the replacement cannot reach the ISR --------------------
for n in others:
    os.kill(c.node(n).pid, signal.SIGSTOP)
try:
    with odtest.Conn(c.bports[coord - 1], timeout=30) as cn:
        t0 = time.monotonic()
        r = join(cn, "g-raw")
        waited = time.monotonic() - t0
        tap.is_((r["error"], r["member_id"]), (G.REBALANCE_IN_PROGRESS, ""),
                "the restarted static member's JoinGroup: REBALANCE_IN_PROGRESS and no member id "
                "once offsets.commit.timeout.ms passed without the ISR")
        tap.diag("answered after %.1f s" % waited)
        tap.is_(G.heartbeat(cn, "g-raw", gen, first_id, instance_id="inst-raw"), 0,
                "the old member id is valid again (the replacement was reverted)")
finally:
    for n in others:
        os.kill(c.node(n).pid, signal.SIGCONT)
tap.ok(odtest.wait_until(lambda: groupstore.offsets_isr(c.bports[coord - 1]) == [1, 2, 3], 30),
       "thawed: ISR back to 3")

# ---- (b) thawed: the replacement is answered with the new id ------------------------
with odtest.Conn(c.bports[coord - 1], timeout=30) as cn:
    r = join(cn, "g-raw")
    tap.is_((r["error"], r["generation"]), (0, gen),
            "the restarted static member gets a new member id in the same generation")
    raw_id = r["member_id"]
    tap.ok(raw_id and raw_id != first_id, "... a new id (%s)" % raw_id)
    tap.is_(r["leader"], first_id, "... and the old leader id (no assignment to compute)")
    tap.is_(G.heartbeat(cn, "g-raw", gen, first_id, instance_id="inst-raw"),
            G.FENCED_INSTANCE_ID, "the old member id is fenced: FENCED_INSTANCE_ID")
    tap.is_(G.heartbeat(cn, "g-raw", gen, raw_id, instance_id="inst-raw"), 0,
            "the new member id heartbeats in generation %d" % gen)

# ---- (c) confluent_kafka: a static member restarted ---------------------------------
def member(name):
    return G.CkMember(name, c.bootstrap, "g-ck", ["st"], group_instance_id="inst-ck",
                      session_timeout_ms=SESSION)


a = member("ck-1")
tap.ok(G.poll_all([a], 60, lambda: len(a.assigned) == 2), "confluent_kafka static member: both "
       "partitions assigned")
with odtest.Conn(c.bports[coord - 1], timeout=30) as cn:
    d1 = G.describe_group(cn, "g-ck")
ck_first = [m["member_id"] for m in d1["members"] if m["instance_id"] == "inst-ck"]
a.close()
b = member("ck-2")
tap.ok(G.poll_all([b], 60, lambda: len(b.assigned) == 2),
       "restarted with the same group.instance.id: both partitions back")
with odtest.Conn(c.bports[coord - 1], timeout=30) as cn:
    d2 = G.describe_group(cn, "g-ck")
ck_second = [m["member_id"] for m in d2["members"] if m["instance_id"] == "inst-ck"]
tap.ok(len(ck_first) == 1 and len(ck_second) == 1 and ck_first != ck_second,
       "... under a new member id") or tap.diag("%r %r" % (ck_first, ck_second))
tap.is_(d2["state"], "Stable", "... and the group stayed Stable (no rebalance)")

# ---- (d) coordinator failover right after ------------------------------------------
c.node(coord).kill9()
survivors = [n for n in (1, 2, 3) if n != coord]
coord2 = coordinator("g-raw", via=survivors)
tap.ok(coord2 in survivors, "a new coordinator: node %s" % coord2)


def heartbeat_new():
    try:
        with odtest.Conn(c.bports[coord2 - 1], timeout=10) as cn:
            return G.heartbeat(cn, "g-raw", gen, raw_id, instance_id="inst-raw")
    except (OSError, odtest.ProtoError, odtest.ConnectionClosed):
        return None


got = []
odtest.wait_until(lambda: got.append(heartbeat_new()) or got[-1] not in
                  (None, COORDINATOR_LOAD_IN_PROGRESS, G.NOT_COORDINATOR,
                   G.COORDINATOR_NOT_AVAILABLE), 60, 0.3)
tap.is_(got[-1] if got else None, 0,
        "the new coordinator knows the replacement: the new id heartbeats in generation %d" % gen)

events_before = len(b.events)


def ck_seen():
    try:
        with odtest.Conn(c.bports[coord2 - 1], timeout=10) as cn:
            d = G.describe_group(cn, "g-ck")
        return [m["member_id"] for m in d["members"] if m["instance_id"] == "inst-ck"]
    except (OSError, odtest.ProtoError, odtest.ConnectionClosed):
        return None


seen = []
G.poll_all([b], 60, lambda: seen.append(ck_seen()) or seen[-1] == ck_second)
tap.is_(seen[-1] if seen else None, ck_second,
        "the new coordinator has the confluent_kafka member's new id")
G.poll_all([b], 5)
tap.is_((len(b.events) - events_before, len(b.assigned)), (0, 2),
        "... which keeps its assignment without a rebalance") or tap.diag(repr(b.events))
b.close()
c.stop()
tap.done()
