#!/usr/bin/python3
# Offset commit metadata is bytes: a NUL inside it is kept, in memory, in the
# __consumer_offsets record and after a restart (which reloads from those
# records). kafka-python sends the metadata string as it is (NULs included);
# raw OffsetCommit / OffsetFetch cover the flexible versions.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import kafka
    from kafka.structs import OffsetAndMetadata
    from kafka.structs import TopicPartition as KTP
except ImportError as e:
    tap.skip_all("kafka-python not available: %s" % e)
import groups as G  # noqa: E402

odtest.watchdog(120)
b = odtest.Broker(sets={"group.initial.rebalance.delay.ms": "0"}).start()
with odtest.Conn(b.port) as c:
    if G.OFFSET_COMMIT not in odtest.api_versions(c, 0)["apis"]:
        tap.skip_all("the broker does not advertise OffsetCommit")
    odtest.create_topics(c, [("md-t", 2, 1)])
BS = b.bootstrap
META = "hello\x00world!"          # 12 bytes, a NUL after 5
META2 = "\x00\x00lead" + "\x00" * 3  # NULs first and last

kc = kafka.KafkaConsumer(bootstrap_servers=BS, group_id="md-g", enable_auto_commit=False)
kc.assign([KTP("md-t", 0)])
try:
    kc.commit({KTP("md-t", 0): OffsetAndMetadata(7, META)})
except Exception as e:
    tap.diag("kafka-python commit with NUL metadata: %r" % e)
kc.close()
# A consumer without the partition assigned asks the broker (no cache).
kc = kafka.KafkaConsumer(bootstrap_servers=BS, group_id="md-g", enable_auto_commit=False)
try:
    tap.is_(kc.committed(KTP("md-t", 0), metadata=True), OffsetAndMetadata(7, META),
            "kafka-python: metadata with a NUL inside reads back whole (12 bytes)")
except Exception as e:
    tap.ok(False, "kafka-python committed(): %r" % e)
kc.close()


def fetched(group, parts, version):
    with odtest.Conn(b.port) as cc:
        f = G.offset_fetch(cc, group, {"md-t": parts}, version=version)
    return {p: f["offsets"][("md-t", p)][:2] for p in parts}


with odtest.Conn(b.port) as cc:
    r = G.offset_commit(cc, "md-raw", {("md-t", 0): (5, META2), ("md-t", 1): (6, "\x00")},
                        version=8)
tap.is_(r, {("md-t", 0): 0, ("md-t", 1): 0}, "raw OffsetCommit v8 (flexible) with NUL metadata")
tap.is_(fetched("md-raw", [0, 1], 6), {0: (5, META2), 1: (6, "\x00")},
        "raw OffsetFetch v6 returns the NULs (leading, trailing, alone)")
tap.is_(fetched("md-g", [0], 5), {0: (7, META)}, "raw OffsetFetch v5 returns kafka-python's 12 bytes")

# The record in __consumer_offsets carries all the bytes.
with odtest.Conn(b.port) as cc:
    got = odtest.fetch(cc, {("__consumer_offsets", p): 0 for p in range(50)}, max_wait_ms=0)
recs = b"".join(v["records"] or b"" for v in got.values())
tap.ok(odtest.string(META) in recs,
       "the OffsetCommitValue in __consumer_offsets holds the 12 metadata bytes")

b.restart(clean=True)
tap.is_(fetched("md-g", [0], 5), {0: (7, META)}, "after a restart: kafka-python's metadata, NUL kept")
tap.is_(fetched("md-raw", [0, 1], 6), {0: (5, META2), 1: (6, "\x00")},
        "after a restart: the raw commit's metadata, NULs kept")
b.kill9()
b.start()
tap.is_(fetched("md-g", [0], 7), {0: (7, META)}, "after SIGKILL: metadata reloaded from the log, NUL kept")
sys.exit(odtest.finish())
