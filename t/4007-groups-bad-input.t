#!/usr/bin/python3
# Consumer-group coordinator over raw sockets: the join/sync/heartbeat
# protocol between two members, the error codes Kafka clients rely on
# (INCONSISTENT_GROUP_PROTOCOL, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
# INVALID_GROUP_ID, INVALID_SESSION_TIMEOUT, MEMBER_ID_REQUIRED,
# OFFSET_METADATA_TOO_LARGE, UNKNOWN_TOPIC_OR_PARTITION, NON_EMPTY_GROUP,
# GROUP_ID_NOT_FOUND), FindCoordinator v4 batches, DescribeGroups/ListGroups,
# DeleteGroups/OffsetDelete, session expiry, the initial rebalance delay,
# flexible versions, and garbage bodies. The broker survives all of it.
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import groups as G  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import Conn, frame, i16, i32, request_header  # noqa: E402

odtest.watchdog(180)
b = odtest.Broker(sets={"group.initial.rebalance.delay.ms": "0"}).start()
c = Conn(b.port)
apis = odtest.api_versions(c, 0)["apis"]
need = [G.OFFSET_COMMIT, G.OFFSET_FETCH, G.FIND_COORDINATOR, G.JOIN_GROUP, G.HEARTBEAT,
        G.LEAVE_GROUP, G.SYNC_GROUP, G.DESCRIBE_GROUPS, G.LIST_GROUPS, G.DELETE_GROUPS]
if G.JOIN_GROUP not in apis:
    tap.skip_all("the broker does not advertise JoinGroup (no group coordinator)")
missing = [k for k in need + [G.OFFSET_DELETE] if k not in apis]
tap.ok(not missing, "ApiVersions advertises the group APIs 8-16, 42, 47") or \
    tap.diag("missing: %s" % missing)
tap.diag("group api ranges: %s" % {k: apis.get(k) for k in need + [G.OFFSET_DELETE]})


def ver(key, want):
    """`want` if advertised, else the highest advertised version."""
    lo, hi = apis.get(key, (0, 0))
    return want if lo <= want <= hi else hi


V_JOIN, V_SYNC, V_HB = ver(G.JOIN_GROUP, 5), ver(G.SYNC_GROUP, 3), ver(G.HEARTBEAT, 3)
V_COMMIT, V_FETCH = ver(G.OFFSET_COMMIT, 7), ver(G.OFFSET_FETCH, 5)
TOPIC = "bad-t"
tap.is_(odtest.create_topics(c, [(TOPIC, 2, 1)]), {TOPIC: 0}, "create topic %s" % TOPIC)
SUB = G.subscription([TOPIC])


def survives(what):
    alive = b.running()
    fresh = None
    try:
        with Conn(b.port, timeout=5) as cc:
            fresh = odtest.api_versions(cc, 0)["error"]
    except Exception as e:
        fresh = repr(e)
    res = alive and fresh == 0
    tap.ok(res, "%s: broker alive and serving" % what) or tap.diag("alive=%s fresh=%r" % (alive, fresh))
    if not alive:
        tap.bail_out("broker died after: %s (exit %s)" % (what, b.proc.returncode))


# ---- FindCoordinator -------------------------------------------------------------
r = G.find_coordinator(c, "g-one", version=ver(G.FIND_COORDINATOR, 1))
tap.is_((r["error"], r["node_id"], r["host"], r["port"]), (0, 1, "127.0.0.1", b.port),
        "FindCoordinator v1: this broker is the coordinator")
r = G.find_coordinator(c, "g-one", version=0)
tap.is_((r["error"], r["node_id"], r["port"]), (0, 1, b.port), "FindCoordinator v0")
if apis.get(G.FIND_COORDINATOR, (0, 0))[1] >= 4:
    res = G.find_coordinator(c, ["g-a", "g-b", "g-c"], version=4)
    tap.is_([(x["key"], x["error"], x["node_id"], x["host"], x["port"]) for x in res],
            [(k, 0, 1, "127.0.0.1", b.port) for k in ("g-a", "g-b", "g-c")],
            "FindCoordinator v4: one batched request, one answer per key")
else:
    tap.ok(False, "FindCoordinator v4 (batched) is advertised")

