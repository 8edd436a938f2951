#!/usr/bin/python3
# 6001-controller-failover.t - kill -9 the active controller of a 3-node
# cluster: the other two elect a new one, CreateTopics works again through
# any surviving broker (confluent_kafka's AdminClient and kafka-python's),
# and the old controller, restarted on its data, rejoins as a follower and
# catches up on what was committed while it was down. Twice.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    from confluent_kafka.admin import NewTopic
    from kafka.admin import KafkaAdminClient, NewTopic as KNewTopic
except ImportError as e:
    tap.skip_all("confluent_kafka or kafka-python not available: %s" % e)

odtest.watchdog(180)
c = cluster.Cluster(3, sets={"controller.quorum.fetch.timeout.ms": "1000",
                             "controller.quorum.election.timeout.ms": "500"}).start()
leader, epoch = c.wait_leader()
c.wait_brokers(3)

def topic_on(node_id, name):
    with odtest.Conn(c.bports[node_id - 1]) as conn:
        t = odtest.metadata(conn, [name])["topics"].get(name)
    return t is not None and t["error"] == 0 and len(t["partitions"]) > 0

for rnd in (1, 2):
    survivors = [i for i in (1, 2, 3) if i != leader]
    c.node(leader).kill9()
    l2, e2 = c.wait_leader(timeout=30)
    tap.ok(l2 in survivors and e2 > epoch,
           "round %d: after kill -9 of %d, %d is the controller of epoch %d"
           % (rnd, leader, l2, e2))
    name = "after-kill-%d" % rnd
    admin = odtest.ck_admin(c.bootstrap_of(survivors))
    fs = admin.create_topics([NewTopic(name, 2, 1)], operation_timeout=20, request_timeout=20)
    try:
        fs[name].result(30)
        ok = True
    except Exception as e:
        tap.diag("create_topics: %r" % e)
        ok = False
    tap.ok(ok, "round %d: confluent_kafka creates %s through the survivors" % (rnd, name))
    other = [i for i in survivors if i != l2][0]
    ka = KafkaAdminClient(bootstrap_servers=c.bootstrap_of([other]), request_timeout_ms=20000)
    r = ka.create_topics([KNewTopic(name + "-kp", 1, 1)])
    ka.close()
    tap.ok(all(e[1] == 0 for e in r.topic_errors),
           "round %d: kafka-python creates one through broker %d" % (rnd, other))
    tap.ok(odtest.wait_until(lambda: all(topic_on(i, name) and topic_on(i, name + "-kp")
                                         for i in survivors), 20),
           "round %d: both topics are in every survivor's metadata" % rnd)
    c.node(leader).start()
    l3, e3 = c.wait_leader(timeout=30)
    tap.ok(l3 == l2 and e3 == e2, "round %d: node %d rejoins as a follower of epoch %d"
           % (rnd, leader, e2))
    tap.ok(odtest.wait_until(lambda: topic_on(leader, name) and topic_on(leader, name + "-kp"),
                             20),
           "round %d: node %d caught up: it knows both topics" % (rnd, leader))
    leader, epoch = l2, e2
sys.exit(odtest.finish())
