#!/usr/bin/python3
# confluent_kafka (librdkafka 2.x): 100k-message round trips per compression
# codec and acks setting, read back byte-exact with assign() (no group APIs);
# AdminClient topics/partitions/configs; CreateTime and offsets_for_times.
import os
import random
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck
    from confluent_kafka.admin import ConfigResource, NewPartitions, NewTopic
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "420")))
N = int(os.environ.get("ODTEST_N", "100000"))
P = 4
b = odtest.Broker().start()
BS = b.bootstrap
log = odtest.RdLog()
admin = odtest.ck_admin(BS, logger=log)

# ---- the messages -------------------------------------------------------------
_POOL = bytes(random.Random(1).getrandbits(8) for _ in range(4096))
BASE_TS = int(time.time() * 1000) - 3600 * 1000  # an hour ago: clearly CreateTime


def gen(tag, i):
    """Message i of a run: (partition, key, value, headers, timestamp)."""
    key = None if i % 11 == 0 else (b"" if i % 17 == 0 else b"key-%d" % i)
    if i % 13 == 0:
        value = None
    elif i % 19 == 0:
        value = b""
    else:
        o = (i * 7) % 3000
        fill = b"abcabcabc" * (i % 23) if i % 2 else _POOL[o:o + i % 300]
        value = b"%s-%d-" % (tag, i) + fill
    if i % 5 == 0:
        # No NULL header values here: confluent_kafka 1.7's Message.headers()
        # drops a reference to None for them and crashes the interpreter
        # (client bug); kafka-python refuses them. 1500 covers them (raw).
        headers = [("h1", b"x%d" % i), ("dup", b"1"), ("dup", b"2")]
        if i % 10 == 0:
            headers.append(("empty", b""))
    else:
        headers = None
    return i % P, key, value, headers, BASE_TS + i


def produce(topic, tag, n, codec, acks):
    """Produce n messages; returns (errors, offset_mismatches, seconds)."""
    conf = odtest.ck_conf(BS, **{
        "compression.codec": codec, "acks": str(acks), "linger.ms": 20,
        "batch.num.messages": 10000, "queue.buffering.max.messages": 500000,
        "queue.buffering.max.kbytes": 1048576, "message.timeout.ms": 120000})
    p = ck.Producer(conf, logger=log)
    errs = []
    nextoff = {}
    bad = []
    ndone = [0]

    def cb(err, msg):
        ndone[0] += 1
        if err is not None:
            if len(errs) < 20:
                errs.append(str(err))
            return
        if acks != 0:
            part = msg.partition()
            want = nextoff.get(part, 0)
            if msg.offset() != want and len(bad) < 20:
                bad.append((part, msg.offset(), want))
            nextoff[part] = msg.offset() + 1

    t0 = time.monotonic()
    for i in range(n):
        part, key, value, headers, ts = gen(tag, i)
        kw = {"headers": headers} if headers is not None else {}
        for _ in range(100000):
            try:
                p.produce(topic, value, key, part, on_delivery=cb, timestamp=ts, **kw)
                break
            except BufferError:
                p.poll(0.01)
        if i % 2000 == 0:
            p.poll(0)
    left = p.flush(120)
    secs = time.monotonic() - t0
    if left:
        errs.append("%d messages still queued after flush" % left)
    if ndone[0] != n:
        errs.append("%d delivery reports for %d messages" % (ndone[0], n))
    return errs, bad, secs


def verify(topic, tag, n, check_ts=True):
    """Read back with assign()+OFFSET_BEGINNING; returns a list of problems."""
    t0 = time.monotonic()
    got, hw = odtest.ck_read(BS, topic, list(range(P)), timeout=240, logger=log)
    secs = time.monotonic() - t0
    problems = []
    for p in range(P):
        want_n = len(range(p, n, P))
        if hw[p] != want_n:
            problems.append("partition %d: high watermark %d, want %d" % (p, hw[p], want_n))
        msgs = got[p]
        if len(msgs) != want_n:
            problems.append("partition %d: %d messages, want %d" % (p, len(msgs), want_n))
        for j, m in enumerate(msgs):
            if len(problems) > 10:
                break
            i = p + j * P
            _, key, value, headers, ts = gen(tag, i)
            if m.offset() != j:
                problems.append("p%d: message %d has offset %d" % (p, j, m.offset()))
            if m.key() != key or m.value() != value:
                problems.append("p%d@%d: key/value %r/%r, want %r/%r"
                                % (p, j, m.key(), (m.value() or b"")[:40], key, (value or b"")[:40]))
            h = m.headers()
            if (h or None) != headers:
                problems.append("p%d@%d: headers %r, want %r" % (p, j, h, headers))
            if check_ts and m.timestamp() != (ck.TIMESTAMP_CREATE_TIME, ts):
                problems.append("p%d@%d: timestamp %r, want CreateTime %d" % (p, j, m.timestamp(), ts))
    return problems, secs


