#!/usr/bin/python3
# kafkajs through broker-side validation: a JSON schema registered over the
# registry's REST API, a topic with confluent.value.schema.validation=true,
# kafkajs batches in Confluent's wire format. A batch that fits is appended;
# a batch with one record missing a required field is refused whole with
# INVALID_RECORD (nothing of it appended), as is a value without the wire
# format; kafka-python reads back exactly the accepted batch.
import json
import os
import shutil
import subprocess
import sys
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
if not shutil.which("node") or not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "kafkajs")):
    tap.skip_all("kafkajs is not installed (t/node: npm install)")
try:
    import kafka
except ImportError as e:
    tap.skip_all("client library missing: %s" % e)
odtest.watchdog(180)
tmp = odtest.scratch("schema-kafkajs")
URL = "http://127.0.0.1:%d" % odtest.free_port()
b = odtest.Broker(tmp=tmp, sets={"schema.registry.listener": URL}).start()

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
          "required": ["name"]}
body = json.dumps({"schemaType": "JSON", "schema": json.dumps(SCHEMA)}).encode()
req = urllib.request.Request(URL + "/subjects/js-value/versions", data=body, method="POST",
                             headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
with urllib.request.urlopen(req, timeout=10) as r:
    sid = json.loads(r.read())["id"]
tap.ok(sid > 0, "the JSON schema is registered (id %d)" % sid)
with odtest.Conn(b.port) as c:
    res = odtest.create_topics(c, [("js", 1, 1, {"confluent.value.schema.validation": "true"})])
tap.is_(res, {"js": 0}, "topic js validates its values")

proc = subprocess.run(["node", os.path.join(NODE_DIR, "kafkajs-schema.js"), b.bootstrap,
                       str(sid)], capture_output=True, text=True, timeout=120)
try:
    js = json.loads(proc.stdout.strip().splitlines()[-1])
except (ValueError, IndexError):
    js = {"error": "no JSON from node: %r %r" % (proc.stdout[-300:], proc.stderr[-300:])}
tap.ok("error" not in js, "the kafkajs script ran") or tap.diag(repr(js))
tap.is_(js.get("good", {}).get("error"), 0, "kafkajs: a batch of 10 valid records is appended")
tap.is_(js.get("missing", {}).get("error"), "INVALID_RECORD",
        "kafkajs: a batch with one record missing 'name' is refused with INVALID_RECORD")
tap.is_(js.get("plain", {}).get("error"), "INVALID_RECORD",
        "kafkajs: a value without the wire format is refused with INVALID_RECORD")

with odtest.Conn(b.port) as c:
    end = odtest.list_offsets(c, {("js", 0): -1})[("js", 0)][2]
tap.is_(end, 10, "only the valid batch was appended (log end 10)")
cons = kafka.KafkaConsumer("js", bootstrap_servers=b.bootstrap, auto_offset_reset="earliest",
                           consumer_timeout_ms=5000, api_version=(2, 8))
vals = [m.value for m in cons]
cons.close()
tap.is_([json.loads(v[5:])["name"] for v in vals], ["js-%d" % i for i in range(10)],
        "kafka-python reads back the ten accepted values, in order")
tap.ok(all(v[:5] == bytes([0]) + sid.to_bytes(4, "big") for v in vals),
       "each stored value kept its wire-format prefix")
b.stop()
tap.done()