# ---- __consumer_offsets ----------------------------------------------------------------
md = odtest.metadata(c, ["__consumer_offsets"])
co = md["topics"].get("__consumer_offsets")
tap.ok(co is not None and co["error"] == 0 and co["internal"] and len(co["partitions"]) == 50 and
       all(p["leader"] == 1 for p in co["partitions"]),
       "Metadata: __consumer_offsets exists (after the first FindCoordinator), internal, 50 "
       "partitions led by this broker") or \
    tap.diag(repr(co and (co["error"], co["internal"], len(co["partitions"]))))

# ---- one member: MEMBER_ID_REQUIRED, join, sync, heartbeat ------------------------
GRP = "g-raw"
if apis[G.JOIN_GROUP][1] >= 4:
    r = G.join_group(c, GRP, "", [("range", SUB)], version=4)
    tap.is_(r["error"], G.MEMBER_ID_REQUIRED, "JoinGroup v4 with an empty member id: MEMBER_ID_REQUIRED")
    tap.ok(bool(r["member_id"]), "... and the response carries the member id to use (%r)" % r["member_id"])
    mid = r["member_id"]
    r = G.join_group(c, GRP, mid, [("range", SUB)], version=4)
else:
    tap.ok(False, "JoinGroup v4 advertised")
    r = G.join_group(c, GRP, "", [("range", SUB)], version=V_JOIN)
    mid = r["member_id"]
tap.is_(r["error"], 0, "JoinGroup with the given member id succeeds")
tap.is_(r["member_id"], mid, "the member keeps the id it was given")
tap.is_((r["leader"], r["protocol"]), (mid, "range"), "the single member is the leader; protocol range")
tap.is_([(m["member_id"], m["metadata"]) for m in r["members"]], [(mid, SUB)],
        "the leader gets the member list with each member's subscription bytes")
gen = r["generation"]
tap.ok(gen >= 1, "generation is positive (%d)" % gen)
ASSIGN = G.assignment({TOPIC: [0, 1]})
r = G.sync_group(c, GRP, gen, mid, [(mid, ASSIGN)], version=V_SYNC)
tap.is_((r["error"], r["assignment"]), (0, ASSIGN), "SyncGroup: the leader's assignment comes back byte-exact")
tap.is_(G.heartbeat(c, GRP, gen, mid, version=V_HB), 0, "Heartbeat: no error")

d = G.describe_group(c, GRP)
tap.is_((d["error"], d["group_id"], d["state"], d["protocol_type"], d["protocol"]),
        (0, GRP, "Stable", "consumer", "range"), "DescribeGroups: Stable, consumer, range")
tap.is_([(m["member_id"], m["client_id"], m["metadata"], m["assignment"]) for m in d["members"]],
        [(mid, "odtest", SUB, ASSIGN)], "DescribeGroups: the member with client id, metadata and assignment")
tap.ok(d["members"] and d["members"][0]["client_host"] and "127.0.0.1" in d["members"][0]["client_host"],
       "DescribeGroups: client host is the peer address (%r)" % (d["members"] and d["members"][0]["client_host"]))
lg = G.list_groups(c, version=ver(G.LIST_GROUPS, 1))
tap.ok(lg["error"] == 0 and (GRP, "consumer") in [g[:2] for g in lg["groups"]],
       "ListGroups shows the group with protocol type consumer") or tap.diag(repr(lg))
if apis[G.LIST_GROUPS][1] >= 4:
    lg = G.list_groups(c, version=4, states=["Stable"])
    tap.ok((GRP, "consumer", "Stable") in lg["groups"], "ListGroups v4 filtered by state Stable shows it") or \
        tap.diag(repr(lg))
    lg = G.list_groups(c, version=4, states=["Empty"])
    tap.ok(GRP not in [g[0] for g in lg["groups"]], "ListGroups v4 filtered by Empty omits it")
d = G.describe_group(c, "g-never-seen")
tap.ok((d["error"] == 0 and d["state"] == "Dead" or d["error"] == G.GROUP_ID_NOT_FOUND) and
       not d["members"], "DescribeGroups of an unknown group: state Dead (or GROUP_ID_NOT_FOUND), "
       "no members") or tap.diag(repr(d))

