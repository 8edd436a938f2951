#!/usr/bin/python3
# Incremental (cooperative-sticky) rebalancing with librdkafka: when a
# member joins, the existing members give up only the partitions that must
# move (their on_revoke gets a strict subset and they never stand with no
# partitions), keep consuming the rest, and nothing is lost or duplicated.
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)
if not hasattr(ck.Consumer, "incremental_assign"):
    tap.skip_all("confluent_kafka %s has no incremental_assign" % ck.version()[0])
import groups as G  # noqa: E402

odtest.watchdog(150)
b = odtest.Broker(sets={"group.initial.rebalance.delay.ms": "0"}).start()
with odtest.Conn(b.port) as c:
    if G.JOIN_GROUP not in odtest.api_versions(c, 0)["apis"]:
        tap.skip_all("the broker does not advertise JoinGroup (no group coordinator)")
BS = b.bootstrap
TOPIC, P, GRP = "grp-coop", 6, "grp-coop-g"
odtest.ck_create_topic(odtest.ck_admin(BS), TOPIC, P)
t0 = time.monotonic()


class Watch:
    """Samples every member's assignment after each poll round: the smallest
    assignment size each member had once it first had partitions."""

    def __init__(self, members):
        self.members = members
        self.min_after = {}

    def poll(self, seconds, until=None):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for m in self.members:
                m.poll(0.02)
                if not m.closed and (m.assigned or m.name in self.min_after):
                    self.min_after[m.name] = min(self.min_after.get(m.name, P), len(m.assigned))
            if until and until():
                return True
        return bool(until and until())


a = G.CkMember("coop-a", BS, GRP, [TOPIC], cooperative=True)
w = Watch([a])
ok = w.poll(30, lambda: a.assigned == set(range(P)))
tap.ok(ok, "the first member gets all %d partitions" % P)
d = G.wait_stable(b.port, GRP, 1, TOPIC, P, timeout=15, poll=lambda: w.poll(0.1))
tap.ok(d is not None and d["protocol"] == "cooperative-sticky",
       "DescribeGroups: Stable, protocol cooperative-sticky") or tap.diag(repr(d and d["protocol"]))
want1 = G.produce_numbered(BS, TOPIC, P, 0, 1200)
tap.ok(w.poll(30, G.consumed_until([a], want1)), "it consumes 1200 messages")
a.commit()

# ---- B joins while messages keep flowing --------------------------------------------------
ev_a = len(a.events)
bm = G.CkMember("coop-b", BS, GRP, [TOPIC], cooperative=True)
w.members = [a, bm]
want2 = set()
n = 1200
ok = False
deadline = time.monotonic() + 45
while time.monotonic() < deadline:  # produce in rounds during the rebalance
    want2 |= G.produce_numbered(BS, TOPIC, P, n, 60)
    n += 60
    if w.poll(0.5, lambda: G.exactly_once_owned([a, bm], P) and len(a.assigned) == 3 and
              len(bm.assigned) == 3):
        ok = True
        break
tap.ok(ok, "B joins: A keeps 3 partitions, B gets 3 (%s / %s)" % (sorted(a.assigned), sorted(bm.assigned)))
revokes = [p for t, k, p in a.events[ev_a:] if k == "revoke"]
tap.ok(revokes and all(0 < len(r) < P for r in revokes),
       "A's on_revoke got only a strict subset of its partitions (%s)" % revokes)
tap.is_(sum(len(r) for r in revokes), 3, "A gave up exactly the 3 partitions that had to move")
tap.ok(w.min_after.get("coop-a") == 3, "A never stood with fewer than the 3 it keeps "
       "(minimum seen %s)" % w.min_after.get("coop-a"))
tap.ok(not any(k == "assign" and set(p) & a.assigned for t, k, p in a.events[ev_a:]),
       "A's on_assign never re-delivered a partition it kept")
tap.ok(set(sum(revokes, [])) == bm.assigned, "B got exactly what A gave up")
done = w.poll(45, G.consumed_until([a, bm], want1 | want2))
missing, dups, extra = G.dup_report([a, bm], want1 | want2)
tap.ok(done and not missing and not dups, "all %d messages consumed once across A and B"
       % len(want1 | want2)) or tap.diag("missing %d %s dups %d %s" % (len(missing), missing[:5],
                                                                      len(dups), dups[:5]))

# ---- C joins: one partition moves from each -------------------------------------------------
ev_a, ev_b = len(a.events), len(bm.events)
keep_a, keep_b = set(a.assigned), set(bm.assigned)
cm = G.CkMember("coop-c", BS, GRP, [TOPIC], cooperative=True)
w.members = [a, bm, cm]
ok = w.poll(45, lambda: G.exactly_once_owned([a, bm, cm], P) and
            all(len(m.assigned) == 2 for m in (a, bm, cm)))
tap.ok(ok, "C joins: 2 partitions each")
rev_a = sum([p for t, k, p in a.events[ev_a:] if k == "revoke"], [])
rev_b = sum([p for t, k, p in bm.events[ev_b:] if k == "revoke"], [])
tap.ok(len(rev_a) == 1 and len(rev_b) == 1, "A and B each gave up exactly one partition (%s, %s)"
       % (rev_a, rev_b))
tap.ok(a.assigned <= keep_a and bm.assigned <= keep_b, "A and B kept the others (sticky)")
tap.ok(w.min_after.get("coop-a", 0) >= 2 and w.min_after.get("coop-b", 0) >= 2,
       "neither ever dropped below 2 partitions during the rebalance")
d = G.wait_stable(b.port, GRP, 3, TOPIC, P, timeout=15, poll=lambda: w.poll(0.1))
tap.ok(d is not None, "DescribeGroups: Stable, 3 members, each partition owned once")

# ---- C leaves: its partitions go to A and B, nothing else moves -----------------------------
ev_a, ev_b = len(a.events), len(bm.events)
keep_a, keep_b = set(a.assigned), set(bm.assigned)
cm.commit()
cm.close()
w.members = [a, bm]
ok = w.poll(30, lambda: G.exactly_once_owned([a, bm], P))
tap.ok(ok, "C leaves: A and B own all partitions again")
tap.ok(not [p for t, k, p in a.events[ev_a:] + bm.events[ev_b:] if k == "revoke"],
       "A and B revoked nothing when C left")
tap.ok(keep_a <= a.assigned and keep_b <= bm.assigned, "they only gained partitions")
for m in (a, bm):
    m.close()
tap.ok(all(not m.errors for m in (a, bm, cm)), "no consumer errors") or \
    tap.diag(repr([(m.name, m.errors[:3]) for m in (a, bm, cm)]))
if tap.failed():
    for m in (a, bm, cm):
        tap.diag("---- %s events %s" % (m.name, [(round(t - t0, 2), k, p) for t, k, p in m.events]))
        m.log.diag(15)
sys.exit(odtest.finish())
