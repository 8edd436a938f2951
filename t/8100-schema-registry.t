#!/usr/bin/python3
# The schema registry (core/schema/, doc/serializers.md) with real clients:
# confluent_kafka's SchemaRegistryClient against the REST API on
# schema.registry.listener (register, versions, lookups by id, compatibility,
# config, delete, Confluent's error codes), a schema from schema.files, and
# broker-side validation (confluent.value.schema.validation): records in
# Confluent's wire format produced with JSONSerializer and Avro (python3-avro
# encodes; confluent_kafka 1.7's AvroSerializer needs fastavro, which Debian
# lacks) are appended, bad ones (kcat text, wrong ids, payloads that do not
# match) are refused with INVALID_RECORD and nothing of their batch is
# appended; raw Produce v8 shows record_errors naming the bad records. The
# schemas survive a restart.
import io
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import array, bytes_, i16, i32, string  # noqa: E402

try:
    import confluent_kafka as ck
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError
    from confluent_kafka.schema_registry.json_schema import JSONSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    import avro.io
    import avro.schema
except ImportError as e:
    tap.skip_all("clients missing: %s" % e)

odtest.watchdog(240)
tmp = odtest.scratch("schemas")
AVSC = {"type": "record", "name": "User", "fields": [
    {"name": "name", "type": "string"}, {"name": "age", "type": "int"}]}
avsc_path = os.path.join(tmp, "user.avsc")
with open(avsc_path, "w") as f:
    json.dump(AVSC, f, indent=2)
reg_port = odtest.free_port()
URL = "http://127.0.0.1:%d" % reg_port
b = odtest.Broker(tmp=tmp, sets={"schema.registry.listener": URL,
                                 "schema.files": "av-value=" + avsc_path}).start()
sr = SchemaRegistryClient({"url": URL})

# ---- the REST API ----
tap.ok("av-value" in sr.get_subjects(), "schema.files registered av-value at start")
av_latest = sr.get_latest_version("av-value")
tap.is_((av_latest.version, json.loads(av_latest.schema.schema_str)), (1, AVSC),
        "its latest version is 1 with the file's schema")
JS = {"title": "Thing", "type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
      "required": ["name"]}
js_id = sr.register_schema("js-value", Schema(json.dumps(JS), "JSON"))
tap.ok(js_id > av_latest.schema_id, "JSON schema registered with a new id (%d)" % js_id)
tap.is_(sr.register_schema("js-value", Schema(json.dumps(JS), "JSON")), js_id,
        "registering the same schema again gives the same id")
got = sr.get_schema(js_id)
tap.is_((got.schema_type, json.loads(got.schema_str)), ("JSON", JS), "GET /schemas/ids/{id}")


def sr_error(fn):
    try:
        fn()
    except SchemaRegistryError as e:
        return e.error_code
    return None


tap.is_(sr_error(lambda: sr.get_latest_version("nosuch-value")), 40401,
        "unknown subject: 40401")
tap.is_(sr_error(lambda: sr.get_schema(9999)), 40403, "unknown id: 40403")
tap.is_(sr_error(lambda: sr.register_schema("bad-value", Schema("{not json", "AVRO"))), 42201,
        "a broken schema: 42201")
tap.is_(sr_error(lambda: sr.register_schema("bad-value", Schema(
    '{"type":"record","name":"X","fields":[{"name":"a","type":"nosuch"}]}', "AVRO"))), 42201,
    "an Avro schema naming an unknown type: 42201")
# BACKWARD (the default): a new required field without a default is refused
AVSC2 = dict(AVSC, fields=AVSC["fields"] + [{"name": "email", "type": "string"}])
AVSC3 = dict(AVSC, fields=AVSC["fields"] + [{"name": "email", "type": ["null", "string"],
                                            "default": None}])
tap.ok(not sr.test_compatibility("av-value", Schema(json.dumps(AVSC2), "AVRO")),
       "compatibility: a field without a default is not BACKWARD compatible")
tap.ok(sr.test_compatibility("av-value", Schema(json.dumps(AVSC3), "AVRO")),
       "compatibility: a field with a default is")
tap.is_(sr_error(lambda: sr.register_schema("av-value", Schema(json.dumps(AVSC2), "AVRO"))),
        40901, "registering the incompatible one: 40901")
v2_id = sr.register_schema("av-value", Schema(json.dumps(AVSC3), "AVRO"))
tap.is_(sr.get_versions("av-value"), [1, 2], "the compatible one is version 2")
tap.is_(sr.set_compatibility("js-value", "NONE"), {"compatibility": "NONE"},
        "PUT /config/js-value")
tap.is_(sr.get_compatibility("js-value"), "NONE", "GET /config/js-value")
tap.is_(sr.get_compatibility(), "BACKWARD", "GET /config: the default level")
# lookups by schema (auto.register.schemas=false clients), transitive and forward levels
tap.is_(sr.lookup_schema("js-value", Schema(json.dumps(JS), "JSON")).schema_id, js_id,
        "POST /subjects/js-value finds the registered schema")
