#!/usr/bin/python3
# Replication on one node (doc/cluster.md, "Replication"):
#  (a) replication factor larger than the unfenced brokers: INVALID_REPLICATION_FACTOR with
#      Kafka's message (CreateTopics raw, confluent_kafka's AdminClient, CreatePartitions);
#  (b) acks=all with RF 1: acknowledged once committed (raw and librdkafka);
#      min.insync.replicas above the ISR: NOT_ENOUGH_REPLICAS with Kafka's message, nothing
#      appended; acks=1 still works there;
#  (c) OffsetForLeaderEpoch (api 23, v2/v3/v4): the epoch's end offset, newer epochs unknown,
#      current_leader_epoch fencing, unknown partitions; the leader epoch cache survives a
#      restart and a kill -9;
#  (d) AlterPartition (api 56) on the controller: stale leader epoch, partition epoch, a
#      non-replica in the ISR, an unknown topic are refused; a good one commits;
#  (e) every batch carries the partition's leader epoch (partitionLeaderEpoch);
#  (f) DescribeLogDirs (v1, v4): the log dir, sizes, offset lag, total/usable bytes.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import (Conn, NO_TAGS, compact_array, compact_string, i8, i16, i32, i64,  # noqa: E402
                    string, array)

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "300")))
NOT_ENOUGH_REPLICAS = 19
FENCED_LEADER_EPOCH = 74
UNKNOWN_LEADER_EPOCH = 75
INVALID_UPDATE_VERSION = 95
OFFSET_FOR_LEADER_EPOCH = 23
ALTER_PARTITION = 56
CREATE_PARTITIONS = 37

b = odtest.Broker().start()
conn = Conn(b.port)

# ---- (a) replica assignment ----------------------------------------------------
res = odtest.create_topics(conn, [("rf3", 1, 3), ("rf1", 2, 1), ("rfzero", 1, 0)])
tap.is_(res, {"rf3": odtest.INVALID_REPLICATION_FACTOR, "rf1": odtest.NONE,
              "rfzero": odtest.INVALID_REPLICATION_FACTOR},
        "CreateTopics: rf 3 on one broker and rf 0 refused, rf 1 created")

import confluent_kafka as ck  # noqa: E402
from confluent_kafka.admin import NewTopic, NewPartitions  # noqa: E402
admin = odtest.ck_admin(b.bootstrap)
fs = admin.create_topics([NewTopic("rf2-ck", 1, 2)], operation_timeout=10, request_timeout=10)
try:
    fs["rf2-ck"].result(15)
    tap.ok(False, "AdminClient: rf 2 on one broker refused")
except ck.KafkaException as e:
    err = e.args[0]
    tap.is_(err.code(), ck.KafkaError.INVALID_REPLICATION_FACTOR, "AdminClient: INVALID_REPLICATION_FACTOR")
    tap.is_(err.str(), "Unable to replicate the partition 2 time(s): The target replication factor "
            "of 2 cannot be reached because only 1 broker(s) are registered.",
            "Kafka's message")
fs = admin.create_partitions([NewPartitions("rf1", 4)], operation_timeout=10, request_timeout=10)
fs["rf1"].result(15)
odtest.wait_topic(admin, "rf1", 4)
rf1 = admin.list_topics("rf1", timeout=10).topics["rf1"].partitions
tap.is_(sorted((p.id, p.leader, list(p.replicas)) for p in rf1.values()),
        [(i, 1, [1]) for i in range(4)],
        "CreatePartitions places the new partitions on the live broker")

