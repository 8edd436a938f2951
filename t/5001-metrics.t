#!/usr/bin/python3
# The Prometheus endpoint (metrics.listener): scraped with urllib while
# confluent_kafka produces and a group consumes. The text parses as the
# exposition format (HELP/TYPE before samples, cumulative histograms),
# counters never go down, and the figures match what the clients did: log
# end offsets == records produced, bytes in >= bytes produced, group lag 0
# after everything was consumed and committed (and end - committed for a
# group that committed less), per-API request counts grow. The HTTP side:
# 404/405/HEAD/keep-alive, 400 for garbage, 431 for a huge head, many
# scrapers at once, idle connections closed. A deleted topic's series go.
# A bad metrics.listener stops the start with file:line: reason.
import http.client
import math
import os
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "240")))
BUILD = odtest.find_build()
TMP = odtest.scratch()

# ---- a bad metrics.listener is refused at start, with file:line: reason ---------------
def start_fails(extra):
    port = odtest.free_port()
    argv = [os.path.join(BUILD, "odradekd"), "--set", "module.dir=" + os.path.join(BUILD, ".libs"),
            "--set", "listeners=PLAINTEXT://127.0.0.1:%d" % port,
            "--set", "log.dirs=" + os.path.join(TMP, "bad-%d" % port)] + extra
    rc, out, err = odtest.run(argv, timeout=20)
    return rc, (out + err).decode("utf-8", "replace")


cfg = os.path.join(TMP, "bad.properties")
with open(cfg, "w") as f:
    f.write("# metrics\n\nmetrics.listener=ftp://127.0.0.1:9644\n")
rc, text = start_fails(["-c", cfg])
tap.ok(rc not in (0, None) and re.search(re.escape(cfg) + r":3: metrics\.listener: .*http://", text),
       "metrics.listener=ftp://... in a file: refused with file:3: reason") or tap.diag(text[-600:])
for bad in ["http://127.0.0.1:65536", "http://127.0.0.1", "127.0.0.1:9644",
            "http://127.0.0.1:9644/other"]:
    rc, text = start_fails(["--set", "metrics.listener=" + bad])
    tap.ok(rc not in (0, None) and "--set metrics.listener: metrics.listener: '" in text,
           "metrics.listener=%s refused (--set: reason)" % bad) or tap.diag(text[-600:])
rc, text = start_fails(["--set", "metrics.connections.max.idle.ms=0"])
tap.ok(rc not in (0, None) and "metrics.connections.max.idle.ms" in text,
       "metrics.connections.max.idle.ms=0 refused") or tap.diag(text[-400:])

# ---- the broker with metrics on --------------------------------------------------------
MPORT = odtest.free_port()
IDLE_MS = 1500
b = odtest.Broker(sets={"metrics.listener": "http://127.0.0.1:%d" % MPORT,
                        "metrics.connections.max.idle.ms": str(IDLE_MS),
                        "group.initial.rebalance.delay.ms": "0",
                        "log.cleaner.backoff.ms": "200"}).start()
