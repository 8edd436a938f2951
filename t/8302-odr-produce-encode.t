#!/usr/bin/python3
# `odr produce --value-format/--key-format` (cli/odr_encode.c, the
# serializers' from_json): JSON lines written as Avro and JSON records in
# Confluent's wire format with schemas registered by `odr schema register`
# on the broker's schema registry, int/long/double keys and values in
# Kafka's encodings. The broker's validation (confluent.*.schema.validation)
# accepts them, `odr consume --value-format` shows them back, and a real
# client (confluent_kafka) reads the raw bytes: magic 0, the registry's id,
# an Avro datum python3-avro decodes. Bad lines (wrong type, missing field,
# not JSON) stop the run with the line and the JSON path, exit 2, nothing
# from that line on sent; an unknown subject, an unreachable registry, a
# schema of another type fail before anything is sent.
import io
import json
import os
import re
import struct
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import formats  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402
from odrcli import odr, json_lines  # noqa: E402

try:
    import confluent_kafka as ck
    import avro.io
    import avro.schema
except ImportError as e:
    tap.skip_all("clients missing: %s" % e)

tmp, URL, b = formats.registry_broker("odrenc", 240)
REG = ["--registry", URL]

AVSC = dict(formats.USER_AVSC, fields=formats.USER_AVSC["fields"] +
            [{"name": "level", "type": "int", "default": 3}])
JS = {"type": "object", "properties": {"name": {"type": "string"}, "watts": {"type": "integer"}},
      "required": ["name"]}
with open(os.path.join(tmp, "user.avsc"), "w") as f:
    json.dump(AVSC, f)
with open(os.path.join(tmp, "thing.json"), "w") as f:
    json.dump(JS, f)


def registered(subject, path):
    rc, out, err = odr(b, "schema", "register", subject, os.path.join(tmp, path), "--output",
                       "json", *REG)
    tap.is_(rc, 0, "odr schema register %s %s" % (subject, path))
    try:
        return json.loads(out)["id"]
    except (ValueError, KeyError):
        tap.diag("register: %r %r" % (out, err))
        return -1


av_id = registered("users-value", "user.avsc")
js_id = registered("things-value", "thing.json")


def topic(name, *configs):
    args = ["topic", "create", name, "-p", "1"]
    for c in configs:
        args += ["-c", c]
    rc, out, err = odr(b, *args)
    tap.is_(rc, 0, "topic %s created %s" % (name, " ".join(configs)))


topic("users", "confluent.value.schema.validation=true", "confluent.key.schema.validation=true",
      "odradek.key.serializer=int")
topic("things", "confluent.value.schema.validation=true")
topic("plain")
topic("nums", "confluent.key.schema.validation=true", "odradek.key.serializer=long",
      "confluent.value.schema.validation=true", "odradek.value.serializer=double")
topic("empty")


def raw_records(name):
    """(key, value) bytes of every record of partition 0, by a real client."""
    c = ck.Consumer(odtest.ck_conf(b.bootstrap, **{"group.id": "raw-" + name,
                                                  "enable.partition.eof": True,
                                                  "auto.offset.reset": "earliest"}),
                    logger=odtest.RdLog())
    c.assign([ck.TopicPartition(name, 0, ck.OFFSET_BEGINNING)])
    out = []
    for _ in range(200):
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == ck.KafkaError._PARTITION_EOF:
                break
            tap.diag("consume %s: %s" % (name, m.error()))
            break
        out.append((m.key(), m.value()))
    c.close()
    return out


ann = {"name": "ann", "age": 33, "email": None, "tags": ["x", "y"], "score": 1.5, "kind": "B",
       "attrs": {"logins": 7}, "level": 1}
bob = {"name": "bob", "age": -4, "email": {"string": "bob@example.com"}, "tags": [],
       "score": -0.25, "kind": "A", "attrs": {}}  # level: the schema's default
lines = "1|%s\n2|%s\n" % (json.dumps(ann), json.dumps(bob))
rc, out, err = odr(b, "produce", "users", "--key-delimiter", "|", "--key-format", "int",
                   "--value-format", "avro", *REG, input=lines)
