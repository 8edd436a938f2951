#!/usr/bin/python3
# `odr consume --value-format/--key-format` (cli/odr_decode.c): records
# produced in Confluent's wire format - Avro (python3-avro encodes), JSON
# (confluent_kafka's JSONSerializer), Protobuf (ProtobufSerializer) - and Kafka's own int/long/double/string
# serdes are printed as JSON, the schemas fetched by id from the broker's
# schema registry (schema.registry.listener) with --registry; --output json
# embeds the decoded value, -f prints it indented. A record that does not
# decode is reported on stderr and skipped, an unknown id names the id, an
# unknown format is a usage error.
import io
import json
import os
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
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.json_schema import JSONSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    import avro.io
    import avro.schema
except ImportError as e:
    tap.skip_all("clients missing: %s" % e)

tmp, URL, b = formats.registry_broker("odrfmt", 180)
sr = SchemaRegistryClient({"url": URL})

AVSC = formats.USER_AVSC
av_id = sr.register_schema("users-value", Schema(json.dumps(AVSC), "AVRO"))
JS = {"title": "Thing", "type": "object", "properties": {"name": {"type": "string"}},
      "required": ["name"]}
js_id = sr.register_schema("things-value", Schema(json.dumps(JS), "JSON"))


def avro_wire(sid, schema, datum):
    w = io.BytesIO()
    avro.io.DatumWriter(avro.schema.parse(json.dumps(schema))).write(datum,
                                                                     avro.io.BinaryEncoder(w))
    return bytes([0]) + sid.to_bytes(4, "big") + w.getvalue()


def produce(topic, records):
    pr = ck.Producer(odtest.ck_conf(b.bootstrap, **{"linger.ms": 0}), logger=odtest.RdLog())
    for k, v in records:
        pr.produce(topic, key=k, value=v, partition=0)
    tap.is_(pr.flush(30), 0, "%d records produced to %s" % (len(records), topic))


ann = {"name": "ann", "age": 33, "email": None, "tags": ["x", "y"], "score": 1.5, "kind": "B",
       "attrs": {"logins": 7}}
bob = {"name": "bob", "age": -4, "email": "bob@example.com", "tags": [], "score": -0.25,
       "kind": "A", "attrs": {}}
produce("users", [(struct.pack(">i", 1), avro_wire(av_id, AVSC, ann)),
                  (struct.pack(">i", 2), avro_wire(av_id, AVSC, bob)),
                  (None, b"not the wire format")])
rc, out, err = odr(b, "consume", "users", "-e", "--registry", URL, "--value-format", "avro",
                   "--key-format", "int", "--output", "json")
rows = json_lines(out)
tap.is_(rc, 0, "odr consume --value-format avro --key-format int exits 0")
tap.is_([r["key"] for r in rows], [1, 2], "int keys as JSON numbers")
tap.is_(rows[0]["value"] if rows else None,
        dict(ann, email=None), "the Avro record as a JSON object (null union branch: null)")
tap.is_(rows[1]["value"] if len(rows) > 1 else None, dict(bob, email={"string": "bob@example.com"}),
        "a non-null union branch in Avro's JSON encoding")
tap.like(err, r"offset 2: not in the schema registry's wire format",
         "a record that is not in the wire format is reported with its offset")
tap.is_(list(rows[0]["value"]) if rows else None, [f["name"] for f in AVSC["fields"]],
        "fields in schema order")

profile = os.path.join(tmp, "profile")
with open(profile, "w") as f:
    f.write("schema.registry.url=%s\n" % URL)
rc, out, err = odr(b, "consume", "users", "-e", "--num", "1", "--value-format", "avro",
                   env={"ODR_PROFILE": profile})
tap.ok(rc == 0 and out.startswith('{\n  "name": "ann",\n  "age": 33,'),
       "without --output json the value prints indented; the registry from the profile")

ser = JSONSerializer(json.dumps(JS), sr)
ctx = SerializationContext("things", MessageField.VALUE)
produce("things", [(None, ser({"name": "lamp", "watts": 40}, ctx)), (None, b'{"plain": [1, 2]}'),
                   (None, bytes([0]) + (9999).to_bytes(4, "big") + b"{}")])
rc, out, err = odr(b, "consume", "things", "-e", "--registry", URL, "--value-format", "json",
                   "--output", "json")
tap.is_([r["value"] for r in json_lines(out)], [{"name": "lamp", "watts": 40}, {"plain": [1, 2]}],
        "JSON: wire format by schema id, and plain JSON without the magic byte")
tap.like(err, r"schema id 9999", "an id the registry does not know is named")

produce("nums", [(b"k", struct.pack(">q", -(1 << 40))), (b"k", struct.pack(">d", 2.75))])
rc, out, err = odr(b, "consume", "nums", "-e", "--num", "1", "--value-format", "long",
                   "--key-format", "string", "--output", "json")
tap.is_([(r["key"], r["value"]) for r in json_lines(out)], [("k", -(1 << 40))],
        "long values and string keys")
rc, out, err = odr(b, "consume", "nums", "-e", "--offset", "1", "--value-format", "double",
                   "--output", "json")
tap.is_([r["value"] for r in json_lines(out)], [2.75], "double values")
rc, out, err = odr(b, "consume", "nums", "-e", "--value-format", "int", "--output", "json")
tap.ok(rc == 0 and json_lines(out) == [] and "an int must be 4 bytes" in err,
       "8-byte values as int: each reported, none printed")

try:
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
    Order, Item, order = formats.shop_order_types()
except ImportError:
    ProtobufSerializer = None
if ProtobufSerializer:
    pser = ProtobufSerializer(Order, sr)
    pctx = SerializationContext("orders", MessageField.VALUE)
    produce("orders", [(None, pser(order, pctx))])
    rc, out, err = odr(b, "consume", "orders", "-e", "--registry", URL, "--value-format",
                       "protobuf", "--output", "json")
    tap.is_([r["value"] for r in json_lines(out)], [formats.ORDER_JSON],
            "Protobuf by the registry's descriptor: proto3 JSON (64-bit as strings, bytes "
            "base64, packed repeated as arrays)")
else:
    tap.skip("python3-protobuf is not installed")

rc, out, err = odr(b, "consume", "users", "-e", "--value-format", "yaml")
tap.ok(rc == 2 and "unknown format 'yaml'" in err and "avro" in err,
       "an unknown format is a usage error listing the known ones")
rc, out, err = odr(b, "consume", "users", "-e", "--registry", URL, "--value-format", "json")
tap.like(err, r"schema id %d is AVRO, not JSON" % av_id, "a schema of another type is named")
tap.is_(b.sanitizer_reports(), [], "no sanitizer reports")
sys.exit(odtest.finish())
