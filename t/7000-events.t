#!/usr/bin/python3
# Module events (ABI 1.3) with two test modules built from t/lib/evmod.c
# (evmod loaded first, evmod2 second) and a module built for ABI 1.2:
#  - REQUEST: a denied api key closes the connection; the log has the reason
#  - APPEND: batches holding FORBIDDEN (gzip-compressed by librdkafka too) are
#    refused with INVALID_RECORD and the module's reason; nothing appended
#  - ADMIN: a topic with too many partitions is POLICY_VIOLATION with the
#    reason (confluent_kafka and kafka-python admin clients); the first module
#    defers and the second denies "blocked" names; "allow-*" is decided by
#    the first, so the second is not asked
#  - od_loop_post from a module thread runs in order on the loop thread, and
#    is refused (OD_ERR_STOPPING) once shutdown began; TICK fires
#  - CONN_OPENED: a broker told to refuse 127.0.0.1 closes every connection
#  - a 1.2 module still loads next to them
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import array, i16, i32, i64, string, bytes_  # noqa: E402

if not shutil.which("cc"):
    tap.skip_all("no C compiler")
try:
    import confluent_kafka as ck
    from confluent_kafka.admin import NewTopic
    import kafka
    import kafka.admin
    import kafka.errors
except ImportError as e:
    tap.skip_all("client library missing: %s" % e)
odtest.watchdog(240)
TMP = odtest.scratch()
HDR = os.path.join(odtest.TOP, "core")
SRC = os.path.join(odtest.TOP, "t", "lib", "evmod.c")
OLD12 = r'''
#include <odradek-module.h>
static const od_metric_def_t defs[] = {{"m12_loaded_total", OD_METRIC_COUNTER, "x"}};
static int m_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    (void)err; (void)errsz;
    od_logf(OD_LOG_INFO, "m12: loaded, metrics %d", od_register_metrics(ctx, defs, 1));
    return 0;
}
od_module_t od_module = {
    .abi_major = 1, .abi_minor = 2, .name = "m12", .version = "1",
    .kinds = OD_KIND_OTHER, .init = m_init,
};
'''


def build(name, src=None, defs=()):
    c, so = os.path.join(TMP, name + ".c"), os.path.join(TMP, name + ".so")
    if src is not None:
        with open(c, "w") as f:
            f.write(src)
    else:
        c = SRC
    r = subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-I",
                        HDR, "-fPIC", "-shared", "-pthread"] + list(defs) + ["-o", so, c],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    tap.is_(r.returncode, 0, "module %s builds against odradek-module.h" % name) or \
        tap.diag(r.stdout.decode())
    return so


evmod = build("evmod", defs=['-DEVMOD_NAME="evmod"'])
evmod2 = build("evmod2", defs=['-DEVMOD_NAME="evmod2"'])
m12 = build("m12", OLD12)


def config(name, lines):
    p = os.path.join(TMP, name)
    with open(p, "w") as f:
        f.write("load_module storage_segment\nload_module kraft\n")
        f.write("load_module %s\nload_module %s\nload_module %s\n" % (evmod, evmod2, m12))
        for ln in lines:
            f.write(ln + "\n")
    return p


b = odtest.Broker(config=config("good.properties", [
    "evmod.deny.api=60",  # DescribeCluster
    "evmod.max.partitions=8"])).start()
boot = b.bootstrap

# ---- REQUEST -------------------------------------------------------------
with odtest.Conn(b.port) as c:
    md = odtest.metadata(c)
    tap.ok(md is not None, "Metadata is served")
    c.send_request(60, 0, b"\x00\x00", flexible=True, client_id="denied-client")
    tap.is_(c.wait_closed(5), "closed", "a DescribeCluster request closes the connection")
tap.ok(odtest.wait_until(lambda: re.search(
    r"DescribeCluster v0 denied by module evmod: api 60 is switched off \(client id denied-client\)",
    b.log_text()), 5), "the log names the module and its reason (with the request's client id)")

# ---- APPEND --------------------------------------------------------------
admin = odtest.ck_admin(boot)
odtest.ck_create_topic(admin, "ev-append", 1)