# ---- (b) acks=all and min.insync.replicas ---------------------------------------
res = odtest.create_topics(conn, [("acks", 1, 1), ("minisr2", 1, 1, {"min.insync.replicas": "2"})])
tap.is_(res, {"acks": 0, "minisr2": 0}, "topics for acks=all")
batch = odtest.build_batch([(b"k", b"v1", []), (b"k", b"v2", [])])
out = odtest.produce(conn, {("acks", 0): batch}, acks=-1)
tap.is_(out[("acks", 0)][:2], (0, 0), "acks=all, RF 1: acknowledged at offset 0")
out = odtest.produce(conn, {("minisr2", 0): batch}, acks=-1)
tap.is_(out[("minisr2", 0)][0], NOT_ENOUGH_REPLICAS, "min.insync.replicas=2 with ISR 1: NOT_ENOUGH_REPLICAS")
hw = odtest.list_offsets(conn, {("minisr2", 0): -1})
tap.is_(hw[("minisr2", 0)][2], 0, "nothing appended")
out = odtest.produce(conn, {("minisr2", 0): batch}, acks=1)
tap.is_(out[("minisr2", 0)][:2], (0, 0), "acks=1 there: appended")

# The message of NOT_ENOUGH_REPLICAS (Produce v8 carries error_message).
def produce_v8(topic, records, acks):
    body = (compact_string(None) + i16(acks) + i32(10000) +
            compact_array([topic], lambda t: compact_string(t) + compact_array(
                [0], lambda p: i32(p) + odtest.uvarint(len(records) + 1) + records + NO_TAGS) +
                NO_TAGS) + NO_TAGS)
    r = conn.request(0, 9, body, flexible=True)
    parts = []

    def part(rr):
        idx, err, base, lat, lso = rr.i32(), rr.i16(), rr.i64(), rr.i64(), rr.i64()
        rr.compact_array(lambda x: (x.i32(), x.compact_string(), x.tags()))
        msg = rr.compact_string()
        rr.tags()
        parts.append((err, msg))
    r.compact_array(lambda rr: (rr.compact_string(), rr.compact_array(part), rr.tags()))
    return parts[0]


err, msg = produce_v8("minisr2", odtest.build_batch([(b"k", b"v3", [])]), -1)
tap.is_(err, NOT_ENOUGH_REPLICAS, "Produce v9: NOT_ENOUGH_REPLICAS")
tap.is_(msg, "The size of the current ISR Set(1) is insufficient to satisfy the min.isr "
        "requirement of 2 for partition minisr2-0", "with Kafka's message")

# librdkafka with acks=all and idempotence on RF 1.
p = ck.Producer(odtest.ck_conf(b.bootstrap, acks="all", enable_idempotence=True,
                               linger_ms=5), logger=odtest.RdLog())
delivered = []
for i in range(500):
    p.produce("acks", key=b"k%d" % i, value=b"v%d" % i,
              on_delivery=lambda e, m: delivered.append((e, m.offset() if m else None)))
p.flush(30)
tap.is_(len(delivered), 500, "librdkafka acks=all: 500 delivery reports")
tap.ok(all(e is None for e, _ in delivered), "all acknowledged")
got, hw = odtest.ck_read(b.bootstrap, "acks", [0])
tap.is_([m.value() for m in got[0][2:]], [b"v%d" % i for i in range(500)],
        "read back in order")

# ---- (c) OffsetForLeaderEpoch ---------------------------------------------------
def ofle(parts, version=3, replica_id=-1):
    """parts: [(topic, partition, current_leader_epoch, epoch)] -> [(err, part, epoch, end)]"""
    by = {}
    for t, pa, cur, ep in parts:
        by.setdefault(t, []).append((pa, cur, ep))
    items = list(by.items())
    if version >= 4:
        body = i32(replica_id) + compact_array(items, lambda tp: compact_string(tp[0]) + compact_array(
            tp[1], lambda x: i32(x[0]) + i32(x[1]) + i32(x[2]) + NO_TAGS) + NO_TAGS) + NO_TAGS
    else:
        body = (i32(replica_id) if version >= 3 else b"") + array(items, lambda tp: string(tp[0]) + array(
            tp[1], lambda x: i32(x[0]) + (i32(x[1]) if version >= 2 else b"") + i32(x[2])))
    r = conn.request(OFFSET_FOR_LEADER_EPOCH, version, body, flexible=version >= 4)
    r.i32()
    res = []
    if version >= 4:
        def topic(rr):
            rr.compact_string()
            rr.compact_array(lambda x: res.append((x.i16(), x.i32(), x.i32(), x.i64(), x.tags())[:4]))
            rr.tags()
        r.compact_array(topic)
    else:
        def topic(rr):
            rr.string()
            rr.array(lambda x: res.append((x.i16(), x.i32(), x.i32(), x.i64())))
        r.array(topic)
    return res