BS = b.bootstrap
URL = "http://127.0.0.1:%d/metrics" % MPORT

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse(text):
    """Exposition text -> ({(name, labels-tuple): value}, {family: type}, [problems])."""
    samples, types, problems, helps = {}, {}, [], set()
    for ln in text.split("\n"):
        if ln == "":
            continue
        if ln.startswith("# HELP "):
            helps.add(ln.split(" ")[2])
            continue
        if ln.startswith("# TYPE "):
            parts = ln.split(" ")
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary",
                                                   "untyped"):
                problems.append("bad TYPE line: " + ln)
            elif parts[2] in types:
                problems.append("TYPE twice: " + ln)
            elif parts[2] not in helps:
                problems.append("TYPE without HELP before it: " + ln)
            else:
                types[parts[2]] = parts[3]
            continue
        if ln.startswith("#"):
            continue
        m = SAMPLE_RE.match(ln)
        if not m:
            problems.append("unparseable: " + ln)
            continue
        name, lab, val = m.groups()
        labels = []
        if lab:
            pos = 0
            for lm in LABEL_RE.finditer(lab):
                if lm.start() != pos:
                    break
                labels.append((lm.group(1), lm.group(2)))
                pos = lm.end()
            if pos != len(lab):
                problems.append("bad labels: " + ln)
        fam = name
        for suf in ("_bucket", "_sum", "_count"):
            if name.endswith(suf) and types.get(name[:-len(suf)]) == "histogram":
                fam = name[:-len(suf)]
        if fam not in types:
            problems.append("sample before its TYPE: " + ln)
        try:
            v = float(val)
        except ValueError:
            problems.append("bad value: " + ln)
            continue
        key = (name, tuple(labels))
        if key in samples:
            problems.append("duplicate series: " + ln)
        samples[key] = v
    # histograms: cumulative buckets ending in +Inf == _count
    for fam, ty in types.items():
        if ty != "histogram":
            continue
        series = {}
        for (name, labels), v in samples.items():
            if name == fam + "_bucket":
                d = dict(labels)
                le = d.pop("le")
                series.setdefault(tuple(sorted(d.items())), []).append(
                    (math.inf if le == "+Inf" else float(le), v))
        for base, buckets in series.items():
            buckets.sort()
            vals = [v for _, v in buckets]
            if vals != sorted(vals) or buckets[-1][0] != math.inf:
                problems.append("histogram %s%s not cumulative or no +Inf" % (fam, base))
            cnt = [v for (n, l), v in samples.items()
                   if n == fam + "_count" and tuple(sorted(l)) == base]
            if cnt != [buckets[-1][1]]:
                problems.append("histogram %s%s: +Inf %s != _count %s" % (fam, base, vals[-1], cnt))
    return samples, types, problems


def scrape():
    with urllib.request.urlopen(URL, timeout=10) as r:
        ctype = r.headers.get("Content-Type", "")
        text = r.read().decode("utf-8")
    s, t, p = parse(text)
    return {"samples": s, "types": t, "problems": p, "ctype": ctype}


def val(sc, name, **labels):
    want = tuple(sorted(labels.items()))
    for (n, l), v in sc["samples"].items():
        if n == name and tuple(sorted(l)) == want:
            return v
    return None


def series(sc, name, **labels):
    """{labels-dict-as-tuple: value} of name whose labels include `labels`."""
    out = {}
    for (n, l), v in sc["samples"].items():
        d = dict(l)
        if n == name and all(d.get(k) == str(x) for k, x in labels.items()):
            out[l] = v
    return out


s0 = scrape()
tap.ok(not s0["problems"], "first scrape parses as exposition format") or \
    [tap.diag(p) for p in s0["problems"][:10]]
tap.ok(s0["ctype"].startswith("text/plain; version=0.0.4"), "Content-Type text/plain; version=0.0.4")
for fam in ["odradek_kafka_requests_total", "odradek_kafka_request_latency_seconds",
            "odradek_kafka_requests_in_flight", "odradek_kafka_connections",
            "odradek_network_received_bytes_total", "odradek_loop_turn_seconds",
            "process_resident_memory_bytes", "process_open_fds", "odradek_memory_heap_allocated_bytes",
            "odradek_storage_segment_rolls_total", "odradek_storage_segment_flushes_total",
            "odradek_storage_segment_cleaner_read_bytes_total", "odradek_consumergroup_lag",
            "odradek_log_end_offset"]:
    tap.ok(fam in s0["types"], "family %s is there" % fam)
tap.ok(val(s0, "process_open_fds") > 3 and val(s0, "process_resident_memory_bytes") > 1 << 20,
       "open fds and resident memory are plausible (%s, %s)"
       % (val(s0, "process_open_fds"), val(s0, "process_resident_memory_bytes")))
tap.ok(val(s0, "odradek_kafka_requests_total", request="ApiVersions") >= 1,
       "ApiVersions counted (the harness's readiness probe)")