tap.ok(rc == 0, "odr produce --value-format avro --key-format int to a validated topic: %s"
       % err.strip())

rc, out, err = odr(b, "consume", "users", "-e", "--value-format", "avro", "--key-format", "int",
                   "--output", "json", *REG)
rows = json_lines(out)
tap.is_([r["key"] for r in rows], [1, 2], "odr consume shows the int keys back")
tap.is_([r["value"] for r in rows], [ann, dict(bob, level=3)],
        "odr consume shows the Avro records back (a missing field took its default)")

raw = raw_records("users")
reader = avro.io.DatumReader(avro.schema.parse(json.dumps(AVSC)))


def avro_decode(v):
    if len(v) < 5 or v[0] != 0:
        return "not the wire format: %r" % v[:8]
    return (int.from_bytes(v[1:5], "big"), reader.read(avro.io.BinaryDecoder(io.BytesIO(v[5:]))))


tap.is_([k for k, v in raw], [struct.pack(">i", 1), struct.pack(">i", 2)],
        "confluent_kafka reads 4-byte big-endian int keys")
tap.is_([avro_decode(v) for k, v in raw],
        [(av_id, ann), (av_id, dict(bob, email="bob@example.com", level=3))],
        "confluent_kafka: magic 0, the registry's id, an Avro datum python3-avro decodes")

# JSON: with a subject, the wire format and the registry's schema; without, plain JSON
rc, out, err = odr(b, "produce", "things", "--value-format", "json", "--value-subject",
                   "things-value", *REG, input='{"name": "lamp", "watts": 40}\n')
tap.ok(rc == 0, "odr produce --value-format json --value-subject: %s" % err.strip())
raw = raw_records("things")
tap.is_([v for k, v in raw], [bytes([0]) + js_id.to_bytes(4, "big") +
                              b'{"name":"lamp","watts":40}'],
        "JSON in the wire format: magic 0, the subject's latest id, compact JSON")
rc, out, err = odr(b, "consume", "things", "-e", "--value-format", "json", "--output", "json",
                   *REG)
tap.is_([r["value"] for r in json_lines(out)], [{"name": "lamp", "watts": 40}],
        "odr consume --value-format json shows it back")
rc, out, err = odr(b, "produce", "things", "--value-format", "json", "--value-schema-id",
                   str(js_id), *REG, input='{"watts": 40}\n')
tap.ok(rc == 2 and "line 1: $: required property 'name' is missing" in err,
       "JSON against its schema: a missing required property is named: %s" % err.strip())
rc, out, err = odr(b, "produce", "plain", "--value-format", "json",
                   input='{ "a" : [1, 2.5, null] }\n"text"\n')
tap.ok(rc == 0, "json without a schema: %s" % err.strip())
tap.is_([v for k, v in raw_records("plain")], [b'{"a":[1,2.5,null]}', b'"text"'],
        "json without a schema: plain compact JSON, no wire format")

# Kafka's own serdes, checked by the broker (odradek.*.serializer)
rc, out, err = odr(b, "produce", "nums", "--key-delimiter", " ", "--key-format", "long",
                   "--value-format", "double", input='-5 2.5\n9007199254740993 "NaN"\n')
tap.ok(rc == 0, "long keys, double values: %s" % err.strip())
raw = raw_records("nums")
tap.is_([k for k, v in raw], [struct.pack(">q", -5), struct.pack(">q", 9007199254740993)],
        "long keys: 8 bytes big-endian, exact past 2^53")
tap.is_([v[:8] for k, v in raw], [struct.pack(">d", 2.5), b"\x7f\xf8\0\0\0\0\0\0"],
        "double values: 8 bytes big-endian, NaN from \"NaN\"")

# an Avro key: the subject TOPIC-key, the value's text as it is
with open(os.path.join(tmp, "key.avsc"), "w") as f:
    f.write('"string"')
key_id = registered("akeys-key", "key.avsc")
topic("akeys", "confluent.key.schema.validation=true")
rc, out, err = odr(b, "produce", "akeys", "--key-delimiter", "|", "--key-format", "avro", *REG,
                   input='"k\u00e9"|raw text\n')
