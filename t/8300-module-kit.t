#!/usr/bin/python3
# The module kit (modules/examples/, doc/modules.md): every example module
# builds out of tree with its own Makefile and `pkg-config odradek` against
# one staged `make install`, loads with load_module and does its job with
# real clients:
#  - controlplane_filelog (control.plane.backend=filelog): topics created
#    through it survive a restart, and a torn tail of its file is cut;
#  - serializer_upper (odradek.value.serializer=uppercase-ascii): broker-side
#    validation accepts "HELLO" and refuses "hello" from confluent_kafka;
#  - storage_memlog (log.storage.backend=memlog): kcat produces and consumes
#    through it; its size limit refuses a produce; nothing survives a restart;
#  - partitioner_first_byte registers "first-byte" in the core's registry;
#  - hello logs its configured greeting; authz_allowlist decides for the
#    memlog broker; sasl_cred_static loads (its logins: t/7210).
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import modkit  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402

modkit.need_tools("kcat")
try:
    import confluent_kafka as ck
    import confluent_kafka.admin  # noqa: F401
except ImportError as e:
    tap.skip_all("confluent_kafka missing: %s" % e)

odtest.watchdog(300)
src = odtest.TOP
tmp = odtest.scratch("kit")
kit = modkit.stage(tmp)

EXAMPLES = {"hello": "hello", "sasl_cred_static": "cred_static",
            "authz_allowlist": "allowlist", "storage_memlog": "memlog",
            "controlplane_filelog": "filelog", "serializer_upper": "upper_ascii",
            "partitioner_first_byte": "first_byte"}
on_disk = sorted(d for d in os.listdir(os.path.join(src, "modules", "examples"))
                 if os.path.isfile(os.path.join(src, "modules", "examples", d, "Makefile")))
tap.is_(on_disk, sorted(EXAMPLES), "this test knows every example in modules/examples")
so = {}
for d, name in sorted(EXAMPLES.items()):
    ok, so[d], output = kit.build_example(d, name)
    tap.ok(ok, "%s builds out of tree against the staged header" % d) or tap.diag(output[-1500:])
if not all(os.path.exists(f) for f in so.values()):
    tap.bail_out("an example did not build")