tap.is_(sr_error(lambda: sr.lookup_schema("js-value", Schema('{"type":"string"}', "JSON"))),
        40403, "and an unregistered one is 40403")


def rec(fields):
    return Schema(json.dumps({"type": "record", "name": "T", "fields": fields}), "AVRO")


A = {"name": "a", "type": "int"}
B_DEF = {"name": "b", "type": "string", "default": "x"}
B = {"name": "b", "type": "string"}
for level, ok in (("BACKWARD", True), ("BACKWARD_TRANSITIVE", False)):
    subj = "tr-%s-value" % level.lower()
    sr.set_compatibility(subj, level)
    sr.register_schema(subj, rec([A]))
    sr.register_schema(subj, rec([A, B_DEF]))
    tap.is_(sr.test_compatibility(subj, rec([A, B])), ok,
            "%s: dropping b's default is %s (version 1 has no b)" % (level, "fine" if ok else
                                                                      "refused"))
sr.set_compatibility("fw-value", "FORWARD")
sr.register_schema("fw-value", rec([A]))
tap.ok(sr.register_schema("fw-value", rec([A, B])) > 0,
       "FORWARD: adding a field without a default registers (old readers skip it)")
tap.is_(sr_error(lambda: sr.register_schema("fw-value", rec([B]))), 40901,
        "FORWARD: removing a field old readers need is refused")
for s_ in ("tr-backward-value", "tr-backward_transitive-value", "fw-value"):
    sr.delete_subject(s_)
sr.register_schema("tmp-value", Schema('"string"', "AVRO"))
tap.is_(sr.delete_subject("tmp-value"), [1], "DELETE /subjects/tmp-value lists its versions")
tap.ok("tmp-value" not in sr.get_subjects(), "and the subject is gone")

# ---- broker-side validation ----
with odtest.Conn(b.port) as c:
    res = odtest.create_topics(c, [
        ("js", 1, 1, {"confluent.value.schema.validation": "true"}),
        ("av", 1, 1, {"confluent.value.schema.validation": "true"}),
        ("rawjson", 1, 1, {"confluent.value.schema.validation": "true",
                           "odradek.value.serializer": "json"}),
        ("ints", 1, 1, {"confluent.key.schema.validation": "true",
                        "odradek.key.serializer": "int"}),
        ("keyed", 1, 1, {"confluent.key.schema.validation": "true"}),
        ("rn", 1, 1, {"confluent.value.schema.validation": "true",
                      "confluent.value.subject.name.strategy":
                      "io.confluent.kafka.serializers.subject.RecordNameStrategy"}),
        ("trn", 1, 1, {"confluent.value.schema.validation": "true",
                       "confluent.value.subject.name.strategy": "TopicRecordNameStrategy"}),
        ("free", 1, 1)])
tap.is_(res, {"js": 0, "av": 0, "rawjson": 0, "ints": 0, "keyed": 0, "rn": 0, "trn": 0,
              "free": 0},
        "topics created")


def end_offset(topic):
    with odtest.Conn(b.port) as cc:
        return odtest.list_offsets(cc, {(topic, 0): -1})[(topic, 0)][2]


def produce(topic, values, keys=None):
    """confluent_kafka: one message each (separate batches); error codes or None."""
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


ser = JSONSerializer(json.dumps(JS), sr)
ctx = SerializationContext("js", MessageField.VALUE)
good = [ser({"name": "ann", "n": 1}, ctx), ser({"name": "bob"}, ctx)]
tap.is_(produce("js", good), [0, 0], "JSONSerializer records are appended")
wire = bytes([0]) + js_id.to_bytes(4, "big")
bad = [b"plain text", wire + b'{"n": 1}', wire + b"{broken", bytes([0]) + (9999).to_bytes(4, "big")
       + b"{}", bytes([0]) + av_latest.schema_id.to_bytes(4, "big") + b"\x06ann\x2a"]
codes = produce("js", bad)
tap.is_(codes, [ck.KafkaError.INVALID_RECORD] * len(bad),
        "not wire format, missing required, broken JSON, unknown id, another subject's id: "
        "INVALID_RECORD")
tap.is_(end_offset("js"), 2, "nothing of the refused records was appended")


def avro_bytes(schema_json, datum):
    w = io.BytesIO()
    avro.io.DatumWriter(avro.schema.parse(json.dumps(schema_json))).write(
        datum, avro.io.BinaryEncoder(w))
    return w.getvalue()


def avro_wire(sid, data):
    return bytes([0]) + sid.to_bytes(4, "big") + data


v1 = avro_wire(av_latest.schema_id, avro_bytes(AVSC, {"name": "ann", "age": 33}))
v2 = avro_wire(v2_id, avro_bytes(AVSC3, {"name": "bob", "age": 3, "email": "b@x"}))
tap.is_(produce("av", [v1, v2]), [0, 0], "Avro records of versions 1 and 2 are appended")
trunc = v1[:-1]
extra = v1 + b"\x00"
huge_len = avro_wire(av_latest.schema_id, b"\xfe\xff\xff\xff\x0f")
tap.is_(produce("av", [trunc, extra, huge_len]), [ck.KafkaError.INVALID_RECORD] * 3,
        "truncated, trailing bytes, a string length past the record: INVALID_RECORD")
