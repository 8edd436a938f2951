#!/usr/bin/python3
# Static membership (KIP-345, librdkafka group.instance.id): a static member
# that closes (static members send no LeaveGroup) or is killed and comes back
# with the same group.instance.id within its session timeout gets its old
# partitions back and the other members see no rebalance; one that stays
# away past the session timeout is removed and its partitions move. Raw:
# a second join with the same instance id fences the old member id.
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import groups as G  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402

G.require_static_membership()

odtest.watchdog(170)
b = odtest.Broker(sets={"group.initial.rebalance.delay.ms": "0"}).start()
with odtest.Conn(b.port) as c:
    if G.JOIN_GROUP not in odtest.api_versions(c, 0)["apis"]:
        tap.skip_all("the broker does not advertise JoinGroup (no group coordinator)")
BS = b.bootstrap
TOPIC, P, GRP = "grp-static", 6, "grp-static-g"
odtest.ck_create_topic(odtest.ck_admin(BS), TOPIC, P)
tmp = odtest.scratch("4006-static")
t0 = time.monotonic()


def static(name, **kw):
    conf = {"group.instance.id": "inst-" + name, "session.timeout.ms": 10000}
    conf.update(kw)
    return G.CkMember(name, BS, GRP, [TOPIC], **conf)


# A joins first (and so leads); then B and C.
a = static("a")
G.poll_all([a], 30, lambda: len(a.assigned) == P)
bm = static("b")
G.poll_all([a, bm], 30, lambda: G.exactly_once_owned([a, bm], P) and len(a.assigned) == 3)
cm = static("c")
ms = [a, bm, cm]
ok = G.poll_all(ms, 45, lambda: G.exactly_once_owned(ms, P) and all(len(m.assigned) == 2 for m in ms))
tap.ok(ok, "three static members, two partitions each") or tap.diag(repr(G.partition_owners(ms)))
d = G.wait_stable(b.port, GRP, 3, TOPIC, P, timeout=15, poll=lambda: G.poll_all(ms, 0.1))
tap.ok(d is not None and sorted(m["instance_id"] or "" for m in d["members"]) ==
       ["inst-a", "inst-b", "inst-c"], "DescribeGroups v4 shows the group.instance.id of each member") or \
    tap.diag(repr(d and [m["instance_id"] for m in d["members"]]))
old_c_member = [m["member_id"] for m in (d or {}).get("members", []) if m["instance_id"] == "inst-c"]
want = G.produce_numbered(BS, TOPIC, P, 0, 600)
G.poll_all(ms, 30, G.consumed_until(ms, want))
for m in ms:
    m.commit()
c_parts = set(cm.assigned)
ev = {m.name: m.n_events() for m in (a, bm)}

# ---- C closes (no LeaveGroup for a static member) and comes back --------------------------
cm.close()
G.poll_all([a, bm], 2.0)
d = G.group_state(b.port, GRP)
tap.ok(d and d["state"] == "Stable" and len(d["members"]) == 3,
       "2 s after the static member closed it is still in the group (Stable, 3 members)") or \
    tap.diag(repr(d and (d["state"], len(d["members"]))))
c2 = static("c")
c2.name = "c2"
ms2 = [a, bm, c2]
ok = G.poll_all(ms2, 20, lambda: c2.assigned)
tap.ok(ok and c2.assigned == c_parts, "the restarted static member gets its old partitions back "
       "(%s, was %s)" % (sorted(c2.assigned), sorted(c_parts)))
G.poll_all(ms2, 3.0)  # give any (wrong) rebalance time to show
tap.is_({m.name: m.n_events() for m in (a, bm)}, ev,
        "the other members saw no rebalance (no on_assign / on_revoke)")
d = G.wait_stable(b.port, GRP, 3, TOPIC, P, timeout=10, poll=lambda: G.poll_all(ms2, 0.1))
new_c_member = [m["member_id"] for m in (d or {}).get("members", []) if m["instance_id"] == "inst-c"]
tap.ok(d is not None and len(new_c_member) == 1 and new_c_member != old_c_member,
       "DescribeGroups: still 3 members, inst-c under a new member id")
want2 = G.produce_numbered(BS, TOPIC, P, 600, 600)
done = G.poll_all(ms2, 30, G.consumed_until(ms2, want2))
tap.ok(done and set(v for _, _, v in c2.msgs) == set(v for v in want2 if int(v.split("-")[1]) % P in c_parts),
       "it consumes its partitions from the committed offsets (nothing old again)")