# ---- errors on an existing group ----------------------------------------------------
r = G.join_group(c, GRP, "", [("range", SUB)], protocol_type="connect", version=3)
tap.is_(r["error"], G.INCONSISTENT_GROUP_PROTOCOL,
        "JoinGroup with another protocol type: INCONSISTENT_GROUP_PROTOCOL")
r = G.join_group(c, GRP, "", [("roundrobin", SUB), ("weird", SUB)], version=3)
tap.is_(r["error"], G.INCONSISTENT_GROUP_PROTOCOL,
        "JoinGroup with no protocol in common: INCONSISTENT_GROUP_PROTOCOL")
r = G.join_group(c, GRP, "", [], version=3)
tap.is_(r["error"], G.INCONSISTENT_GROUP_PROTOCOL, "JoinGroup with an empty protocol list: "
        "INCONSISTENT_GROUP_PROTOCOL")
tap.is_(G.heartbeat(c, GRP, gen + 5, mid, version=V_HB), G.ILLEGAL_GENERATION,
        "Heartbeat with a wrong generation: ILLEGAL_GENERATION")
tap.is_(G.heartbeat(c, GRP, gen, "nobody-xyz", version=V_HB), G.UNKNOWN_MEMBER_ID,
        "Heartbeat from an unknown member: UNKNOWN_MEMBER_ID")
tap.is_(G.sync_group(c, GRP, gen + 1, mid, [], version=V_SYNC)["error"], G.ILLEGAL_GENERATION,
        "SyncGroup with a wrong generation: ILLEGAL_GENERATION")
tap.is_(G.sync_group(c, GRP, gen, "nobody-xyz", [], version=V_SYNC)["error"], G.UNKNOWN_MEMBER_ID,
        "SyncGroup from an unknown member: UNKNOWN_MEMBER_ID")
r = G.join_group(c, GRP, "nobody-xyz", [("range", SUB)], version=V_JOIN)
tap.is_(r["error"], G.UNKNOWN_MEMBER_ID, "JoinGroup with an unknown member id: UNKNOWN_MEMBER_ID")
tap.is_(G.offset_commit(c, GRP, {(TOPIC, 0): 5}, generation=gen + 3, member_id=mid, version=V_COMMIT),
        {(TOPIC, 0): G.ILLEGAL_GENERATION}, "OffsetCommit with a wrong generation: ILLEGAL_GENERATION")
tap.is_(G.offset_commit(c, GRP, {(TOPIC, 0): 5}, generation=gen, member_id="nobody-xyz",
                        version=V_COMMIT),
        {(TOPIC, 0): G.UNKNOWN_MEMBER_ID}, "OffsetCommit from an unknown member: UNKNOWN_MEMBER_ID")
r = G.leave_group(c, GRP, [("nobody-xyz", None)], version=1)
tap.is_(r["error"], G.UNKNOWN_MEMBER_ID, "LeaveGroup v1 of an unknown member: UNKNOWN_MEMBER_ID")
if apis[G.LEAVE_GROUP][1] >= 3:
    r = G.leave_group(c, GRP, [("nobody-xyz", None)], version=3)
    tap.is_((r["error"], r["members"]), (0, [("nobody-xyz", None, G.UNKNOWN_MEMBER_ID)]),
            "LeaveGroup v3 of an unknown member: per-member UNKNOWN_MEMBER_ID")
tap.is_(G.describe_group(c, GRP)["state"], "Stable", "after all that the group is still Stable")
tap.is_(G.heartbeat(c, GRP, gen, mid, version=V_HB), 0, "... and its member still heartbeats fine")

# The group's own member commits; metadata round-trips; limits.
r = G.offset_commit(c, GRP, {(TOPIC, 0): (42, "meta-0"), (TOPIC, 1): (7, None)},
                    generation=gen, member_id=mid, version=V_COMMIT)
tap.is_(r, {(TOPIC, 0): 0, (TOPIC, 1): 0}, "OffsetCommit by the member with its generation")
f = G.offset_fetch(c, GRP, {TOPIC: [0, 1]}, version=V_FETCH)
tap.is_((f["error"], f["offsets"]), (0, {(TOPIC, 0): (42, "meta-0", 0), (TOPIC, 1): (7, "", 0)}),
        "OffsetFetch returns the offsets and metadata (null metadata reads back empty)")

