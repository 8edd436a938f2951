#!/usr/bin/python3
"""bench-validate.py - records/s of produce with and without broker-side
schema validation (doc/serializers.md), in one run on one odradekd
(ODRADEK_BUILD as for the tests) on 127.0.0.1: batches of 1000 records of
about 100 bytes each, uncompressed, sent back to back on one connection, to
  - plain:      no validation
  - json-raw:   odradek.value.serializer=json, no subject (a JSON syntax check)
  - json-reg:   Confluent wire format, a JSON schema with properties/required
  - avro-reg:   Confluent wire format, an Avro record schema
  - proto-reg:  Confluent wire format, a protobuf message type (python3-protobuf
                builds its FileDescriptorProto; skipped without it)
Prints records/s and the ratio to plain for each.
Usage: ODRADEK_BUILD=_build-o2 python3 scripts/bench-validate.py [batches]"""
import io
import json
import os
import sys
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "t", "lib"))
import odtest  # noqa: E402

NB = int(sys.argv[1]) if len(sys.argv) > 1 else 200
reg_port = odtest.free_port()
URL = "http://127.0.0.1:%d" % reg_port
b = odtest.Broker(sets={"schema.registry.listener": URL}).start()


def register(subject, schema, stype):
    body = json.dumps({"schema": json.dumps(schema), "schemaType": stype}).encode()
    rq = urllib.request.Request(URL + "/subjects/%s/versions" % subject, data=body, method="POST",
                                headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(rq, timeout=10) as r:
        return json.loads(r.read())["id"]


JS = {"type": "object", "required": ["id", "name"], "properties": {
    "id": {"type": "integer", "minimum": 0}, "name": {"type": "string", "maxLength": 64},
    "tags": {"type": "array", "items": {"type": "string"}}}}
AV = {"type": "record", "name": "Rec", "fields": [
    {"name": "id", "type": "long"}, {"name": "name", "type": "string"},
    {"name": "tags", "type": {"type": "array", "items": "string"}}]}
js_id = register("json-reg-value", JS, "JSON")
av_id = register("avro-reg-value", AV, "AVRO")
try:
    import base64
    from google.protobuf import descriptor_pb2
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="rec.proto", package="b", syntax="proto3")
    m = fdp.message_type.add(name="Rec")
    m.field.add(name="id", number=1, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    m.field.add(name="name", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    m.field.add(name="tags", number=3, type=F.TYPE_STRING, label=F.LABEL_REPEATED)
    pb_schema = base64.standard_b64encode(fdp.SerializeToString()).decode()
    body = json.dumps({"schema": pb_schema, "schemaType": "PROTOBUF"}).encode()
    rq = urllib.request.Request(URL + "/subjects/proto-reg-value/versions", data=body,
                                method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(rq, timeout=10) as r:
        pb_id = json.loads(r.read())["id"]
except ImportError:
    pb_id = None
on = {"confluent.value.schema.validation": "true"}
with odtest.Conn(b.port) as c:
    odtest.create_topics(c, [("plain", 1, 1), ("json-raw", 1, 1, dict(on, **{
        "odradek.value.serializer": "json"})), ("json-reg", 1, 1, on), ("avro-reg", 1, 1, on),
        ("proto-reg", 1, 1, on)])


def zz(n):
    return (n << 1) ^ (n >> 63)


def avro_long(n):
    v, out = zz(n), b""
    while True:
        if v < 0x80:
            return out + bytes([v])
        out += bytes([(v & 0x7f) | 0x80])
        v >>= 7


def avro_str(s):
    return avro_long(len(s)) + s


def value(kind, i):
    name = b"user-%06d-padding-padding" % i
    doc = json.dumps({"id": i, "name": name.decode(), "tags": ["a", "bb", "ccc"]}).encode()
    if kind == "json-reg":
        return bytes([0]) + js_id.to_bytes(4, "big") + doc
    if kind == "avro-reg":
        datum = (avro_long(i) + avro_str(name) + avro_long(3) + avro_str(b"a") +
                 avro_str(b"bb") + avro_str(b"ccc") + avro_long(0))
        return bytes([0]) + av_id.to_bytes(4, "big") + datum + b"\x00" * 0
    if kind == "proto-reg":
        def pb_str(f, v):
            return bytes([f << 3 | 2]) + uvarint(len(v)) + v
        msg = bytes([0x08]) + uvarint(i) + pb_str(2, name) + b"".join(
            pb_str(3, t) for t in (b"a", b"bb", b"ccc"))
        return bytes([0]) + pb_id.to_bytes(4, "big") + b"\x00" + msg
    return doc


def uvarint(v):
    out = b""
    while True:
        if v < 0x80:
            return out + bytes([v])
        out += bytes([(v & 0x7f) | 0x80])
        v >>= 7


results = {}
kinds = ["plain", "json-raw", "json-reg", "avro-reg"] + (["proto-reg"] if pb_id else [])
for kind in kinds:
    src = "json-raw" if kind == "plain" else kind
    bt = odtest.build_batch([(None, value(src, i)) for i in range(1000)])
    with odtest.Conn(b.port) as c:
        assert odtest.produce(c, {(kind, 0): bt})[(kind, 0)][0] == 0, kind
        t0 = time.perf_counter()
        for _ in range(NB):
            assert odtest.produce(c, {(kind, 0): bt})[(kind, 0)][0] == 0
        dt = time.perf_counter() - t0
    results[kind] = NB * 1000 / dt
    print("produce %-9s: %8.0f records/s (%d batches of 1000, %d bytes each)"
          % (kind, results[kind], NB, len(bt)))
for kind in kinds[1:]:
    print("ratio %-9s / plain: %.2f" % (kind, results[kind] / results["plain"]))
b.stop()