def create(name, parts=P, config=None):
    odtest.ck_create_topic(admin, name, parts, config)


# ---- the round trips ---------------------------------------------------------------
runs = [("none", -1, N), ("gzip", 1, N), ("snappy", "all", N), ("lz4", 1, N),
        ("zstd", -1, N), ("none", 0, max(N // 10, 100))]
for codec, acks, n in runs:
    topic = "ck-%s-acks%s" % (codec, "all" if acks in (-1, "all") else acks)
    tag = topic.encode()
    name = "%s, acks=%s, %d messages" % (codec, acks, n)
    try:
        create(topic)
    except Exception as e:
        tap.ok(False, "%s: create topic: %s" % (name, e))
        continue
    errs, bad, psecs = produce(topic, tag, n, codec, acks)
    tap.ok(not errs, "%s: all delivered without error" % name) or tap.diag("\n".join(errs))
    if acks != 0:
        tap.ok(not bad, "%s: delivery reports give contiguous offsets per partition" % name) or \
            tap.diag(repr(bad))
    problems, csecs = verify(topic, tag, n)
    tap.ok(not problems, "%s: read back byte-exact in order (keys, values, headers, NULLs, "
           "timestamps), offsets contiguous from 0" % name) or tap.diag("\n".join(problems[:12]))
    tap.diag("%s: produce %.1fs (%.0f msg/s), consume+verify %.1fs"
             % (name, psecs, n / max(psecs, 1e-6), csecs))

# ---- timestamps: offsets_for_times --------------------------------------------------
topic = "ck-none-acksall"
cons = ck.Consumer(odtest.ck_conf(BS, **{"group.id": "odtest-times", "enable.auto.commit": False}),
                   logger=log)
try:
    # Message i lives in partition i % P at offset i // P with timestamp BASE_TS + i.
    probes = [(0, 0), (1, 1), (2, 4), (3, 403), (0, 999), (1, N // 2 + 3)]
    got = []
    for p, i in probes:  # one query each: a partition may appear once per request
        res = cons.offsets_for_times([ck.TopicPartition(topic, p, BASE_TS + i)], timeout=15)
        got += [(r.partition, r.offset) for r in res]
    # and several partitions in one request
    res = cons.offsets_for_times([ck.TopicPartition(topic, p, BASE_TS + 4001) for p in range(P)],
                                 timeout=15)
    tap.is_(sorted((r.partition, r.offset) for r in res),
            [(p, (4001 - p + P - 1) // P) for p in range(P)],
            "offsets_for_times for all partitions in one request")
    # First offset in partition p whose timestamp >= BASE_TS + i.
    want = [(p, (i - p + P - 1) // P if i > p else 0) for p, i in probes]
    tap.is_(got, want, "offsets_for_times finds the first offset at or after each timestamp")
    res = cons.offsets_for_times([ck.TopicPartition(topic, 0, BASE_TS + N + 1000)], timeout=15)
    tap.is_([r.offset for r in res], [-1], "offsets_for_times after the last record: -1 (end)")
    lo, hi = cons.get_watermark_offsets(ck.TopicPartition(topic, 2), timeout=15)
    tap.is_((lo, hi), (0, len(range(2, N, P))), "get_watermark_offsets: low 0, high = count")
except ck.KafkaException as e:
    tap.ok(False, "offsets_for_times: %s" % e)
finally:
    cons.close()


# ---- consumer positioning ----------------------------------------------------------
def first_from(topic, part, offset, reset="error", timeout=20):
    """The first message a consumer assigned at `offset` gets (or an error)."""
    c = ck.Consumer(odtest.ck_conf(BS, **{"group.id": "odtest-pos", "enable.auto.commit": False,
                                          "auto.offset.reset": reset, "check.crcs": True}),
                    logger=log)
    try:
        c.assign([ck.TopicPartition(topic, part, offset)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error() is not None:
                return m.error().code()
            return m
        return None
    finally:
        c.close()


topic = "ck-none-acksall"
j = (N // P) // 2 + 3  # somewhere inside a batch, not at its start
m = first_from(topic, 1, j)
want = gen(topic.encode(), 1 + j * P)
tap.ok(isinstance(m, ck.Message) and m.offset() == j and m.value() == want[2] and m.key() == want[1],
       "assign at offset %d (inside a batch): the first message is exactly offset %d" % (j, j)) or \
    tap.diag(repr(m if not isinstance(m, ck.Message) else (m.offset(), m.key())))
m = first_from(topic, 2, 10 ** 9, reset="earliest")
tap.ok(isinstance(m, ck.Message) and m.offset() == 0,
       "assign beyond the end with auto.offset.reset=earliest: restarts at offset 0") or tap.diag(repr(m))

# ---- message sizes -------------------------------------------------------------------
create("ck-big", 1)
big = bytes(random.Random(3).getrandbits(8) for _ in range(900 * 1024))
huge = big * 3  # 2.7 MB, over the broker's default message.max.bytes (1048588)
p = ck.Producer(odtest.ck_conf(BS, **{"acks": "all", "message.max.bytes": 8000000,
                                      "compression.codec": "none"}), logger=log)
dr = []
p.produce("ck-big", big, b"big", 0, on_delivery=lambda e, msg: dr.append((e, msg.offset())))
p.flush(30)
p.produce("ck-big", huge, b"huge", 0, on_delivery=lambda e, msg: dr.append((e, msg.offset())))
p.flush(30)
tap.is_(dr[:1], [(None, 0)], "a 900 KB message is accepted")
code = dr[1][0].code() if len(dr) > 1 and dr[1][0] is not None else None
tap.is_(code, ck.KafkaError.MSG_SIZE_TOO_LARGE,
        "a 2.7 MB message (over message.max.bytes) is rejected: MESSAGE_TOO_LARGE")
got, hw = odtest.ck_read(BS, "ck-big", [0], timeout=30, logger=log)
tap.ok(hw == {0: 1} and got[0][0].value() == big, "the 900 KB message reads back byte-exact, "
       "nothing else stored")

# ---- LogAppendTime --------------------------------------------------------------------
try:
    create("ck-logappend", 2, {"message.timestamp.type": "LogAppendTime"})
    p = ck.Producer(odtest.ck_conf(BS, acks="all"), logger=log)
    dr = []
    t0 = int(time.time() * 1000)
    for i in range(200):
        p.produce("ck-logappend", b"la-%d" % i, None, i % 2, timestamp=BASE_TS + i,
                  on_delivery=lambda e, msg: dr.append((e, msg.timestamp())))
    p.flush(30)
    t1 = int(time.time() * 1000)
    tap.ok(len(dr) == 200 and all(e is None and ts[0] == ck.TIMESTAMP_LOG_APPEND_TIME and
                                  t0 - 1000 <= ts[1] <= t1 + 1000 for e, ts in dr),
           "LogAppendTime topic: delivery reports carry the broker's append time") or \
        tap.diag(repr(dr[:3]))
    got, hw = odtest.ck_read(BS, "ck-logappend", [0, 1], timeout=30, logger=log)
    msgs = got[0] + got[1]
    tap.ok(len(msgs) == 200 and all(m.timestamp()[0] == ck.TIMESTAMP_LOG_APPEND_TIME and
                                    t0 - 1000 <= m.timestamp()[1] <= t1 + 1000 for m in msgs),
           "LogAppendTime topic: consumed timestamps are append times (CRCs valid)") or \
        tap.diag(repr([m.timestamp() for m in msgs[:3]]))
except Exception as e:
    tap.ok(False, "LogAppendTime topic: %r" % e)


# ---- AdminClient ------------------------------------------------------------------
def admin_err(fut, timeout=30):
    """The KafkaError code of an admin future (None on success)."""
    try:
        fut.result(timeout)
        return None
    except ck.KafkaException as e:
        return e.args[0].code()


fs = admin.create_topics([NewTopic("ck-admin-a", 3, 1), NewTopic("ck-admin-b", 2, 1)],
                         operation_timeout=30, request_timeout=30)
tap.is_({t: admin_err(f) for t, f in fs.items()}, {"ck-admin-a": None, "ck-admin-b": None},
        "create_topics: two topics")
try:
    odtest.wait_topic(admin, "ck-admin-a", 3)
    tap.ok(True, "list_topics shows ck-admin-a with 3 partitions")
except RuntimeError as e:
    tap.ok(False, str(e))

fs = admin.create_topics([NewTopic("ck-admin-a", 3, 1)], request_timeout=30)
tap.is_(admin_err(fs["ck-admin-a"]), ck.KafkaError.TOPIC_ALREADY_EXISTS,
        "create_topics on an existing topic: TOPIC_ALREADY_EXISTS")

bad_names = ["bad/name", "..", ".", "x" * 250, "has space", "b\u00e4d"]
fs = admin.create_topics([NewTopic(t, 1, 1) for t in bad_names], request_timeout=30)
codes = {t: admin_err(f) for t, f in fs.items()}
tap.is_(codes, {t: ck.KafkaError.TOPIC_EXCEPTION for t in bad_names},
        "create_topics with illegal names: INVALID_TOPIC_EXCEPTION for each")
md = admin.list_topics(timeout=15)
tap.ok(not any(t in md.topics for t in bad_names), "illegal topics were not created")
tap.is_(md.controller_id, 1, "list_topics: controller_id 1")
tap.is_([(x.id, x.host, x.port) for x in md.brokers.values()], [(1, "127.0.0.1", b.port)],
        "list_topics: broker 1 at the listener")

fs = admin.create_partitions([NewPartitions("ck-admin-b", 5)], request_timeout=30)
tap.is_(admin_err(fs["ck-admin-b"]), None, "create_partitions: ck-admin-b 2 -> 5")
try:
    odtest.wait_topic(admin, "ck-admin-b", 5)
    tap.ok(True, "list_topics shows 5 partitions for ck-admin-b")
except RuntimeError as e:
    tap.ok(False, str(e))
fs = admin.create_partitions([NewPartitions("ck-admin-b", 3)], request_timeout=30)
tap.is_(admin_err(fs["ck-admin-b"]), ck.KafkaError.INVALID_PARTITIONS,
        "create_partitions to fewer partitions: INVALID_PARTITIONS")

# New partitions are usable.
p = ck.Producer(odtest.ck_conf(BS, acks="all"), logger=log)
dr = []
p.produce("ck-admin-b", b"in-new-partition", b"k", 4, on_delivery=lambda e, m: dr.append((e, m.offset())))
p.flush(30)
tap.is_(dr, [(None, 0)], "produce to a new partition (4) lands at offset 0")


ConfigSource_DYNAMIC_TOPIC = 1  # ConfigSource.DYNAMIC_TOPIC_CONFIG


def describe(restype, name):
    fs = admin.describe_configs([ConfigResource(restype, name)], request_timeout=30)
    (f,) = fs.values()
    return f.result(30)


try:
    create("ck-admin-cfg", 1, {"retention.ms": "3600000", "cleanup.policy": "delete"})
    cfg = describe(ConfigResource.Type.TOPIC, "ck-admin-cfg")
    vals = {k: v.value for k, v in cfg.items()}
    tap.is_(vals.get("retention.ms"), "3600000", "describe_configs topic: the override retention.ms")
    src = cfg.get("retention.ms")
    tap.ok(src is not None and not src.is_default and
           getattr(src.source, "value", src.source) == ConfigSource_DYNAMIC_TOPIC,
           "describe_configs topic: the override's source is DYNAMIC_TOPIC_CONFIG") or \
        tap.diag(repr(src and (src.source, src.is_default)))
    cfg = describe(ConfigResource.Type.TOPIC, "ck-admin-a")
    vals = {k: v.value for k, v in cfg.items()}
    tap.is_((vals.get("retention.ms"), vals.get("cleanup.policy"), vals.get("segment.bytes")),
            ("604800000", "delete", "1073741824"), "describe_configs topic: defaults present")
    dflt = cfg.get("segment.bytes")
    tap.ok(dflt is not None and dflt.is_default, "describe_configs topic: segment.bytes is a default")
except Exception as e:
    tap.ok(False, "describe_configs topic: %r" % e)
try:
    cfg = describe(ConfigResource.Type.BROKER, "1")
    vals = {k: v.value for k, v in cfg.items()}
    tap.ok(len(vals) >= 3, "describe_configs broker 1: %d entries" % len(vals))
    tap.is_((vals.get("num.partitions"), vals.get("auto.create.topics.enable")), ("1", "true"),
            "describe_configs broker: num.partitions=1, auto.create.topics.enable=true")
except Exception as e:
    tap.ok(False, "describe_configs broker: %r" % e)
    tap.ok(False, "describe_configs broker values")
try:
    describe(ConfigResource.Type.TOPIC, "ck-no-such-topic")
    tap.ok(False, "describe_configs of a missing topic fails")
except ck.KafkaException as e:
    tap.is_(e.args[0].code(), ck.KafkaError.UNKNOWN_TOPIC_OR_PART,
            "describe_configs of a missing topic: UNKNOWN_TOPIC_OR_PARTITION")

fs = admin.delete_topics(["ck-admin-a"], operation_timeout=30, request_timeout=30)
tap.is_(admin_err(fs["ck-admin-a"]), None, "delete_topics ck-admin-a")
gone = odtest.wait_until(lambda: "ck-admin-a" not in admin.list_topics(timeout=10).topics, 15, 0.2)
tap.ok(gone, "deleted topic no longer listed")
fs = admin.delete_topics(["ck-admin-a"], request_timeout=30)
tap.is_(admin_err(fs["ck-admin-a"]), ck.KafkaError.UNKNOWN_TOPIC_OR_PART,
        "delete_topics again: UNKNOWN_TOPIC_OR_PARTITION")
# A topic re-created under the same name starts empty.
try:
    create("ck-admin-a", 1)
    got, hw = odtest.ck_read(BS, "ck-admin-a", [0], timeout=20)
    tap.is_(hw, {0: 0}, "re-created topic starts empty")
except Exception as e:
    tap.ok(False, "re-create deleted topic: %r" % e)

if tap.failed():
    log.diag()
sys.exit(odtest.finish())
