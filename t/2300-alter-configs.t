#!/usr/bin/python3
# Topic config changes on a running broker: kafka-python's
# KafkaAdminClient.alter_configs (AlterConfigs: the overrides are replaced
# as a whole), confluent's AdminClient.alter_configs, and
# IncrementalAlterConfigs over the raw protocol (SET, DELETE, APPEND and
# SUBTRACT on cleanup.policy, validate_only). DescribeConfigs shows the
# values with source TOPIC_CONFIG, they take effect at once (a smaller
# segment.bytes rolls segments, a shorter retention.ms deletes old ones)
# and survive a restart; bad values are INVALID_CONFIG with a message and
# change nothing.
import glob
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import Conn, array, boolean, i8, string  # noqa: E402

try:
    import confluent_kafka as ck  # noqa: F401
    from confluent_kafka.admin import ConfigResource as CkResource
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
except ImportError as e:
    tap.skip_all("client library not available: %s" % e)

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "240")))
INCREMENTAL_ALTER_CONFIGS = 44
INVALID_CONFIG = 40
TOPIC_CONFIG = 1
DEFAULT_CONFIG = 5
b = odtest.Broker(sets={"log.retention.check.interval.ms": "500"}).start()
log = odtest.RdLog()
ck_admin = odtest.ck_admin(b.bootstrap, logger=log)
conn = Conn(b.port)
T = "cfg"
odtest.ck_create_topic(ck_admin, T, 1)


def kp_admin():
    return KafkaAdminClient(bootstrap_servers=b.bootstrap, client_id="odtest-2300",
                            request_timeout_ms=10000)


kp = kp_admin()


def kp_alter(configs, topic=T):
    """kafka-python AlterConfigs -> (error_code, error_message)."""
    resp = kp.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs=configs)])
    err, msg = resp.resources[0][0], resp.resources[0][1]
    return err, msg


def describe(topic=T):
    """{name: (value, source)} via kafka-python DescribeConfigs (v1+)."""
    res = kp.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    out = {}
    for r in res[0].resources:
        for e in r[4]:
            out[e[0]] = (e[1], e[3])
    return out


def overrides(topic=T):
    return {k: v[0] for k, v in describe(topic).items() if v[1] == TOPIC_CONFIG}


def incremental(ops, topic=T, validate_only=False, rtype=2):
    """IncrementalAlterConfigs v0; ops: [(name, op, value)] -> (error, message)."""
    body = array([(rtype, topic, ops)], lambda r: i8(r[0]) + string(r[1]) + array(
        r[2], lambda c: string(c[0]) + i8(c[1]) + string(c[2]))) + boolean(validate_only)
    r = conn.request(INCREMENTAL_ALTER_CONFIGS, 0, body)
    r.i32()
    res = r.array(lambda x: (x.i16(), x.string(), x.i8(), x.string()))
    return res[0][0], res[0][1]


def seg_count(topic=T):
    return len(glob.glob(os.path.join(b.data, topic + "-0", "*.log")))


VAL = b"v" * 60


def produce(n, ts=None, topic=T):
    for _ in range(n):
        batch = odtest.build_batch([(b"k%d" % i, VAL) for i in range(5)], base_ts=ts)
        err = odtest.produce(conn, {(topic, 0): batch})[(topic, 0)][0]
        if err:
            raise RuntimeError("produce error %d" % err)


# ---- AlterConfigs (kafka-python) ------------------------------------------------
produce(10)
tap.is_(seg_count(), 1, "with the default segment.bytes the log has one segment")
err, msg = kp_alter({"retention.ms": "123456", "segment.bytes": "2000",
                     "cleanup.policy": "compact,delete"})
tap.is_(err, 0, "kafka-python alter_configs: retention.ms, segment.bytes, cleanup.policy (%s)" % msg)
d = describe()
tap.is_((d["retention.ms"], d["segment.bytes"], d["cleanup.policy"]),
        (("123456", TOPIC_CONFIG), ("2000", TOPIC_CONFIG), ("compact,delete", TOPIC_CONFIG)),
        "DescribeConfigs shows them with source TOPIC_CONFIG")
produce(20)
tap.ok(seg_count() >= 4, "the smaller segment.bytes takes effect at once: %d segments" % seg_count())

for cfg, what in (({"retention.ms": "abc"}, "retention.ms=abc"),
                  ({"no.such.key": "1"}, "an unknown key"),
                  ({"cleanup.policy": "bogus"}, "cleanup.policy=bogus"),
                  ({"segment.bytes": "1"}, "segment.bytes below its minimum")):
    err, msg = kp_alter(cfg)
    tap.ok(err == INVALID_CONFIG and msg, "%s: INVALID_CONFIG (%s)" % (what, msg))
tap.is_(overrides(), {"retention.ms": "123456", "segment.bytes": "2000",
                      "cleanup.policy": "compact,delete"}, "refused changes changed nothing")
err, msg = kp_alter({"retention.ms": "1"}, topic="no-such-topic")
tap.is_(err, odtest.UNKNOWN_TOPIC_OR_PARTITION, "unknown topic: UNKNOWN_TOPIC_OR_PARTITION")
resp = kp.alter_configs([ConfigResource(ConfigResourceType.BROKER, "1", configs={"num.partitions": "1"})])
tap.ok(resp.resources[0][0] == odtest.INVALID_REQUEST and resp.resources[0][1],
       "BROKER resource, a read-only key: INVALID_REQUEST (%s)" % resp.resources[0][1])

