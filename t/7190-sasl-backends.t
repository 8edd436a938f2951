#!/usr/bin/python3
# Swappable credential backends for PLAIN: argon2 (a file of Argon2id
# hashes made with `odradekd hash-password`), cyrus (a sasldb made with
# saslpasswd2), scram (the metadata log); chosen by sasl.credential.backend
# and per listener by listener.name.sasl_plaintext.sasl.credential.backend.
# Real clients (kcat, kafka-python) log in through each.
import logging
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import sasl  # noqa: E402
import tap  # noqa: E402
from odtest import Conn  # noqa: E402

logging.basicConfig(level=logging.CRITICAL)
odtest.watchdog(300)
build = odtest.find_build()
tmp = odtest.scratch("backends")


def hash_line(user, password):
    p = subprocess.run([os.path.join(build, "odradekd"), "hash-password", user],
                       input=(password + "\n").encode(), capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


rc, line, err = hash_line("alice", "argon-pw")
tap.is_(rc, 0, "odradekd hash-password exits 0")
tap.like(line, r"^alice:\$argon2id\$v=19\$", "it prints a user:$argon2id$ line")
rc2, line2, _ = hash_line("alice", "argon-pw")
tap.ok(rc2 == 0 and line2 != line, "a new salt every time")
tap.is_(hash_line("a:b", "x")[0], 2, "a user with ':' is refused")
argon_file = os.path.join(tmp, "users.argon2")
with open(argon_file, "w") as f:
    f.write("# users\n\n" + line + hash_line("carol", "carol-pw")[1])


def plain_login(port, user, pw):
    with Conn(port) as c:
        sasl.handshake(c, "PLAIN")
        return sasl.authenticate(c, sasl.plain_token(user, pw))[:2]


# ---- argon2 ----
b = sasl.SaslBroker(mechanisms="PLAIN,SCRAM-SHA-256",
                    sets={"sasl.credential.backend": "argon2", "sasl.argon2.file": argon_file})
b.start()
tap.is_(plain_login(b.sasl_port, "alice", "argon-pw")[0], 0, "argon2: alice logs in")
tap.is_(plain_login(b.sasl_port, "carol", "carol-pw")[0], 0, "argon2: carol logs in")
err, msg = plain_login(b.sasl_port, "alice", "carol-pw")
tap.is_(err, sasl.SASL_AUTHENTICATION_FAILED, "argon2: wrong password refused")
tap.is_(msg, "Authentication failed: Invalid username or password", "with Kafka's message")
tap.is_(plain_login(b.sasl_port, "dave", "x")[0], sasl.SASL_AUTHENTICATION_FAILED,
        "argon2: unknown user refused")
with Conn(b.sasl_port) as c:
    err, *_ = sasl.scram_login(c, "SCRAM-SHA-256", "alice", "argon-pw")
    tap.is_(err, sasl.SASL_AUTHENTICATION_FAILED, "argon2 has no SCRAM keys: SCRAM refused")
# The file is read at each login: a new entry works without a restart.
with open(argon_file, "a") as f:
    f.write(hash_line("erin", "erin-pw")[1])
tap.is_(plain_login(b.sasl_port, "erin", "erin-pw")[0], 0, "argon2: an added line takes effect")
# Many logins at once go through the worker thread, none is lost.
conns = []
for i in range(8):
    c = Conn(b.sasl_port)
    sasl.handshake(c, "PLAIN")
    c.send_request(sasl.SASL_AUTHENTICATE, 1,
                   odtest.bytes_(sasl.plain_token("alice", "argon-pw" if i % 2 else "bad")))
    conns.append(c)
codes = []
for c in conns:
    r = odtest.Reader(c.recv_frame(30))
    r.i32()
    codes.append(r.i16())
    c.close()
tap.is_(codes, [58, 0] * 4, "8 concurrent argon2 logins answered in order, each right")
if shutil.which("kcat"):
    rc, out, err = odtest.run(["kcat", "-b", b.sasl_bootstrap, "-X", "broker.address.family=v4",
                               "-X", "security.protocol=SASL_PLAINTEXT", "-X",
                               "sasl.mechanisms=PLAIN", "-X", "sasl.username=carol", "-X",
                               "sasl.password=carol-pw", "-P", "-t", "argon"],
                              input=b"hello\n", timeout=60)
    tap.is_(rc, 0, "kcat logs in through argon2 and produces")
else:
    tap.skip("kcat is not installed")
# Logins still on the worker thread when the broker stops: a clean exit,
# nothing leaked (the sanitizer check at the end reads this log).
pending = []
for i in range(6):
    c = Conn(b.sasl_port)
    sasl.handshake(c, "PLAIN")
    c.send_request(sasl.SASL_AUTHENTICATE, 1,
                   odtest.bytes_(sasl.plain_token("alice", "argon-pw")))
    pending.append(c)
tap.is_(b.stop(), 0, "stopping with argon2 logins in flight exits 0")
tap.ok(not b.sanitizer_reports(), "and leaves no sanitizer report")
for c in pending:
    c.close()

# ---- swap: the same data dir, scram backend now (a config change) ----
b.sets = [kv for kv in b.sets if kv[0] != "sasl.credential.backend"]
b.start()
sasl.add_user(b.port, "alice", "scram-pw")
tap.is_(plain_login(b.sasl_port, "alice", "scram-pw")[0], 0, "scram backend: the SCRAM password")
tap.is_(plain_login(b.sasl_port, "alice", "argon-pw")[0], sasl.SASL_AUTHENTICATION_FAILED,
        "scram backend: the argon2 password no longer")
b.stop()

# ---- per listener: the listener's override wins over the broker-wide key ----
b.sets.append(("listener.name.sasl_plaintext.sasl.credential.backend", "argon2"))
b.start()
tap.is_(plain_login(b.sasl_port, "alice", "argon-pw")[0], 0,
        "listener.name.sasl_plaintext.sasl.credential.backend=argon2 is used")
b.stop()

# ---- per mechanism: PLAIN from the argon2 file, SCRAM from the metadata log ----
b.sets = [kv for kv in b.sets if kv[0] != "listener.name.sasl_plaintext.sasl.credential.backend"]
b.sets.append(("listener.name.sasl_plaintext.plain.sasl.credential.backend", "argon2"))
b.start()
tap.is_(plain_login(b.sasl_port, "alice", "argon-pw")[0], 0,
        "listener.name.sasl_plaintext.plain.sasl.credential.backend=argon2: PLAIN uses argon2")
with Conn(b.sasl_port) as c:
    tap.is_(sasl.scram_login(c, "SCRAM-SHA-256", "alice", "scram-pw")[0], 0,
            "and SCRAM on the same listener still the scram backend")
b.stop()

# ---- per listener: the enabled mechanisms ----
b.sets.append(("listener.name.sasl_plaintext.sasl.enabled.mechanisms", "PLAIN"))
b.start()
with Conn(b.sasl_port) as c:
    err, mechs = sasl.handshake(c, "SCRAM-SHA-256")
    tap.is_((err, mechs), (sasl.UNSUPPORTED_SASL_MECHANISM, ["PLAIN"]),
            "listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN narrows the list")
b.stop()

# ---- a mechanism no module provides stops the start ----
bad = sasl.SaslBroker(mechanisms="PLAIN,DIGEST-MD5", name="bad-mech")
try:
    bad.start(timeout=10)
    started = True
except odtest.BrokerError:
    started = False
tap.ok(not started and "DIGEST-MD5, which no loaded module provides" in bad.log_text(),
       "sasl.enabled.mechanisms with an unknown mechanism stops the start with a reason")

# ---- cyrus (sasldb via saslpasswd2) ----
if shutil.which("saslpasswd2"):
    db = os.path.join(tmp, "sasldb2")
    p = subprocess.run(["saslpasswd2", "-f", db, "-u", "odradek", "-p", "-c", "frank"],
                       input=b"cyrus-pw", capture_output=True, timeout=30)
    tap.is_(p.returncode, 0, "saslpasswd2 makes a sasldb (%s)" % p.stderr.decode()[:100])
    c2 = sasl.SaslBroker(mechanisms="PLAIN", name="cyrus",
                         sets={"sasl.credential.backend": "cyrus", "sasl.cyrus.sasldb.path": db,
                               "sasl.cyrus.realm": "odradek"}).start()
    tap.is_(plain_login(c2.sasl_port, "frank", "cyrus-pw")[0], 0, "cyrus: frank logs in")
    err, msg = plain_login(c2.sasl_port, "frank", "nope")
    tap.is_(err, sasl.SASL_AUTHENTICATION_FAILED, "cyrus: wrong password refused")
    tap.is_(plain_login(c2.sasl_port, "nobody", "x")[0], sasl.SASL_AUTHENTICATION_FAILED,
            "cyrus: unknown user refused")
    try:
        from kafka import KafkaProducer
        pr = KafkaProducer(bootstrap_servers=c2.sasl_bootstrap, security_protocol="SASL_PLAINTEXT",
                           sasl_mechanism="PLAIN", sasl_plain_username="frank",
                           sasl_plain_password="cyrus-pw", api_version_auto_timeout_ms=10000)
        tap.ok(pr.send("cyrus-t", b"v").get(timeout=30) is not None,
               "kafka-python logs in through cyrus and produces")
        pr.close()
    except ImportError:
        tap.skip("kafka-python is not installed")
else:
    tap.skip("saslpasswd2 (sasl2-bin) is not installed", 5)
sys.exit(odtest.finish())