# ---- empty group id, session timeout bounds ------------------------------------------
tap.is_(G.join_group(c, "", "", [("range", SUB)], version=3)["error"], G.INVALID_GROUP_ID,
        "JoinGroup with an empty group id: INVALID_GROUP_ID")
tap.is_(G.sync_group(c, "", 1, "m", [], version=V_SYNC)["error"], G.INVALID_GROUP_ID,
        "SyncGroup with an empty group id: INVALID_GROUP_ID")
tap.is_(G.heartbeat(c, "", 1, "m", version=V_HB), G.INVALID_GROUP_ID,
        "Heartbeat with an empty group id: INVALID_GROUP_ID")
tap.is_(G.leave_group(c, "", [("m", None)], version=1)["error"], G.INVALID_GROUP_ID,
        "LeaveGroup with an empty group id: INVALID_GROUP_ID")
for st in (1, 5999, 1800001, 2147483647):
    r = G.join_group(c, "g-session", "", [("range", SUB)], session_ms=st, version=3)
    tap.is_(r["error"], G.INVALID_SESSION_TIMEOUT,
            "JoinGroup with session timeout %d ms (bounds 6000..1800000): INVALID_SESSION_TIMEOUT" % st)
tap.is_(G.describe_group(c, "g-session")["members"], [], "... and no member was added")

# ---- offsets: metadata size, unknown topics, simple (generation -1) commits --------------
OG = "g-offsets"
r = G.offset_commit(c, OG, {(TOPIC, 0): (1, "x" * 4096)}, version=V_COMMIT)
tap.is_(r, {(TOPIC, 0): 0}, "OffsetCommit (no generation) with 4096 bytes of metadata: accepted")
r = G.offset_commit(c, OG, {(TOPIC, 1): (2, "x" * 4097)}, version=V_COMMIT)
tap.is_(r, {(TOPIC, 1): G.OFFSET_METADATA_TOO_LARGE},
        "OffsetCommit with 4097 bytes of metadata: OFFSET_METADATA_TOO_LARGE")
r = G.offset_commit(c, OG, {("no-such-topic", 0): 3, (TOPIC, 99): 4, (TOPIC, 1): 5}, version=V_COMMIT)
tap.is_(r, {("no-such-topic", 0): G.UNKNOWN_TOPIC_OR_PARTITION,
            (TOPIC, 99): G.UNKNOWN_TOPIC_OR_PARTITION, (TOPIC, 1): 0},
        "OffsetCommit to an unknown topic / partition: UNKNOWN_TOPIC_OR_PARTITION (the rest is committed)")
f = G.offset_fetch(c, OG, {TOPIC: [0, 1, 2]}, version=V_FETCH)
tap.is_((f["offsets"].get((TOPIC, 0)), f["offsets"].get((TOPIC, 1))),
        ((1, "x" * 4096, 0), (5, "", 0)), "OffsetFetch: the accepted commits, the oversized one not stored")
if V_FETCH >= 2:
    f = G.offset_fetch(c, OG, None, version=V_FETCH)
    tap.is_(sorted((k, v[0]) for k, v in f["offsets"].items()), [((TOPIC, 0), 1), ((TOPIC, 1), 5)],
            "OffsetFetch of all topics (null list): exactly the committed partitions")
f = G.offset_fetch(c, "g-no-offsets", {TOPIC: [0]}, version=V_FETCH)
tap.is_((f["error"], f["offsets"]), (0, {(TOPIC, 0): (-1, "", 0)}),
        "OffsetFetch with nothing committed: offset -1, no error")
for v in range(1, 8):
    if apis[G.OFFSET_COMMIT][0] <= v <= apis[G.OFFSET_COMMIT][1]:
        r = G.offset_commit(c, "g-ver", {(TOPIC, 0): (100 + v, "v%d" % v)}, version=v)
        f = G.offset_fetch(c, "g-ver", {TOPIC: [0]}, version=min(v, V_FETCH))
        tap.is_((r, f["offsets"]), ({(TOPIC, 0): 0}, {(TOPIC, 0): (100 + v, "v%d" % v, 0)}),
                "OffsetCommit v%d / OffsetFetch v%d round trip" % (v, min(v, V_FETCH)))