def conf(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def produce(b, topic, values, keys=None):
    """confluent_kafka, one message per batch: error codes."""
    log = odtest.RdLog()
    pr = ck.Producer(odtest.ck_conf(b.bootstrap, **{"linger.ms": 0, "acks": "all",
                                                    "enable.idempotence": False,
                                                    "message.send.max.retries": 0}),
                     logger=log)
    out = [None] * len(values)

    def dr(i):
        return lambda err, msg: out.__setitem__(i, err.code() if err else 0)
    for i, v in enumerate(values):
        pr.produce(topic, value=v, key=keys[i] if keys else None, partition=0, on_delivery=dr(i))
        pr.flush(30)
    return out


def kcat_consume(b, topic, count):
    rc, out, err = odtest.run(["kcat", "-b", b.bootstrap, "-X", "broker.address.family=v4",
                               "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q",
                               "-c", str(count), "-f", "%s\\n"], timeout=60)
    return rc, out.decode(errors="replace").splitlines(), err


# ---- broker A: filelog control plane, segment storage, the serializer, the
# partitioner and hello ----
a_tmp = os.path.join(tmp, "a")
os.makedirs(a_tmp)
cfg_a = conf(os.path.join(a_tmp, "broker.properties"), [
    "load_module storage_segment", "load_module " + so["controlplane_filelog"],
    "control.plane.backend=filelog", "load_module " + so["serializer_upper"],
    "load_module " + so["partitioner_first_byte"], "load_module " + so["hello"],
    "hello.greeting=bonjour from the kit", "load_module " + so["sasl_cred_static"],
    "cred_static.users=alice:alice-pw"])
a = odtest.Broker(config=cfg_a, tmp=a_tmp).start()
log = a.log_text()
tap.like(log, r"filelog: new cluster [A-Za-z0-9_-]{22} in ", "filelog made a new cluster")
tap.like(log, r"example_hello: bonjour from the kit", "hello logs its configured greeting")
tap.like(log, r"partitioner first-byte registered", "first-byte is in the core's registry")
with odtest.Conn(a.port) as c:
    res = odtest.create_topics(c, [
        ("shout", 2, 1, {"confluent.value.schema.validation": "true",
                         "odradek.value.serializer": "uppercase-ascii"}),
        ("nosuch", 1, 1, {"confluent.value.schema.validation": "true",
                          "odradek.value.serializer": "no-such-format"}),
        ("plain", 3, 1)])
    tap.is_(res, {"shout": 0, "nosuch": 0, "plain": 0}, "CreateTopics through the filelog plane")
    md = odtest.metadata(c)
    tap.is_(md["controller_id"], 1, "the single node is the controller")
    tap.is_(sorted(len(md["topics"][t]["partitions"]) for t in ("shout", "plain")), [2, 3],
            "Metadata lists the new topics with their partitions")
tap.is_(produce(a, "shout", [b"HELLO WORLD 42!", b"hello", b"TAB\tHERE", b"OK"]),
        [0, ck.KafkaError.INVALID_RECORD, ck.KafkaError.INVALID_RECORD, 0],
        "uppercase-ascii: uppercase accepted, lowercase and a control byte refused")
tap.is_(produce(a, "nosuch", [b"X"]), [ck.KafkaError.INVALID_RECORD],
        "a serializer nobody loaded: the record is refused, not crashed on")

# The placement check (placement.partitioner, the routing work) asks the
# registry's partitioner: 'a' (97) belongs in partition 1 of 2.
with odtest.Conn(a.port) as c:
    res = odtest.create_topics(c, [("placed", 2, 1, {"placement.partitioner": "first-byte"})])
if res.get("placed") == 0:
    def produce_to(part, key):
        pr = ck.Producer(odtest.ck_conf(a.bootstrap, **{"linger.ms": 0, "acks": "all",
                                                        "enable.idempotence": False,
                                                        "message.send.max.retries": 0}),
                         logger=odtest.RdLog())
        out = []
        pr.produce("placed", key=key, value=b"v", partition=part,
                   on_delivery=lambda err, msg: out.append(err.code() if err else 0))
        pr.flush(30)
        return out
    tap.is_(produce_to(1, b"apple") + produce_to(0, b"apple") + produce_to(0, b"b"),
            [0, ck.KafkaError.INVALID_RECORD, 0],
            "placement.partitioner=first-byte: the key's first byte decides (97 % 2 = 1)")
else:
    tap.skip("placement.partitioner is not in this build (CreateTopics: %s)" % res)

a.restart()
log = a.log_text().split("==== start 2")[-1]
tap.like(log, r"filelog: metadata ready, [1-9][0-9]* records replayed",
         "after a restart filelog replays its file")
with odtest.Conn(a.port) as c:
    md = odtest.metadata(c)
tap.ok("shout" in md["topics"] and "plain" in md["topics"], "the topics survived the restart")
rc, vals, err = kcat_consume(a, "shout", 2)
tap.is_(vals, ["HELLO WORLD 42!", "OK"], "kcat reads back exactly the accepted records")
tap.is_(produce(a, "shout", [b"still checked"]), [ck.KafkaError.INVALID_RECORD],
        "the topic's validation config survived too")
a.stop()
mlog = os.path.join(a.data, "__filelog_metadata", "metadata.log")
with open(mlog, "ab") as f:
    f.write(b"\x00\x00\x01\x00\x12")  # a record header cut short by a crash
a.start()
tap.like(a.log_text(), r"cutting 5 bytes of an incomplete write", "a torn tail is cut at start")
with odtest.Conn(a.port) as c:
    tap.ok("shout" in odtest.metadata(c)["topics"], "and the committed records still count")
    res = odtest.create_topics(c, [("after-cut", 1, 1)])
tap.is_(res, {"after-cut": 0}, "new records append after the cut")
a.restart()
with odtest.Conn(a.port) as c:
    tap.ok("after-cut" in odtest.metadata(c)["topics"], "... and are replayed after a restart")
tap.is_(a.stop(), 0, "broker A exits 0")

# ---- broker B: kraft, memlog storage, the allow-list authorizer ----
b_tmp = os.path.join(tmp, "b")
os.makedirs(b_tmp)
rules = conf(os.path.join(b_tmp, "rules"), [
    "User:ANONYMOUS CREATE CLUSTER kafka-cluster", "User:ANONYMOUS * TOPIC mem",
    "User:ANONYMOUS * TOPIC small"])
cfg_b = conf(os.path.join(b_tmp, "broker.properties"), [
    "load_module kraft", "load_module " + so["storage_memlog"], "log.storage.backend=memlog",
    "memlog.max.bytes=65536",
    "load_module " + so["authz_allowlist"],
    "authorizer.class.name=com.example.AllowListAuthorizer", "allowlist.file=" + rules])
b = odtest.Broker(config=cfg_b, tmp=b_tmp).start()
tap.like(b.log_text(), r"memlog: partitions live in memory", "memlog is the storage backend")
with odtest.Conn(b.port) as c:
    res = odtest.create_topics(c, [("mem", 1, 1), ("denied", 1, 1)])
tap.is_(res, {"mem": 0, "denied": 0}, "topics created (CREATE on the cluster is allowed)")
msgs = "".join("memlog record %d\n" % i for i in range(50)).encode()
rc, out, err = odtest.run(["kcat", "-b", b.bootstrap, "-X", "broker.address.family=v4", "-P",
                           "-t", "mem", "-p", "0"], input=msgs, timeout=60)
tap.is_(rc, 0, "kcat produces 50 records into memlog")
rc, vals, err = kcat_consume(b, "mem", 50)
tap.is_(vals, ["memlog record %d" % i for i in range(50)], "kcat consumes them back, in order")
rc, vals, err = odtest.run(["kcat", "-b", b.bootstrap, "-X", "broker.address.family=v4", "-C",
                            "-t", "mem", "-p", "0", "-o", "45", "-e", "-q", "-f", "%o %s\\n"],
                           timeout=60)
tap.is_(vals.decode().splitlines()[0] if vals else "", "45 memlog record 45",
        "a fetch from the middle finds the batch holding the offset")
tap.is_(produce(b, "denied", [b"x"]), [ck.KafkaError.TOPIC_AUTHORIZATION_FAILED],
        "allowlist: a topic not on the list is denied")
with odtest.Conn(b.port) as c:
    big = odtest.build_batch([(None, b"z" * 70000, [])])
    out = odtest.produce(c, {("mem", 0): big})
    tap.ok(out[("mem", 0)][0] != 0, "a produce past memlog.max.bytes fails (error %d)"
           % out[("mem", 0)][0])
b.restart()
with odtest.Conn(b.port) as c:
    lo = odtest.list_offsets(c, {("mem", 0): -1})
tap.is_(lo[("mem", 0)][::2], (0, 0),
        "memlog keeps nothing across a restart (the topic itself is in kraft)")
tap.is_(produce(b, "mem", [b"after the restart"]), [0], "memlog takes records again after the restart")
adm = ck.admin.AdminClient(odtest.ck_conf(b.bootstrap))
try:
    adm.delete_topics(["mem"], operation_timeout=10)["mem"].result(30)
    deleted = True
except ck.KafkaException as e:
    tap.diag(str(e))
    deleted = False
tap.ok(deleted, "DeleteTopics removes a memlog partition (remove op)")
with odtest.Conn(b.port) as c:
    tap.ok("mem" not in odtest.metadata(c)["topics"], "the topic is gone")
tap.is_(b.sanitizer_reports(), [], "no sanitizer reports")
sys.exit(odtest.finish())
