#!/usr/bin/python3
# Placement: `odr produce --partitioner NAME` puts every key on the partition
# the client it imitates would choose. murmur2 against kafka-python (whose
# default partitioner is Java's murmur2) and librdkafka's murmur2_random;
# fnv1a and consistent_random (CRC32) against librdkafka's own
# partitioners (confluent_kafka). Keys include multi-byte UTF-8 and lengths
# 1..40 so every tail case of the hashes is covered.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
import odrcli  # noqa: E402
from odrcli import odr  # noqa: E402

if not odrcli.available():
    tap.skip_all("odr not built (librdkafka-dev missing at configure time)")
try:
    import confluent_kafka as ck
    from kafka import KafkaProducer
except ImportError as e:
    tap.skip_all("confluent_kafka and kafka-python needed: %s" % e)
odtest.watchdog(240)
b = odtest.Broker().start()
N = 7
KEYS = (["k%d" % i for i in range(150)] + ["x" * n for n in range(1, 41)] +
        ["ключ-%d" % i for i in range(10)] + ["order-%05d" % (i * 7919) for i in range(50)])


def placement(topic):
    msgs, _ = odtest.ck_read(b.bootstrap, topic, list(range(N)))
    out = {}
    for p, ms in msgs.items():
        for m in ms:
            out.setdefault(m.key().decode(), set()).add(p)
    return out


def via_odr(topic, partitioner):
    odr(b, "topic", "create", topic, "-p", str(N))
    rc, out, err = odr(b, "produce", topic, "--key-delimiter", "\t", "--partitioner", partitioner,
                       input="".join("%s\tv\n" % k for k in KEYS))
    tap.is_(rc, 0, "odr produce --partitioner %s" % partitioner) or tap.diag(err)
    return placement(topic)


def via_librdkafka(topic, partitioner):
    odr(b, "topic", "create", topic, "-p", str(N))
    p = ck.Producer(odtest.ck_conf(b.bootstrap, partitioner=partitioner))
    for k in KEYS:
        p.produce(topic, key=k.encode(), value=b"v")
    tap.is_(p.flush(30), 0, "librdkafka (partitioner=%s) delivered everything" % partitioner)
    return placement(topic)


def same(a, bb, what):
    keys_ok = set(a) == set(KEYS) and set(bb) == set(KEYS)
    single = all(len(v) == 1 for v in list(a.values()) + list(bb.values()))
    diff = [k for k in KEYS if a.get(k) != bb.get(k)]
    tap.ok(keys_ok and single and not diff, "%s: all %d keys on the same partitions"
           % (what, len(KEYS))) or tap.diag("differ: %s" % diff[:10])


# murmur2: odr vs kafka-python's default partitioner
kp = KafkaProducer(bootstrap_servers=b.bootstrap)
odr(b, "topic", "create", "kp", "-p", str(N))
for k in KEYS:
    kp.send("kp", key=k.encode(), value=b"v")
kp.flush(30)
kp.close()
kafka_python = placement("kp")
odr_murmur2 = via_odr("o-murmur2", "murmur2")
same(odr_murmur2, kafka_python, "murmur2: odr and kafka-python")
same(via_librdkafka("r-murmur2", "murmur2_random"), kafka_python,
     "murmur2: librdkafka's murmur2_random and kafka-python")
same(via_odr("o-sticky", "sticky"), kafka_python, "sticky places keys by murmur2 too")

# fnv1a and CRC32 against librdkafka's own
same(via_odr("o-fnv1a", "fnv1a"), via_librdkafka("r-fnv1a", "fnv1a"), "fnv1a: odr and librdkafka")
same(via_odr("o-crc", "consistent_random"), via_librdkafka("r-crc", "consistent_random"),
     "consistent_random (CRC32): odr and librdkafka's default")
tap.ok(via_odr("o-crc2", "crc32") == placement("o-crc"), "crc32 is consistent's CRC32")

# the point of the check: librdkafka's default and Java's disagree on keys
crc = placement("o-crc")
tap.ok(sum(1 for k in KEYS if crc[k] != kafka_python[k]) > len(KEYS) // 2,
       "CRC32 and murmur2 place most keys differently (why placement is configurable)")

# strategies without a key
odr(b, "topic", "create", "rr", "-p", str(N))
rc, out, err = odr(b, "produce", "rr", "--partitioner", "round_robin", input="v\n" * (N * 3))
msgs, hw = odtest.ck_read(b.bootstrap, "rr", list(range(N)))
tap.ok(rc == 0 and all(hw[p] == 3 for p in range(N)), "round_robin: 3 records on each of 7") \
    or tap.diag(hw)

sys.exit(odtest.finish())