end = 502
tap.is_(ofle([("acks", 0, -1, 0)]), [(0, 0, 0, end)], "epoch 0 (the latest) ends at the log end")
tap.is_(ofle([("acks", 0, 0, 0)], version=4), [(0, 0, 0, end)], "v4 (flexible) too")
tap.is_(ofle([("acks", 0, -1, 0)], version=2), [(0, 0, 0, end)], "v2 too")
tap.is_(ofle([("acks", 0, -1, 7)]), [(0, 0, -1, -1)], "a newer epoch is unknown (-1, -1)")
tap.is_(ofle([("acks", 0, 3, 0)]), [(UNKNOWN_LEADER_EPOCH, 0, -1, -1)],
        "current_leader_epoch newer than ours: UNKNOWN_LEADER_EPOCH")
tap.is_(ofle([("acks", 5, -1, 0), ("nosuch", 0, -1, 0)]),
        [(odtest.UNKNOWN_TOPIC_OR_PARTITION, 5, -1, -1), (odtest.UNKNOWN_TOPIC_OR_PARTITION, 0, -1, -1)],
        "unknown partition and topic: UNKNOWN_TOPIC_OR_PARTITION")

# ---- (e) partitionLeaderEpoch in the batches --------------------------------------
f = odtest.fetch(conn, {("acks", 0): 0})[("acks", 0)]
raw = f["records"]
epochs = set()
pos = 0
while pos + 61 <= len(raw):
    blen = int.from_bytes(raw[pos + 8:pos + 12], "big")
    epochs.add(int.from_bytes(raw[pos + 12:pos + 16], "big", signed=True))
    pos += 12 + blen
tap.is_(epochs, {0}, "every batch carries partitionLeaderEpoch 0")

# ---- (d) AlterPartition on the controller ----------------------------------------
def alter_partition(topic, partition, leader_epoch, isr, partition_epoch, broker_id=1):
    body = (i32(broker_id) + i64(-1) +
            compact_array([topic], lambda t: compact_string(t) + compact_array(
                [partition], lambda p: i32(p) + i32(leader_epoch) +
                compact_array(isr, i32) + i8(0) + i32(partition_epoch) + NO_TAGS) + NO_TAGS) +
            NO_TAGS)
    r = conn.request(ALTER_PARTITION, 1, body, flexible=True)
    r.i32()
    top = r.i16()
    res = []

    def topic(rr):
        rr.compact_string()
        rr.compact_array(lambda x: res.append((x.i32(), x.i16(), x.i32(), x.i32(),
                                               x.compact_array(lambda y: y.i32()), x.i8(),
                                               x.i32(), x.tags())[:7]))
        rr.tags()
    r.compact_array(topic)
    return top, res


