#!/usr/bin/python3
# kill -9 of partition leaders in a 3-node cluster while clients produce and consume:
# scripts/chaos-kill.py (run it longer by hand: --kills 50). Here with a count that keeps
# the test within a few minutes (ODTEST_CHAOS_KILLS to change it); each round waits for
# conditions (a new leader, acks=all again, the node back in every ISR), never for time.
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "600")))
kills = int(os.environ.get("ODTEST_CHAOS_KILLS", "20"))
script = os.path.join(odtest.TOP, "scripts", "chaos-kill.py")
env = dict(os.environ, ODRADEK_BUILD=odtest.find_build())
p = subprocess.run([sys.executable, script, "--kills", str(kills), "--json"], env=env,
                   capture_output=True, text=True, timeout=580)
try:
    r = json.loads(p.stdout[p.stdout.index("{"):p.stdout.rindex("}") + 1])
except ValueError:
    tap.ok(False, "chaos-kill.py printed its summary")
    for ln in (p.stdout + p.stderr).splitlines()[-60:]:
        tap.diag(ln)
    sys.exit(odtest.finish())
tap.diag("seed %s (re-run: scripts/chaos-kill.py --kills %d --seed %s)" % (r["seed"], kills, r["seed"]))
for k in r.get("kills", []):
    tap.diag("round %(round)d: node %(node)d led partition %(partition)d; acks=all again after "
             "%(acks_again_s)s s" % k)
if "error" in r:
    tap.diag("error: " + r["error"])
    for nid, lines in r.get("logs", {}).items():
        for ln in lines:
            tap.diag("node%s: %s" % (nid, ln))
for ln in r.get("consumer_log", []):
    tap.diag("group consumer: " + ln)
tap.is_(len(r.get("kills", [])), kills, "%d leaders killed with -9, each replaced" % kills)
tap.ok(r.get("acked_librdkafka", 0) > 0 and r.get("acked_kafka_python", 0) > 0,
       "both producers had writes acknowledged (%s librdkafka, %s kafka-python)"
       % (r.get("acked_librdkafka"), r.get("acked_kafka_python")))
tap.is_(r.get("lost_acknowledged"), 0, "no acknowledged record lost")
tap.is_(r.get("duplicate_values"), 0, "no record twice (librdkafka idempotent, kafka-python without retries)")
tap.is_(r.get("dense_offsets"), True, "offsets dense: none handed out twice, none skipped")
tap.is_(r.get("librdkafka_in_order"), True, "librdkafka's records in send order per partition")
tap.is_(r.get("group_offsets_backwards"), 0, "the group consumer never went back behind its commits")
tap.is_(r.get("group_committed_lost"), [], "the group's committed offsets survived the coordinator moves")
tap.ok(r.get("consumed_by_group", 0) > 0, "the group consumed %s records meanwhile" % r.get("consumed_by_group"))
tap.is_(p.returncode, 0, "chaos-kill.py exits 0")
sys.exit(odtest.finish())