# ---- two members: a rebalance over raw sockets ------------------------------------------
c2 = Conn(b.port, timeout=30)
corr2 = G.join_group_send(c2, GRP, "", [("range", SUB)], version=3)
time.sleep(0.3)
tap.is_(G.heartbeat(c, GRP, gen, mid, version=V_HB), G.REBALANCE_IN_PROGRESS,
        "a second member joins: the first member's heartbeat gets REBALANCE_IN_PROGRESS")
tap.is_(G.describe_group(c, GRP)["state"], "PreparingRebalance", "DescribeGroups: PreparingRebalance")
r1 = G.join_group(c, GRP, mid, [("range", SUB)], version=V_JOIN, timeout=30)
r2 = G.join_group_recv(c2, corr2, version=3, timeout=30)
mid2 = r2["member_id"]
tap.ok(r1["error"] == 0 and r2["error"] == 0 and r1["generation"] == r2["generation"] == gen + 1,
       "both joins complete with generation %d" % (gen + 1)) or tap.diag("%r\n%r" % (r1, r2))
leader = r1["leader"]
tap.ok(leader in (mid, mid2) and r2["leader"] == leader, "both see the same leader")
lead_r, fol_r = (r1, r2) if leader == mid else (r2, r1)
tap.is_(sorted(m["member_id"] for m in lead_r["members"]), sorted([mid, mid2]),
        "the leader gets both members")
tap.is_(fol_r["members"], [], "the follower gets no member list")
gen2 = r1["generation"]
A1, A2 = G.assignment({TOPIC: [0]}), G.assignment({TOPIC: [1]})
conns = {mid: c, mid2: c2}
fol_id = fol_r["member_id"]
fcorr = G.sync_group_send(conns[fol_id], GRP, gen2, fol_id, [], version=3)
time.sleep(0.2)
lr = G.sync_group(conns[leader], GRP, gen2, leader, [(mid, A1), (mid2, A2)], version=3)
fr = G.sync_group_recv(conns[fol_id], fcorr, version=3)
got = {leader: lr["assignment"], fol_id: fr["assignment"]}
tap.ok(lr["error"] == 0 and fr["error"] == 0 and got == {mid: A1, mid2: A2},
       "SyncGroup: the follower waits for the leader, each gets its own assignment") or \
    tap.diag("%r %r" % (lr, fr))
d = G.describe_group(c, GRP)
tap.is_((d["state"], G.owners(d, TOPIC)), ("Stable", {0: [mid], 1: [mid2]}),
        "DescribeGroups: Stable, partition 0 -> member 1, partition 1 -> member 2")
tap.is_(G.heartbeat(c, GRP, gen, mid, version=V_HB), G.ILLEGAL_GENERATION,
        "a heartbeat with the previous generation: ILLEGAL_GENERATION")

# DeleteGroups of a non-empty group; LeaveGroup; then delete.
tap.is_(G.delete_groups(c, [GRP]), {GRP: G.NON_EMPTY_GROUP}, "DeleteGroups of a group with members: NON_EMPTY_GROUP")
if apis.get(G.OFFSET_DELETE):
    err, res = G.offset_delete(c, GRP, {TOPIC: [0]})
    tap.is_((err, res), (0, {(TOPIC, 0): G.GROUP_SUBSCRIBED_TO_TOPIC}),
            "OffsetDelete while members subscribe to the topic: GROUP_SUBSCRIBED_TO_TOPIC")
r = G.leave_group(c2, GRP, [(mid2, None)], version=ver(G.LEAVE_GROUP, 3))
tap.is_(r["error"], 0, "LeaveGroup of member 2")
if r.get("members") is not None:
    tap.is_(r["members"], [(mid2, None, 0)], "LeaveGroup v3: per-member result")
tap.is_(G.heartbeat(c, GRP, gen2, mid, version=V_HB), G.REBALANCE_IN_PROGRESS,
        "the remaining member is told to rejoin")
r = G.join_group(c, GRP, mid, [("range", SUB)], version=V_JOIN)
tap.is_((r["error"], r["generation"], r["leader"]), (0, gen2 + 1, mid), "it rejoins alone as leader")
r = G.leave_group(c, GRP, [(mid, None)], version=1)
tap.is_(r["error"], 0, "LeaveGroup v1 of member 1")
tap.is_(G.describe_group(c, GRP)["state"], "Empty", "the group is Empty")
tap.is_(G.delete_groups(c, [GRP, "g-never-seen"]), {GRP: 0, "g-never-seen": G.GROUP_ID_NOT_FOUND},
        "DeleteGroups: the empty group is deleted; an unknown one: GROUP_ID_NOT_FOUND")
