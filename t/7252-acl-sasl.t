#!/usr/bin/python3
# ACLs with several principals: alice, bob and admin log in over
# SASL_PLAINTEXT (PLAIN and SCRAM-SHA-256, credentials made with
# AlterUserScramCredentials) and each sees what its ACLs say: produce and
# consume with confluent_kafka and kcat, groups, Metadata filtered per
# principal, ACL administration by a super user only (kafka-python),
# a binding removed takes effect at once, the audit log names the principal
# and the listener.
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
import acl  # noqa: E402

try:
    import confluent_kafka as ck
    from confluent_kafka.admin import AdminClient
    from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType,
                             ACLResourcePatternType, KafkaAdminClient, ResourcePattern,
                             ResourcePatternFilter, ResourceType)
except ImportError as e:
    tap.skip_all("confluent_kafka or kafka-python not available: %s" % e)

logging.basicConfig(level=logging.CRITICAL)
odtest.watchdog(300)
tmp = odtest.scratch("acl-sasl")
audit_path = os.path.join(tmp, "audit.jsonl")
b = sasl.SaslBroker(sets={"authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
                          "super.users": "User:admin;User:ANONYMOUS",
                          "authorizer.audit.log": audit_path}).start()
for u in ("alice", "bob", "admin"):
    sasl.add_user(b.port, u, u + "-pw")
BS = b.sasl_bootstrap
log = odtest.RdLog()


def conf(user, mech="PLAIN", **extra):
    c = odtest.ck_conf(BS, **{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": mech,
                              "sasl.username": user, "sasl.password": user + "-pw"})
    c.update(extra)
    return c


def kp_admin(user):
    return KafkaAdminClient(bootstrap_servers=BS, security_protocol="SASL_PLAINTEXT",
                            sasl_mechanism="PLAIN", sasl_plain_username=user,
                            sasl_plain_password=user + "-pw", request_timeout_ms=10000)


# The super user makes the topics and the ACLs over SASL.
cadmin = AdminClient(conf("admin", logger=log))
for t in ("alice-data", "secret"):
    odtest.ck_create_topic(cadmin, t, 1)
seen = cadmin.list_topics(timeout=10).topics
tap.ok("alice-data" in seen and "secret" in seen,
       "admin (a super user) created the topics over SASL")

admin = kp_admin("admin")


def kp_acl(principal, op, rtype, name, pattern=ACLResourcePatternType.LITERAL,
           perm=ACLPermissionType.ALLOW, host="*"):
    return ACL(principal, host, op, perm, ResourcePattern(rtype, name, pattern))


res = admin.create_acls([
    kp_acl("User:alice", ACLOperation.WRITE, ResourceType.TOPIC, "alice-",
           ACLResourcePatternType.PREFIXED),
    kp_acl("User:alice", ACLOperation.READ, ResourceType.TOPIC, "alice-",
           ACLResourcePatternType.PREFIXED),
    kp_acl("User:alice", ACLOperation.READ, ResourceType.GROUP, "alice-g"),
    kp_acl("User:bob", ACLOperation.READ, ResourceType.TOPIC, "alice-data"),
    kp_acl("User:bob", ACLOperation.READ, ResourceType.GROUP, "bob-g"),
])
tap.is_(len(res["succeeded"]), 5, "admin created five bindings with kafka-python")

alice = kp_admin("alice")
res = alice.create_acls([kp_acl("User:alice", ACLOperation.ALL, ResourceType.TOPIC, "secret")])
err = res["failed"][0][1] if res["failed"] else None
name = (err if isinstance(err, type) else type(err)).__name__
tap.ok(name.startswith("ClusterAuthorizationFailed"),
       "alice may not create ACLs: CLUSTER_AUTHORIZATION_FAILED (%s)" % name)
alice.close()


def produce(user, topic, mech="PLAIN"):
    p = ck.Producer(conf(user, mech, **{"message.timeout.ms": 8000}), logger=log)
    out = []
    p.produce(topic, b"from " + user.encode(), partition=0,
              on_delivery=lambda e, m: out.append(e.code() if e else 0))
    p.flush(30)
    return out[0] if out else None


