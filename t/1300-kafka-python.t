#!/usr/bin/python3
# kafka-python (pure Python, an independent protocol implementation):
# 100k-message round trips per available codec, KafkaConsumer without a
# group (assign + seek_to_beginning), KafkaAdminClient, auto-create.
import logging
import os
import random
import sys
import time
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import kafka
    import kafka.codec
    import kafka.errors as Errors
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewPartitions, NewTopic
except ImportError as e:
    tap.skip_all("kafka-python not available: %s" % e)

logging.basicConfig(level=logging.CRITICAL)  # kafka-python logs reconnects noisily
odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "420")))
N = int(os.environ.get("ODTEST_N", "100000"))
P = 3
b = odtest.Broker().start()
BS = b.bootstrap
tap.diag("kafka-python %s" % kafka.__version__)

_POOL = bytes(random.Random(2).getrandbits(8) for _ in range(4096))
BASE_TS = int(time.time() * 1000) - 7200 * 1000


def gen(tag, i):
    key = None if i % 11 == 0 else (b"" if i % 17 == 0 else b"k%d" % i)
    if i % 13 == 0:
        value = None
    elif i % 19 == 0:
        value = b""
    else:
        o = (i * 13) % 3500
        value = b"%s/%d/" % (tag, i) + (_POOL[o:o + i % 250] if i % 2 else b"xyz" * (i % 31))
    if key is None and value is None:
        key = b"x"  # kafka-python refuses a record with neither key nor value
    # (kafka-python's producer refuses NULL header values.)
    headers = [("a", b"%d" % i), ("b", b""), ("a", b"again")] if i % 4 == 0 else []
    return i % P, key, value, headers, BASE_TS + i


admin = KafkaAdminClient(bootstrap_servers=BS, request_timeout_ms=30000, client_id="odtest-admin")
api = admin.config.get("api_version")
tap.diag("kafka-python detected broker version %s" % (api,))


def new_producer(**kw):
    return KafkaProducer(bootstrap_servers=BS, linger_ms=20, batch_size=512 * 1024,
                         max_request_size=1048576, buffer_memory=256 << 20,
                         request_timeout_ms=60000, **kw)


def roundtrip(topic, codec, acks, n):
    tag = topic.encode()
    name = "%s, acks=%s, %d messages" % (codec, acks, n)
    admin.create_topics([NewTopic(topic, P, 1)], timeout_ms=30000)
    prod = new_producer(acks=acks, compression_type=None if codec == "none" else codec)
    t0 = time.monotonic()
    futs = []
    for i in range(n):
        part, key, value, headers, ts = gen(tag, i)
        futs.append(prod.send(topic, value=value, key=key, headers=headers, partition=part,
                              timestamp_ms=ts))
    prod.flush(timeout=180)
    psecs = time.monotonic() - t0
    prod.close(timeout=10)
    errs = [f.exception for f in futs if not f.succeeded()][:10]
    tap.ok(not errs, "%s: every send succeeded" % name) or tap.diag(repr(errs))
    nextoff = {}
    bad = []
    for f in futs:
        if f.succeeded():
            md = f.value
            want = nextoff.get(md.partition, 0)
            if md.offset != want and len(bad) < 10:
                bad.append((md.partition, md.offset, want))
            nextoff[md.partition] = md.offset + 1
    tap.ok(not bad, "%s: acknowledged offsets contiguous from 0 per partition" % name) or tap.diag(bad)
    del futs

    t0 = time.monotonic()
    cons = KafkaConsumer(bootstrap_servers=BS, group_id=None, enable_auto_commit=False,
                         auto_offset_reset="none", fetch_max_wait_ms=100,
                         max_poll_records=20000, max_partition_fetch_bytes=4 << 20,
                         request_timeout_ms=60000)
    tps = [TopicPartition(topic, p) for p in range(P)]
    cons.assign(tps)
    cons.seek_to_beginning()
    end = cons.end_offsets(tps)
    want_n = {p: len(range(p, n, P)) for p in range(P)}
    tap.is_({tp.partition: o for tp, o in end.items()}, want_n, "%s: end_offsets = counts" % name)
    got = {p: [] for p in range(P)}
    deadline = time.monotonic() + 240
    while sum(len(v) for v in got.values()) < n and time.monotonic() < deadline:
        for tp, recs in cons.poll(timeout_ms=500).items():
            got[tp.partition].extend(recs)
    cons.close()
    csecs = time.monotonic() - t0
    problems = []
    for p in range(P):
        if len(got[p]) != want_n[p]:
            problems.append("partition %d: %d records, want %d" % (p, len(got[p]), want_n[p]))
        for j, r in enumerate(got[p]):
            if len(problems) > 10:
                break
            _, key, value, headers, ts = gen(tag, p + j * P)
            if r.offset != j:
                problems.append("p%d: record %d at offset %d" % (p, j, r.offset))
            if r.key != key or r.value != value:
                problems.append("p%d@%d: %r/%r want %r/%r" % (p, j, r.key, (r.value or b"")[:30],
                                                             key, (value or b"")[:30]))
            if list(r.headers) != headers:
                problems.append("p%d@%d: headers %r want %r" % (p, j, r.headers, headers))
            if r.timestamp != ts or r.timestamp_type != 0:
                problems.append("p%d@%d: timestamp %r type %r, want CreateTime %d"
                                % (p, j, r.timestamp, r.timestamp_type, ts))
    tap.ok(not problems, "%s: read back byte-exact in order (keys, values, headers, NULLs, "
           "timestamps), offsets contiguous" % name) or tap.diag("\n".join(problems[:12]))
    tap.diag("%s: produce %.1fs (%.0f msg/s), consume+verify %.1fs"
             % (name, psecs, n / max(psecs, 1e-6), csecs))