b.restart()
conn.close()
conn = Conn(b.port)
kp.close()
kp = kp_admin()
tap.is_(overrides(), {"retention.ms": "123456", "segment.bytes": "2000",
                      "cleanup.policy": "compact,delete"}, "the overrides survive a restart")
err, msg = kp_alter({"retention.ms": "654321"})
tap.is_(err, 0, "AlterConfigs with only retention.ms")
tap.is_(overrides(), {"retention.ms": "654321"}, "replaces the overrides as a whole (others removed)")
tap.is_(describe()["segment.bytes"][1], DEFAULT_CONFIG, "segment.bytes is back to DEFAULT_CONFIG")

# ---- IncrementalAlterConfigs (raw) ----------------------------------------------
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
tap.is_(incremental([("retention.bytes", SET, "100000"), ("segment.bytes", SET, "4000")])[0], 0,
        "incremental SET retention.bytes and segment.bytes")
tap.is_(overrides(), {"retention.ms": "654321", "retention.bytes": "100000", "segment.bytes": "4000"},
        "incremental keeps the other overrides")
tap.is_(incremental([("cleanup.policy", APPEND, "compact")])[0], 0, "APPEND compact to cleanup.policy")
tap.is_(overrides().get("cleanup.policy"), "delete,compact", "cleanup.policy = delete,compact")
tap.is_(incremental([("cleanup.policy", SUBTRACT, "delete")])[0], 0, "SUBTRACT delete")
tap.is_(overrides().get("cleanup.policy"), "compact", "cleanup.policy = compact")
tap.is_(incremental([("retention.bytes", DELETE, None)])[0], 0, "DELETE retention.bytes")
tap.ok("retention.bytes" not in overrides(), "retention.bytes override gone")
err, msg = incremental([("retention.ms", APPEND, "5")])
tap.ok(err == INVALID_CONFIG and msg, "APPEND to a non-list key: INVALID_CONFIG (%s)" % msg)
err, msg = incremental([("segment.ms", SET, "abc")], validate_only=True)
tap.ok(err == INVALID_CONFIG and msg, "validate_only with a bad value: INVALID_CONFIG (%s)" % msg)
tap.is_(incremental([("segment.ms", SET, "99999")], validate_only=True)[0], 0,
        "validate_only with a good value: no error")
tap.ok("segment.ms" not in overrides(), "validate_only changed nothing")
err, msg = incremental([("x.y", SET, "1")])
tap.ok(err == INVALID_CONFIG and msg, "unknown key: INVALID_CONFIG (%s)" % msg)
err, msg = incremental([("retention.ms", SET, "1"), ("retention.ms", DELETE, None)])
tap.is_(err, odtest.INVALID_REQUEST, "the same key twice: INVALID_REQUEST")
tap.is_(incremental([("retention.ms", SET, "1")], topic="nope")[0], odtest.UNKNOWN_TOPIC_OR_PARTITION,
        "unknown topic: UNKNOWN_TOPIC_OR_PARTITION")
tap.is_(incremental([("num.partitions", SET, "1")], topic="1", rtype=4)[0], odtest.INVALID_REQUEST,
        "BROKER resource, a read-only key: INVALID_REQUEST")

# ---- confluent AdminClient.alter_configs ------------------------------------------
fs = ck_admin.alter_configs([CkResource("topic", T, set_config={"retention.ms": "777777",
                                                                "cleanup.policy": "delete"})])
try:
    fs[list(fs)[0]].result(15)
    cerr = None
except Exception as e:
    cerr = e
tap.ok(cerr is None, "confluent alter_configs succeeds (%s)" % cerr)
tap.is_(overrides(), {"retention.ms": "777777", "cleanup.policy": "delete"},
        "confluent's AlterConfigs replaced the overrides")
fs = ck_admin.alter_configs([CkResource("topic", T, set_config={"retention.ms": "soon"})])
try:
    fs[list(fs)[0]].result(15)
    cerr = None
except Exception as e:
    cerr = e
tap.ok(cerr is not None and "INVALID_CONFIG" in str(cerr),
       "confluent: a bad value raises INVALID_CONFIG (%s)" % cerr)

# ---- a retention change takes effect on the running broker ----------------------
R = "cfg-ret"
odtest.ck_create_topic(ck_admin, R, 1, {"segment.bytes": "2000"})
produce(12, ts=int(time.time() * 1000) - 3600 * 1000, topic=R)   # hour-old records
produce(4, topic=R)
time.sleep(1.5)
first = odtest.list_offsets(conn, {(R, 0): -2})[(R, 0)][2]
tap.is_(first, 0, "with the default retention.ms (7 days) nothing is deleted")
tap.is_(incremental([("retention.ms", SET, "60000")], topic=R)[0], 0, "retention.ms=60000 at run time")
moved = odtest.wait_until(lambda: odtest.list_offsets(conn, {(R, 0): -2})[(R, 0)][2] > 0, 10)
tap.ok(moved, "the hour-old segments are deleted without a restart (earliest now %d)"
       % odtest.list_offsets(conn, {(R, 0): -2})[(R, 0)][2])

kp.close()
conn.close()
odtest.finish()