# ---- produce while scraping --------------------------------------------------------------
TOPIC, P, N = "mtr", 3, 3000
admin = odtest.ck_admin(BS)
odtest.ck_create_topic(admin, TOPIC, P, config={"segment.bytes": "16384", "flush.messages": "50"})
snaps, stop_scraping, scrape_errors = [s0], threading.Event(), []


def scraper():
    while not stop_scraping.is_set():
        try:
            snaps.append(scrape())
        except Exception as e:  # noqa: BLE001 - reported below
            scrape_errors.append(repr(e))
        time.sleep(0.1)


th = threading.Thread(target=scraper, daemon=True)
th.start()
# batch.size well under segment.bytes (16384): every partition gets several
# batches, so its log rolls whatever librdkafka's timing.
prod = ck.Producer(odtest.ck_conf(BS, **{"linger.ms": 5, "acks": "all", "batch.size": 4000}),
                   logger=odtest.RdLog())
delivered, perr, payload = {p: 0 for p in range(P)}, [], 0


def on_dl(err, msg):
    if err:
        perr.append(err)
    else:
        delivered[msg.partition()] += 1


for i in range(N):
    k, v = b"k%d" % i, b"value-%d-" % i + b"x" * (i % 200)
    payload += len(k) + len(v)
    while True:
        try:
            prod.produce(TOPIC, key=k, value=v, partition=i % P, on_delivery=on_dl)
            break
        except BufferError:
            prod.poll(0.05)
    prod.poll(0)
left = prod.flush(30)
tap.ok(left == 0 and not perr and sum(delivered.values()) == N,
       "%d messages produced (%d bytes of keys and values)" % (N, payload)) or \
    tap.diag("left %d, errors %s" % (left, perr[:3]))
s1 = scrape()
tap.ok(not s1["problems"], "scrape after producing parses") or [tap.diag(p) for p in s1["problems"][:10]]
leo = {int(dict(l)["partition"]): v for l, v in series(s1, "odradek_log_end_offset", topic=TOPIC).items()}
tap.is_(leo, {p: float(delivered[p]) for p in range(P)},
        "odradek_log_end_offset per partition == records delivered")
hwm = {int(dict(l)["partition"]): v
       for l, v in series(s1, "odradek_log_high_watermark", topic=TOPIC).items()}
tap.is_(hwm, leo, "high watermark == log end offset (single replica)")
tap.is_(sorted(series(s1, "odradek_log_start_offset", topic=TOPIC).values()), [0.0] * P,
        "log start offsets 0")
tap.is_(val(s1, "odradek_topic_messages_in_total", topic=TOPIC), float(N),
        "odradek_topic_messages_in_total == records produced")
bin_ = val(s1, "odradek_topic_bytes_in_total", topic=TOPIC)
tap.ok(bin_ is not None and bin_ >= payload,
       "odradek_topic_bytes_in_total (%s) >= key and value bytes produced (%d)" % (bin_, payload))
tap.is_(val(s1, "odradek_topic_partitions", topic=TOPIC), float(P), "odradek_topic_partitions")
tap.is_(val(s1, "odradek_cluster_topics") - val(s0, "odradek_cluster_topics"), 1.0,
        "odradek_cluster_topics counts the new topic")
tap.is_(val(s1, "odradek_partitions_led") - val(s0, "odradek_partitions_led"), float(P),
        "odradek_partitions_led counts its partitions")
tap.is_(val(s1, "odradek_partitions_under_replicated"), 0.0, "no under-replicated partitions")
size = sum(series(s1, "odradek_log_size_bytes", topic=TOPIC).values())
tap.ok(size >= payload, "odradek_log_size_bytes sums to at least the payload (%d)" % size)
d_prod = val(s1, "odradek_kafka_requests_total", request="Produce") - \
    val(s0, "odradek_kafka_requests_total", request="Produce")
