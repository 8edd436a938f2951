#!/usr/bin/python3
# Record compression: every codec round-trips through confluent_kafka
# (librdkafka) and kafka-python, byte-exact; a topic's compression.type
# makes the broker store batches in that codec whatever the client sent
# (checked on the stored batch attributes, fetched raw), and both clients
# read the broker-written batches back; compressed batches with garbage or
# bad records inside are refused and nothing is stored.
import logging
import os
import struct
import sys
import time
import traceback
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)
try:
    import kafka
    import kafka.codec
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient
except ImportError:
    kafka = None

logging.basicConfig(level=logging.CRITICAL)  # kafka-python logs reconnects noisily
odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "300")))
N = int(os.environ.get("ODTEST_COMPRESSION_N", "20000"))  # per client and codec
M = max(N // 20, 50)  # per step of the compression.type runs
P = 2
CODECS = ["gzip", "snappy", "lz4", "zstd"]
NUM = {"none": 0, "uncompressed": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

b = odtest.Broker().start()
BS = b.bootstrap
log = odtest.RdLog()
admin = odtest.ck_admin(BS, logger=log)
BASE_TS = int(time.time() * 1000) - 600 * 1000


def gen(tag, i):
    """Message i: (partition, key, value, headers, ts). Keyed; every 7th
    value NULL; headers on every 3rd (no NULL header values: kafka-python
    refuses them and confluent_kafka 1.7 crashes on them)."""
    key = b"%s-key-%d" % (tag, i)
    if i % 7 == 0:
        value = None
    elif i % 2:
        value = b"%s-value-%d-" % (tag, i) + b"abcdefgh" * (i % 50)
    else:
        value = bytes((i * 31 + j * 7) & 0xff for j in range(i % 97))
    headers = [("h", b"%d" % i), ("e", b""), ("h", b"again")] if i % 3 == 0 else []
    return i % P, key, value, headers, BASE_TS + i


# ---- producing ---------------------------------------------------------------

def ck_produce(topic, tag, lo, hi, codec):
    """Produce messages lo..hi-1 with librdkafka; returns a list of errors."""
    p = ck.Producer(odtest.ck_conf(BS, **{
        "compression.codec": codec, "acks": "all", "linger.ms": 20,
        "batch.num.messages": 5000, "queue.buffering.max.messages": 200000,
        "message.timeout.ms": 60000}), logger=log)
    errs = []

    def cb(err, msg):
        if err is not None and len(errs) < 10:
            errs.append(str(err))
    for i in range(lo, hi):
        part, key, value, headers, ts = gen(tag, i)
        kw = {"headers": headers} if headers else {}
        while True:
            try:
                p.produce(topic, value, key, part, on_delivery=cb, timestamp=ts, **kw)
                break
            except BufferError:
                p.poll(0.01)
    left = p.flush(60)
    if left:
        errs.append("%d messages not delivered" % left)
    return errs


def kp_produce(topic, tag, lo, hi, codec):
    p = KafkaProducer(bootstrap_servers=BS, acks="all", linger_ms=20, batch_size=256 * 1024,
                      compression_type=None if codec == "none" else codec,
                      request_timeout_ms=60000)
    futs = []
    for i in range(lo, hi):
        part, key, value, headers, ts = gen(tag, i)
        futs.append(p.send(topic, value=value, key=key, headers=headers, partition=part,
                           timestamp_ms=ts))
    p.flush(timeout=60)
    p.close(timeout=10)
    return [repr(f.exception) for f in futs if not f.succeeded()][:10]


# ---- reading back ---------------------------------------------------------------

def expected(tag, n):
    want = {p: [] for p in range(P)}
    for i in range(n):
        part, key, value, headers, ts = gen(tag, i)
        want[part].append((key, value, headers, ts))
    return want


def compare(got, tag, n):
    """got: {partition: [(offset, key, value, headers, ts)]}. Problems list."""
    problems = []
    want = expected(tag, n)
    for p in range(P):
        if len(got[p]) != len(want[p]):
            problems.append("partition %d: %d records, want %d" % (p, len(got[p]), len(want[p])))
        for j, (g, w) in enumerate(zip(got[p], want[p])):
            if len(problems) > 8:
                break
            if g[0] != j or tuple(g[1:]) != w:
                problems.append("p%d@%d: got %r, want %r" % (p, j, (g[0], g[1], (g[2] or b"")[:30],
                                g[3], g[4]), (j, w[0], (w[1] or b"")[:30], w[2], w[3])))
    return problems


def ck_check(topic, tag, n):
    got, hw = odtest.ck_read(BS, topic, list(range(P)), timeout=120, logger=log)
    conv = {p: [(m.offset(), m.key(), m.value(), m.headers() or [], m.timestamp()[1])
                for m in got[p]] for p in range(P)}
    return compare(conv, tag, n)


def kp_check(topic, tag, n):
    cons = KafkaConsumer(bootstrap_servers=BS, group_id=None, enable_auto_commit=False,
                         auto_offset_reset="none", fetch_max_wait_ms=100,
                         max_poll_records=10000, request_timeout_ms=60000)
    tps = [TopicPartition(topic, p) for p in range(P)]
    cons.assign(tps)
    cons.seek_to_beginning()
    got = {p: [] for p in range(P)}
    deadline = time.monotonic() + 120
    while sum(len(v) for v in got.values()) < n and time.monotonic() < deadline:
        for tp, recs in cons.poll(timeout_ms=500).items():
            got[tp.partition].extend((r.offset, r.key, r.value, list(r.headers), r.timestamp)
                                     for r in recs)
    cons.close()
    return compare(got, tag, n)


def stored_codecs(topic):
    """{codec number: batch count} over every stored batch, fetched raw."""
    out = {}
    with odtest.Conn(b.port) as c:
        for p in range(P):
            off, hw = 0, None
            deadline = time.monotonic() + 60
            while (hw is None or off < hw) and time.monotonic() < deadline:
                res = odtest.fetch(c, {(topic, p): off})[(topic, p)]
                if res["error"]:
                    raise odtest.ProtoError("fetch error %d" % res["error"])
                hw = res["hw"]
                data = res["records"] or b""
                pos = 0
                while len(data) - pos >= 61:
                    base, blen = struct.unpack_from(">qi", data, pos)
                    if pos + 12 + blen > len(data):
                        break
                    attrs, last = struct.unpack_from(">hi", data, pos + 21)
                    crc = struct.unpack_from(">I", data, pos + 17)[0]
                    if odtest.crc32c(data[pos + 21:pos + 12 + blen]) != crc:
                        out["bad-crc"] = out.get("bad-crc", 0) + 1
                    out[attrs & 7] = out.get(attrs & 7, 0) + 1
                    off = base + last + 1
                    pos += 12 + blen
    return out


def kp_has(codec):
    if kafka is None:
        return False
    if codec == "none":
        return True
    have = getattr(kafka.codec, "has_" + codec)()
    if codec == "zstd" and tuple(KP_API or ()) < (2, 1):
        return False
    return have


KP_API = None
if kafka is not None:
    try:
        ka = KafkaAdminClient(bootstrap_servers=BS, request_timeout_ms=30000)
        KP_API = ka.config.get("api_version")
        ka.close()
    except Exception as e:
        tap.diag("kafka-python admin: %r" % e)
    tap.diag("kafka-python %s, codecs: %s" % (kafka.__version__,
             ", ".join(c for c in CODECS if kp_has(c))))


def run(name, fn):
    try:
        fn()
    except Exception as e:
        tap.ok(False, "%s: %r" % (name, e))
        tap.diag(traceback.format_exc())
        log.diag()


# ---- 1. every codec through confluent_kafka ------------------------------------------

def ck_codec(codec):
    topic = tag = "ck-" + codec
    odtest.ck_create_topic(admin, topic, P)
    t0 = time.monotonic()
    errs = ck_produce(topic, tag.encode(), 0, N, codec)
    tap.ok(not errs, "confluent %s: %d messages produced" % (codec, N)) or tap.diag(errs)
    st = stored_codecs(topic)
    # librdkafka sends a batch uncompressed when compression does not make
    # it smaller (a lone small message), so a few plain batches are fine.
    tap.ok(st.get(NUM[codec], 0) > st.get(0, 0) and set(st) <= {NUM[codec], 0},
           "confluent %s: stored batches keep the client's codec "
           "(topic compression.type=producer) %r" % (codec, st)) or \
        tap.diag("(librdkafka sends lz4 only to brokers advertising FindCoordinator)")
    pr = ck_check(topic, tag.encode(), N)
    tap.ok(not pr, "confluent %s: read back byte-exact by confluent_kafka" % codec) or \
        tap.diag("\n".join(pr))
    if kp_has(codec):
        pr = kp_check(topic, tag.encode(), N)
        tap.ok(not pr, "confluent %s: read back byte-exact by kafka-python" % codec) or \
            tap.diag("\n".join(pr))
    else:
        tap.skip("kafka-python cannot read %s here" % codec)
    tap.diag("confluent %s: %.1fs" % (codec, time.monotonic() - t0))


for codec in CODECS:
    run("confluent " + codec, lambda: ck_codec(codec))


# ---- 2. every codec through kafka-python ---------------------------------------------

def kp_codec(codec):
    topic = tag = "kp-" + codec
    odtest.ck_create_topic(admin, topic, P)
    t0 = time.monotonic()
    errs = kp_produce(topic, tag.encode(), 0, N, codec)
    tap.ok(not errs, "kafka-python %s: %d messages produced" % (codec, N)) or tap.diag(errs)
    st = stored_codecs(topic)
    tap.ok(set(st) == {NUM[codec]}, "kafka-python %s: stored batches keep the client's codec %r"
           % (codec, st))
    pr = kp_check(topic, tag.encode(), N)
    tap.ok(not pr, "kafka-python %s: read back byte-exact by kafka-python" % codec) or \
        tap.diag("\n".join(pr))
    pr = ck_check(topic, tag.encode(), N)
    tap.ok(not pr, "kafka-python %s: read back byte-exact by confluent_kafka" % codec) or \
        tap.diag("\n".join(pr))
    tap.diag("kafka-python %s: %.1fs" % (codec, time.monotonic() - t0))


for codec in CODECS:
    if not kp_has(codec):
        tap.skip("kafka-python has no %s codec here (python3-%s missing?)" % (codec, codec), 4)
        continue
    run("kafka-python " + codec, lambda: kp_codec(codec))


# ---- 3. topic compression.type: stored in that codec whatever the client sent ----------

def raw_batch(tag, lo, hi, codec):
    """Messages lo..hi-1 (all of one partition must be the caller's choice:
    here P == 2 so one batch per partition) as raw batches, records section
    compressed with codec (gzip only, or none)."""
    out = {}
    for p in range(P):
        recs = []
        for i in range(lo, hi):
            part, key, value, headers, ts = gen(tag, i)
            if part == p:
                recs.append((key, value, headers, ts - BASE_TS - lo))
        if recs:
            batch = odtest.build_batch(recs, base_ts=BASE_TS + lo)
            if codec == "gzip":
                batch = recode(batch, 1, gzip(batch[61:]))
            out[p] = batch
    return out


def gzip(data):
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    return z.compress(data) + z.flush()


def recode(batch, codec, records):
    """batch with its records section replaced and codec bits set; length and
    CRC fixed."""
    attrs = (struct.unpack_from(">h", batch, 21)[0] & ~7) | codec
    after = struct.pack(">h", attrs) + batch[23:61] + records
    return (batch[:8] + struct.pack(">i", 4 + 1 + 4 + len(after)) + batch[12:17] +
            struct.pack(">I", odtest.crc32c(after)) + after)


def topic_type(target):
    topic = tag = "tc-" + target
    odtest.ck_create_topic(admin, topic, P, {"compression.type": target})
    steps = [("ck", c) for c in ["none"] + CODECS]
    steps += [("kp", c) for c in ["none"] + CODECS if kp_has(c)]
    steps.append(("raw", "gzip"))
    steps.append(("raw", "none"))
    n = 0
    errs = []
    for client, codec in steps:
        if client == "ck":
            e = ck_produce(topic, tag.encode(), n, n + M, codec)
        elif client == "kp":
            e = kp_produce(topic, tag.encode(), n, n + M, codec)
        else:
            with odtest.Conn(b.port) as c:
                res = odtest.produce(c, {(topic, p): bt for p, bt in
                                         raw_batch(tag.encode(), n, n + M, codec).items()})
            e = ["raw %s: %r" % (codec, v) for v in res.values() if v[0] != 0]
        errs += ["%s/%s: %s" % (client, codec, x) for x in e]
        n += M
    tap.ok(not errs, "compression.type=%s: %d messages from %s" % (
        target, n, ", ".join("%s/%s" % s for s in steps))) or tap.diag(errs)
    st = stored_codecs(topic)
    tap.ok(set(st) == {NUM[target]}, "compression.type=%s: every stored batch is %s, "
           "CRC right (codecs seen: %r)" % (target, target, st))
    pr = ck_check(topic, tag.encode(), n)
    tap.ok(not pr, "compression.type=%s: read back byte-exact by confluent_kafka" % target) or \
        tap.diag("\n".join(pr))
    if kp_has(target if target != "uncompressed" else "none"):
        pr = kp_check(topic, tag.encode(), n)
        tap.ok(not pr, "compression.type=%s: read back byte-exact by kafka-python" % target) or \
            tap.diag("\n".join(pr))
    else:
        tap.skip("kafka-python cannot read %s here" % target)


for target in ["zstd", "uncompressed", "gzip", "snappy", "lz4"]:
    run("compression.type=" + target, lambda: topic_type(target))


# ---- 4. broken compressed batches are refused, nothing stored ----------------------------

def hw_of(c, topic):
    return odtest.list_offsets(c, {(topic, 0): -1})[(topic, 0)][2]


def broken():
    topic = "broken-gzip"
    odtest.ck_create_topic(admin, topic, 1)
    good = odtest.build_batch([(b"k%d" % i, b"v%d" % i) for i in range(10)])
    cases = [
        ("gzip claimed, garbage inside", recode(good, 1, bytes(range(7, 250)) * 3),
         odtest.CORRUPT_MESSAGE),
        ("gzip stream cut in half", recode(good, 1, gzip(good[61:])[:40]), odtest.CORRUPT_MESSAGE),
        ("zstd claimed, gzip inside", recode(good, 4, gzip(good[61:])), odtest.CORRUPT_MESSAGE),
        ("gzip of records that do not parse", recode(good, 1, gzip(good[61:-3])),
         odtest.INVALID_RECORD),
        ("gzip bomb (96 MiB of zeros)", recode(good, 1, gzip(bytes(96 << 20))),
         odtest.CORRUPT_MESSAGE),
    ]
    with odtest.Conn(b.port) as c:
        for what, batch, want in cases:
            res = odtest.produce(c, {(topic, 0): batch})[(topic, 0)]
            tap.is_(res[0], want, "%s: refused with error %d" % (what, want))
        tap.is_(hw_of(c, topic), 0, "nothing stored after the refused batches")
        res = odtest.produce(c, {(topic, 0): recode(good, 1, gzip(good[61:]))})[(topic, 0)]
        tap.is_(res[:2], (0, 0), "a good gzip batch after them is stored at offset 0")
        f = odtest.fetch(c, {(topic, 0): 0})[(topic, 0)]
        recs = [r for bt in odtest.parse_batches(f["records"]) for r in bt["records"] or []]
        tap.is_([(r[2], r[3]) for r in recs], [(b"k%d" % i, b"v%d" % i) for i in range(10)],
                "it reads back intact")
    tap.ok(b.running(), "broker alive after the broken batches")


run("broken batches", broken)

sys.exit(odtest.finish())