top, res = alter_partition("acks", 0, 5, [1], 0)
tap.is_((top, res[0][1]), (0, FENCED_LEADER_EPOCH), "AlterPartition: another leader epoch: FENCED_LEADER_EPOCH")
top, res = alter_partition("acks", 0, 0, [1], 9)
tap.is_(res[0][1], INVALID_UPDATE_VERSION, "stale partition epoch: INVALID_UPDATE_VERSION")
top, res = alter_partition("acks", 0, 0, [1, 7], 0)
tap.is_(res[0][1], odtest.INVALID_REQUEST, "a non-replica in the ISR: INVALID_REQUEST")
top, res = alter_partition("acks", 0, 0, [1], 0, broker_id=2)
tap.is_(top, 77, "an unregistered broker: STALE_BROKER_EPOCH")
top, res = alter_partition("nosuch", 0, 0, [1], 0)
tap.is_(res[0][1], odtest.UNKNOWN_TOPIC_OR_PARTITION, "unknown topic (v1, by name)")
top, res = alter_partition("acks", 0, 0, [1], 0)
tap.is_(res[0][:2], (0, 0), "a good change commits")
tap.is_(res[0][2:], (1, 0, [1], 0, 1), "answered with leader 1, epoch 0, ISR [1], partition epoch 1")
top, res = alter_partition("acks", 0, 0, [1], 0)
tap.is_(res[0][1], INVALID_UPDATE_VERSION, "the same again: the partition epoch moved on")

# ---- DescribeLogDirs -------------------------------------------------------------------
def describe_log_dirs(topics, version):
    flex = version >= 2
    if flex:
        body = (compact_array(topics, lambda t: compact_string(t[0]) + compact_array(t[1], i32) + NO_TAGS)
                + NO_TAGS) if topics is not None else odtest.uvarint(0) + NO_TAGS
    else:
        body = array(topics, lambda t: string(t[0]) + array(t[1], i32))
    r = conn.request(35, version, body, flexible=flex)
    r.i32()
    if version >= 3:
        r.i16()
    out = []

    def part(x):
        return (x.i32(), x.i64(), x.i64(), x.boolean()) + ((x.tags(),) if flex else ())

    def topic(x):
        name = x.compact_string() if flex else x.string()
        ps = (x.compact_array if flex else x.array)(part)
        if flex:
            x.tags()
        return name, [q[:4] for q in ps]

    def result(x):
        err = x.i16()
        d = x.compact_string() if flex else x.string()
        ts = (x.compact_array if flex else x.array)(topic)
        tot = use = -1
        if version >= 4:
            tot, use = x.i64(), x.i64()
        if flex:
            x.tags()
        out.append((err, d, dict(ts), tot, use))
    (r.compact_array if flex else r.array)(result)
    return out


res = describe_log_dirs(None, 4)
tap.is_(len(res), 1, "DescribeLogDirs v4: one log dir")
err, d, topics, tot, use = res[0]
tap.ok(err == 0 and d == os.path.join(b.tmp, "data") and tot > 0 and 0 < use <= tot,
       "its path, total and usable bytes")
acks0 = topics.get("acks", [None])[0]
tap.ok(acks0 is not None and acks0[0] == 0 and acks0[1] > 0 and acks0[2] == 0 and acks0[3] is False,
       "acks-0: its size, offset lag 0, not a future replica")
res = describe_log_dirs([("acks", [0, 9]), ("nosuch", [0])], 1)
tap.is_(res[0][2], {"acks": [acks0]}, "v1 with names: unknown partitions and topics left out")

# ---- the epoch cache across restarts -------------------------------------------------
conn.close()
b.restart()
conn = Conn(b.port)
tap.is_(ofle([("acks", 0, -1, 0)]), [(0, 0, 0, end)], "after a restart: epoch 0 still ends at the log end")
ck_dir = os.path.join(b.tmp, "data", "acks-0")
tap.ok(any("leader-epoch" in f for f in os.listdir(ck_dir)), "the cache is kept with the log")
b.kill9()
b.start()
conn.close()
conn = Conn(b.port)
tap.is_(ofle([("acks", 0, -1, 0)]), [(0, 0, 0, end)], "after kill -9: the same")
got, hw = odtest.ck_read(b.bootstrap, "acks", [0])
tap.is_(len(got[0]), end, "every record still readable")
conn.close()
sys.exit(odtest.finish())