tap.ok(api is not None and tuple(api) >= (0, 11),
       "kafka-python infers a broker >= 0.11 from ApiVersions (RecordBatch v2, headers)")

codecs = [("none", None), ("gzip", kafka.codec.has_gzip), ("snappy", kafka.codec.has_snappy),
          ("lz4", kafka.codec.has_lz4), ("zstd", kafka.codec.has_zstd)]
for idx, (codec, have) in enumerate(codecs):
    acks = ("all", 1)[idx % 2]
    if have is not None and not have():
        tap.skip("kafka-python has no %s codec here (python module missing)" % codec, 4)
        continue
    if codec == "zstd" and tuple(api or ()) < (2, 1):
        tap.skip("zstd needs a broker detected as >= 2.1 by kafka-python", 4)
        continue
    try:
        roundtrip("kp-%s" % codec, codec, acks, N)
    except Exception as e:
        tap.ok(False, "%s round trip: %r" % (codec, e))
        tap.diag(traceback.format_exc())

# ---- offsets_for_times (ListOffsets by timestamp) ----------------------------------
if "kp-none" in admin.list_topics():
    cons = KafkaConsumer(bootstrap_servers=BS, group_id=None)
    q = {TopicPartition("kp-none", p): BASE_TS + i for p, i in ((0, 0), (1, 400), (2, 1000))}
    res = cons.offsets_for_times(q)
    got = {tp.partition: (r.offset if r else None) for tp, r in res.items()}
    tap.is_(got, {0: 0, 1: 133, 2: 333}, "offsets_for_times: first offset at or after each timestamp")
    res = cons.offsets_for_times({TopicPartition("kp-none", 0): BASE_TS + N + 10})
    tap.is_(list(res.values()), [None], "offsets_for_times after the last record: None")
    cons.close()
else:
    tap.skip("kp-none was not created", 2)

# ---- acks=0 -------------------------------------------------------------------
prod = new_producer(acks=0)
for i in range(1000):
    prod.send("kp-acks0", value=b"a0-%d" % i, partition=0)
prod.flush(timeout=60)
prod.close(timeout=10)
cons = KafkaConsumer(bootstrap_servers=BS, group_id=None, enable_auto_commit=False,
                     fetch_max_wait_ms=100)