def produce_v8(conn, topic, part, recs):
    body = (string(None) + i16(1) + i32(10000) +
            array([(topic, [(part, recs)])],
                  lambda tp: string(tp[0]) + array(tp[1], lambda pr: i32(pr[0]) + bytes_(pr[1]))))
    r = conn.request(odtest.PRODUCE, 8, body)
    out = {}

    def topic_(rr):
        name = rr.string()

        def p_(x):
            idx, err, off = x.i32(), x.i16(), x.i64()
            x.i64(), x.i64()
            x.array(lambda y: (y.i32(), y.string()))
            msg = x.string()
            out[(name, idx)] = (err, off, msg)
        rr.array(p_)
    r.array(topic_)
    return out


with odtest.Conn(b.port) as c:
    bad = odtest.build_batch([(b"k", b"ok"), (b"k", b"this is FORBIDDEN"), (b"k", b"fine")])
    res = produce_v8(c, "ev-append", 0, bad)[("ev-append", 0)]
    tap.is_(res[0], odtest.INVALID_RECORD, "a batch holding FORBIDDEN is INVALID_RECORD")
    tap.ok(res[2] and "evmod: FORBIDDEN found in ev-append-0 (3 records)" in res[2],
           "the error message is the module's reason") or tap.diag(repr(res))
    lo = odtest.list_offsets(c, {("ev-append", 0): -1})[("ev-append", 0)]
    tap.is_(lo[2], 0, "nothing of the refused batch was appended")
    good = odtest.build_batch([(b"k", b"ok")])
    res = produce_v8(c, "ev-append", 0, good)[("ev-append", 0)]
    tap.is_((res[0], res[1]), (0, 0), "a clean batch is appended at offset 0")

errs = []
p = ck.Producer(odtest.ck_conf(boot, **{"compression.codec": "gzip", "linger.ms": 5,
                                        "message.send.max.retries": 0}), logger=odtest.RdLog())
for v in (b"a clean value", b"a FORBIDDEN value"):
    p.produce("ev-append", v, partition=0, on_delivery=lambda e, m: errs.append(e))
    p.flush(30)  # one batch each
tap.ok(len(errs) == 2 and errs[0] is None, "librdkafka: the clean gzip batch is stored")
tap.ok(len(errs) == 2 and errs[1] is not None and errs[1].code() == ck.KafkaError.INVALID_RECORD,
       "librdkafka: the gzip batch holding FORBIDDEN is INVALID_RECORD (seen decompressed)") or \
    tap.diag(repr(errs))
