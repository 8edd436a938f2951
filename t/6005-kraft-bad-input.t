#!/usr/bin/python3
# 6005-kraft-bad-input.t - malformed and hostile KRaft requests on the
# controller listener (truncated Vote, garbage Fetch, absurd array counts,
# bytes after the body, unsupported versions) close the connection; a
# well-formed Vote or Fetch from another cluster gets INCONSISTENT_CLUSTER_ID,
# a Vote from a node that is not a voter INCONSISTENT_VOTER_SET; nothing
# crashes and the quorum keeps its leader and epoch. A broker-only node
# (an observer) follows the metadata log and shows up in DescribeQuorum.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402

R = odtest
odtest.watchdog(120)
c = cluster.Cluster(4, roles={4: "broker"}, voters=[1, 2, 3]).start()
leader, epoch = c.wait_leader()
port = c.cports[leader - 1]

def closed(key, ver, body):
    conn = R.Conn(port, timeout=5)
    try:
        conn.request(key, ver, body, flexible=True)
        return False
    except R.ConnectionClosed:
        return True
    finally:
        conn.close()

def topic_part(fields):
    return (R.compact_array(["__cluster_metadata"], lambda t: R.compact_string(t) +
                            R.compact_array([0], lambda p: fields + R.NO_TAGS) + R.NO_TAGS))

vote_part = R.i32(0) + R.i32(epoch + 5) + R.i32(2) + b"\0" * 32 + R.i32(0) + R.i64(0) + b"\0"
good_vote = R.compact_string(None) + R.i32(1) + topic_part(vote_part) + R.NO_TAGS
tap.ok(closed(52, 2, good_vote[:7]), "a truncated Vote closes the connection")
tap.ok(closed(52, 2, good_vote + b"\x01\x02"), "bytes after a Vote body close it")
tap.ok(closed(52, 2, R.compact_string(None) + R.i32(1) + R.uvarint(0x7fffffff)),
       "a Vote with an absurd topic count closes it")
tap.ok(closed(52, 9, good_vote), "Vote v9 (unsupported) closes it")
tap.ok(closed(1, 12, b"\xff" * 40), "a garbage Fetch closes it")
tap.ok(closed(53, 1, b""), "an empty BeginQuorumEpoch closes it")
tap.ok(closed(54, 1, b"\x00\x05"), "a truncated EndQuorumEpoch closes it")

# Well-formed but wrong: a Vote from another cluster, a Vote from a node
# that is no voter.
other = R.compact_string("AAAAAAAAAAAAAAAAAAAAAA") + R.i32(1) + topic_part(vote_part) + R.NO_TAGS
with R.Conn(port) as conn:
    r = conn.request(52, 2, other, flexible=True)
    tap.is_(r.i16(), 104, "a Vote from another cluster: INCONSISTENT_CLUSTER_ID")
    stranger = (R.i32(0) + R.i32(epoch + 5) + R.i32(99) + b"\0" * 32 + R.i32(0) + R.i64(0) +
                b"\0")
    r = conn.request(52, 2, R.compact_string(None) + R.i32(1) + topic_part(stranger) + R.NO_TAGS,
                     flexible=True)
    r.i16()
    parts = r.compact_array(lambda t: (t.compact_string(), t.compact_array(
        lambda p: (p.i32(), p.i16(), p.i32(), p.i32(), p.boolean(), p.tags())), t.tags()))
    tap.is_(parts[0][1][0][1], 94, "a Vote from node 99 (no voter): INCONSISTENT_VOTER_SET")

l2, e2 = c.wait_leader()
tap.ok(l2 == leader and e2 == epoch and all(b.running() for b in c.nodes),
       "every node runs, the leader (%d) and epoch (%d) did not change" % (leader, epoch))

def observer_seen():
    q = c.describe_quorum(leader)
    return any(o == 4 for o, _ in q["observers"]) and q
q = odtest.wait_until(observer_seen, 20)
tap.ok(q and sorted(v for v, _ in q["voters"]) == [1, 2, 3],
       "broker-only node 4 fetches as an observer (voters 1-3, observers %s)"
       % (q and q["observers"]))
try:
    c.wait_brokers(4)
    four = True
except R.BrokerError:
    four = False
tap.ok(four, "and registers: every node lists four brokers")
sys.exit(odtest.finish())