tap.is_(produce("rawjson", [b'{"any": [1, 2]}', b"[1,", b"\xff"]),
        [0, ck.KafkaError.INVALID_RECORD, ck.KafkaError.INVALID_RECORD],
        "odradek.value.serializer=json without a subject: any JSON passes, the rest not")
tap.is_(produce("ints", [b"v", b"v"], keys=[b"\x00\x00\x00\x07", b"abc"]),
        [0, ck.KafkaError.INVALID_RECORD], "odradek.key.serializer=int: 4-byte keys only")
tap.is_(produce("free", [b"anything"]), [0], "a topic without validation takes anything")
key_id = sr.register_schema("keyed-key", Schema('"string"', "AVRO"))
kwire = bytes([0]) + key_id.to_bytes(4, "big") + b"\x06abc"
tap.is_(produce("keyed", [b"v", b"v", b"v", b"v"], keys=[kwire, b"abc", None, v1]),
        [0, ck.KafkaError.INVALID_RECORD, 0, ck.KafkaError.INVALID_RECORD],
        "key validation (subject keyed-key): a wire-format key passes, a raw one and a "
        "value subject's id do not, a null key is not checked")
# subject name strategies: the record name (Avro User, JSON title Thing)
sr.register_schema("User", Schema(json.dumps(AVSC), "AVRO"))
sr.register_schema("trn-User", Schema(json.dumps(AVSC), "AVRO"))
tap.is_(produce("rn", [v1, good[0]]), [0, ck.KafkaError.INVALID_RECORD],
        "RecordNameStrategy: an id of subject User passes, one of Thing (not registered) not")
tap.is_(produce("trn", [v1, good[0]]), [0, ck.KafkaError.INVALID_RECORD],
        "TopicRecordNameStrategy: an id of subject trn-User passes, trn-Thing not")

# kcat: text lines are not in the wire format
r = subprocess.run(["kcat", "-P", "-b", b.bootstrap, "-t", "av", "-p", "0", "-X",
                    "broker.address.family=v4"], input=b"hello\nworld\n", capture_output=True,
                   timeout=60)
tap.like(r.stderr.decode(errors="replace"), r"Broker failed to validate record",
         "kcat's text records are refused with INVALID_RECORD (librdkafka: Broker failed to validate record)")
tap.is_(end_offset("av"), 2, "and not appended")

# raw Produce v8: record_errors name the bad records by batch index
def produce_v8(topic, batch):
    body = (string(None) + i16(-1) + i32(10000) +
            array([topic], lambda t: string(t) + array([0], lambda p: i32(p) + bytes_(batch))))
    with odtest.Conn(b.port) as cc:
        rr = cc.request(odtest.PRODUCE, 8, body)
    out = {}

    def part(x):
        out.update({"index": x.i32(), "error": x.i16(), "base_offset": x.i64(), "lat": x.i64(),
                    "log_start": x.i64(),
                    "record_errors": x.array(lambda y: (y.i32(), y.string())),
                    "message": x.string()})
    rr.array(lambda x: (x.string(), x.array(part)))
    return out


p = produce_v8("av", odtest.build_batch([(None, v1), (None, b"junk"), (None, v2), (None, trunc)]))
tap.is_((p["error"], [i for i, _ in p["record_errors"]]), (odtest.INVALID_RECORD, [1, 3]),
        "Produce v8: INVALID_RECORD, record_errors for records 1 and 3")
msg = dict(p["record_errors"]).get(1, "")
tap.like(msg, r"batch index 1 .*wire format", "the message names the record and the reason")
tap.like(p["message"] or "", r"2 record\(s\) of av-0 failed schema validation",
         "error_message counts them")
tap.is_(end_offset("av"), 2, "the good records of that batch were not appended either")
p = produce_v8("av", odtest.build_batch([(None, v1), (None, None)]))
tap.is_(p["error"], 0, "a tombstone (null value) is not checked")

# ---- restart: the schemas are part of the metadata image ----
b.restart()
sr2 = SchemaRegistryClient({"url": URL})
tap.is_(sorted(sr2.get_subjects()), ["User", "av-value", "js-value", "keyed-key", "trn-User"],
        "subjects survive a restart")
tap.is_(sr2.get_versions("av-value"), [1, 2], "and their versions")
tap.is_(sr2.get_compatibility("js-value"), "NONE", "and their compatibility levels")
tap.is_(sr2.get_schema(js_id).schema_type, "JSON", "ids resolve after the restart")
tap.is_(produce("av", [v2, b"junk"]), [0, ck.KafkaError.INVALID_RECORD],
        "validation after the restart")
tap.ok(not b.sanitizer_reports(), "no sanitizer reports")
odtest.finish()
