#!/usr/bin/python3
# Consumer groups with kafka-python (an independent client implementation):
# three KafkaConsumer(group_id=...) members share a 6-partition topic
# (exactly one owner per partition, every message exactly once), a member
# that close()s hands its partitions over, a member killed with SIGKILL
# loses them after its session timeout; then a mixed group of librdkafka and
# kafka-python members agreeing on the 'range' assignor.
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import kafka  # noqa: F401
except ImportError as e:
    tap.skip_all("kafka-python not available: %s" % e)
import groups as G  # noqa: E402

odtest.watchdog(170)
TOPIC, P, GRP = "grp-kp", 6, "grp-kp-g"
b, admin = G.client_test_broker(TOPIC, P)
BS = b.bootstrap
t0 = time.monotonic()

# ---- three kafka-python members ------------------------------------------------------
ms = [G.KpMember("kp%d" % i, BS, GRP, [TOPIC]) for i in range(3)]
stable = G.poll_all(ms, 60, lambda: G.exactly_once_owned(ms, P) and
                    all(len(m.assigned) == 2 for m in ms))
tap.ok(stable, "three kafka-python members: each partition owned by exactly one, two each "
       "(%.1f s)" % (time.monotonic() - t0)) or tap.diag(repr(G.partition_owners(ms)))
d = G.wait_stable(b.port, GRP, 3, TOPIC, P, timeout=20, poll=lambda: G.poll_all(ms, 0.1))
tap.ok(d is not None and d["protocol"] == "range", "DescribeGroups: Stable, 3 members, protocol range")
N1 = 3000
want1 = G.produce_numbered(BS, TOPIC, P, 0, N1)
done = G.poll_all(ms, 60, G.consumed_until(ms, want1))
missing, dups, extra = G.dup_report(ms, want1)
tap.ok(done and not missing and not dups and not extra,
       "%d messages consumed exactly once across the group" % N1) or \
    tap.diag("missing %d (%s), duplicated %d (%s)" % (len(missing), missing[:5], len(dups), dups[:5]))
tap.is_(sorted(len(m.msgs) for m in ms), [N1 // 3] * 3, "each member got a third of them")
for m in ms:
    m.commit()
tap.ok(all(not m.errors for m in ms), "no commit errors") or \
    tap.diag(repr([(m.name, m.errors[:3]) for m in ms]))

# ---- close(): LeaveGroup, partitions move ------------------------------------------------
leaver, stay = ms[2], ms[:2]
left_parts = set(leaver.assigned)
for m in stay:  # (their threads consume as soon as messages arrive)
    m.msgs.clear()
want2 = G.produce_numbered(BS, TOPIC, P, N1, 1200)
t_close = time.monotonic()
leaver.close()  # commits nothing new (auto commit off) and sends LeaveGroup
moved = G.poll_all(stay, 30, lambda: G.exactly_once_owned(stay, P))
el = time.monotonic() - t_close
tap.ok(moved and el < 10, "after close() the two others own all partitions (%.2f s)" % el) or \
    tap.diag(repr(G.partition_owners(stay)))
tap.ok(left_parts <= set().union(*(m.assigned for m in stay)), "including the leaver's %s"
       % sorted(left_parts))
done = G.poll_all(stay, 60, G.consumed_until(stay, want2))
missing, dups, extra = G.dup_report(stay, want2)
old = [v for m in stay for v in m.values() if v in want1]
tap.ok(done and not missing and not dups and not old,
       "the remaining members consume the rest exactly once, nothing already committed again") or \
    tap.diag("missing %d %s dups %s old %s" % (len(missing), missing[:5], dups[:5], old[:5]))

# ---- SIGKILL of a kafka-python member: session timeout ---------------------------------
tmp = odtest.scratch("4002-member")
pm = G.ProcMember(BS, GRP, TOPIC, tmp, name="kpvictim", kind="kpmember",
                  session_timeout_ms=6000, heartbeat_interval_ms=500)
three = G.poll_all(stay, 60, lambda: len(pm.assigned()) == 2 and all(len(m.assigned) == 2 for m in stay))
tap.ok(three, "a kafka-python member in a child process joins and gets 2 partitions") or \
    tap.diag("child %s stay %s stderr %s" % (pm.assigned(), [sorted(m.assigned) for m in stay],
                                            pm.stderr_text()[-800:]))
victim = pm.assigned()
G.poll_all(stay, 1.0)
pm.kill9()
t_kill = time.monotonic()
victim_moved = G.moved_to(stay, P, victim)
early = G.poll_all(stay, 3.0, victim_moved)
tap.ok(not early, "3 s after SIGKILL its partitions have not moved (session 6 s)")
moved = G.poll_all(stay, 20, victim_moved)
el = time.monotonic() - t_kill
tap.ok(moved and 5.0 <= el <= 12.0, "after the session timeout they move (%.2f s)" % el)
G.close_all(stay)

# ---- mixed group: librdkafka and kafka-python with the range assignor ----------------------
TOPIC2, GRP2 = "grp-mixed", "grp-mixed-g"
odtest.ck_create_topic(admin, TOPIC2, P)
mixed = [G.CkMember("ck-a", BS, GRP2, [TOPIC2], **{"partition.assignment.strategy": "range"}),
         G.KpMember("kp-a", BS, GRP2, [TOPIC2]),
         G.CkMember("ck-b", BS, GRP2, [TOPIC2], **{"partition.assignment.strategy": "range"}),
         G.KpMember("kp-b", BS, GRP2, [TOPIC2])]
t1 = time.monotonic()
ok = G.poll_all(mixed, 60, lambda: G.exactly_once_owned(mixed, P) and
                all(m.assigned for m in mixed))
tap.ok(ok, "mixed group of 2 librdkafka + 2 kafka-python members: every partition owned exactly "
       "once, every member has some (%.1f s)" % (time.monotonic() - t1)) or \
    tap.diag(repr(G.partition_owners(mixed)))
d = G.wait_stable(b.port, GRP2, 4, TOPIC2, P, timeout=20, poll=lambda: G.poll_all(mixed, 0.1))
tap.ok(d is not None and d["protocol"] == "range", "DescribeGroups: Stable, 4 members, range")
if d:
    tap.is_(sorted(m["client_id"] for m in d["members"]), ["ck-a", "ck-b", "kp-a", "kp-b"],
            "DescribeGroups lists both kinds of clients")
want = G.produce_numbered(BS, TOPIC2, P, 0, 2400)
done = G.poll_all(mixed, 60, G.consumed_until(mixed, want))
missing, dups, extra = G.dup_report(mixed, want)
tap.ok(done and not missing and not dups and not extra, "mixed group: 2400 messages exactly once") or \
    tap.diag("missing %d dups %d" % (len(missing), len(dups)))
tap.is_(sorted(len(m.msgs) for m in mixed), [400, 400, 800, 800],
        "range over 6 partitions and 4 members: 2, 2, 1, 1 partitions' worth of messages")
t_close = time.monotonic()
G.close_all(mixed)
tap.ok(time.monotonic() - t_close < 20, "all four members close (%.1f s)" % (time.monotonic() - t_close))
if tap.failed():
    G.diag_events(ms + mixed, t0)
sys.exit(odtest.finish())