tap.is_(produce("alice", "alice-data"), 0, "alice writes alice-data (prefixed ALLOW WRITE)")
tap.is_(produce("alice", "alice-data", "SCRAM-SHA-256"), 0, "... also logged in with SCRAM")
tap.is_(produce("bob", "alice-data"), ck.KafkaError.TOPIC_AUTHORIZATION_FAILED,
        "bob may not write alice-data")
tap.is_(produce("alice", "secret"), ck.KafkaError.TOPIC_AUTHORIZATION_FAILED,
        "alice may not write secret")


def consume(user, group, topic, want, timeout=20):
    c = ck.Consumer(conf(user, **{"group.id": group, "auto.offset.reset": "earliest",
                                  "session.timeout.ms": 6000}), logger=log)
    c.subscribe([topic])
    got, err = [], None
    deadline = time.monotonic() + timeout
    while len(got) < want and err is None and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() != ck.KafkaError._PARTITION_EOF:
                err = m.error().code()
            continue
        got.append(m.value())
    c.close()
    return got, err


got, err = consume("bob", "bob-g", "alice-data", 2)
tap.is_((len(got), err), (2, None), "bob reads alice-data in bob-g")
got, err = consume("bob", "alice-g", "alice-data", 1, timeout=10)
tap.is_(err, ck.KafkaError.GROUP_AUTHORIZATION_FAILED, "bob may not use alice-g")
got, err = consume("alice", "alice-g", "alice-data", 2)
tap.is_((len(got), err), (2, None), "alice reads alice-data in alice-g")


def topics_of(user):
    a = AdminClient(conf(user, logger=log))
    return sorted(t for t in a.list_topics(timeout=10).topics if not t.startswith("__"))


tap.is_(topics_of("bob"), ["alice-data"], "bob's Metadata shows only what bob may describe")
tap.is_(topics_of("admin"), ["alice-data", "secret"], "the super user sees every topic")

if shutil.which("kcat"):
    p = subprocess.run(["kcat", "-b", BS, "-P", "-t", "alice-data", "-p", "0",
                        "-X", "broker.address.family=v4", "-X", "security.protocol=SASL_PLAINTEXT",
                        "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=bob",
                        "-X", "sasl.password=bob-pw", "-X", "message.timeout.ms=8000"],
                       input="x\n", capture_output=True, text=True, timeout=60)
    tap.ok(p.returncode != 0 and "authorization" in p.stderr.lower(),
           "kcat as bob: produce refused (%s)" % p.stderr.strip()[-80:])
else:
    tap.skip("kcat is not installed", 1)

# Removing bob's READ takes effect for the next request.
res = admin.delete_acls([ACLFilter("User:bob", None, ACLOperation.READ, ACLPermissionType.ALLOW,
                                   ResourcePatternFilter(ResourceType.TOPIC, "alice-data",
                                                         ACLResourcePatternType.LITERAL))])
tap.is_(len(res[0][1]), 1, "admin deleted bob's READ on alice-data")
got, err = consume("bob", "bob-g", "alice-data", 1, timeout=10)
tap.ok(not got, "bob reads nothing from alice-data any more (%s)" % err)
tap.is_(topics_of("bob"), [], "... nor sees it")
admin.close()

lines = acl.audit_lines(audit_path)
bob = [ln for ln in lines if ln.get("principal") == "User:bob" and ln.get("result") == "DENIED"]
tap.ok(any(ln["api"] == "Produce" and ln["operation"] == "WRITE" and
           ln["listener"] == "SASL_PLAINTEXT" and ln["host"] == "127.0.0.1" for ln in bob),
       "audit: bob's denied produce with principal, listener and host")
tap.ok(any(ln.get("change") == "CREATE_ACLS" and ln["principal"] == "User:admin" for ln in lines),
       "audit: admin's ACL changes under admin's name")
tap.ok(any(ln.get("change") == "ALTER_USER_SCRAM_CREDENTIALS" and ln["resource"] == "bob"
           for ln in lines), "audit: the SCRAM user changes")
sys.exit(odtest.finish())
