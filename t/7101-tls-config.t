#!/usr/bin/python3
# TLS configuration: what starts and what stops the start with the key's
# origin (file:line or --set) and a reason. Keystores as a PEM file, PEM
# text in the config (one line, as Kafka takes it), an encrypted key with
# ssl.key.password, PKCS12 with its password; JKS refused; missing,
# unreadable and mismatched files; bad protocols, suites and mapping rules;
# listener.security.protocol.map (SASL_SSL: t/7130).
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
import tls  # noqa: E402

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "300")))
TMP = odtest.scratch()
pki = tls.Pki(odtest.scratch("pki"))
srv = pki.server()
other = pki.server("other")


def fails(what, pairs, reason_re, cfg=None):
    args = tls.sets_args(pairs) + (["-c", cfg] if cfg else [])
    rc, text = tls.start_fails(args, TMP)
    tap.ok(rc not in (0, None), "%s: the start stops (exit %s)" % (what, rc))
    tap.like(text, reason_re, "%s: the reason is given" % what)
    return text


def starts(what, pairs):
    b = tls.TlsBroker(sets=pairs, name="ok%d" % (len(odtest._brokers)))
    try:
        b.start()
    except odtest.BrokerError:
        tap.ok(False, "%s: the broker starts" % what)
        return
    rc, out, err = tls.s_client(b.tls_port, ["-CAfile", pki.ca, "-verify_return_error"])
    tap.is_(rc, 0, "%s: the broker starts and completes a verified handshake" % what)
    b.stop()


ks = srv["keystore"]
# ---- keystores that work ------------------------------------------------------
starts("PEM keystore file (key + chain)", [("ssl.keystore.location", ks)])
one_line = lambda path: " ".join(open(path).read().split("\n"))  # noqa: E731
starts("PEM text in ssl.keystore.certificate.chain / ssl.keystore.key",
       [("ssl.keystore.certificate.chain", one_line(srv["chain"])),
        ("ssl.keystore.key", one_line(srv["key"]))])
enc = pki.encrypted_key(srv["key"], "s3cret")
enc_ks = os.path.join(TMP, "enc-keystore.pem")
with open(enc_ks, "w") as f:
    f.write(open(enc).read() + open(srv["chain"]).read())
starts("encrypted PEM key with ssl.key.password",
       [("ssl.keystore.location", enc_ks), ("ssl.key.password", "s3cret")])
p12 = pki.pkcs12(srv, "p12pass")
starts("PKCS12 keystore with ssl.keystore.password",
       [("ssl.keystore.type", "PKCS12"), ("ssl.keystore.location", p12),
        ("ssl.keystore.password", "p12pass")])

# ---- truststores (ssl.client.auth=required proves they are the ones used) ----------
cli = pki.client("dave")


def mtls_starts(what, pairs):
    b = tls.TlsBroker(sets=[("ssl.keystore.location", ks), ("ssl.client.auth", "required")] + pairs,
                      name="mtls%d" % len(odtest._brokers))
    b.start()
    rc, out, err = tls.s_client(b.tls_port, ["-CAfile", pki.ca, "-cert", cli["cert"], "-key",
                                             cli["key"], "-verify_return_error"],
                                input=b"Q\n")
    tap.is_(rc, 0, "%s: a client certificate from the CA is accepted" % what)
    rc, out, err = odtest.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % b.tls_port,
                               "-CAfile", pki.ca, "-cert", cli["cert"], "-key", cli["key"]],
                              input=b"Q\n")
    tap.like(out.decode(errors="replace"),
             r"Acceptable client certificate CA names\n.*CN = Odradek Test CA",
             "%s: the CertificateRequest names the trusted CA" % what)
    with tls.TlsConn(b.tls_port, tls.context(pki, cli)) as c:
        tap.is_(odtest.api_versions(c, 3)["error"], 0, "%s: Kafka requests with it" % what)
    try:
        with tls.TlsConn(b.tls_port, tls.context(pki)) as c:
            odtest.api_versions(c, 3)
        tap.ok(False, "%s: no certificate is refused" % what)
    except (OSError, odtest.ConnectionClosed, odtest.ProtoError):
        tap.ok(True, "%s: no certificate is refused" % what)
    b.stop()


mtls_starts("PEM truststore file", [("ssl.truststore.location", pki.ca)])
mtls_starts("CA certificates as PEM text (ssl.truststore.certificates)",
            [("ssl.truststore.certificates", one_line(pki.ca))])
ca_p12 = os.path.join(TMP, "ca.p12")
odtest.run(["openssl", "pkcs12", "-export", "-nokeys", "-in", pki.ca, "-out", ca_p12,
            "-passout", "pass:trust"])
mtls_starts("PKCS12 truststore", [("ssl.truststore.type", "PKCS12"),
                                  ("ssl.truststore.location", ca_p12),
                                  ("ssl.truststore.password", "trust")])

# ---- keystores that do not ------------------------------------------------------
fails("no keystore for an SSL listener", [], r"ssl\.keystore\.location.*no keystore|no keystore")
fails("JKS keystore type", [("ssl.keystore.type", "JKS"), ("ssl.keystore.location", ks)],
      r"--set ssl\.keystore\.type: ssl\.keystore\.type: JKS stores are not supported")
fails("unknown keystore type", [("ssl.keystore.type", "BKS"), ("ssl.keystore.location", ks)],
      r"'BKS' is not a supported store type")
