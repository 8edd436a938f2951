#!/usr/bin/python3
# TLS listeners with openssl s_client and Python's ssl: TLS 1.2 and 1.3
# handshakes, versions outside ssl.enabled.protocols / ssl.protocol refused,
# ssl.cipher.suites by IANA name, the server's chain, Kafka requests over
# TLS (ApiVersions, CreateTopics, Produce, Fetch: log data leaves through
# the kTLS or the copy path, counted in the metrics), a TLS listener under
# a custom name through listener.security.protocol.map with per-listener
# keys (listener.name.<l>.ssl.*).
import os
import re
import ssl
import sys
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
import tls  # noqa: E402

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "240")))
pki = tls.Pki(odtest.scratch("pki"))
srv = pki.server()
mport = odtest.free_port()
b = tls.broker(pki, srv, sets=[("log.level", "debug"),
                               ("metrics.listener", "http://127.0.0.1:%d" % mport)]).start()

# ---- s_client: both versions, verified chain, wrong version refused -----------
for ver, flag in (("TLSv1.3", "-tls1_3"), ("TLSv1.2", "-tls1_2")):
    rc, out, err = tls.s_client(b.tls_port, ["-CAfile", pki.ca, flag, "-verify_return_error"])
    tap.is_(rc, 0, "s_client %s: handshake completes" % ver)
    tap.like(err, r"Protocol version: %s" % re.escape(ver), "s_client %s: negotiated %s" % (ver, ver))
    tap.like(err, r"Verification: OK", "s_client %s: the chain verifies against the CA" % ver)
rc, out, err = tls.s_client(b.tls_port, ["-CAfile", pki.ca, "-tls1_1"])
tap.ok(rc != 0, "s_client TLSv1.1: refused (exit %s)" % rc)
tap.like(err, r"(?i)protocol version|no protocols available|unsupported protocol",
         "s_client TLSv1.1: a protocol version alert")
tap.like(b.log_text(), r"TLS handshake failed: unsupported protocol",
         "broker logs the refused handshake with OpenSSL's reason")

# ---- Kafka requests over TLS --------------------------------------------------
ctx = tls.context(pki)
with tls.TlsConn(b.tls_port, ctx) as c:
    v = odtest.api_versions(c, 3)
    tap.is_(v["error"], 0, "ApiVersions v3 over TLS answers without error")
    tap.ok(len(v["apis"]) > 10, "ApiVersions over TLS lists the APIs")
    tap.is_(c.sock.version(), "TLSv1.3", "Python's ssl negotiates TLSv1.3 by default")
    r = odtest.create_topics(c, [("tls-t", 1, 1)])
    tap.is_(r.get("tls-t"), 0, "CreateTopics over TLS")
    # Enough data that responses need many records and several writes.
    batches = []
    for k in range(40):
        recs = [(b"k%d-%d" % (k, i), os.urandom(1000), []) for i in range(100)]
        batches.append(odtest.build_batch(recs))
    for bt in batches:
        res = odtest.produce(c, {("tls-t", 0): bt})
        if res[("tls-t", 0)][0] != 0:
            break
    tap.is_(res[("tls-t", 0)][0], 0, "40 Produce requests of 100 KB over TLS")
    got, hw = odtest.fetch_all(c, "tls-t", 0)
    tap.is_(len(got), 4000, "Fetch over TLS reads back all 4000 records")
    want = [rec for bt in batches for b2 in odtest.parse_batches(bt) for rec in b2["records"]]
    tap.ok([(r[2], r[3]) for r in got] == [(r[2], r[3]) for r in want],
           "every key and value comes back byte-exact")

text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10).read().decode()
m = {path: int(v) for path, v in re.findall(r'odradek_tls_file_bytes_total\{path="(\w+)"\} (\d+)', text)}
tap.ok(m.get("ktls", 0) + m.get("copy", 0) >= 4000 * 1000,
       "log data over TLS is counted by path (ktls %s, copy %s)" % (m.get("ktls"), m.get("copy")))
kernel = "tls" in open("/proc/sys/net/ipv4/tcp_available_ulp").read().split()
tap.diag("kernel tls ULP loaded: %s; ktls bytes %s, copy bytes %s"
         % (kernel, m.get("ktls"), m.get("copy")))
if not kernel:
    tap.is_(m.get("ktls", 0), 0, "no kernel TLS here: every file byte took the copy path")
hs = re.search(r"odradek_tls_handshakes_total (\d+)", text)
tap.ok(hs and int(hs.group(1)) >= 3, "handshakes are counted")
tap.like(b.log_text(), r"TLS: OpenSSL 3\.\S+ .*kernel tls ULP", "start-up logs what kTLS support exists")
b.stop()

# ---- ssl.enabled.protocols=TLSv1.3 / ssl.protocol=TLSv1.2 ---------------------
b13 = tls.broker(pki, srv, sets=[("ssl.enabled.protocols", "TLSv1.3")], name="tls13").start()
rc, out, err = tls.s_client(b13.tls_port, ["-CAfile", pki.ca, "-tls1_2"])
tap.ok(rc != 0, "ssl.enabled.protocols=TLSv1.3: a TLSv1.2 client is refused")
rc, out, err = tls.s_client(b13.tls_port, ["-CAfile", pki.ca, "-tls1_3"])
tap.is_(rc, 0, "ssl.enabled.protocols=TLSv1.3: a TLSv1.3 client connects")
b13.stop()

b12 = tls.broker(pki, srv, sets=[("ssl.protocol", "TLSv1.2"),
                                 ("ssl.cipher.suites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")],
                 name="tls12").start()
rc, out, err = tls.s_client(b12.tls_port, ["-CAfile", pki.ca, "-tls1_3"])
tap.ok(rc != 0, "ssl.protocol=TLSv1.2: no TLSv1.3 even though enabled")
rc, out, err = tls.s_client(b12.tls_port, ["-CAfile", pki.ca])
tap.like(err, r"Protocol version: TLSv1\.2", "ssl.protocol=TLSv1.2: a default client gets TLSv1.2")
tap.like(err, r"Ciphersuite: ECDHE-RSA-AES128-GCM-SHA256",
         "ssl.cipher.suites by IANA name picks that suite")
rc, out, err = tls.s_client(b12.tls_port, ["-CAfile", pki.ca, "-tls1_2", "-cipher",
                                           "ECDHE-RSA-AES256-GCM-SHA384"])
tap.ok(rc != 0, "a suite outside ssl.cipher.suites is refused")
b12.stop()

# ---- a listener named INTERNAL mapped to SSL, its keystore per listener -------
other = pki.server("server2")
bi = tls.broker(pki, srv, tls_listener="INTERNAL", name="internal", sets=[
    ("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,INTERNAL:SSL"),
    ("listener.name.internal.ssl.keystore.location", other["keystore"])]).start()
rc, out, err = tls.s_client(bi.tls_port, ["-CAfile", pki.ca])
tap.is_(rc, 0, "listener INTERNAL mapped to SSL by listener.security.protocol.map speaks TLS")
with tls.TlsConn(bi.tls_port, ctx) as c:
    der = c.sock.getpeercert(binary_form=True)
tap.ok(der == ssl.PEM_cert_to_DER_cert(open(other["cert"]).read()),
       "listener.name.internal.ssl.keystore.location overrides the keystore")
bi.stop()

sys.exit(odtest.finish())
