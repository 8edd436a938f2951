#!/usr/bin/python3
# 0110-topic-config.t - topic keys as Kafka 3.x takes them, through
# confluent_kafka's AdminClient:
#  - message.format.version (deprecated, ignored) and
#    message.downconversion.enable are accepted at CreateTopics and
#    AlterConfigs, shown by DescribeConfigs, and the broker logs that they
#    are ignored, naming the topic;
#  - nan/inf for a double key (min.cleanable.dirty.ratio) is INVALID_CONFIG
#    at CreateTopics and AlterConfigs, and stops the start with the
#    setting's place when given as the broker key;
#  - typed topic configs take effect on produce: max.message.bytes set by
#    AlterConfigs refuses a larger batch, LogAppendTime stamps broker time.
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck
    from confluent_kafka.admin import ConfigResource, NewTopic
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "240")))
b = odtest.Broker().start()
admin = odtest.ck_admin(b.bootstrap)


def create(name, config):
    """CreateTopics -> None on success, else the KafkaError."""
    fs = admin.create_topics([NewTopic(name, 1, 1, config=config)], operation_timeout=20,
                             request_timeout=20)
    try:
        fs[name].result(30)
        return None
    except ck.KafkaException as e:
        return e.args[0]


def alter(name, config):
    fs = admin.alter_configs([ConfigResource("topic", name, set_config=config)],
                             request_timeout=20)
    try:
        list(fs.values())[0].result(30)
        return None
    except ck.KafkaException as e:
        return e.args[0]


def describe(name):
    fs = admin.describe_configs([ConfigResource("topic", name)], request_timeout=20)
    return {k: v.value for k, v in list(fs.values())[0].result(30).items()}


# 1-4: message.format.version accepted, shown, logged as ignored.
err = create("mfv", {"message.format.version": "2.8"})
tap.ok(err is None, "CreateTopics with message.format.version=2.8 succeeds (%s)" % err)
odtest.wait_topic(admin, "mfv", 1)
cfg = describe("mfv")
tap.is_(cfg.get("message.format.version"), "2.8", "DescribeConfigs shows message.format.version=2.8")
tap.ok(odtest.wait_until(lambda: "topic mfv: message.format.version=2.8 is accepted and ignored"
                         in b.log_text(), 10),
       "broker log notes that message.format.version is ignored, naming the topic")
err = alter("mfv", {"message.format.version": "3.0-IV1", "message.downconversion.enable": "false"})
tap.ok(err is None and describe("mfv").get("message.downconversion.enable") == "false",
       "AlterConfigs sets message.format.version=3.0-IV1 and message.downconversion.enable=false "
       "(%s)" % err)

# 5-8: nan and inf are INVALID_CONFIG; a bad version string too.
err = create("nan", {"min.cleanable.dirty.ratio": "nan"})
tap.ok(err is not None and err.code() == ck.KafkaError.INVALID_CONFIG,
       "CreateTopics min.cleanable.dirty.ratio=nan -> INVALID_CONFIG (%s)" % err)
tap.ok("nan" not in admin.list_topics(timeout=10).topics, "topic nan was not created")
err = alter("mfv", {"min.cleanable.dirty.ratio": "inf"})
tap.ok(err is not None and err.code() == ck.KafkaError.INVALID_CONFIG,
       "AlterConfigs min.cleanable.dirty.ratio=inf -> INVALID_CONFIG (%s)" % err)
err = create("badver", {"message.format.version": "two"})
tap.ok(err is not None and err.code() == ck.KafkaError.INVALID_CONFIG,
       "CreateTopics message.format.version=two -> INVALID_CONFIG (%s)" % err)

# 9-11: typed configs on the produce path.
odtest.ck_create_topic(admin, "typed", 1)
err = alter("typed", {"max.message.bytes": "2000", "message.timestamp.type": "LogAppendTime"})
tap.ok(err is None, "AlterConfigs max.message.bytes=2000, LogAppendTime (%s)" % err)
pconf = odtest.ck_conf(b.bootstrap)
pconf.update({"linger.ms": 0, "compression.type": "none", "logger": odtest.RdLog()})
p = ck.Producer(pconf)
results = []


def dr(e, m):
    results.append((e, m))


p.produce("typed", b"x" * 5000, partition=0, timestamp=1000, on_delivery=dr)
p.flush(30)
tap.ok(results and results[0][0] is not None and
       results[0][0].code() == ck.KafkaError.MSG_SIZE_TOO_LARGE,
       "a 5000-byte record is refused with MESSAGE_TOO_LARGE (%s)"
       % (results[0][0] if results else "no report"))
results.clear()
before = int(time.time() * 1000)
p.produce("typed", b"small", partition=0, timestamp=1000, on_delivery=dr)
p.flush(30)
ok = results and results[0][0] is None
ts = results[0][1].timestamp() if ok else None
tap.ok(ok and ts[0] == ck.TIMESTAMP_LOG_APPEND_TIME and ts[1] >= before - 1000,
       "a small record is stored with the broker's LogAppendTime (%s)" % (ts,))

# 12: the broker key with nan stops the start, naming --set and the reason.
b2 = odtest.Broker(sets={"log.cleaner.min.cleanable.ratio": "nan"}, name="nan-broker")
try:
    b2.start(timeout=15)
    started = True
except odtest.BrokerError:
    started = False
tap.ok(not started and "--set" in b2.log_text() and "not a finite number" in b2.log_text(),
       "log.cleaner.min.cleanable.ratio=nan stops the start with --set and the reason")
b2.starts = 0  # its failed start is the point; no exit check

sys.exit(odtest.finish())