c2.commit()

# ---- a static member process killed with SIGKILL and restarted --------------------------------
c2.close()
G.poll_all([a, bm], 1.0)
pconf = {"group.instance.id": "inst-c", "session.timeout.ms": 10000}
p1 = G.ProcMember(BS, GRP, TOPIC, tmp, name="static-p1", **pconf)
ok = G.poll_all([a, bm], 30, lambda: p1.assigned())
tap.ok(ok and p1.assigned() == c_parts, "inst-c as a new process gets the same partitions (%s)"
       % sorted(p1.assigned())) or tap.diag(p1.stderr_text()[-600:])
p1.kill9()
p2 = G.ProcMember(BS, GRP, TOPIC, tmp, name="static-p2", **pconf)
ok = G.poll_all([a, bm], 30, lambda: p2.assigned())
tap.ok(ok and p2.assigned() == c_parts, "killed with SIGKILL and restarted: the same partitions again")
G.poll_all([a, bm], 2.0)
tap.is_({m.name: m.n_events() for m in (a, bm)}, ev, "the other members still saw no rebalance")

# ---- away longer than the session timeout: removed, partitions move ------------------------
p2.kill9()
t_kill = time.monotonic()
moved = G.poll_all([a, bm], 25, lambda: G.exactly_once_owned([a, bm], P))
el = time.monotonic() - t_kill
tap.ok(moved and 8.0 <= el <= 17.0, "a static member away past its 10 s session timeout is removed and "
       "A and B take its partitions (%.1f s)" % el) or tap.diag(repr(G.partition_owners([a, bm])))
d = G.wait_stable(b.port, GRP, 2, TOPIC, P, timeout=10, poll=lambda: G.poll_all([a, bm], 0.1))
tap.ok(d is not None and "inst-c" not in [m["instance_id"] for m in d["members"]],
       "DescribeGroups: 2 members, inst-c gone")
for m in (a, bm):
    m.close()
d = G.group_state(b.port, GRP)
tap.ok(d and d["state"] == "Stable" and len(d["members"]) == 2,
       "static members that close() stay until their session ends (no LeaveGroup)") or \
    tap.diag(repr(d and (d["state"], len(d["members"]))))

# ---- raw: fencing by instance id, leave by instance id ---------------------------------------
with odtest.Conn(b.port, timeout=30) as c:
    SUB = G.subscription([TOPIC])
    RG = "grp-static-raw"
    r = G.join_group(c, RG, "", [("range", SUB)], instance_id="raw-i", version=5)
    tap.is_(r["error"], 0, "JoinGroup v5 of a static member with an empty member id: accepted at once")
    m1, gen = r["member_id"], r["generation"]
    tap.is_(G.sync_group(c, RG, gen, m1, [(m1, G.assignment({TOPIC: [0]}))], instance_id="raw-i")["error"], 0,
            "SyncGroup of the static leader")
    r = G.join_group(c, RG, "", [("range", SUB)], instance_id="raw-i", version=5)
    m2 = r["member_id"]
    tap.ok(r["error"] == 0 and m2 != m1 and r["generation"] == gen,
           "the same instance id joins again: a new member id, same generation (no rebalance)") or \
        tap.diag(repr(r))
    tap.is_(G.heartbeat(c, RG, gen, m1, instance_id="raw-i"), G.FENCED_INSTANCE_ID,
            "the old member id is fenced: FENCED_INSTANCE_ID")
    r2 = G.sync_group(c, RG, gen, m2, [], instance_id="raw-i")
    tap.is_((r2["error"], G.parse_assignment(r2["assignment"])), (0, {TOPIC: [0]}),
            "the new member id gets the old assignment")
    tap.is_(G.heartbeat(c, RG, gen, m2, instance_id="raw-i"), 0, "the new member id heartbeats")
    r = G.leave_group(c, RG, [("", "raw-i")], version=3)
    tap.is_((r["error"], [(x[1], x[2]) for x in r["members"]]), (0, [("raw-i", 0)]),
            "LeaveGroup v3 by instance id alone")
    tap.is_(G.describe_group(c, RG)["state"], "Empty", "the group is Empty")

if tap.failed():
    for m in (a, bm, cm, c2):
        tap.diag("---- %s events %s" % (m.name, [(round(t - t0, 2), k, p) for t, k, p in m.events]))
        m.log.diag(10)
sys.exit(odtest.finish())