tap.ok(rc == 0, "--key-format avro to a topic validating keys: %s" % err.strip())
tap.is_(raw_records("akeys"), [(bytes([0]) + key_id.to_bytes(4, "big") + b"\x06k\xc3\xa9",
                                b"raw text")],
        "the key in the wire format with the subject akeys-key's id, the value as typed")

# the broker's validation is on: text as it is is refused
rc, out, err = odr(b, "produce", "users", "--key-delimiter", "|", input="1|" + json.dumps(ann))
tap.ok(rc == 1 and "INVALID_RECORD" in err,
       "control: the same line without --value-format is refused by the broker")


def count(name):
    return len(raw_records(name))


# bad lines: the line and the path named, exit 2, nothing from the line on
before = count("users")
bad = dict(ann, age="33")
rc, out, err = odr(b, "produce", "users", "--key-delimiter", "|", "--key-format", "int",
                   "--value-format", "avro", *REG,
                   input="3|%s\n4|%s\n5|%s\n" % (json.dumps(ann), json.dumps(bad), json.dumps(ann)))
tap.is_(rc, 2, "a line of the wrong type: exit 2")
tap.like(err, r"line 2: \$\.age: expected an integer \(int\), got a string",
         "the line and the JSON path are named")
tap.like(err, r"nothing from line 2 on is sent", "the message says what was not sent")
tap.is_(count("users"), before + 1, "the line before it was sent, it and the rest not")

missing = dict(ann)
del missing["name"]
for text, want, what in [
        ("6|" + json.dumps(missing), r"line 1: \$\.name: missing, and record User has no default",
         "a missing field"),
        ("7|{\"name\": ", r"line 1: not JSON", "text that is not JSON"),
        ("x|" + json.dumps(ann), r"line 1: key: not JSON", "a key that is not an int"),
        ("8|" + json.dumps(dict(ann, email="e@x")),
         r"line 1: \$\.email: expected null or an object of one member naming the union's "
         r"branch, such as \{\"string\": \.\.\.\}", "a union value not in Avro's JSON encoding"),
        ("9|" + json.dumps(dict(ann, extra=1)), r"\$\.extra: record User has no field 'extra'",
         "a member the record lacks")]:
    rc, out, err = odr(b, "produce", "users", "--key-delimiter", "|", "--key-format", "int",
                       "--value-format", "avro", *REG, input=text + "\n")
    tap.ok(rc == 2 and re.search(want, err), "%s: exit 2, %s" % (what, err.strip()))
tap.is_(count("users"), before + 1, "nothing of the bad lines was sent")

# schemas that cannot be had: before any input is read or anything sent
rc, out, err = odr(b, "produce", "empty", "--value-format", "avro", *REG,
                   input=json.dumps(ann) + "\n")
tap.ok(rc == 1 and "under subject 'empty-value'" in err and
       "odr schema register empty-value FILE" in err,
       "an unknown subject says what to do: %s" % err.strip())
dead = "http://127.0.0.1:%d" % odtest.free_port()
rc, out, err = odr(b, "produce", "empty", "--value-format", "avro", "--registry", dead,
                   input=json.dumps(ann) + "\n")
tap.ok(rc == 3 and "cannot reach the schema registry" in err,
       "an unreachable registry: exit 3: %s" % err.strip())
rc, out, err = odr(b, "produce", "empty", "--value-format", "json", "--value-schema-id",
                   str(av_id), *REG, input="{}\n")
tap.ok(rc == 2 and "schema id %d is AVRO, not JSON: pass --value-format avro" % av_id in err,
       "a schema of another type: %s" % err.strip())
rc, out, err = odr(b, "produce", "empty", "--value-format", "avro", "--value-schema-id", "9999",
                   *REG, input="{}\n")
tap.ok(rc == 1 and "schema id 9999" in err, "an unknown id: %s" % err.strip())
tap.is_(count("empty"), 0, "nothing was sent to the topic")

