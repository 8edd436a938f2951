#!/usr/bin/python3
# Consumer groups with confluent_kafka (librdkafka): three members of one
# group share a 6-partition topic (each partition owned by exactly one
# member, every message consumed exactly once); a member that leaves
# (close()) has its partitions moved to the others, which consume the rest;
# a member killed with SIGKILL loses its partitions only after its session
# timeout (6 s).
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck  # noqa: F401
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)
import groups as G  # noqa: E402

odtest.watchdog(170)
TOPIC, P, GRP = "grp-ck", 6, "grp-ck-g"
b, admin = G.client_test_broker(TOPIC, P)
BS = b.bootstrap

# ---- three members -------------------------------------------------------------------
t0 = time.monotonic()
ms = [G.CkMember("ck%d" % i, BS, GRP, [TOPIC]) for i in range(3)]
stable = G.poll_all(ms, 45, lambda: G.exactly_once_owned(ms, P) and
                    all(len(m.assigned) == 2 for m in ms))
tap.ok(stable, "three members: each partition assigned to exactly one member, two each "
       "(%.1f s)" % (time.monotonic() - t0)) or tap.diag(repr(G.partition_owners(ms)))
d = G.wait_stable(b.port, GRP, 3, TOPIC, P, timeout=20, poll=lambda: G.poll_all(ms, 0.1))
tap.ok(d is not None, "DescribeGroups: Stable, 3 members, each partition in one member's assignment")
if d:
    tap.is_((d["protocol_type"], d["protocol"]), ("consumer", "range"),
            "DescribeGroups: protocol type consumer, protocol range (librdkafka's default first)")
    by_client = {m["client_id"]: sorted(G.parse_assignment(m["assignment"]).get(TOPIC, []))
                 for m in d["members"]}
    tap.is_(by_client, {m.name: sorted(m.assigned) for m in ms},
            "DescribeGroups assignments match what each member's on_assign got")
lg = admin.list_groups(GRP, timeout=10)
tap.ok(len(lg) == 1 and lg[0].id == GRP and lg[0].state == "Stable" and lg[0].protocol == "range" and
       len(lg[0].members) == 3,
       "AdminClient.list_groups(): Stable, range, three members") or \
    tap.diag(repr([(g.id, g.state, g.protocol, len(g.members), g.error) for g in lg]))
ids = [g.id for g in admin.list_groups(timeout=10)]
tap.ok(GRP in ids, "AdminClient.list_groups() of all groups includes it (%s)" % ids)

# ---- a clean run: every message exactly once --------------------------------------------
N1 = 3000
want1 = G.produce_numbered(BS, TOPIC, P, 0, N1)
done = G.poll_all(ms, 60, G.consumed_until(ms, want1))
missing, dups, extra = G.dup_report(ms, want1)
tap.ok(done and not missing and not dups and not extra,
       "%d messages consumed exactly once across the group" % N1) or \
    tap.diag("missing %d (%s), duplicated %d (%s), unexpected %s"
             % (len(missing), missing[:5], len(dups), dups[:5], extra[:5]))
