#!/usr/bin/python3
# Hostile input to the schema registry and to broker-side validation: raw
# HTTP (a body larger than the limit, a body that is not JSON, a schema
# nested 500 deep, an unsupported type, bad versions and paths, garbage);
# bad schema.files stop the start naming the file; records nested deeper than
# the limit, a large valid record, Avro counts and lengths past the record.
# The broker keeps answering throughout. Then the `odr schema` commands and
# kafka-python against a validating topic.
import json
import os
import socket
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

odtest.watchdog(240)
tmp = odtest.scratch("schema-hostile")
BUILD = odtest.find_build()
ODRADEKD = os.path.join(BUILD, "odradekd")
ODR = os.path.join(BUILD, "odr")


def base_sets(data):
    return ["--set", "module.dir=" + os.path.join(BUILD, ".libs"),
            "--set", "listeners=PLAINTEXT://127.0.0.1:%d" % odtest.free_port(),
            "--set", "log.dirs=" + data, "--set", "node.id=1"]


# ---- schema.files errors stop the start ----
bad_avsc = os.path.join(tmp, "bad.avsc")
with open(bad_avsc, "w") as f:
    f.write('{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nosuch"}]}')
for name, files, want in (
        ("missing file", "s-value=" + os.path.join(tmp, "nope.avsc"), "nope.avsc"),
        ("bad schema", "s-value=" + bad_avsc, "bad.avsc"),
        ("no extension", "s-value=" + os.path.join(tmp, "x.txt"), r"\.avsc"),
        ("no subject", "=" + bad_avsc, "subject=path")):
    rc, out, err = odtest.run([ODRADEKD] + base_sets(os.path.join(tmp, "d-" + name[:4])) +
                              ["--set", "schema.files=" + files], timeout=20)
    text = (out + err).decode(errors="replace")
    tap.ok(rc not in (0, None), "schema.files with a %s: the start stops (rc %s)" % (name, rc))
    tap.like(text, want, "and the message names it")

reg_port = odtest.free_port()
URL = "http://127.0.0.1:%d" % reg_port
b = odtest.Broker(tmp=tmp, sets={"schema.registry.listener": URL}).start()


def raw_http(data, read=True):
    s = socket.create_connection(("127.0.0.1", reg_port), timeout=10)
    got = b""
    try:
        s.sendall(data)
        if not read:
            return b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got
    except (ConnectionResetError, BrokenPipeError):
        return got if read else b""
    finally:
        s.close()


def req(method, path, body=None):
    data = body.encode() if isinstance(body, str) else (body or b"")
    head = ("%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
            % (method, path, len(data))).encode()
    resp = raw_http(head + data)
    status = int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/1.1 ") else None
    bodytxt = resp.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in resp else b""
    try:
        return status, json.loads(bodytxt)
    except ValueError:
        return status, bodytxt


# the head announces 3 MiB: the answer comes before any of the body is read
# (sending it all would race the server closing after its drain limit)
resp = raw_http(b"POST /subjects/x-value/versions HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: 3145728\r\n\r\n" + b"x" * 1000)
tap.like(resp.decode(errors="replace"), r"^HTTP/1.1 413", "a 3 MiB body: 413")
st, j = req("POST", "/subjects/x-value/versions", "{not json")
tap.is_((st, j.get("error_code")), (422, 42201), "a body that is not JSON: 42201")
deep = '{"type":"array","items":' * 500 + '"int"' + "}" * 500
st, j = req("POST", "/subjects/x-value/versions", json.dumps({"schema": deep}))
tap.is_((st, j.get("error_code")), (422, 42201), "an Avro schema nested 500 deep: 42201")
tap.like(j.get("message", ""), "deeper", "its message says why: %s" % j.get("message"))
jdeep = '{"items":' * 500 + "{}" + "}" * 500
st, j = req("POST", "/subjects/x-value/versions", json.dumps({"schema": jdeep,
                                                              "schemaType": "JSON"}))
tap.is_(j.get("error_code"), 42201, "a JSON schema nested 500 deep: 42201")
st, j = req("POST", "/subjects/x-value/versions", json.dumps({"schema": "syntax = 'proto3';",
                                                              "schemaType": "PROTOBUF"}))
tap.is_(j.get("error_code"), 42201, "PROTOBUF as .proto text: 42201 (only base64 descriptors are read)")
st, j = req("POST", "/subjects/x-value/versions", json.dumps(
    {"schema": '{"type":"object","$ref":"#/x"}', "schemaType": "JSON"}))
tap.like(j.get("message", ""), r"\$ref", "a JSON schema with $ref is refused naming the keyword")
st, j = req("GET", "/subjects/x-value/versions/abc")
tap.is_(j.get("error_code"), 42202, "version 'abc': 42202")
st, j = req("GET", "/no/such/path")
tap.is_(st, 404, "an unknown path: 404")
st, j = req("GET", "/subjects/%zz/versions")
tap.is_(st, 404, "a malformed escape in the path: 404")
resp = raw_http(b"\x00\x01garbage\r\n\r\n")
tap.like(resp.decode(errors="replace"), r"^HTTP/1.1 400", "garbage: 400")
st, j = req("PUT", "/config", json.dumps({"compatibility": "SIDEWAYS"}))
tap.is_(j.get("error_code"), 42203, "an unknown compatibility level: 42203")
st, j = req("POST", "/subjects/a%2Fb-value/versions", json.dumps({"schema": '"string"'}))
tap.ok(st == 200 and j.get("id", 0) > 0, "a subject with an escaped '/' registers")
st, j = req("GET", "/subjects")
tap.ok(st == 200 and "a/b-value" in j, "and is listed decoded")
st, j = req("POST", "/subjects/%ff-value/versions", json.dumps({"schema": '"string"'}))
tap.is_(j.get("error_code") if isinstance(j, dict) else None, 42201,
        "a subject that is not UTF-8: 42201")
