#!/usr/bin/python3
# GSSAPI (Kerberos) against a real MIT KDC started here: its own krb5.conf
# and kdc.conf on a free 127.0.0.1 port, kdb5_util create, kadmin.local
# addprinc/ktadd; the broker reads its key from sasl.kerberos.keytab;
# kafka-python (python3-gssapi) logs in with a ticket from kinit and
# produces; a client without a ticket is refused.
import logging
import os
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import sasl  # noqa: E402
import tap  # noqa: E402

logging.basicConfig(level=logging.CRITICAL)
missing = [t for t in ("krb5kdc", "kdb5_util", "kadmin.local", "kinit") if not shutil.which(t)]
if missing:
    tap.skip_all("MIT Kerberos tools missing: %s (krb5-kdc, krb5-admin-server, krb5-user)"
                 % " ".join(missing))
try:
    import gssapi  # noqa: F401
    from kafka import KafkaProducer
except ImportError as e:
    tap.skip_all("python3-gssapi or kafka-python missing: %s" % e)
if not any(os.path.exists(os.path.join(d, "libgssapiv2.so.2"))
           for d in ("/usr/lib/x86_64-linux-gnu/sasl2", "/usr/lib/sasl2", "/usr/lib64/sasl2")):
    tap.skip_all("Cyrus SASL's GSSAPI plugin is missing (libsasl2-modules-gssapi-mit)")
odtest.watchdog(240)
tmp = odtest.scratch("krb5")
REALM = "ODRADEK.TEST"
kport = odtest.free_port()
env = dict(os.environ, KRB5_CONFIG=os.path.join(tmp, "krb5.conf"),
           KRB5_KDC_PROFILE=os.path.join(tmp, "kdc.conf"),
           KRB5CCNAME="FILE:" + os.path.join(tmp, "ccache"))
with open(env["KRB5_CONFIG"], "w") as f:
    f.write("""[libdefaults]
 default_realm = %(r)s
 dns_lookup_realm = false
 dns_lookup_kdc = false
 rdns = false
 dns_canonicalize_hostname = false
 udp_preference_limit = 1
 ignore_acceptor_hostname = false
[realms]
 %(r)s = {
  kdc = 127.0.0.1:%(p)d
 }
[domain_realm]
 localhost = %(r)s
""" % {"r": REALM, "p": kport})
with open(env["KRB5_KDC_PROFILE"], "w") as f:
    f.write("""[kdcdefaults]
 kdc_listen = 127.0.0.1:%(p)d
 kdc_tcp_listen = 127.0.0.1:%(p)d
[realms]
 %(r)s = {
  database_name = %(t)s/principal
  key_stash_file = %(t)s/stash
  acl_file = %(t)s/kadm5.acl
  kdc_listen = 127.0.0.1:%(p)d
  kdc_tcp_listen = 127.0.0.1:%(p)d
 }
[logging]
 kdc = FILE:%(t)s/kdc.log
""" % {"r": REALM, "p": kport, "t": tmp})
open(os.path.join(tmp, "kadm5.acl"), "w").close()


def run(cmd, input=None):
    p = subprocess.run(cmd, env=env, input=input, capture_output=True, timeout=60)
    if p.returncode:
        tap.diag("%s -> %d: %s" % (" ".join(cmd), p.returncode, (p.stdout + p.stderr).decode()[-500:]))
    return p.returncode


keytab = os.path.join(tmp, "kafka.keytab")
ok = run(["kdb5_util", "create", "-s", "-r", REALM, "-P", "master-pw"]) == 0
ok = ok and run(["kadmin.local", "-r", REALM, "-q", "addprinc -randkey kafka/localhost"]) == 0
ok = ok and run(["kadmin.local", "-r", REALM, "-q", "ktadd -k %s kafka/localhost" % keytab]) == 0
ok = ok and run(["kadmin.local", "-r", REALM, "-q", "addprinc -pw alice-pw alice"]) == 0
tap.ok(ok, "a realm with kafka/localhost (keytab) and alice")
kdc = subprocess.Popen(["krb5kdc", "-n", "-r", REALM], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
tap.at_done(lambda passed: kdc.terminate())
kinit = 1
for _ in range(50):
    kinit = subprocess.run(["kinit", "alice"], env=env, input=b"alice-pw\n",
                           capture_output=True, timeout=30).returncode
    if kinit == 0:
        break
    time.sleep(0.1)
tap.is_(kinit, 0, "the KDC runs and kinit alice gets a ticket")

os.environ.update({k: env[k] for k in ("KRB5_CONFIG", "KRB5CCNAME")})
b = sasl.SaslBroker(mechanisms="GSSAPI,PLAIN", sets={
    "sasl.kerberos.keytab": keytab, "sasl.kerberos.server.hostname": "localhost",
    "sasl.kerberos.service.name": "kafka"}).start()
kw = dict(bootstrap_servers=b.sasl_bootstrap, security_protocol="SASL_PLAINTEXT",
          sasl_mechanism="GSSAPI", sasl_kerberos_service_name="kafka",
          sasl_kerberos_domain_name="localhost", api_version_auto_timeout_ms=10000)
try:
    p = KafkaProducer(**kw)
    sent = all(f.get(timeout=30) for f in [p.send("krb-t", b"v%d" % i) for i in range(3)])
    p.close()
except Exception as e:  # noqa: BLE001 - report what the client raised
    tap.diag("kafka-python GSSAPI: %r" % e)
    sent = False
tap.ok(sent, "kafka-python logs in with GSSAPI and produces")
tap.like(b.log_text(), r"authenticated as User:alice with GSSAPI",
         "the principal is User:alice (Kafka's DEFAULT rule)")

# Without a ticket the login fails.
subprocess.run(["kdestroy"], env=env, capture_output=True)
fails = b.log_text().count("SASL GSSAPI failed")
try:
    KafkaProducer(**kw).close()
    refused = False
except Exception:  # noqa: BLE001 - NoBrokersAvailable or a GSS error, both refusals
    refused = True
tap.ok(refused, "a client without a ticket gets nowhere")
# Raw: a token that is no GSS token fails with error 58 and closes.
with odtest.Conn(b.sasl_port) as c:
    sasl.handshake(c, "GSSAPI")
    err, msg, _, _ = sasl.authenticate(c, b"\x60\x05garbage")
    tap.is_(err, sasl.SASL_AUTHENTICATION_FAILED, "a garbage GSS token: SASL_AUTHENTICATION_FAILED")
    tap.is_(c.wait_closed(5), "closed", "and the connection closes")
tap.ok(b.log_text().count("SASL GSSAPI failed") > fails, "the broker logged the failures")
sys.exit(odtest.finish())
