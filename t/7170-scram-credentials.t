#!/usr/bin/python3
# SCRAM credentials as Kafka keeps them: AlterUserScramCredentials and
# DescribeUserScramCredentials with Kafka's errors, the credentials in the
# metadata log (a restart replays them), deletion, one credential serving
# PLAIN and SCRAM logins.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import sasl  # noqa: E402
import tap  # noqa: E402
from odtest import Conn  # noqa: E402
from sasl import SCRAM_SHA_256 as S256, SCRAM_SHA_512 as S512  # noqa: E402

odtest.watchdog(240)
b = sasl.SaslBroker().start()
salt = b"0123456789abcdef"


def ups(user, mech, password, it=4096, s=salt):
    return (user, mech, it, s, sasl.salted_password(mech, password, s, it))


with Conn(b.port) as c:
    err, msg, res = sasl.describe_scram(c)
    tap.is_((err, res), (0, []), "no credentials at first (describe all)")
    res = sasl.alter_scram(c, [ups("alice", S256, "a-pw"), ups("alice", S512, "a-pw", 8192),
                               ups("bob", S512, "b-pw")])
    tap.is_(sorted(res), [("alice", 0, None), ("bob", 0, None)], "upsert alice (both) and bob")
    err, msg, res = sasl.describe_scram(c)
    tap.is_(sorted((u, e, sorted(i)) for u, e, _, i in res),
            [("alice", 0, [(S256, 4096), (S512, 8192)]), ("bob", 0, [(S512, 4096)])],
            "describe all: mechanisms and iterations")
    err, msg, res = sasl.describe_scram(c, ["bob", "carol"])
    tap.is_([(u, e) for u, e, _, _ in res], [("bob", 0), ("carol", sasl.RESOURCE_NOT_FOUND)],
            "describe an unknown user: RESOURCE_NOT_FOUND")
    tap.like(res[1][2] or "", r"does not exist", "with Kafka's message")
    err, msg, res = sasl.describe_scram(c, ["bob", "bob"])
    tap.is_([e for _, e, _, _ in res], [sasl.DUPLICATE_RESOURCE] * 2,
            "describe a user twice: DUPLICATE_RESOURCE")

    # Kafka's checks, one user at a time; a bad user does not stop a good one.
    res = dict((u, (e, m)) for u, e, m in sasl.alter_scram(c, [
        ups("few", S256, "x", it=4095), ups("many", S256, "x", it=16385),
        ("mech", 3, 4096, salt, b"x" * 32), ("", S256, 4096, salt, b"x" * 32),
        ("short", S256, 4096, salt, b"x" * 31), ups("dup", S256, "x"), ups("dup", S256, "y"),
        ups("good", S256, "g-pw")], deletions=[("ghost", S256)]))
    tap.is_(res["few"], (sasl.UNACCEPTABLE_CREDENTIAL, "Too few iterations"), "4095 iterations")
    tap.is_(res["many"], (sasl.UNACCEPTABLE_CREDENTIAL, "Too many iterations"), "16385 iterations")
    tap.is_(res["mech"][0], sasl.UNSUPPORTED_SASL_MECHANISM, "mechanism 3: UNSUPPORTED_SASL_MECHANISM")
    tap.is_(res[""][0], sasl.UNACCEPTABLE_CREDENTIAL, "empty user: UNACCEPTABLE_CREDENTIAL")
    tap.is_(res["short"][0], sasl.UNACCEPTABLE_CREDENTIAL, "salted password of the wrong length")
    tap.is_(res["dup"][0], sasl.DUPLICATE_RESOURCE, "the same user+mechanism twice")
    tap.is_(res["ghost"][0], sasl.RESOURCE_NOT_FOUND, "deleting a missing credential")
    tap.is_(res["good"], (0, None), "the good upsertion in the same request is applied")
    err, msg, res = sasl.describe_scram(c, ["few", "dup", "good"])
    tap.is_([e for _, e, _, _ in res], [sasl.RESOURCE_NOT_FOUND, sasl.RESOURCE_NOT_FOUND, 0],
            "refused users were not stored, the good one was")


    # Big requests: linear work; beyond Kafka's 10000 records per user
    # operation, POLICY_VIOLATION for all.
    res = sasl.alter_scram(c, deletions=[("u%d" % i, S256) for i in range(5000)])
    tap.ok(len(res) == 5000 and all(e == sasl.RESOURCE_NOT_FOUND for _, e, _ in res),
           "5000 deletions of missing users: 5000 RESOURCE_NOT_FOUND results")
    res = sasl.alter_scram(c, deletions=[("v%d" % i, S256) for i in range(10001)])
    tap.ok(len(res) == 10001 and all(e == 44 for _, e, _ in res),
           "10001 alterations: POLICY_VIOLATION (Kafka's per-operation record limit)")
    tap.ok(b.running(), "broker alive")

