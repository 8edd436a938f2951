#!/usr/bin/python3
# 6000-quorum-forms.t - three nodes (broker+controller each) start from empty
# data directories with the same controller.quorum.voters and no format
# step: they elect one leader, agree on one cluster id (kept in every
# meta.properties), register as brokers, and answer DescribeQuorum on the
# controller and the broker listeners; the controller listener advertises
# the KRaft RPCs.
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402

odtest.watchdog(120)
c = cluster.Cluster(3).start()
leader, epoch = c.wait_leader()
tap.ok(leader in (1, 2, 3) and epoch >= 1, "one leader (%d) in epoch %d, all three agree"
       % (leader, epoch))

ids = []
for b in c.nodes:
    path = os.path.join(b.data, "meta.properties")
    odtest.wait_until(lambda: os.path.exists(path), 20)
    m = re.search(r"^cluster\.id=(\S+)$", open(path).read(), re.M)
    ids.append(m.group(1) if m else None)
tap.ok(ids[0] and len(ids[0]) == 22 and ids.count(ids[0]) == 3,
       "every node keeps the same cluster id in meta.properties (%s)" % ids)

try:
    c.wait_brokers(3)
    registered = True
except odtest.BrokerError as e:
    tap.diag(str(e))
    registered = False
tap.ok(registered, "every node's Metadata lists the three registered brokers")
with odtest.Conn(c.bports[0]) as conn:
    md = odtest.metadata(conn, [])
tap.is_(md["controller_id"], leader, "Metadata names the quorum leader as the controller")
tap.ok(sorted(x["port"] for x in md["brokers"]) == sorted(c.bports),
       "brokers advertise their PLAINTEXT listeners, not the controller's")

def settled():
    q = c.describe_quorum(leader)
    return q["hw"] > 0 and all(leo == q["hw"] for _, leo in q["voters"]) and q
tap.ok(odtest.wait_until(settled, 20), "every voter's log end reaches the high watermark")
for i in (1, 2, 3):
    q = c.describe_quorum(i)
    tap.ok(q["error"] == 0 and q["leader"] == leader and q["epoch"] == epoch and
           sorted(v for v, _ in q["voters"]) == [1, 2, 3],
           "DescribeQuorum on node %d's controller listener: leader %d, voters 1-3" % (i, leader))
    q2 = c.describe_quorum(i, version=2, controller=False)
    tap.ok(q2["error"] == 0 and q2["leader"] == leader and q2["hw"] >= q["hw"] > 0,
           "DescribeQuorum v2 on node %d's broker listener (relayed to the leader)" % i)

with odtest.Conn(c.cports[0]) as conn:
    apis = odtest.api_versions(conn, 3)["apis"]
tap.ok(apis.get(52) == (0, 2) and apis.get(53) == (0, 1) and apis.get(54) == (0, 1) and
       apis.get(55) == (0, 2) and apis.get(1) == (12, 12),
       "the controller listener advertises Vote, Begin/EndQuorumEpoch, DescribeQuorum, "
       "Fetch 12 (%s)" % {k: apis.get(k) for k in (1, 52, 53, 54, 55)})
with odtest.Conn(c.bports[0]) as conn:
    apis = odtest.api_versions(conn, 3)["apis"]
tap.ok(52 not in apis and 53 not in apis and apis.get(55) == (0, 2) and apis.get(1)[0] < 12,
       "the broker listener advertises DescribeQuorum but not Vote, and the core's Fetch")

# A graceful stop of the leader: it resigns (EndQuorumEpoch) and the others
# elect a successor in a later epoch.
c.node(leader).stop()
l2, e2 = c.wait_leader()
tap.ok(l2 != leader and e2 > epoch, "after the leader stops, %d leads epoch %d" % (l2, e2))
c.node(leader).start()
l3, e3 = c.wait_leader()
tap.ok(l3 == l2 and e3 == e2, "the old leader rejoins as a follower of epoch %d" % e2)
sys.exit(odtest.finish())