tap.is_(G.offset_fetch(c, GRP, {TOPIC: [0]}, version=V_FETCH)["offsets"], {(TOPIC, 0): (-1, "", 0)},
        "the deleted group's offsets are gone")
tap.ok(GRP not in [g[0] for g in G.list_groups(c, version=1)["groups"]], "ListGroups no longer shows it")
if apis.get(G.OFFSET_DELETE):
    err, res = G.offset_delete(c, OG, {TOPIC: [0], "no-such-topic": [0]})
    tap.is_((err, res.get((TOPIC, 0))), (0, 0), "OffsetDelete on a group without members")
    tap.is_(G.offset_fetch(c, OG, {TOPIC: [0, 1]}, version=V_FETCH)["offsets"],
            {(TOPIC, 0): (-1, "", 0), (TOPIC, 1): (5, "", 0)}, "... removes that offset only")
    err, res = G.offset_delete(c, "g-never-seen-2", {TOPIC: [0]})
    tap.is_(err, G.GROUP_ID_NOT_FOUND, "OffsetDelete on an unknown group: GROUP_ID_NOT_FOUND")

# ---- session expiry --------------------------------------------------------------------
r = G.join_group(c, "g-expire", "", [("range", SUB)], session_ms=6000, version=3)
emid, egen = r["member_id"], r["generation"]
G.sync_group(c, "g-expire", egen, emid, [(emid, ASSIGN)], version=3)
t0 = time.monotonic()
tap.is_(G.describe_group(c, "g-expire")["state"], "Stable", "a member with a 6 s session: Stable")
time.sleep(3)
tap.is_(len(G.describe_group(c, "g-expire")["members"]), 1, "still a member 3 s without heartbeats")
gone = odtest.wait_until(lambda: not G.describe_group(c, "g-expire")["members"], 10, 0.2)
el = time.monotonic() - t0
tap.ok(gone and 5.5 <= el <= 9, "without heartbeats it is removed after the session timeout "
       "(%.1f s)" % el)
tap.is_(G.describe_group(c, "g-expire")["state"], "Empty", "... and the group is Empty")
tap.is_(G.heartbeat(c, "g-expire", egen, emid, version=V_HB), G.UNKNOWN_MEMBER_ID,
        "the expired member's heartbeat: UNKNOWN_MEMBER_ID")

# ---- flexible versions ------------------------------------------------------------------
jv, sv, hv = apis[G.JOIN_GROUP][1], apis[G.SYNC_GROUP][1], apis[G.HEARTBEAT][1]
if jv >= 6 and sv >= 4 and hv >= 4:
    FG = "g-flex"
    r = G.join_group(c, FG, "", [("range", SUB)], version=jv)
    if r["error"] == G.MEMBER_ID_REQUIRED:
        r = G.join_group(c, FG, r["member_id"], [("range", SUB)], version=jv)
    tap.is_((r["error"], r["protocol"]), (0, "range"), "JoinGroup v%d (flexible)" % jv)
    if jv >= 7:
        tap.is_(r.get("protocol_type"), "consumer", "JoinGroup v7+: protocol type in the response")
    fm, fgen = r["member_id"], r["generation"]
    r = G.sync_group(c, FG, fgen, fm, [(fm, ASSIGN)], version=sv,
                     protocol_type="consumer" if sv >= 5 else None, protocol_name="range" if sv >= 5 else None)
    tap.is_((r["error"], r["assignment"]), (0, ASSIGN), "SyncGroup v%d (flexible)" % sv)
    tap.is_(G.heartbeat(c, FG, fgen, fm, version=hv), 0, "Heartbeat v%d (flexible)" % hv)
    if apis[G.DESCRIBE_GROUPS][1] >= 5:
        d = G.describe_groups(c, [FG], version=5)[0]
        tap.is_((d["state"], [m["member_id"] for m in d["members"]]), ("Stable", [fm]),
                "DescribeGroups v5 (flexible)")
    if apis[G.OFFSET_COMMIT][1] >= 8 and apis[G.OFFSET_FETCH][1] >= 6:
        r = G.offset_commit(c, FG, {(TOPIC, 1): (9, "flex")}, generation=fgen, member_id=fm, version=8)
        f = G.offset_fetch(c, FG, {TOPIC: [1]}, version=min(7, apis[G.OFFSET_FETCH][1]))
        tap.is_((r, f["offsets"]), ({(TOPIC, 1): 0}, {(TOPIC, 1): (9, "flex", 0)}),
                "OffsetCommit v8 / OffsetFetch v6+ (flexible)")
    lv = apis[G.LEAVE_GROUP][1]
    r = G.leave_group(c, FG, [(fm, None)], version=lv)
    tap.is_(r["error"], 0, "LeaveGroup v%d" % lv)
    if apis[G.DELETE_GROUPS][1] >= 2:
        tap.is_(G.delete_groups(c, [FG], version=2), {FG: 0}, "DeleteGroups v2 (flexible)")
