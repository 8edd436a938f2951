#!/usr/bin/python3
# Partitions whose log cannot be opened, and the caps on partitions.
#
# Before: creating a topic of 1,000 partitions under a low `ulimit -n` failed
# half-way, the control plane refused every later change and the broker
# could never start again. Now a partition whose log cannot be opened is
# offline (KAFKA_STORAGE_ERROR for it) while the rest of the broker and the
# metadata replay go on. The segment store keeps descriptors proportional to
# the partitions in use, so under a hard limit of 256 all 1000 partitions
# open; one whose directory is taken by a plain file cannot, and only it is
# offline.
# Caps: Kafka's bound on records per user operation (10000,
# POLICY_VIOLATION) and max.broker.partitions (KIP-578's name).
import os
import resource
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import array, i8, i16, i32, string  # noqa: E402

odtest.watchdog(540)
STORAGE_ERROR, POLICY_VIOLATION, INVALID_PARTITIONS = 56, 44, 37
NOFILE = 256


def with_nofile(fn):
    """Runs fn with RLIMIT_NOFILE lowered (soft and hard, so the broker cannot
    raise it), so the broker it starts inherits it. The hard limit can only be
    raised again by root, which the tests run as; otherwise it stays low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(NOFILE, soft), min(NOFILE, hard)))
    try:
        return fn()
    finally:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        except (ValueError, OSError):
            pass


def create_v1(conn, topics, validate_only=False):
    """CreateTopics v1: topics [(name, partitions)], rf 1. {name: (error, message)}."""
    body = array(topics, lambda t: string(t[0]) + i32(t[1]) + i16(1) + array([], None) +
                 array([], None)) + i32(20000) + i8(1 if validate_only else 0)
    r = conn.request(odtest.CREATE_TOPICS, 1, body, timeout=120)
    return {n: (e, m) for n, e, m in r.array(lambda rr: (rr.string(), rr.i16(), rr.string()))}


def create_partitions(conn, topic, count):
    """CreatePartitions v0: (error, message)."""
    body = array([topic], lambda t: string(t) + i32(count) + i32(-1)) + i32(20000) + i8(0)
    r = conn.request(37, 0, body)
    r.i32()
    return r.array(lambda rr: (rr.string(), rr.i16(), rr.string()))[0][1:]


def delete_topic(conn, name):
    r = conn.request(odtest.DELETE_TOPICS, 1, array([name], string) + i32(20000))
    r.i32()
    return r.array(lambda rr: (rr.string(), rr.i16()))[0][1]


def part_errors(conn, topic):
    md = odtest.metadata(conn, [topic])["topics"][topic]
    return [p["error"] for p in md["partitions"]]


def batch():
    return odtest.build_batch([(b"k", b"v")])


# ---- a large topic under a low descriptor limit ----
a = odtest.Broker(name="fdlimit")
BLOCKED = 7
os.makedirs(a.data, exist_ok=True)
with open(os.path.join(a.data, "big-%d" % BLOCKED), "w") as f:
    f.write("not a partition directory\n")
with_nofile(a.start)
c = odtest.Conn(a.port)
tap.is_(odtest.create_topics(c, [("big", 1000, 1)]), {"big": 0},
        "CreateTopics of 1000 partitions under ulimit -n %d is committed" % NOFILE)
errs = part_errors(c, "big")
online = [i for i, e in enumerate(errs) if e == 0]
offline = [i for i, e in enumerate(errs) if e == STORAGE_ERROR]
tap.ok(len(errs) == 1000 and offline == [BLOCKED] and len(online) == 999,
       "Metadata lists 1000 partitions: %d online, %d KAFKA_STORAGE_ERROR"
       % (len(online), len(offline)))
tap.like(a.log_text(), r"ERROR topic big partition %d is offline \(KAFKA_STORAGE_ERROR\): \S"
         % BLOCKED, "the log names topic, partition and reason")
on, off = online[0], offline[0]
tap.is_(odtest.produce(c, {("big", on): batch()})[("big", on)][0], 0,
        "Produce to an online partition works")
tap.is_(odtest.produce(c, {("big", off): batch()})[("big", off)][0], STORAGE_ERROR,
        "Produce to an offline partition: KAFKA_STORAGE_ERROR")
tap.is_(odtest.fetch(c, {("big", off): 0})[("big", off)]["error"], STORAGE_ERROR,
        "Fetch from it: KAFKA_STORAGE_ERROR")
tap.is_(odtest.list_offsets(c, {("big", off): -1})[("big", off)][0], STORAGE_ERROR,
        "ListOffsets of it: KAFKA_STORAGE_ERROR")
c2 = odtest.Conn(a.port)
tap.is_(odtest.create_topics(c2, [("after", 1, 1)]), {"after": 0},
        "a new connection works and later metadata changes are committed")
c2.close()
c.close()
a.stop()
with_nofile(a.start)
tap.ok(a.running(), "the broker starts again under the same limit")
c = odtest.Conn(a.port)
errs = part_errors(c, "big")
tap.ok(len(errs) == 1000 and errs[on] == 0 and errs.count(STORAGE_ERROR) == 1,
       "after the restart: 1000 partitions, %d offline" % errs.count(STORAGE_ERROR))
r = odtest.fetch(c, {("big", on): 0})[("big", on)]
tap.ok(r["error"] == 0 and r["hw"] == 1, "the record produced before is there (hw %s)" % r["hw"])
tap.is_(delete_topic(c, "big"), 0, "the large topic can be deleted")
tap.is_(odtest.create_topics(c, [("small", 4, 1)]), {"small": 0}, "then a new topic is created")
tap.is_(part_errors(c, "small"), [0, 0, 0, 0], "and its partitions are online (descriptors freed)")
c.close()

# ---- caps ----
b = odtest.Broker(name="caps", sets={"max.broker.partitions": "50"}).start()
c = odtest.Conn(b.port)
res = create_v1(c, [("huge", 10001)])
tap.is_(res["huge"][0], POLICY_VIOLATION, "10001 partitions in one topic: POLICY_VIOLATION")
tap.like(res["huge"][1] or "", r"Unable to perform excessively large batch operation",
         "with Kafka's message")
res = create_v1(c, [("v1", 6000), ("v2", 5000)], validate_only=True)
tap.ok(res["v1"][0] == 0 and res["v2"][0] == POLICY_VIOLATION,
       "the records of one request count together (%s)" % (res,))
res = create_v1(c, [("t1", 40)])
tap.is_(res["t1"][0], 0, "40 partitions under max.broker.partitions=50")
res = create_v1(c, [("t2", 20)])
tap.is_(res["t2"][0], POLICY_VIOLATION, "20 more: POLICY_VIOLATION")
tap.like(res["t2"][1] or "", r"broker 1 would hold 60 partition replicas, more than "
         r"max.broker.partitions=50", "the message names broker, count and key")
err, msg = create_partitions(c, "t1", 55)
tap.ok(err == POLICY_VIOLATION and "max.broker.partitions" in (msg or ""),
       "CreatePartitions beyond the cap: POLICY_VIOLATION (%s, %s)" % (err, msg))
tap.is_(create_partitions(c, "t1", 50)[0], 0, "CreatePartitions up to the cap")
tap.is_(odtest.metadata(c, ["auto1"])["topics"]["auto1"]["error"], POLICY_VIOLATION,
        "auto-creation is capped too")
tap.is_(delete_topic(c, "t1"), 0, "delete the topic")
tap.is_(create_v1(c, [("t2", 20)])["t2"][0], 0, "then 20 partitions fit again")
c.close()
odtest.finish()
