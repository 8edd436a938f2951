#!/usr/bin/python3
# kafkajs (an independent JavaScript client) against a real odradekd:
# create topics, metadata, describeCluster, produce with acks=-1 and gzip,
# topic offsets, delete. kafkajs has no assign(): consuming needs consumer
# groups, which come with the consumer-group issue.
import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
node_dir = os.path.join(here, "node")
if not shutil.which("node"):
    tap.skip_all("node is not installed")
if not os.path.isdir(os.path.join(node_dir, "node_modules", "kafkajs")):
    # scripts/setup.sh installs it; try once here for a bare checkout.
    subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=node_dir,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180)
if not os.path.isdir(os.path.join(node_dir, "node_modules", "kafkajs")):
    tap.skip_all("kafkajs is not installed (npm install in t/node failed)")

odtest.watchdog(180)
b = odtest.Broker().start()
proc = subprocess.run(["node", os.path.join(node_dir, "kafkajs-roundtrip.js"), b.bootstrap],
                      capture_output=True, text=True, timeout=120)
try:
    out = json.loads(proc.stdout.strip().splitlines()[-1])
except (ValueError, IndexError):
    out = {"error": "no JSON from node: %r %r" % (proc.stdout[-500:], proc.stderr[-500:])}

tap.ok("error" not in out, "kafkajs run finished: %s" % out.get("error", "ok"))
tap.is_(out.get("created"), True, "createTopics creates js-orders")
tap.is_(out.get("createdAgain"), False, "createTopics of an existing topic reports not created")
tap.is_(out.get("partitions"), 3, "fetchTopicMetadata shows 3 partitions")
tap.is_(out.get("brokers"), 1, "describeCluster shows one broker")
tap.is_(out.get("controller"), 1, "describeCluster names node 1 as controller")
produced = sorted(out.get("produced") or [], key=lambda r: r["partition"])
tap.is_([(r["partition"], r["error"], r["base"]) for r in produced],
        [(0, 0, "0"), (1, 0, "0"), (2, 0, "0")], "send() to 3 partitions: no errors, base offsets 0")
offsets = sorted(out.get("offsets") or [], key=lambda r: r["partition"])
counts = [int(o["high"]) - int(o["low"]) for o in offsets]
tap.is_(counts, [667, 667, 666], "fetchTopicOffsets: every message is stored (2000 over 3 partitions)")
tap.ok(b.running(), "broker still running")
b.stop()
tap.ok(not b.sanitizer_reports(), "no sanitizer reports in the broker log")
odtest.finish()
