#!/usr/bin/python3
# Manual replica assignment through confluent-kafka's AdminClient
# (CreateTopics and CreatePartitions with replica_assignment), and the
# INVALID_REPLICA_ASSIGNMENT answers for assignments that cannot work.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import NewPartitions, NewTopic
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)

odtest.watchdog(120)
b = odtest.Broker().start()
admin = odtest.ck_admin(b.bootstrap)


def create(topic):
    try:
        admin.create_topics([topic], request_timeout=20)[topic.topic].result(20)
        return None
    except KafkaException as e:
        return e.args[0]


err = create(NewTopic("asg-ok", 3, replica_assignment=[[1], [1], [1]]))
tap.ok(err is None, "create with a manual assignment of 3 partitions on broker 1 (%s)" % err)
md = admin.list_topics("asg-ok", timeout=10).topics.get("asg-ok")
tap.is_(sorted(md.partitions) if md else None, [0, 1, 2], "the topic has partitions 0-2")
tap.is_([md.partitions[p].replicas for p in sorted(md.partitions)] if md else None,
        [[1], [1], [1]], "each partition's replicas are the assigned ones")

err = create(NewTopic("asg-bad-broker", 2, replica_assignment=[[1], [7]]))
tap.is_(err.code() if err else None, 39, "a broker that is not registered: INVALID_REPLICA_ASSIGNMENT")
tap.like(err.str() if err else "", r"broker 7", "the message names the broker")

err = create(NewTopic("asg-dup", 1, replica_assignment=[[1, 1]]))
tap.is_(err.code() if err else None, 39, "a broker twice in one partition: INVALID_REPLICA_ASSIGNMENT")

tap.ok("asg-bad-broker" not in admin.list_topics(timeout=10).topics,
       "a refused topic is not created")

fs = admin.create_partitions([NewPartitions("asg-ok", 5, replica_assignment=[[1], [1]])],
                             request_timeout=20)
try:
    fs["asg-ok"].result(20)
    perr = None
except KafkaException as e:
    perr = e.args[0]
tap.ok(perr is None, "create_partitions to 5 with an assignment for the 2 new ones (%s)" % perr)
odtest.wait_topic(admin, "asg-ok", 5)

fs = admin.create_partitions([NewPartitions("asg-ok", 7, replica_assignment=[[1]])],
                             request_timeout=20)
try:
    fs["asg-ok"].result(20)
    perr = None
except KafkaException as e:
    perr = e.args[0]
tap.is_(perr.code() if perr else None, 39,
        "create_partitions with fewer assignments than new partitions: INVALID_REPLICA_ASSIGNMENT")
odtest.finish()