tp = TopicPartition("kp-acks0", 0)
odtest.wait_until(lambda: cons.end_offsets([tp])[tp] >= 1000, 15, 0.2)
cons.assign([tp])
cons.seek_to_beginning(tp)
vals = []
deadline = time.monotonic() + 60
while len(vals) < 1000 and time.monotonic() < deadline:
    for recs in cons.poll(timeout_ms=500).values():
        vals.extend(r.value for r in recs)
cons.close()
tap.is_(vals, [b"a0-%d" % i for i in range(1000)], "acks=0: 1000 messages to an auto-created "
        "topic, all stored in order")

# ---- auto-create through the producer's metadata request --------------------------
prod = new_producer(acks=1)
try:
    md = prod.send("kp-auto-created", key=b"k", value=b"v").get(timeout=30)
    tap.is_((md.topic, md.partition, md.offset), ("kp-auto-created", 0, 0),
            "send to a new topic auto-creates it; first record at offset 0")
except Exception as e:
    tap.ok(False, "send to a new topic: %r" % e)
prod.close(timeout=10)
tap.ok("kp-auto-created" in admin.list_topics(), "auto-created topic listed by KafkaAdminClient")

# ---- KafkaAdminClient ------------------------------------------------------------
try:
    admin.create_topics([NewTopic("kp-admin", 2, 1)], timeout_ms=30000)
    tap.ok(True, "create_topics kp-admin")
except Exception as e:
    tap.ok(False, "create_topics kp-admin: %r" % e)
try:
    admin.create_topics([NewTopic("kp-admin", 2, 1)], timeout_ms=30000)
    tap.ok(False, "create_topics of an existing topic raises TopicAlreadyExistsError")
except Errors.TopicAlreadyExistsError:
    tap.ok(True, "create_topics of an existing topic raises TopicAlreadyExistsError")
except Exception as e:
    tap.ok(False, "create_topics of an existing topic: %r" % e)
try:
    admin.create_topics([NewTopic("bad/name", 1, 1)], timeout_ms=30000)
    tap.ok(False, "create_topics with an illegal name raises InvalidTopicError")
except Errors.InvalidTopicError:
    tap.ok(True, "create_topics with an illegal name raises InvalidTopicError")
except Exception as e:
    tap.ok(False, "create_topics with an illegal name: %r" % e)
try:
    admin.create_partitions({"kp-admin": NewPartitions(4)}, timeout_ms=30000)
    cons = KafkaConsumer(bootstrap_servers=BS, group_id=None)

    def four():
        cons.topics()  # refreshes the metadata
        ps = cons.partitions_for_topic("kp-admin")
        return ps if ps and len(ps) == 4 else None
    parts = odtest.wait_until(four, 15, 0.3)
    cons.close()
    tap.is_(sorted(parts or ()), [0, 1, 2, 3], "create_partitions: kp-admin has 4 partitions")
except Exception as e:
    tap.ok(False, "create_partitions: %r" % e)
topics = admin.list_topics()
tap.ok("kp-admin" in topics and "kp-none" in topics, "list_topics lists the topics")
try:
    admin.delete_topics(["kp-admin"], timeout_ms=30000)
    tap.ok(True, "delete_topics kp-admin")
except Exception as e:
    tap.ok(False, "delete_topics kp-admin: %r" % e)
gone = odtest.wait_until(lambda: "kp-admin" not in admin.list_topics(), 15, 0.3)
tap.ok(gone, "deleted topic no longer listed")
try:
    admin.delete_topics(["kp-admin"], timeout_ms=30000)
    tap.ok(False, "delete_topics of a missing topic raises UnknownTopicOrPartitionError")
except Errors.UnknownTopicOrPartitionError:
    tap.ok(True, "delete_topics of a missing topic raises UnknownTopicOrPartitionError")
except Exception as e:
    tap.ok(False, "delete_topics of a missing topic: %r" % e)
admin.close()

sys.exit(odtest.finish())
