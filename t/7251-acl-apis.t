#!/usr/bin/python3
# ACL allow and deny per API for one principal (User:ANONYMOUS on
# 127.0.0.1), with allow.everyone.if.no.acl.found=true so that a resource
# no ACL names is open (one that some ACL names is not: that needs an
# ALLOW, as in Kafka, which the test checks too): kcat and confluent_kafka produce and consume,
# Metadata hiding and the authorized-operations bitmasks, the admin APIs
# (confluent_kafka AdminClient, kafka-python), groups, InitProducerId,
# follower fetches, host matching, prefixed patterns, the audit log.
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
import acl  # noqa: E402

try:
    import confluent_kafka as ck
    from confluent_kafka.admin import ConfigResource, NewPartitions, NewTopic
    from kafka.admin import KafkaAdminClient  # noqa: F401
except ImportError as e:
    tap.skip_all("confluent_kafka or kafka-python not available: %s" % e)
import shutil
if not shutil.which("kcat"):
    tap.skip_all("kcat not installed")

odtest.watchdog(300)
tmp = odtest.scratch("acl-apis")
audit_path = os.path.join(tmp, "audit.jsonl")
b = acl.broker(sets={"allow.everyone.if.no.acl.found": "true"}, audit=audit_path).start()
BS = b.bootstrap
log = odtest.RdLog()
admin = odtest.ck_admin(BS, logger=log)
ME = "User:ANONYMOUS"

for t in ("open", "closed", "hidden", "hosty", "hosty2", "sec-x", "cfg"):
    odtest.ck_create_topic(admin, t, 1)
tap.ok(True, "topics created with no ACLs (allow.everyone.if.no.acl.found)")

with odtest.Conn(b.port) as c:
    res = acl.create_acls(c, [
        acl.binding(acl.R_TOPIC, "closed", acl.P_LITERAL, ME, "*", acl.ALL, acl.ALLOW),
        acl.binding(acl.R_TOPIC, "closed", acl.P_LITERAL, ME, "*", acl.WRITE, acl.DENY),
        acl.binding(acl.R_TOPIC, "closed", acl.P_LITERAL, ME, "*", acl.READ, acl.DENY),
        acl.binding(acl.R_TOPIC, "hidden", acl.P_LITERAL, ME, "*", acl.DESCRIBE, acl.DENY),
        acl.binding(acl.R_TOPIC, "hosty", acl.P_LITERAL, ME, "10.1.1.1", acl.WRITE, acl.DENY),
        acl.binding(acl.R_TOPIC, "hosty2", acl.P_LITERAL, ME, "10.1.1.1", acl.WRITE, acl.DENY),
        acl.binding(acl.R_TOPIC, "hosty", acl.P_LITERAL, ME, "127.0.0.1", acl.ALL, acl.ALLOW),
        acl.binding(acl.R_TOPIC, "sec-", acl.P_PREFIXED, "User:*", "*", acl.ALL, acl.DENY),
        acl.binding(acl.R_TOPIC, "cfg", acl.P_LITERAL, "User:*", "*", acl.ALL, acl.ALLOW),
        acl.binding(acl.R_TOPIC, "cfg", acl.P_LITERAL, ME, "*", acl.ALTER_CONFIGS, acl.DENY),
        acl.binding(acl.R_GROUP, "g-denied", acl.P_LITERAL, ME, "*", acl.READ, acl.DENY),
        acl.binding(acl.R_GROUP, "g-denied", acl.P_LITERAL, ME, "*", acl.DESCRIBE, acl.ALLOW),
    ])
    tap.is_([r[0] for r in res], [0] * 12, "twelve bindings created (ALTER on the cluster: no ACL)")


