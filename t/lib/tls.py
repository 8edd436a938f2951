"""tls.py - certificates and TLS brokers for Odradek's TLS tests (t/71xx).

Certificates are made by the openssl command line in a temp dir:
    pki = tls.Pki(odtest.scratch("pki"))
    pki.ca                      # ca.pem (self-signed CA)
    srv = pki.server()          # dict: key, cert, chain, keystore (key + chain PEM)
    cli = pki.client("alice", ou="eng")   # subject CN=alice,OU=eng,O=Odradek Test
A broker with a PLAINTEXT listener (odtest waits on it) and an SSL one:
    b = tls.broker(pki, sets={...}).start()
    b.tls_port                  # the SSL listener's port
"""
import os
import socket
import ssl
import subprocess

import odtest

OPENSSL = "openssl"


def _run(args, cwd):
    p = subprocess.run([OPENSSL] + args, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), p.stderr.decode()))
    return p.stdout


class Pki:
    """A CA and the certificates it signs, all in dir."""

    def __init__(self, dir, key="rsa:2048"):
        self.dir = dir
        self.key = key
        self.ca_key = os.path.join(dir, "ca.key")
        self.ca = os.path.join(dir, "ca.pem")
        self._serial = 1
        _run(["req", "-x509", "-newkey", key, "-nodes", "-keyout", self.ca_key,
              "-out", self.ca, "-days", "2", "-subj", "/O=Odradek Test/CN=Odradek Test CA"],
             dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def issue(self, name, subj, ext, ca=None, ca_key=None):
        """Key and certificate signed by the CA; returns dict of paths."""
        key, csr, cert = self.path(name + ".key"), self.path(name + ".csr"), self.path(name + ".pem")
        extf = self.path(name + ".ext")
        with open(extf, "w") as f:
            f.write(ext + "\n")
        _run(["req", "-newkey", self.key, "-nodes", "-keyout", key, "-out", csr,
              "-subj", subj], self.dir)
        self._serial += 1
        _run(["x509", "-req", "-in", csr, "-CA", ca or self.ca, "-CAkey", ca_key or self.ca_key,
              "-set_serial", str(self._serial), "-days", "2", "-out", cert, "-extfile", extf],
             self.dir)
        chain = self.path(name + "-chain.pem")
        with open(chain, "w") as f:
            f.write(open(cert).read() + open(ca or self.ca).read())
        keystore = self.path(name + "-keystore.pem")
        with open(keystore, "w") as f:
            f.write(open(key).read() + open(chain).read())
        return {"key": key, "cert": cert, "chain": chain, "keystore": keystore, "subj": subj}

    def server(self, name="server"):
        return self.issue(name, "/O=Odradek Test/CN=localhost",
                          "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                          "extendedKeyUsage=serverAuth")

    def client(self, cn, ou=None, name=None):
        subj = "/O=Odradek Test" + ("/OU=%s" % ou if ou else "") + "/CN=%s" % cn
        return self.issue(name or "client-" + cn, subj, "extendedKeyUsage=clientAuth")

    def encrypted_key(self, key, password):
        """key re-encrypted as PKCS#8 with password."""
        out = key.replace(".key", "-enc.key")
        _run(["pkcs8", "-topk8", "-in", key, "-out", out, "-passout", "pass:" + password],
             self.dir)
        return out

    def pkcs12(self, ident, password):
        out = ident["cert"].replace(".pem", ".p12")
        _run(["pkcs12", "-export", "-inkey", ident["key"], "-in", ident["cert"],
              "-certfile", self.ca, "-out", out, "-passout", "pass:" + password], self.dir)
        return out


def broker_sets(pki, srv, extra=None):
    """--set pairs: the server's keystore, the test CA as truststore, extra."""
    return [("ssl.keystore.location", srv["keystore"]),
            ("ssl.truststore.location", pki.ca)] + list(extra or [])


class TlsBroker(odtest.Broker):
    """An odtest.Broker with a second listener, SSL://127.0.0.1:tls_port."""

    def __init__(self, tls_listener="SSL", **kw):
        super().__init__(**kw)
        self.tls_port = odtest.free_port()
        self.tls_listener = tls_listener

    @property
    def tls_bootstrap(self):
        return "%s:%d" % (odtest.HOST, self.tls_port)

    def argv(self):
        a = super().argv()
        # odtest sets listeners first; a later --set of the same key wins.
        i = a.index("listeners=PLAINTEXT://%s:%d" % (odtest.HOST, self.port))
        a[i] = "listeners=PLAINTEXT://%s:%d,%s://%s:%d" % (
            odtest.HOST, self.port, self.tls_listener, odtest.HOST, self.tls_port)
        return a


def broker(pki, srv=None, sets=None, **kw):
    srv = srv or pki.server()
    b = TlsBroker(sets=broker_sets(pki, srv, sets), **kw)
    b.srv = srv
    return b


def s_client(port, extra=None, input=b"", timeout=20):
    """Run openssl s_client against 127.0.0.1:port; (rc, out, err) as text."""
    cmd = [OPENSSL, "s_client", "-connect", "%s:%d" % (odtest.HOST, port), "-brief"]
    cmd += list(extra or [])
    rc, out, err = odtest.run(cmd, timeout=timeout, input=input)
    return rc, out.decode(errors="replace"), err.decode(errors="replace")


def context(pki, client=None):
    """A Python ssl client context trusting the test CA, optionally with a client cert."""
    ctx = ssl.create_default_context(cafile=pki.ca)
    if client:
        ctx.load_cert_chain(client["cert"], client["key"])
    return ctx


def connect(port, ctx, server_hostname="localhost", timeout=10):
    s = socket.create_connection((odtest.HOST, port), timeout=timeout)
    return ctx.wrap_socket(s, server_hostname=server_hostname)


class TlsConn(odtest.Conn):
    """odtest.Conn over TLS: every odtest request helper works on it."""

    def __init__(self, port, ctx, timeout=10, server_hostname="localhost"):
        super().__init__(port, timeout=timeout)
        self.raw = self.sock
        self.sock = ctx.wrap_socket(self.raw, server_hostname=server_hostname)


def start_fails(args, tmp, timeout=20):
    """Run odradekd with a PLAINTEXT and an SSL listener plus args; it must
    exit by itself. Returns (rc, output text); rc None if it kept running."""
    build = odtest.find_build()
    p1, p2 = odtest.free_port(), odtest.free_port()
    argv = [os.path.join(build, "odradekd"),
            "--set", "module.dir=" + os.path.join(build, ".libs"),
            "--set", "listeners=PLAINTEXT://127.0.0.1:%d,SSL://127.0.0.1:%d" % (p1, p2),
            "--set", "log.dirs=" + os.path.join(tmp, "bad-%d" % p1)] + list(args)
    global last_data_dir
    last_data_dir = os.path.join(tmp, "bad-%d" % p1)
    rc, out, err = odtest.run(argv, timeout=timeout)
    return rc, (out + err).decode("utf-8", "replace")


last_data_dir = None  # log.dirs of the last start_fails run


def sets_args(pairs):
    a = []
    for k, v in pairs:
        a += ["--set", "%s=%s" % (k, v)]
    return a
