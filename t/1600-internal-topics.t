#!/usr/bin/python3
# Internal topics: a client can neither create, produce into nor delete the
# control plane's topic (__cluster_metadata, whose directory is the KRaft
# log's own), nor produce into or delete __consumer_offsets. Before the fix
# `kcat -P -t __cluster_metadata` auto-created a topic whose partition log
# was the metadata log's directory, and deleting it wiped every topic (and
# the cluster id) at the next restart.
import os
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import array, i16, i32, string  # noqa: E402

odtest.watchdog(180)
b = odtest.Broker().start()
c = odtest.Conn(b.port)

INVALID_TOPIC, INVALID_REQUEST, UNKNOWN_TOPIC = 17, 42, 3


def delete_topics(conn, names):
    """DeleteTopics v1: {name: error}."""
    r = conn.request(odtest.DELETE_TOPICS, 1, array(names, string) + i32(10000))
    r.i32()  # throttle
    return dict(r.array(lambda rr: (rr.string(), rr.i16())))


def meta_props():
    with open(os.path.join(b.data, "meta.properties")) as f:
        return f.read()


def batch():
    return odtest.build_batch([(b"k", b"v")])


tap.is_(odtest.create_topics(c, [("keep", 2, 1)]), {"keep": 0}, "an ordinary topic is created")
tap.is_(odtest.produce(c, {("keep", 0): batch()})[("keep", 0)][0], 0, "and takes a record")
props = meta_props()

# The reported reproduction: kcat produces to __cluster_metadata.
if shutil.which("kcat"):
    rc, out, err = odtest.run(["kcat", "-b", b.bootstrap, "-P", "-t", "__cluster_metadata",
                               "-m", "10", "-X", "broker.address.family=v4",
                               "-X", "message.timeout.ms=3000"], input=b"x\n", timeout=60)
    tap.ok(rc != 0, "kcat -P -t __cluster_metadata fails (rc %s)" % rc)
else:
    tap.skip("kcat is not installed")

md = odtest.metadata(c, ["__cluster_metadata"])["topics"]["__cluster_metadata"]
tap.is_(md["error"], UNKNOWN_TOPIC, "Metadata does not auto-create __cluster_metadata")
tap.ok(md["internal"], "and calls it internal")
tap.is_(odtest.create_topics(c, [("__cluster_metadata", 1, 1)]),
        {"__cluster_metadata": INVALID_REQUEST},
        "CreateTopics __cluster_metadata: INVALID_REQUEST (as Kafka)")
tap.is_(odtest.produce(c, {("__cluster_metadata", 0): batch()})[("__cluster_metadata", 0)][0],
        INVALID_TOPIC, "Produce to __cluster_metadata: INVALID_TOPIC_EXCEPTION")
tap.is_(delete_topics(c, ["__cluster_metadata"]), {"__cluster_metadata": UNKNOWN_TOPIC},
        "DeleteTopics __cluster_metadata: there is no such topic")
tap.ok("__cluster_metadata" not in odtest.metadata(c)["topics"], "no such topic in the image")

# __consumer_offsets: the group coordinator's. Created here by CreateTopics,
# which Kafka allows; a consumer group would create it the same way.
tap.is_(odtest.produce(c, {("__consumer_offsets", 0): batch()})[("__consumer_offsets", 0)][0],
        INVALID_TOPIC, "Produce to a missing __consumer_offsets: INVALID_TOPIC_EXCEPTION")
md = odtest.metadata(c, ["__consumer_offsets"])["topics"]["__consumer_offsets"]
tap.is_(md["error"], UNKNOWN_TOPIC, "Metadata does not auto-create __consumer_offsets")
tap.is_(odtest.create_topics(c, [("__consumer_offsets", 1, 1)]), {"__consumer_offsets": 0},
        "CreateTopics __consumer_offsets is allowed (as in Kafka)")
md = odtest.metadata(c, ["__consumer_offsets"])["topics"]["__consumer_offsets"]
tap.ok(md["error"] == 0 and md["internal"], "__consumer_offsets exists and is internal")
tap.is_(odtest.produce(c, {("__consumer_offsets", 0): batch()})[("__consumer_offsets", 0)][0],
        INVALID_TOPIC, "Produce to __consumer_offsets: INVALID_TOPIC_EXCEPTION")
tap.is_(delete_topics(c, ["__consumer_offsets"]), {"__consumer_offsets": INVALID_TOPIC},
        "DeleteTopics __consumer_offsets: INVALID_TOPIC_EXCEPTION")
tap.ok(b.log_text().count("refused to delete internal topic __consumer_offsets") == 1,
       "the refusal is logged")
md = odtest.metadata(c, ["__mine"])["topics"]["__mine"]
tap.ok(md["error"] == 0 and not md["internal"] and len(md["partitions"]) == 1,
       "other __ names are ordinary topics, auto-created in the same answer")

# Restart: the metadata log, the cluster id and the topics are intact.
c.close()
b.restart()
c = odtest.Conn(b.port)
topics = odtest.metadata(c)["topics"]
tap.ok("keep" in topics and topics["keep"]["error"] == 0 and len(topics["keep"]["partitions"]) == 2,
       "after a restart the ordinary topic is there")
tap.ok("__consumer_offsets" in topics, "and so is __consumer_offsets")
tap.is_(meta_props(), props, "meta.properties (cluster id) unchanged")
r = odtest.fetch(c, {("keep", 0): 0})[("keep", 0)]
tap.ok(r["error"] == 0 and r["hw"] == 1, "the record is still there (hw %s)" % r["hw"])
c.close()
odtest.finish()