# confluent-kafka's AdminClient has alter_user_scram_credentials from 2.2 on.
try:
    import confluent_kafka as ck
    import confluent_kafka.admin as cka
except ImportError:
    ck = None
if ck and hasattr(cka.AdminClient, "alter_user_scram_credentials"):
    a = cka.AdminClient({"bootstrap.servers": b.bootstrap})
    up = cka.UserScramCredentialUpsertion(
        "carol", cka.ScramCredentialInfo(cka.ScramMechanism.SCRAM_SHA_256, 4096), b"carol-pw")
    futs = a.alter_user_scram_credentials([up])
    tap.ok(all(f.result(30) is None for f in futs.values()),
           "confluent-kafka AdminClient.alter_user_scram_credentials upserts carol")
else:
    with Conn(b.port) as c:
        sasl.alter_scram(c, [ups("carol", S256, "carol-pw")])
    tap.skip("confluent-kafka %s has no alter_user_scram_credentials (2.2+); carol made raw"
             % (ck.version()[0] if ck else "(missing)"))


def login(mech, user, pw):
    with Conn(b.sasl_port) as c:
        if mech == "PLAIN":
            sasl.handshake(c, "PLAIN")
            return sasl.authenticate(c, sasl.plain_token(user, pw))[0]
        return sasl.scram_login(c, mech, user, pw)[0]


tap.is_(login("SCRAM-SHA-512", "alice", "a-pw"), 0, "alice logs in with SCRAM-SHA-512 (8192)")
tap.is_(login("SCRAM-SHA-256", "carol", "carol-pw"), 0, "carol logs in with SCRAM-SHA-256")
tap.is_(login("SCRAM-SHA-256", "bob", "b-pw"), sasl.SASL_AUTHENTICATION_FAILED,
        "bob has no SCRAM-SHA-256 credential")
tap.is_(login("PLAIN", "bob", "b-pw"), 0, "bob logs in with PLAIN against his SHA-512 credential")
tap.is_(login("PLAIN", "bob", "a-pw"), sasl.SASL_AUTHENTICATION_FAILED, "not with alice's password")

# A changed password takes effect at once; the old one stops working.
with Conn(b.port) as c:
    tap.is_(sasl.alter_scram(c, [ups("alice", S256, "new-pw", s=b"other-salt")]),
            [("alice", 0, None)], "alice's SHA-256 password changed")
tap.is_(login("SCRAM-SHA-256", "alice", "new-pw"), 0, "the new password works")
tap.is_(login("SCRAM-SHA-256", "alice", "a-pw"), sasl.SASL_AUTHENTICATION_FAILED, "the old does not")

# The credentials are metadata records: a restart replays them.
b.restart()
tap.is_(login("SCRAM-SHA-256", "alice", "new-pw"), 0, "after a restart alice's credential is there")
tap.is_(login("PLAIN", "bob", "b-pw"), 0, "and bob's")
with Conn(b.port) as c:
    tap.is_(sasl.alter_scram(c, deletions=[("bob", S512)]), [("bob", 0, None)], "delete bob's")
    err, msg, res = sasl.describe_scram(c, ["bob"])
    tap.is_(res[0][1], sasl.RESOURCE_NOT_FOUND, "bob is gone")
tap.is_(login("PLAIN", "bob", "b-pw"), sasl.SASL_AUTHENTICATION_FAILED, "bob cannot log in")
b.restart()
tap.is_(login("PLAIN", "bob", "b-pw"), sasl.SASL_AUTHENTICATION_FAILED,
        "the deletion survives a restart")
tap.is_(login("SCRAM-SHA-512", "alice", "a-pw"), 0, "alice's other credential stays")
sys.exit(odtest.finish())