if shutil.which("kcat"):
    r = subprocess.run(["kcat", "-b", boot, "-X", "broker.address.family=v4", "-P", "-t",
                        "ev-append", "-p", "0", "-z", "lz4"], input=b"kcat says FORBIDDEN\n",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    err = r.stderr.decode(errors="replace")
    tap.ok("Broker: Broker failed to validate record" in err and r.returncode != 0,
           "kcat (lz4) reports INVALID_RECORD (\"Broker failed to validate record\")") or \
        tap.diag("rc %s: %s" % (r.returncode, err[-500:]))
out, hw = odtest.ck_read(boot, "ev-append", [0])
tap.ok(all(b"FORBIDDEN" not in m.value() for m in out[0]), "no forbidden value was stored")

# ---- ADMIN ---------------------------------------------------------------
fs = admin.create_topics([NewTopic("ev-big", 20, 1), NewTopic("ev-small", 2, 1)],
                         operation_timeout=20, request_timeout=20)
try:
    fs["ev-big"].result(20)
    tap.ok(False, "a 20-partition topic is refused")
except ck.KafkaException as e:
    err = e.args[0]
    tap.is_(err.code(), ck.KafkaError.POLICY_VIOLATION, "confluent_kafka: POLICY_VIOLATION")
    tap.ok("evmod: at most 8 partitions, not 20" in err.str(), "with the module's reason") or \
        tap.diag(err.str())
try:
    fs["ev-small"].result(20)
    tap.ok(True, "the other topic of the same request is created")
except ck.KafkaException as e:
    tap.ok(False, "the other topic of the same request is created: %s" % e)

ka = kafka.admin.KafkaAdminClient(bootstrap_servers=boot, request_timeout_ms=20000)


def kp_create(name, parts):
    try:
        r = ka.create_topics([kafka.admin.NewTopic(name, parts, 1)])
        errs = [t for t in getattr(r, "topic_errors", [])]
        return errs[0][1] if errs else 0, errs[0][2] if errs and len(errs[0]) > 2 else None
    except kafka.errors.KafkaError as e:
        return e, str(e)


code, msg = kp_create("t-blocked", 1)
tap.ok(isinstance(code, kafka.errors.PolicyViolationError) or code == 44,
       "kafka-python: evmod defers, evmod2 denies a 'blocked' name") or tap.diag(repr((code, msg)))
tap.ok(msg and "evmod2 says no to t-blocked" in msg, "with the second module's reason") or \
    tap.diag(repr(msg))
code, msg = kp_create("allow-blocked", 1)
tap.is_(code, 0, "allow-blocked is created: the first module decided, the second was not asked")
tap.ok("admin op 1 on 'allow-blocked'" in b.log_text() and
       "evmod2: admin op 1 on 'allow-blocked'" not in b.log_text(),
       "the log shows only evmod saw allow-blocked")
fs = admin.create_partitions([ck.admin.NewPartitions("ev-small", 12)], request_timeout=20)
try:
    fs["ev-small"].result(20)
    tap.ok(False, "CreatePartitions to 12 is refused")
except ck.KafkaException as e:
    tap.is_(e.args[0].code(), ck.KafkaError.POLICY_VIOLATION, "CreatePartitions beyond 8: "
            "POLICY_VIOLATION")
ka.close()

# ---- od_loop_post, TICK, CONN_CLOSED ------------------------------------
tap.ok(odtest.wait_until(lambda: "evmod: 100 posts ran: in order 1, on the loop thread 1"
                         in b.log_text(), 10),
       "a module thread's 100 posts ran in order on the loop thread")
tap.ok("evmod2: 100 posts ran: in order 1, on the loop thread 1" in b.log_text(),
       "so did the second module's")
tap.ok("m12: loaded, metrics 0" in b.log_text(), "the ABI 1.2 module loaded and declared a metric")
tap.ok(re.search(r"evmod: connection \d+ opened from 127\.0\.0\.1:\d+ \(host 127\.0\.0\.1\) "
                 r"on PLAINTEXT as User:ANONYMOUS", b.log_text()),
       "CONN_OPENED carries peer, host, listener and the anonymous principal")
time.sleep(0.5)
tap.is_(b.stop(), 0, "the broker stops cleanly")
m = re.search(r"evmod: fini: opened (\d+) closed (\d+) ticks (\d+) posts (\d+); a post now "
              r"returns (-?\d+)", b.log_text())
tap.ok(m, "evmod logged its counts at fini")
if m:
    tap.ok(int(m.group(1)) > 0 and m.group(1) == m.group(2),
           "every opened connection was seen closed (%s/%s)" % (m.group(1), m.group(2)))
    tap.ok(int(m.group(3)) > 0, "TICK fired (%s times)" % m.group(3))
    tap.is_(m.group(4), "100", "all posts ran")
    tap.is_(int(m.group(5)), -9, "od_loop_post after shutdown began is OD_ERR_STOPPING")

# ---- CONN_OPENED deny -----------------------------------------------------
b2 = odtest.Broker(name="refusing", config=config("refuse.properties",
                                                  ["evmod.deny.host=127.0.0.1"]))
b2.starts += 1
with open(b2.log_path, "ab") as logf:
    b2.proc = subprocess.Popen(b2.argv(), stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
tap.ok(odtest.wait_until(lambda: "odradekd ready" in b2.log_text(), 20), "the refusing broker starts")
s = socket.create_connection(("127.0.0.1", b2.port), timeout=5)
s.sendall(odtest.frame(odtest.request_header(18, 0, 1)))
try:
    data = s.recv(100)
except ConnectionResetError:
    data = b""
tap.is_(data, b"", "a connection from 127.0.0.1 is closed without an answer")
s.close()
tap.ok(odtest.wait_until(lambda: re.search(
    r"denied by module evmod: host 127\.0\.0\.1 is not welcome", b2.log_text()), 5),
    "the log names the module and its reason")
sys.exit(odtest.finish())
