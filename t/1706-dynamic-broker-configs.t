#!/usr/bin/python3
# Dynamic broker configs (AlterConfigs / IncrementalAlterConfigs on the
# BROKER resource): the broker keys Kafka updates dynamically that Odradek
# has (the topic-default keys, log.retention.ms, log.segment.bytes,
# message.max.bytes, ...), per broker (name "1") and cluster-wide (name
# ""), stored as ConfigRecords. They change the effective configs of topics
# without an override (open logs too), DescribeConfigs shows them with
# Kafka's sources (DYNAMIC_BROKER_CONFIG over DYNAMIC_DEFAULT_BROKER_CONFIG
# over STATIC_BROKER_CONFIG over DEFAULT_CONFIG), they survive a restart,
# and read-only keys are INVALID_REQUEST "Cannot update these configs
# dynamically". confluent_kafka AdminClient (alter_configs,
# describe_configs) and raw IncrementalAlterConfigs (confluent_kafka 1.7 has
# no incremental_alter_configs).
import glob
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import array, boolean, i8, string  # noqa: E402

try:
    import confluent_kafka as ck
    from confluent_kafka.admin import ConfigResource, ConfigSource
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)

INCREMENTAL_ALTER_CONFIGS = 44
SET, DELETE = 0, 1
MESSAGE_TOO_LARGE = 10
odtest.watchdog(150)
b = odtest.Broker(sets={"log.retention.bytes": "50000000"}).start()
admin = odtest.ck_admin(b.bootstrap)
odtest.ck_create_topic(admin, "dyn", 1)
odtest.ck_create_topic(admin, "ovr", 1, {"retention.ms": "123456"})
BROKER = ConfigResource.Type.BROKER


def alter(name, cfg):
    """Legacy AlterConfigs on broker `name`: (error code or None, message)."""
    fs = admin.alter_configs([ConfigResource(BROKER, name, set_config=cfg)], request_timeout=30)
    (f,) = fs.values()
    try:
        f.result(30)
        return None, None
    except ck.KafkaException as e:
        return e.args[0].code(), e.args[0].str()


def describe(restype, name):
    fs = admin.describe_configs([ConfigResource(restype, name)], request_timeout=30)
    (f,) = fs.values()
    return f.result(30)


def entry(restype, name, key):
    e = describe(restype, name).get(key)
    return None if e is None else (e.value, e.source, e.is_read_only)


def incremental(name, ops):
    body = array([(4, name, ops)], lambda r: i8(r[0]) + string(r[1]) + array(
        r[2], lambda c: string(c[0]) + i8(c[1]) + string(c[2]))) + boolean(False)
    with odtest.Conn(b.port) as c:
        r = c.request(INCREMENTAL_ALTER_CONFIGS, 0, body)
    r.i32()
    res = r.array(lambda x: (x.i16(), x.string(), x.i8(), x.string()))
    return res[0][0], res[0][1]


DYN = ConfigSource.DYNAMIC_BROKER_CONFIG.value
DDEF = ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value
STATIC = ConfigSource.STATIC_BROKER_CONFIG.value
DEFAULT = ConfigSource.DEFAULT_CONFIG.value
TOPIC = ConfigSource.DYNAMIC_TOPIC_CONFIG.value


def alter_raw(name, cfg):
    """AlterConfigs v0 on broker `name` (confluent_kafka refuses the name "")."""
    body = array([(4, name, sorted(cfg.items()))], lambda r: i8(r[0]) + string(r[1]) + array(
        r[2], lambda kv: string(kv[0]) + string(kv[1]))) + boolean(False)
    with odtest.Conn(b.port) as c:
        r = c.request(33, 0, body)
    r.i32()
    res = r.array(lambda x: (x.i16(), x.string(), x.i8(), x.string()))
    return res[0][0], res[0][1]


def describe_raw(name, rtype=4, synonyms=None):
    """DescribeConfigs v1 of broker (or topic) `name`: {key: (value, source,
    read_only)}; synonyms, if a dict, gets {key: [(name, value, source)]}."""
    body = array([(rtype, name)], lambda r: i8(r[0]) + string(r[1]) + odtest.i32(-1)) + boolean(True)
    with odtest.Conn(b.port) as c:
        r = c.request(32, 1, body)
    r.i32()
    out = {}

    def res(x):
        x.i16(), x.string(), x.i8(), x.string()

        def cfg(y):
            k, v, ro, so, _ = y.string(), y.string(), y.boolean(), y.i8(), y.boolean()
            syn = y.array(lambda z: (z.string(), z.string(), z.i8()))
            out[k] = (v, so, ro)
            if synonyms is not None:
                synonyms[k] = syn
        x.array(cfg)
    r.array(res)
    return out


def src(e):
    return None if e is None else (e[0], e[1].value if hasattr(e[1], "value") else e[1], e[2])


tap.is_(alter("1", {"log.retention.ms": "3600000"}), (None, None),
        "alter_configs BROKER 1: log.retention.ms")
tap.is_(src(entry(BROKER, "1", "log.retention.ms")), ("3600000", DYN, False),
        "describe broker 1: log.retention.ms dynamic per broker, not read-only")
tap.is_(src(entry(BROKER, "1", "log.retention.bytes")), ("50000000", STATIC, False),
        "log.retention.bytes from the command line: STATIC_BROKER_CONFIG, updatable")
tap.is_(src(entry(BROKER, "1", "num.partitions"))[1:], (DEFAULT, True), "num.partitions: read-only")
tap.is_(src(entry(ConfigResource.Type.TOPIC, "dyn", "retention.ms")), ("3600000", DYN, False),
        "topic without an override takes the dynamic broker value")