# many idle connections do not stop the registry from answering
idle = [socket.create_connection(("127.0.0.1", reg_port)) for _ in range(40)]
for s in idle:
    s.close()
st, j = req("GET", "/subjects")
tap.is_(st, 200, "after 40 connections opened and dropped the registry still answers")

# ---- hostile records ----
AVSC = {"type": "record", "name": "L", "fields": [{"name": "next", "type": ["null", "L"]}]}
st, j = req("POST", "/subjects/av-value/versions", json.dumps({"schema": json.dumps(AVSC)}))
av_id = j.get("id", 0)
tap.ok(av_id > 0, "a recursive Avro schema registers")
with odtest.Conn(b.port) as c:
    res = odtest.create_topics(c, [
        ("av", 1, 1, {"confluent.value.schema.validation": "true"}),
        ("js", 1, 1, {"confluent.value.schema.validation": "true",
                      "odradek.value.serializer": "json", "max.message.bytes": "4000000"}),
        ("st", 1, 1, {"confluent.value.schema.validation": "true",
                      "odradek.value.serializer": "string"})])
tap.is_(res, {"av": 0, "js": 0, "st": 0}, "topics created")


def one(topic, value):
    """Produce one record; the partition's error code."""
    with odtest.Conn(b.port) as c:
        r = odtest.produce(c, {(topic, 0): odtest.build_batch([(None, value)])})
    return r[(topic, 0)][0]


wire = bytes([0]) + av_id.to_bytes(4, "big")
tap.is_(one("av", wire + b"\x02" * 3 + b"\x00"), 0, "a short chain of the recursive type passes")
tap.is_(one("av", wire + b"\x02" * 5000 + b"\x00"), odtest.INVALID_RECORD,
        "a chain 5000 deep: INVALID_RECORD (depth limit), no crash")
tap.is_(one("av", wire + b"\x04"), odtest.INVALID_RECORD, "a union branch past the union")
tap.is_(one("js", b"[" * 100000 + b"]" * 100000), odtest.INVALID_RECORD,
        "a JSON value nested 100000 deep: INVALID_RECORD")
big = json.dumps({"k%d" % i: "v" * 50 for i in range(40000)}).encode()
tap.is_(one("js", big), 0, "a valid %d-byte JSON record passes" % len(big))
tap.is_(one("st", b"caf\xc3\xa9"), 0, "string: UTF-8 passes")
tap.is_(one("st", b"\xc0\xaf"), odtest.INVALID_RECORD, "string: an overlong form is refused")
with odtest.Conn(b.port) as c:
    tap.ok(odtest.list_offsets(c, {("av", 0): -1})[("av", 0)][2] == 1,
           "only the good Avro record was appended")

# ---- odr schema ----
schema_file = os.path.join(tmp, "user.avsc")
with open(schema_file, "w") as f:
    json.dump({"type": "record", "name": "U", "fields": [{"name": "a", "type": "int"}]}, f)
env = dict(os.environ, ODR_SCHEMA_REGISTRY=URL)
rc, out, err = odtest.run([ODR, "schema", "register", "u-value", schema_file], env=env)
tap.is_((rc, out.decode().startswith("registered u-value: id ")), (0, True),
        "odr schema register: %s" % (out + err).decode().strip())
rc, out, err = odtest.run([ODR, "schema", "list"], env=env)
tap.ok(rc == 0 and "u-value" in out.decode().split("\n"), "odr schema list")
rc, out, err = odtest.run([ODR, "schema", "get", "u-value", "--registry", URL])
tap.ok(rc == 0 and "version: 1" in out.decode() and '"name":"U"' in out.decode(),
       "odr schema get SUBJECT")
rc, out, err = odtest.run([ODR, "-o", "json", "schema", "get", "u-value"], env=env)
tap.is_((rc, json.loads(out).get("subject") if rc == 0 else None), (0, "u-value"),
        "odr -o json schema get")
rc, out, err = odtest.run([ODR, "schema", "get", "nosuch-value"], env=env)
tap.is_(rc, 1, "odr schema get of an unknown subject exits 1")
tap.like(err.decode(), "40401", "naming the registry's error code")
rc, out, err = odtest.run([ODR, "schema", "list", "--registry",
                           "http://127.0.0.1:%d" % odtest.free_port()])
tap.is_(rc, 3, "an unreachable registry exits 3")
rc, out, err = odtest.run([ODR, "schema", "register", "u-value", schema_file, "--type", "XML"],
                          env=env)
tap.is_(rc, 2, "a bad --type is a usage error")

# ---- kafka-python ----
try:
    import kafka
except ImportError:
    kafka = None
if kafka is None:
    tap.skip("kafka-python missing", 2)
else:
    p = kafka.KafkaProducer(bootstrap_servers=b.bootstrap, retries=0, api_version=(2, 5))
    ok = p.send("js", b'{"fine": true}', partition=0).get(timeout=30)
    tap.ok(ok.offset >= 0, "kafka-python: a JSON record is appended")
    try:
        p.send("js", b"{nope", partition=0).get(timeout=30)
        tap.ok(False, "kafka-python: a broken record fails")
    except kafka.errors.KafkaError as e:
        # kafka-python 2.0.2 predates error 87 (INVALID_RECORD) and maps it
        # to UnknownError; the point is that the send fails, not retried.
        tap.like(type(e).__name__, r"^(InvalidRecordError|UnknownError)$",
                 "kafka-python: a broken record fails (%r)" % e)
    p.close()
tap.ok(b.running(), "the broker is still running")
odtest.finish()
