#!/usr/bin/python3
# kafkajs (an independent JavaScript client) manages ACLs: createAcls,
# describeAcls (ANY and MATCH filters), deleteAcls, and a bad principal
# refused with INVALID_REQUEST, against the ACL authorizer with the client
# a super user.
import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
import acl  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
node_dir = os.path.join(here, "node")
if not shutil.which("node"):
    tap.skip_all("node is not installed")
if not os.path.isdir(os.path.join(node_dir, "node_modules", "kafkajs")):
    tap.skip_all("kafkajs is not installed (scripts/setup.sh runs npm install in t/node)")

odtest.watchdog(180)
b = acl.broker(sets={"super.users": "User:ANONYMOUS"}).start()
proc = subprocess.run(["node", os.path.join(node_dir, "kafkajs-acl.js"), b.bootstrap],
                      capture_output=True, text=True, timeout=120)
try:
    out = json.loads(proc.stdout.strip().splitlines()[-1])
except (ValueError, IndexError):
    out = {"error": "no JSON from node: %r %r" % (proc.stdout[-500:], proc.stderr[-500:])}
tap.ok("error" not in out, "kafkajs run finished: %s" % out.get("error", "ok")[:300])
tap.ok(out.get("created") is True, "createAcls of two bindings")
desc = sorted((r["type"], r["name"], r["pattern"], r["acls"]) for r in out.get("described", []))
tap.is_(desc, sorted([(acl.R_TOPIC, "js-topic", acl.P_LITERAL,
                       [["User:js", "*", acl.READ, acl.ALLOW]]),
                      (acl.R_GROUP, "js-", acl.P_PREFIXED, [["User:js", "*", acl.ALL, acl.DENY]])]),
        "describeAcls (ANY): both, grouped by resource")
tap.is_(out.get("matched"), ["js-"], "describeAcls MATCH js-consumers: the prefixed group binding")
tap.is_(out.get("deleted"), [[0, 1]], "deleteAcls of the topic bindings: one matched")
tap.is_(out.get("left"), ["js-"], "the group binding is left")
tap.ok(out.get("bad") not in (None, "accepted"),
       "a principal without a type is refused (%s)" % out.get("bad"))
sys.exit(odtest.finish())