fails("missing keystore file", [("ssl.keystore.location", "/nonexistent/ks.pem")],
      r"ssl\.keystore\.location: cannot open /nonexistent/ks\.pem: No such file")
unreadable = os.path.join(TMP, "unreadable.pem")
with open(unreadable, "w") as f:
    f.write(open(ks).read())
os.chmod(unreadable, 0)
if os.geteuid() == 0:
    tap.skip("root reads any file: unreadable keystore not testable", 2)
else:
    fails("unreadable keystore", [("ssl.keystore.location", unreadable)], r"Permission denied")
mismatch = os.path.join(TMP, "mismatch.pem")
with open(mismatch, "w") as f:
    f.write(open(other["key"]).read() + open(srv["chain"]).read())
fails("key of another certificate", [("ssl.keystore.location", mismatch)],
      r"private key does not belong to the certificate")
tap.ok(not os.path.exists(os.path.join(tls.last_data_dir, "meta.properties")),
       "a bad keystore stops the start before the data directory is written")
fails("encrypted key without ssl.key.password", [("ssl.keystore.location", enc_ks)],
      r"cannot read a private key .*set ssl\.key\.password")
fails("encrypted key with a wrong password",
      [("ssl.keystore.location", enc_ks), ("ssl.key.password", "wrong")],
      r"wrong ssl\.key\.password")
garbage = os.path.join(TMP, "garbage.pem")
with open(garbage, "w") as f:
    f.write("not a certificate\n")
fails("keystore without PEM blocks", [("ssl.keystore.location", garbage)],
      r"cannot read a private key|no PEM certificate")
jks = os.path.join(TMP, "ks.jks")
with open(jks, "wb") as f:
    f.write(b"\xfe\xed\xfe\xed\x00\x00\x00\x02" + os.urandom(64))
fails("a JKS file given as PEM", [("ssl.keystore.location", jks)], r"is a JKS keystore")
fails("PKCS12 with a wrong password",
      [("ssl.keystore.type", "PKCS12"), ("ssl.keystore.location", p12),
       ("ssl.keystore.password", "nope")], r"cannot open PKCS12 .*wrong password")
fails("both location and PEM text",
      [("ssl.keystore.location", ks), ("ssl.keystore.key", one_line(srv["key"]))],
      r"either ssl\.keystore\.location or")
fails("missing truststore file",
      [("ssl.keystore.location", ks), ("ssl.truststore.location", "/nonexistent/ca.pem")],
      r"ssl\.truststore\.location: cannot open /nonexistent/ca\.pem")

# ---- file:line for a key from a config file -----------------------------------
cfg = os.path.join(TMP, "tls.properties")
with open(cfg, "w") as f:
    f.write("# tls\nssl.keystore.location=%s\nssl.enabled.protocols=TLSv1.1,TLSv1.2\n" % ks)
fails("TLSv1.1 in ssl.enabled.protocols (config file)", [],
      r"%s:3: ssl\.enabled\.protocols: 'TLSv1\.1' is not supported" % cfg, cfg=cfg)
fails("unknown ssl.protocol", [("ssl.keystore.location", ks), ("ssl.protocol", "SSLv3")],
      r"ssl\.protocol: 'SSLv3' is not supported")
fails("unknown cipher suite", [("ssl.keystore.location", ks),
                               ("ssl.cipher.suites", "TLS_NO_SUCH_SUITE")],
      r"ssl\.cipher\.suites: OpenSSL has no cipher suite 'TLS_NO_SUCH_SUITE'")
fails("bad ssl.client.auth", [("ssl.keystore.location", ks), ("ssl.client.auth", "maybe")],
      r"ssl\.client\.auth")
fails("mapping rule without replacement",
      [("ssl.keystore.location", ks), ("ssl.principal.mapping.rules", "RULE:^CN=(.*)$")],
      r"ssl\.principal\.mapping\.rules: .*not RULE:pattern/replacement/\[LU\]")
fails("mapping rule with a bad regex",
      [("ssl.keystore.location", ks), ("ssl.principal.mapping.rules", "RULE:^CN=(.*$/$1/")],
      r"ssl\.principal\.mapping\.rules: pattern .*missing closing parenthesis")
fails("mapping rule with a bad flag",
      [("ssl.keystore.location", ks), ("ssl.principal.mapping.rules", "RULE:^CN=(.*)$/$1/X")],
      r"flags are L or U")
fails("per-listener key with a bad value",
      [("ssl.keystore.location", ks), ("listener.name.ssl.ssl.client.auth", "sometimes")],
      r"listener\.name\.ssl\.ssl\.client\.auth")

# ---- listener.security.protocol.map -------------------------------------------
fails("a listener name missing from the map",
      [("ssl.keystore.location", ks), ("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT")],
      r"no security protocol for listener SSL in listener\.security\.protocol\.map")
fails("a map entry without a protocol",
      [("ssl.keystore.location", ks), ("listener.security.protocol.map", "PLAINTEXT,SSL:SSL")],
      r"listener\.security\.protocol\.map: 'PLAINTEXT' is not NAME:PROTOCOL")
fails("an unknown protocol in the map",
      [("ssl.keystore.location", ks), ("listener.security.protocol.map",
                                         "PLAINTEXT:PLAINTEXT,SSL:QUIC")],
      r"'QUIC' is not a security protocol")
sys.exit(odtest.finish())