def kcat_produce(topic, lines):
    p = subprocess.run(["kcat", "-b", BS, "-P", "-t", topic, "-p", "0", "-X",
                        "broker.address.family=v4", "-X", "message.timeout.ms=8000"],
                       input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr


def kcat_consume(topic, count):
    p = subprocess.run(["kcat", "-b", BS, "-C", "-t", topic, "-p", "0", "-o", "beginning",
                        "-c", str(count), "-e", "-q", "-X", "broker.address.family=v4"],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


rc, err = kcat_produce("open", ["a", "b", "c"])
tap.is_(rc, 0, "kcat produce to an open topic")
rc, out, err = kcat_consume("open", 3)
tap.is_(out.split(), ["a", "b", "c"], "kcat consume it back")
rc, err = kcat_produce("closed", ["x"])
tap.ok(rc != 0 and "authorization" in err.lower(),
       "kcat produce to a topic with DENY WRITE fails: %s" % err.strip()[-120:])
rc, out, err = kcat_consume("closed", 1)
tap.ok(rc != 0 and "authorization" in (out + err).lower(),
       "kcat consume of a topic with DENY READ fails: %s" % (out + err).strip()[-120:])
rc, err = kcat_produce("hosty", ["h"])
tap.is_(rc, 0, "a DENY from another host does not apply (ALLOW from this one)")
rc, err = kcat_produce("hosty2", ["h"])
tap.ok(rc != 0, "an ACL from another host names the topic: no ALLOW, no write (Kafka's rule)")

# confluent_kafka: the producer's delivery report carries the error.
p = ck.Producer(odtest.ck_conf(BS, message_timeout_ms=8000), logger=log)
reports = []
p.produce("closed", b"v", partition=0, on_delivery=lambda e, m: reports.append(e))
p.produce("open", b"v", partition=0, on_delivery=lambda e, m: reports.append(e))
p.flush(30)
codes = sorted(str(e.code()) if e else "ok" for e in reports)
tap.ok(any(e is not None and e.code() == ck.KafkaError.TOPIC_AUTHORIZATION_FAILED for e in reports)
       and any(e is None for e in reports),
       "confluent_kafka: TOPIC_AUTHORIZATION_FAILED for closed, delivered to open (%s)" % codes)

cons = ck.Consumer(odtest.ck_conf(BS, **{"group.id": "g-reader", "enable.auto.commit": False}),
                   logger=log)
cons.assign([ck.TopicPartition("closed", 0, ck.OFFSET_BEGINNING)])
got = None
deadline = time.monotonic() + 20
while got is None and time.monotonic() < deadline:
    m = cons.poll(0.5)
    if m is not None and m.error():
        got = m.error().code()
cons.close()
tap.is_(got, ck.KafkaError.TOPIC_AUTHORIZATION_FAILED,
        "confluent_kafka consumer of closed: TOPIC_AUTHORIZATION_FAILED")

# ---- Metadata: hiding and bitmasks ---------------------------------------------------
md = admin.list_topics(timeout=10)
tap.ok("hidden" not in md.topics and "open" in md.topics,
       "all-topics Metadata leaves out the topic it may not describe")
with odtest.Conn(b.port) as c:
    cl_ops, ts = acl.metadata_v8(c, ["open", "closed", "hidden", "sec-auto"], cluster_ops=True,
                                 topic_ops=True, auto_create=True)
    topic_all = acl.ops_mask(acl.READ, acl.WRITE, acl.CREATE, acl.DELETE, acl.ALTER,
                             acl.DESCRIBE, acl.DESCRIBE_CONFIGS, acl.ALTER_CONFIGS)
    tap.is_(ts["open"], (0, topic_all), "Metadata v8: open has every topic operation")
    tap.is_(ts["closed"], (0, topic_all & ~acl.ops_mask(acl.READ, acl.WRITE)),
            "... closed lacks READ and WRITE")
    tap.is_(ts["hidden"][0], acl.TOPIC_AUTHORIZATION_FAILED,
            "... hidden by name: TOPIC_AUTHORIZATION_FAILED")
    tap.is_(ts["sec-auto"][0], acl.TOPIC_AUTHORIZATION_FAILED,
            "... auto-creating a denied name: TOPIC_AUTHORIZATION_FAILED")
    cluster_all = acl.ops_mask(acl.CREATE, acl.CLUSTER_ACTION, acl.DESCRIBE_CONFIGS,
                               acl.ALTER_CONFIGS, acl.IDEMPOTENT_WRITE, acl.ALTER, acl.DESCRIBE)
    tap.is_(cl_ops, cluster_all, "... the cluster's operations")
    _, ts = acl.metadata_v8(c, ["open"])
    tap.is_(ts["open"][1], -2147483648, "not asked: INT32_MIN")
    off = odtest.list_offsets(c, {("hidden", 0): -1, ("open", 0): -1})
    tap.is_((off[("hidden", 0)][0], off[("open", 0)][0]), (acl.TOPIC_AUTHORIZATION_FAILED, 0),
            "ListOffsets: DESCRIBE denied vs allowed")
tap.ok("sec-auto" not in admin.list_topics(timeout=10).topics, "... and it was not created")

# ---- admin APIs --------------------------------------------------------------------------


def admin_error(fs):
    try:
        for f in fs.values():
            f.result(20)
        return None
    except ck.KafkaException as e:
        return e.args[0].code()


tap.is_(admin_error(admin.delete_topics(["sec-x"], operation_timeout=10)),
        ck.KafkaError.TOPIC_AUTHORIZATION_FAILED, "DeleteTopics under a DENY ALL prefix")
tap.is_(admin_error(admin.create_partitions([NewPartitions("sec-x", 3)])),
        ck.KafkaError.TOPIC_AUTHORIZATION_FAILED, "CreatePartitions under a DENY ALL prefix")
tap.is_(admin_error(admin.describe_configs([ConfigResource("topic", "sec-x")])),
        ck.KafkaError.TOPIC_AUTHORIZATION_FAILED, "DescribeConfigs under a DENY ALL prefix")
tap.is_(admin_error(admin.alter_configs([ConfigResource("topic", "cfg",
                                                        set_config={"retention.ms": "1000"})])),
        ck.KafkaError.TOPIC_AUTHORIZATION_FAILED, "AlterConfigs with DENY ALTER_CONFIGS")
tap.is_(admin_error(admin.describe_configs([ConfigResource("topic", "cfg")])), None,
        "... DescribeConfigs of it still works")
tap.is_(admin_error(admin.create_topics([NewTopic("sec-new", 1, 1)])), None,
        "CreateTopics: CREATE on the cluster (no ACL) covers a denied name")
tap.is_(admin_error(admin.create_partitions([NewPartitions("open", 2)])), None,
        "CreatePartitions of an open topic")
with odtest.Conn(b.port) as c:
    ec, tce, ncfg = acl.create_topic_v5(c, "plain-v5")
    tap.ok(ec == 0 and tce == 0 and ncfg, "CreateTopics v5: the new topic's configs (%s)" % ncfg)
    ec, tce, ncfg = acl.create_topic_v5(c, "sec-v5")
    tap.is_((ec, tce, ncfg), (0, acl.TOPIC_AUTHORIZATION_FAILED, None),
            "... created under DENY ALL: no configs, topic_config_error_code 29 (KIP-525)")

# ---- groups --------------------------------------------------------------------------------
cons = ck.Consumer(odtest.ck_conf(BS, **{"group.id": "g-denied", "session.timeout.ms": 6000}),
                   logger=log)
cons.subscribe(["open"])
got = None
deadline = time.monotonic() + 20
while got is None and time.monotonic() < deadline:
    m = cons.poll(0.5)
    if m is not None and m.error():
        got = m.error().code()
cons.close()
tap.is_(got, ck.KafkaError.GROUP_AUTHORIZATION_FAILED,
        "confluent_kafka consumer in a group with DENY READ: GROUP_AUTHORIZATION_FAILED")

# Two groups with committed offsets; one may not be described.
for g in ("g-visible", "g-hidden"):
    cons = ck.Consumer(odtest.ck_conf(BS, **{"group.id": g, "enable.auto.commit": False}),
                       logger=log)
    cons.commit(offsets=[ck.TopicPartition("open", 0, 1)], asynchronous=False)
    cons.close()
with odtest.Conn(b.port) as c:
    res = acl.create_acls(c, [acl.binding(acl.R_GROUP, "g-hidden", acl.P_LITERAL, ME, "*",
                                          acl.DESCRIBE, acl.DENY)])
    tap.is_(res[0][0], 0, "DENY DESCRIBE on g-hidden after its commit")
kp = acl.kp_admin(BS)
names = sorted(g[0] for g in kp.list_consumer_groups())
tap.ok("g-visible" in names and "g-hidden" in names,
       "ListGroups with DESCRIBE on the cluster: every group (%s)" % names)
desc = {d.group: d for d in kp.describe_consumer_groups(["g-visible"])}
tap.ok("g-visible" in desc, "DescribeGroups of a group it may describe")
try:
    kp.describe_consumer_groups(["g-hidden"])
    tap.ok(False, "DescribeGroups of a hidden group fails")
except Exception as e:  # kafka-python raises the group's error
    tap.ok("GroupAuthorizationFailed" in type(e).__name__ or "30" in str(e),
           "DescribeGroups of a group with DENY DESCRIBE: %s" % type(e).__name__)
res = dict(kp.delete_consumer_groups(["g-denied"]))
tap.ok(res["g-denied"].__name__.startswith("GroupAuthorizationFailed"),
       "DeleteGroups needs DELETE: %s" % res["g-denied"].__name__)

with odtest.Conn(b.port) as c:
    # Follower fetches need CLUSTER_ACTION (no ACL: allowed); InitProducerId
    # needs IDEMPOTENT_WRITE or WRITE on some topic.
    tap.is_(acl.fetch_as(c, "open", 0, 0, replica_id=1), 0, "follower fetch with CLUSTER_ACTION")
    tap.is_(acl.init_producer_id(c), 0, "InitProducerId allowed")
    res = acl.create_acls(c, [
        acl.binding(acl.R_CLUSTER, "kafka-cluster", acl.P_LITERAL, ME, "*", acl.CLUSTER_ACTION,
                    acl.DENY),
        acl.binding(acl.R_CLUSTER, "kafka-cluster", acl.P_LITERAL, ME, "*", acl.IDEMPOTENT_WRITE,
                    acl.DENY),
        acl.binding(acl.R_CLUSTER, "kafka-cluster", acl.P_LITERAL, ME, "*", acl.DESCRIBE,
                    acl.DENY),
        acl.binding(acl.R_CLUSTER, "kafka-cluster", acl.P_LITERAL, ME, "*", acl.ALTER,
                    acl.ALLOW),
    ])
    tap.is_([r[0] for r in res], [0] * 4, "cluster bindings added")
    tap.is_(acl.fetch_as(c, "open", 0, 0, replica_id=1), acl.TOPIC_AUTHORIZATION_FAILED,
            "follower fetch without CLUSTER_ACTION: TOPIC_AUTHORIZATION_FAILED")
    tap.is_(acl.fetch_as(c, "open", 0, 0, replica_id=-1), 0, "a consumer fetch still works")
    tap.is_(acl.init_producer_id(c), 0, "InitProducerId: WRITE on some topic still allows it")
    cl_ops, _ = acl.metadata_v8(c, [], cluster_ops=True)
    tap.is_(cl_ops, 0, "cluster operations without DESCRIBE on the cluster: 0")
    res = acl.create_acls(c, [acl.binding(acl.R_TOPIC, "*", acl.P_LITERAL, ME, "*", acl.WRITE,
                                          acl.DENY)])
    tap.is_(acl.init_producer_id(c), acl.CLUSTER_AUTHORIZATION_FAILED,
            "InitProducerId with no WRITE anywhere: CLUSTER_AUTHORIZATION_FAILED")
    ec, _, _ = acl.describe_acls(c, acl.MATCH_ALL)
    tap.is_(ec, acl.CLUSTER_AUTHORIZATION_FAILED, "DescribeAcls without DESCRIBE on the cluster")
    # CREATE on the cluster is gone now (the cluster has ACLs, none allows
    # it): each topic needs its own CREATE, and since the literal "*" has an
    # ACL (the DENY WRITE above) every topic is named by one: only an ALLOW
    # lets it through.
    res = acl.create_acls(c, [
        acl.binding(acl.R_TOPIC, "plain-", acl.P_PREFIXED, ME, "*", acl.CREATE, acl.ALLOW),
        acl.binding(acl.R_TOPIC, "auto-", acl.P_PREFIXED, ME, "*", acl.CREATE, acl.ALLOW),
        acl.binding(acl.R_TOPIC, "auto-", acl.P_PREFIXED, ME, "*", acl.DESCRIBE, acl.ALLOW)])
    res = odtest.create_topics(c, [("sec-new3", 1, 1), ("plain-new3", 1, 1)])
    tap.is_(res, {"sec-new3": acl.TOPIC_AUTHORIZATION_FAILED, "plain-new3": 0},
            "CreateTopics without CREATE on the cluster: per topic (DENY ALL prefix vs ALLOW CREATE)")
    _, ts = acl.metadata_v8(c, ["auto-ok"], auto_create=True)
    tap.ok(ts["auto-ok"][0] in (0, 5), "Metadata auto-creates with CREATE on the topic only (%d)"
           % ts["auto-ok"][0])
    _, ts = acl.metadata_v8(c, ["auto-ok"])
    tap.is_(ts["auto-ok"][0], 0, "... and the topic is there")
names = sorted(g[0] for g in kp.list_consumer_groups())
tap.ok("g-visible" in names and "g-hidden" not in names,
       "ListGroups without DESCRIBE on the cluster: only groups it may describe (%s)" % names)
kp.close()

# ---- the audit log ----------------------------------------------------------------------
lines = acl.audit_lines(audit_path)
denied = [ln for ln in lines if ln.get("event") == "authorize" and ln["result"] == "DENIED"]
w = [ln for ln in denied if ln["api"] == "Produce" and ln["resource"] == "closed"]
tap.ok(w and w[0]["operation"] == "WRITE" and w[0]["principal"] == ME and
       w[0]["host"] == "127.0.0.1" and w[0]["resource_type"] == "TOPIC",
       "audit: the denied produce with principal, host, operation, resource")
tap.ok(any(ln["api"] in ("FindCoordinator", "DescribeGroups") and ln["resource"] == "g-hidden"
           for ln in denied) and
       not any(ln["api"] == "ListGroups" and ln["resource"] == "g-hidden" for ln in denied),
       "audit: the denied describe of g-hidden is logged, ListGroups' filtering is not")
tap.ok(any(ln.get("change") == "CREATE_TOPICS" and ln["resource"] == "sec-new" and
           ln["result"] == "OK" for ln in lines), "audit: the created topic")
tap.ok(any(ln.get("change") == "CREATE_PARTITIONS" and ln["resource"] == "open" for ln in lines),
       "audit: the added partitions")
with open(audit_path) as f:
    raw = f.read()
tap.ok(all(ln.startswith("{") for ln in raw.splitlines()), "one JSON object per line")
json.dumps(lines)
sys.exit(odtest.finish())