# protobuf: the bytes confluent_kafka's ProtobufSerializer writes for the same message
try:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    Order, Item, order = formats.shop_order_types()
except ImportError:
    ProtobufSerializer = None
rc, out, err = odr(b, "produce", "empty", "--value-format", "protobuf", "--value-schema-id",
                   str(av_id), *REG, input="")
if ProtobufSerializer is None:
    tap.skip("python3-protobuf is not installed")
elif "cannot write protobuf records from JSON" in err:
    tap.ok(rc == 2, "this build's protobuf serializer has no from_json: said before any input "
           "(%s)" % err.strip())
else:
    # the serializer registers orders-value on its first call
    want = ProtobufSerializer(Order, SchemaRegistryClient({"url": URL}))(
        order, SerializationContext("orders", MessageField.VALUE))
    topic("orders", "confluent.value.schema.validation=true")
    doc = formats.ORDER_JSON
    rc, out, err = odr(b, "produce", "orders", "--value-format", "protobuf", *REG,
                       input=json.dumps(doc) + "\n")
    tap.ok(rc == 0, "odr produce --value-format protobuf to a validated topic: %s" % err.strip())
    tap.is_([v for k, v in raw_records("orders")], [want],
            "the same bytes as ProtobufSerializer: magic 0, id, message index [0], the message")
    rc, out, err = odr(b, "consume", "orders", "-e", "--value-format", "protobuf", "--output",
                       "json", *REG)
    tap.is_([r["value"] for r in json_lines(out)], [doc], "odr consume shows it back")
    rc, out, err = odr(b, "produce", "orders", "--value-format", "protobuf", *REG,
                       input=json.dumps(dict(doc, qty=[1, "x"])) + "\n")
    tap.ok(rc == 2 and "line 1: $.qty[1]" in err, "a wrong type in a repeated field is named: %s"
           % err.strip())
    # another message type of the file, named by Confluent's message indexes [0, 0]: as
    # Java's serializer writes them, zigzag varints (count 2 = 04); confluent_kafka 1.7
    # writes the unsigned form its later versions call use.deprecated.format
    oid = int.from_bytes(want[1:5], "big")
    want = bytes([0]) + oid.to_bytes(4, "big") + b"\x04\x00\x00" + \
        Item(price=1.5).SerializeToString()
    rc, out, err = odr(b, "produce", "orders", "--value-format", "protobuf", "--value-message",
                       "shop.Order.Item", *REG, input='{"price": 1.5}\n')
    tap.ok(rc == 0, "--value-message shop.Order.Item: %s" % err.strip())
    tap.is_([v for k, v in raw_records("orders")][-1:], [want],
            "--value-message: magic 0, the id, indexes [0, 0], the nested type's message")
    rc, out, err = odr(b, "consume", "orders", "-e", "--value-format", "protobuf", "--output",
                       "json", *REG)
    tap.is_([r["value"] for r in json_lines(out)][-1:], [{"price": 1.5}],
            "odr consume reads the nested type by its indexes")
    rc, out, err = odr(b, "produce", "orders", "--value-format", "protobuf", "--value-message",
                       "shop.Nope", *REG, input='{}\n')
    tap.ok(rc == 2 and "line 1: message type shop.Nope is not in the schema" in err,
           "an unknown message type is named: %s" % err.strip())

# usage
for args, want in [(["--value-format", "yaml"], "unknown format 'yaml'"),
                   (["--value-format", "int", "--value-schema-id", "1"], "takes no schema"),
                   (["--value-schema-id", "1"], "need --value-format"),
                   (["--value-format", "avro", "--value-schema-id", "1", "--value-subject", "s"],
                    "exclude each other"),
                   (["--key-format", "avro", "--key-schema-id", "x"], "takes a schema id"),
                   (["--value-format", "avro", "--value-message", "a.B"],
                    "needs --value-format protobuf")]:
    rc, out, err = odr(b, "produce", "empty", *args, input="")
    tap.ok(rc == 2 and want in err, "usage: %s: %s" % (" ".join(args), err.strip()))

tap.is_(b.sanitizer_reports(), [], "no sanitizer reports")
sys.exit(odtest.finish())