tap.is_(src(entry(ConfigResource.Type.TOPIC, "ovr", "retention.ms"))[:2], ("123456", TOPIC),
        "a topic override still wins")

# Cluster-wide default, and per-broker over it.
tap.is_(alter_raw("", {"log.segment.bytes": "2000", "message.max.bytes": "1000"}), (0, None),
        "AlterConfigs BROKER '' (cluster default): log.segment.bytes, message.max.bytes")
tap.is_(src(entry(BROKER, "1", "log.segment.bytes")), ("2000", DDEF, False),
        "describe broker 1: log.segment.bytes from the cluster default")
tap.is_(describe_raw(""), {"log.segment.bytes": ("2000", DDEF, False),
                           "message.max.bytes": ("1000", DDEF, False)},
        "describe broker '': the cluster defaults only")
tap.is_(src(entry(ConfigResource.Type.TOPIC, "dyn", "segment.bytes")), ("2000", DDEF, False),
        "topic segment.bytes from the cluster default")
with odtest.Conn(b.port) as c:
    big = odtest.build_batch([(b"k", b"x" * 1500)])
    tap.is_(odtest.produce(c, {("dyn", 0): big})[("dyn", 0)][0], MESSAGE_TOO_LARGE,
            "message.max.bytes=1000 at once: a 1.5 kB batch is MESSAGE_TOO_LARGE")
    for i in range(12):
        odtest.produce(c, {("dyn", 0): odtest.build_batch([(b"k%d" % i, b"v" * 300)])})
segs = len(glob.glob(os.path.join(b.data, "dyn-0", "*.log")))
tap.ok(segs > 1, "the open log rolls at the dynamic log.segment.bytes=2000 (%d segments)" % segs)
tap.is_(incremental("1", [("log.segment.bytes", SET, "3000")]), (0, None),
        "IncrementalAlterConfigs SET on broker 1")
tap.is_(src(entry(ConfigResource.Type.TOPIC, "dyn", "segment.bytes")), ("3000", DYN, False),
        "the per-broker value wins over the cluster default")
syn = {}
describe_raw("dyn", 2, syn)
tap.is_(syn.get("segment.bytes"), [("log.segment.bytes", "3000", DYN), ("log.segment.bytes", "2000", DDEF),
                                   ("log.segment.bytes", "1073741824", DEFAULT)],
        "topic synonyms list every broker level, highest first")
syn = {}
describe_raw("1", 4, syn)
tap.is_(syn.get("log.segment.bytes"), [("log.segment.bytes", "3000", DYN), ("log.segment.bytes", "2000", DDEF),
                                       ("log.segment.bytes", "1073741824", DEFAULT)],
        "broker synonyms: the same levels")
tap.is_(syn.get("log.retention.bytes"), [("log.retention.bytes", "50000000", STATIC),
                                         ("log.retention.bytes", "-1", DEFAULT)],
        "broker synonyms of a static key: static, default")
tap.is_(incremental("1", [("log.segment.bytes", DELETE, None)]), (0, None),
        "IncrementalAlterConfigs DELETE on broker 1")
tap.is_(src(entry(ConfigResource.Type.TOPIC, "dyn", "segment.bytes")), ("2000", DDEF, False),
        "back to the cluster default")

# Refusals.
err, msg = alter("1", {"num.partitions": "3", "log.retention.ms": "5"})
tap.ok(err == ck.KafkaError.INVALID_REQUEST and "Cannot update these configs dynamically" in (msg or "")
       and "num.partitions" in msg, "read-only key: INVALID_REQUEST (%s)" % msg)
err, msg = incremental("1", [("log.dirs", SET, "/tmp/x")])
tap.ok(err == odtest.INVALID_REQUEST and "Cannot update these configs dynamically: Set(log.dirs)" in msg,
       "incremental, read-only key: INVALID_REQUEST (%s)" % msg)
err, msg = incremental("1", [("log.retention.ms", SET, "soon")])
tap.is_(err, odtest.INVALID_REQUEST, "a bad value: INVALID_REQUEST (%s)" % msg)
err, msg = incremental("7", [("log.retention.ms", SET, "5")])
tap.ok(err == odtest.INVALID_REQUEST and "Unexpected broker id" in msg, "another broker id: %s" % msg)
tap.is_(src(entry(BROKER, "1", "log.retention.ms")), ("3600000", DYN, False), "refusals changed nothing")

b.restart(clean=True)
admin = odtest.ck_admin(b.bootstrap)
tap.is_((src(entry(BROKER, "1", "log.retention.ms")), src(entry(BROKER, "1", "log.segment.bytes")),
         src(entry(ConfigResource.Type.TOPIC, "dyn", "max.message.bytes"))),
        (("3600000", DYN, False), ("2000", DDEF, False), ("1000", DDEF, False)),
        "after a restart: per-broker and cluster-default values with their sources")
with odtest.Conn(b.port) as c:
    tap.is_(odtest.produce(c, {("dyn", 0): big})[("dyn", 0)][0], MESSAGE_TOO_LARGE,
            "after a restart message.max.bytes=1000 still applies")
# Legacy AlterConfigs replaces the resource's dynamic configs as a whole.
tap.is_(alter_raw("", {"message.max.bytes": "2000000"}), (0, None), "AlterConfigs '' with one key")
tap.is_(sorted(describe_raw("").keys()), ["message.max.bytes"],
        "AlterConfigs replaced the cluster defaults (log.segment.bytes gone)")
with odtest.Conn(b.port) as c:
    tap.is_(odtest.produce(c, {("dyn", 0): big})[("dyn", 0)][0], 0, "the 1.5 kB batch is accepted now")
sys.exit(odtest.finish())