else:
    tap.skip("flexible JoinGroup/SyncGroup/Heartbeat not advertised", 1)

# ---- garbage bodies ----------------------------------------------------------------------
for what, key, v, body in (
        ("JoinGroup v5 with a protocol count of 2^31-1", 11, 5,
         odtest.string("g") + i32(10000) + i32(10000) + odtest.string("") + i16(-1) +
         odtest.string("consumer") + i32(0x7FFFFFFF)),
        ("JoinGroup v3 truncated in the member id", 11, 3, odtest.string("g") + i32(10000) + i32(10000) + i16(50) + b"ab"),
        ("SyncGroup v3 with an assignment longer than the body", 14, 3,
         odtest.string("g") + i32(1) + odtest.string("m") + i16(-1) + i32(1) + odtest.string("m") + i32(1 << 30)),
        ("OffsetCommit v7 with a partition count of -5", 8, 7,
         odtest.string("g") + i32(-1) + odtest.string("") + i16(-1) + i32(1) + odtest.string(TOPIC) + i32(-5)),
        ("Heartbeat v3 empty body", 12, 3, b""),
        ("DescribeGroups v4 with a group count of 2^31-1", 15, 4, i32(0x7FFFFFFF)),
        ("FindCoordinator v4 without tags", 10, 4, b"\x00\x02\x02g")):
    cc = Conn(b.port)
    cc.send_raw(frame(request_header(key, v, 9, flexible=v >= G.FLEX_FROM[key]) + body))
    st = cc.wait_closed(5)
    cc.close()
    st = st if isinstance(st, str) else st[0]
    tap.ok(st != "open", "%s: the connection is closed or answered (%s)" % (what, st))
    survives(what)

# Clients that disconnect while their JoinGroup waits must not leave the
# broker answering a dead connection (nor leaking the request).
c3 = Conn(b.port, timeout=30)
r3 = G.join_group(c3, "g-dc", "", [("range", SUB)], rebalance_ms=2000, version=3)
G.sync_group(c3, "g-dc", r3["generation"], r3["member_id"], [(r3["member_id"], ASSIGN)], version=3)
corr = G.join_group_send(c, "g-dc", "", [("range", SUB)], rebalance_ms=2000, version=3)
c4 = Conn(b.port)
G.join_group_send(c4, "g-dc", r3["member_id"], [("range", SUB)], rebalance_ms=2000, version=3)
c4.close()
c3.close()
try:
    r = G.join_group_recv(c, corr, version=3, timeout=20)
    tap.is_(r["error"], 0, "the member still connected completes its join")
except Exception as e:
    tap.ok(False, "the member still connected completes its join: %r" % e)
survives("members disconnecting during a rebalance")
c.close()
c2.close()

# ---- the initial rebalance delay (default 3000 ms) on a second broker --------------------
b2 = odtest.Broker(name="broker-delay").start()
with Conn(b2.port, timeout=30) as cd:
    odtest.create_topics(cd, [(TOPIC, 2, 1)])
    t0 = time.monotonic()
    r = G.join_group(cd, "g-delay", "", [("range", SUB)], version=3, timeout=30)
    el = time.monotonic() - t0
    tap.ok(r["error"] == 0 and 2.8 <= el <= 8,
           "group.initial.rebalance.delay.ms default: the first join of a new group answers "
           "after ~3 s (%.2f s)" % el) or tap.diag(repr(r))
b2.stop()
sys.exit(odtest.finish())