tap.ok(d_prod >= 1, "Produce requests counted (+%d)" % d_prod)
tap.ok((val(s1, "odradek_kafka_request_latency_seconds_count", request="Produce") or 0) >= 1 and
       val(s1, "odradek_kafka_request_latency_seconds_sum", request="Produce") > 0,
       "Produce latency histogram has observations")
tap.ok(val(s1, "odradek_network_received_bytes_total") >= payload,
       "network bytes received >= payload")
tap.ok(val(s1, "odradek_storage_segment_rolls_total") >= P,
       "segment rolls counted by the storage module (%s with segment.bytes=16384)"
       % val(s1, "odradek_storage_segment_rolls_total"))
tap.ok(val(s1, "odradek_storage_segment_flushes_total") >
       val(s0, "odradek_storage_segment_flushes_total"),
       "flushes counted (flush.messages=50, fewer than a segment holds: %s)" % val(s1, "odradek_storage_segment_flushes_total"))
tap.ok(val(s1, "odradek_kafka_connections", listener="PLAINTEXT") >= 1,
       "a client connection is open while the producer lives")
tap.ok(val(s1, "odradek_loop_turn_seconds_count") > val(s0, "odradek_loop_turn_seconds_count"),
       "loop turns observed")

# ---- consume with a group, commit ----------------------------------------------------------
GRP = "mtr-g"
tap.is_(series(s1, "odradek_consumergroup_lag", consumergroup=GRP), {}, "no lag series before the group exists")
cons = ck.Consumer(odtest.ck_conf(BS, **{"group.id": GRP, "enable.auto.commit": False,
                                         "auto.offset.reset": "earliest", "fetch.wait.max.ms": 50}),
                   logger=odtest.RdLog())
cons.subscribe([TOPIC])
got, cerr, deadline = 0, [], time.monotonic() + 60
while got < N and time.monotonic() < deadline:
    for m in cons.consume(num_messages=1000, timeout=0.5):
        if m.error():
            cerr.append(m.error())
        else:
            got += 1
tap.ok(got == N and not cerr, "group consumer read all %d messages" % N) or tap.diag(repr(cerr[:3]))
cons.commit(asynchronous=False)
s2 = scrape()
lag = {int(dict(l)["partition"]): v
       for l, v in series(s2, "odradek_consumergroup_lag", consumergroup=GRP, topic=TOPIC).items()}
tap.is_(lag, {p: 0.0 for p in range(P)}, "consumergroup lag 0 on every partition after commit")
cur = {int(dict(l)["partition"]): v for l, v in
       series(s2, "odradek_consumergroup_current_offset", consumergroup=GRP, topic=TOPIC).items()}
tap.is_(cur, leo, "committed offsets == log end offsets")
tap.is_(val(s2, "odradek_consumergroup_members", consumergroup=GRP), 1.0, "one group member")
bout = val(s2, "odradek_topic_bytes_out_total", topic=TOPIC)
tap.ok(bout is not None and bout >= payload,
       "odradek_topic_bytes_out_total (%s) >= payload consumed (%d)" % (bout, payload))
for api in ("Fetch", "JoinGroup", "SyncGroup", "OffsetCommit", "FindCoordinator"):
    tap.ok(val(s2, "odradek_kafka_requests_total", request=api) >
           val(s1, "odradek_kafka_requests_total", request=api),
           "%s requests counted" % api)
cons.close()

# A second group commits less: lag is end - committed, not a constant.
G2 = "mtr-half"
c2 = ck.Consumer(odtest.ck_conf(BS, **{"group.id": G2, "enable.auto.commit": False}),
                 logger=odtest.RdLog())