ok_parts = all(p in m.assigned for m in ms for p, _, _ in m.msgs)
tap.ok(ok_parts, "each member received only messages of its own partitions")
tap.is_(sorted(len(m.msgs) for m in ms), [N1 // 3] * 3, "each member got a third of them")
for m in ms:
    m.commit()
tap.ok(all(not m.errors for m in ms), "no consumer errors") or \
    tap.diag(repr([(m.name, m.errors[:3]) for m in ms]))
ev_before = {m.name: m.n_events() for m in ms}
G.poll_all(ms, 2.5)
tap.is_({m.name: m.n_events() for m in ms}, ev_before, "no further rebalances while the group is idle")

# ---- a member leaves: its partitions move, the rest is consumed ---------------------------
leaver = ms[2]
stay = ms[:2]
left_parts = set(leaver.assigned)
N2 = 1200
for m in stay:
    m.msgs.clear()
want2 = G.produce_numbered(BS, TOPIC, P, N1, N2)  # the leaver does not poll any more
leaver.commit()
leaver_seen = set(leaver.values())
t_close = time.monotonic()
leaver.close()  # LeaveGroup
moved = G.poll_all(stay, 30, lambda: G.exactly_once_owned(stay, P))
t_moved = time.monotonic() - t_close
tap.ok(moved, "after close() the two others own all %d partitions (%.2f s)" % (P, t_moved)) or \
    tap.diag(repr(G.partition_owners(stay)))
tap.ok(t_moved < 10, "the rebalance after a leave does not wait for the session timeout (%.2f s)"
       % t_moved)
tap.ok(left_parts <= set().union(*(m.assigned for m in stay)),
       "the leaver's partitions %s moved to the remaining members" % sorted(left_parts))
done = G.poll_all(stay, 60, G.consumed_until(stay, want2 - leaver_seen))
missing, dups, extra = G.dup_report(stay, want2 - leaver_seen)
tap.ok(done and not missing, "the remaining members consume the rest (%d messages), including "
       "the leaver's partitions" % len(want2 - leaver_seen)) or \
    tap.diag("missing %d: %s" % (len(missing), missing[:8]))
old = [v for v in (v for m in stay for v in m.values()) if v in want1]
tap.ok(not dups and not old, "nothing consumed twice, nothing before the committed offsets redelivered") or \
    tap.diag("dups %s, old %s" % (dups[:5], old[:5]))
d = G.wait_stable(b.port, GRP, 2, TOPIC, P, timeout=15, poll=lambda: G.poll_all(stay, 0.1))
tap.ok(d is not None, "DescribeGroups: Stable with 2 members")

# ---- a member killed with SIGKILL: partitions move after the session timeout --------------
tmp = odtest.scratch("4001-member")
pm = G.ProcMember(BS, GRP, TOPIC, tmp, name="victim", **{"session.timeout.ms": 6000,
                                                        "heartbeat.interval.ms": 500})
three = G.poll_all(stay, 45, lambda: len(pm.assigned()) == 2 and
                   all(len(m.assigned) == 2 for m in stay))
tap.ok(three, "a third member in a child process joins and gets 2 partitions") or \
    tap.diag("child assigned %s, stay %s; stderr %s"
             % (pm.assigned(), [sorted(m.assigned) for m in stay], pm.stderr_text()[-800:]))
victim_parts = pm.assigned()
G.poll_all(stay, 1.0)
for m in stay:
    m.msgs.clear()
ev_before = {m.name: m.n_events("assign") for m in stay}
pm.kill9()
t_kill = time.monotonic()
want3 = G.produce_numbered(BS, TOPIC, P, N1 + N2, 600)
victim_moved = G.moved_to(stay, P, victim_parts)
early = G.poll_all(stay, 3.0, victim_moved)
tap.ok(not early, "3 s after the kill the victim's partitions have not moved yet (session 6 s)")
moved = G.poll_all(stay, 20, victim_moved)
el = time.monotonic() - t_kill
tap.ok(moved and 5.0 <= el <= 12.0, "the victim's partitions %s move to the others after the session "
       "timeout (%.2f s after SIGKILL)" % (sorted(victim_parts), el)) or \
    tap.diag("owners %s" % G.partition_owners(stay))
tap.ok(all(m.n_events("assign") > ev_before[m.name] for m in stay),
       "the remaining members were rebalanced")
seen_by_victim = set(pm.values())
done = G.poll_all(stay, 60, G.consumed_until(stay, want3 - seen_by_victim))
missing, dups, extra = G.dup_report(stay, want3 - seen_by_victim)
tap.ok(done and not missing, "the remaining members consume what the victim had not (%d messages)"
       % len(want3 - seen_by_victim)) or tap.diag("missing %d: %s" % (len(missing), missing[:8]))

for m in stay:
    m.close()
d = G.group_state(b.port, GRP)
tap.ok(d and d["state"] == "Empty" and not d["members"], "after every member closed the group is Empty") or \
    tap.diag(repr(d and (d["state"], len(d["members"]))))
if tap.failed():
    for m in ms:
        G.diag_events([m], t0)
        m.log.diag(15)
sys.exit(odtest.finish())