half = {p: delivered[p] // 2 for p in range(P)}
c2.commit(offsets=[ck.TopicPartition(TOPIC, p, half[p]) for p in range(P)], asynchronous=False)
c2.close()
s3 = scrape()
lag2 = {int(dict(l)["partition"]): v
        for l, v in series(s3, "odradek_consumergroup_lag", consumergroup=G2, topic=TOPIC).items()}
tap.is_(lag2, {p: float(delivered[p] - half[p]) for p in range(P)},
        "a group that committed half: lag == end - committed")

stop_scraping.set()
th.join(20)
snaps += [s2, s3]
tap.ok(len(snaps) >= 5 and not scrape_errors, "%d scrapes during the run, none failed" % len(snaps)) or \
    tap.diag(repr(scrape_errors[:3]))
bad = [p for s in snaps for p in s["problems"]]
tap.ok(not bad, "every scrape parses") or [tap.diag(p) for p in bad[:10]]


def monotone_problems():
    # Scrapes come from two threads; the broker renders them one at a time
    # and numbers them (odradek_metrics_scrapes_total), which gives their order.
    order = sorted(snaps, key=lambda s: val(s, "odradek_metrics_scrapes_total"))
    seen = [val(s, "odradek_metrics_scrapes_total") for s in order]
    out = [] if len(set(seen)) == len(seen) else ["two scrapes with the same number: %s" % seen]
    for a, c in zip(order, order[1:]):
        for (n, l), v in a["samples"].items():
            fam = re.sub(r"_(bucket|sum|count)$", "", n)
            ty = a["types"].get(n) or a["types"].get(fam)
            if ty not in ("counter", "histogram"):
                continue
            w = c["samples"].get((n, l))
            if w is not None and w < v:
                out.append("%s%s went from %s to %s" % (n, dict(l), v, w))
    return out


mp = monotone_problems()
tap.ok(not mp, "counters and histograms never go down between scrapes") or [tap.diag(x) for x in mp[:10]]

# ---- compaction progress: the cleaner's counters move ----------------------------------------
CT = "mtr-compact"
odtest.ck_create_topic(admin, CT, 1, {"cleanup.policy": "compact", "segment.bytes": "20000",
                                      "min.cleanable.dirty.ratio": "0.01"})
cp = ck.Producer(odtest.ck_conf(BS, **{"linger.ms": 5, "batch.size": 8000,
                                       "enable.idempotence": False}), logger=odtest.RdLog())
for i in range(3000):
    while True:
        try:
            cp.produce(CT, key=b"k%d" % (i % 20), value=b"v%d" % i)
            break
        except BufferError:
            cp.poll(0.05)
tap.is_(cp.flush(30), 0, "3000 records over 20 keys produced to a compacted topic")
before = s3
cleaned = odtest.wait_until(lambda: (lambda s: s if (
    val(s, "odradek_storage_segment_cleaner_rounds_total") >
    val(before, "odradek_storage_segment_cleaner_rounds_total") and
    val(s, "odradek_storage_segment_cleaner_segments_total") > 0) else None)(scrape()), 60, 0.3)
tap.ok(cleaned, "the cleaner's rounds and segments counters move") or \
    tap.diag(repr({n: v for (n, l), v in scrape()["samples"].items() if "cleaner" in n}))
if cleaned:
    rd = val(cleaned, "odradek_storage_segment_cleaner_read_bytes_total")
    wr = val(cleaned, "odradek_storage_segment_cleaner_written_bytes_total")
    tap.ok(0 < wr < rd, "the cleaner wrote less than it read (%d of %d bytes)" % (wr, rd))
    snaps.append(cleaned)
mp = monotone_problems()
tap.ok(not mp, "still monotone with the cleaner at work") or [tap.diag(x) for x in mp[:10]]

# ---- the HTTP side --------------------------------------------------------------------------
try:
    urllib.request.urlopen("http://127.0.0.1:%d/other" % MPORT, timeout=10)
    tap.ok(False, "GET /other is 404")
except urllib.error.HTTPError as e:
    tap.is_(e.code, 404, "GET /other is 404")
try:
    urllib.request.urlopen(urllib.request.Request(URL, data=b"x=1", method="POST"), timeout=10)
    tap.ok(False, "POST is refused")
except urllib.error.HTTPError as e:
    tap.ok(e.code in (400, 405), "POST /metrics refused (%d)" % e.code)
hc = http.client.HTTPConnection("127.0.0.1", MPORT, timeout=10)
hc.request("HEAD", "/metrics")
r = hc.getresponse()
body = r.read()
tap.ok(r.status == 200 and body == b"" and int(r.headers["Content-Length"]) > 1000,
       "HEAD: 200, no body, Content-Length of the text")
hc.request("GET", "/metrics")
r = hc.getresponse()
text = r.read().decode()
tap.ok(r.status == 200 and "odradek_kafka_requests_total" in text,
       "a second request on the same (kept-alive) connection")
hc.close()


EOF_SEEN = []


def raw(data, timeout=20):
    """Send data, read until the server closes (EOF_SEEN[-1] True) or timeout."""
    s = socket.create_connection(("127.0.0.1", MPORT), timeout=timeout)
    s.sendall(data)
    out, eof = b"", False
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            eof = True
            break
        out += chunk
    s.close()
    EOF_SEEN.append(eof)
    return out


out = raw(odtest.frame(odtest.request_header(18, 0, 1)))
tap.ok(out.startswith(b"HTTP/1.1 400") and EOF_SEEN[-1], "a Kafka request on the metrics port: 400 and closed")
out = raw(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n")
tap.ok(out.startswith(b"HTTP/1.1 431") and EOF_SEEN[-1], "a 20 kB request head: 431 and closed")
out = raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
tap.ok(out.startswith(b"HTTP/1.1 200") and EOF_SEEN[-1] and
       b"\r\nConnection: close" in out.split(b"\r\n\r\n")[0],
       "Connection: close is answered and honoured")
out = raw(b"GET /metrics HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\nConnection: close\r\n\r\n")
tap.ok(out.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 404" in out and EOF_SEEN[-1],
       "pipelined requests answered in order, then closed as the last one asked")

res = []


def one():
    try:
        res.append(scrape()["problems"] == [])
    except Exception as e:  # noqa: BLE001
        res.append(repr(e))


ths = [threading.Thread(target=one) for _ in range(12)]
[t.start() for t in ths]
[t.join(30) for t in ths]
tap.is_(res, [True] * 12, "12 concurrent scrapers all answered")

idle = socket.create_connection(("127.0.0.1", MPORT), timeout=20)
idle.sendall(b"GET /metr")  # a partial request, then silence
t0 = time.monotonic()
try:
    closed = idle.recv(100) == b""
except OSError:
    closed = True
tap.ok(closed, "an idle scrape connection is closed (after %.1f s; idle limit %d ms)"
       % (time.monotonic() - t0, IDLE_MS))
idle.close()

# More connections than the limit (32): the extra ones are closed at once;
# once the idle ones are gone, scraping works again.
socks = [socket.create_connection(("127.0.0.1", MPORT), timeout=20) for _ in range(40)]


def eof(s):
    try:
        return s.recv(1) == b""
    except OSError:
        return True


for s in socks[:32]:
    s.sendall(b"GET /m")  # partial: these stay open until the idle limit
refused = [eof(s) for s in socks[32:]]
tap.is_(refused, [True] * 8, "connections beyond 32 are closed at once")
tap.ok(all(eof(s) for s in socks[:32]), "the 32 partial ones are closed at the idle limit")
[s.close() for s in socks]
tap.ok(not scrape()["problems"], "scraping works again afterwards")

# ---- a deleted topic's series go ------------------------------------------------------------
admin.delete_topics([TOPIC], operation_timeout=20)[TOPIC].result(30)
gone = odtest.wait_until(lambda: not any(dict(l).get("topic") == TOPIC
                                         for (n, l) in scrape()["samples"]), 20, 0.2)
tap.ok(gone, "after DeleteTopics no series carries topic=%s" % TOPIC)
s4 = scrape()
tap.ok(val(s4, "odradek_metrics_scrapes_total") > val(s0, "odradek_metrics_scrapes_total"),
       "scrapes counted")
prod = None
sys.exit(odtest.finish())
