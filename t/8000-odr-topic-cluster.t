#!/usr/bin/python3
# The odr command line against a real broker: topic and cluster commands,
# their --output json shapes, the profile file and -X, and the exit codes a
# script relies on: 0 ok, 1 Kafka error (with the error's name), 2 usage
# error, 3 brokers not reachable (quickly, with --timeout).
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
import odrcli  # noqa: E402
from odrcli import odr, odr_json  # noqa: E402

if not odrcli.available():
    tap.skip_all("odr not built (librdkafka-dev missing at configure time)")
odtest.watchdog(240)
b = odtest.Broker().start()

# ---- topic create / list / describe ----------------------------------------
rc, out, err = odr(b, "topic", "create", "orders", "-p", "3", "-c", "retention.ms=3600000")
tap.is_(rc, 0, "topic create: exit 0") or tap.diag(err)
tap.like(out, r"created topic orders \(3 partitions\)", "topic create says what it made")
doc = odr_json(b, "topic", "create", "payments", "-p", "2", "-r", "1")
tap.ok(doc == {"name": "payments", "partitions": 2, "replication_factor": 1},
       "topic create --output json: name, partitions, replication_factor") or tap.diag(doc)

rc, out, err = odr(b, "topic", "create", "orders", "-p", "3")
tap.is_(rc, 1, "creating an existing topic: exit 1")
tap.like(err, r"TOPIC_ALREADY_EXISTS: topic 'orders' already exists; use `odr topic describe orders`",
         "the error names TOPIC_ALREADY_EXISTS and says what to do")

lst = odr_json(b, "topic", "list")
names = sorted(t["name"] for t in lst or [])
tap.is_(names, ["orders", "payments"], "topic list --output json: the two topics, no internal ones")
tap.ok(lst and all(set(t) == {"name", "partitions", "replicas"} for t in lst),
       "topic list entries: name, partitions, replicas")
rc, out, _ = odr(b, "topic", "list")
tap.ok(rc == 0 and "orders" in out and "PARTITIONS" in out, "topic list as text: a table")

d = odr_json(b, "topic", "describe", "orders")
tap.ok(d is not None and set(d) == {"name", "partitions", "configs"} and d["name"] == "orders",
       "topic describe --output json: exactly name, partitions, configs") or tap.diag(d)
parts = d["partitions"] if d else []
tap.is_([p["partition"] for p in parts], [0, 1, 2], "three partitions in order")
tap.ok(all(set(p) == {"partition", "leader", "replicas", "isr"} and p["leader"] == 1 and
           p["replicas"] == [1] and p["isr"] == [1] for p in parts),
       "each partition: leader 1, replicas [1], isr [1]") or tap.diag(parts)
tap.is_(d["configs"].get("retention.ms") if d else None, "3600000",
        "configs hold the -c value given at creation")
tap.is_(d["configs"].get("cleanup.policy") if d else None, "delete", "and the defaults")

rc, out, err = odr(b, "topic", "describe", "nope")
tap.is_(rc, 1, "describing an unknown topic: exit 1")
tap.like(err, r"UNKNOWN_TOPIC_OR_PART.*topic 'nope' does not exist", "UNKNOWN_TOPIC_OR_PART, in words")

# ---- alter-config (IncrementalAlterConfigs, and AlterConfigs read-modify-write)
with odtest.Conn(b.port) as cn:
    apis = odtest.api_versions(cn, 0)["apis"]
for mode in ([], ["--no-incremental"]):
    how = "AlterConfigs" if mode or 44 not in apis else "IncrementalAlterConfigs"
    odr(b, "topic", "alter-config", "orders", "--set", "retention.ms=3600000", *mode)
    rc, out, err = odr(b, "topic", "alter-config", "orders", "--set", "cleanup.policy=compact",
                       "--set", "segment.ms=600000", *mode)
    tap.is_(rc, 0, "alter-config --set (%s): exit 0" % how) or tap.diag(err)
    c = (odr_json(b, "topic", "describe", "orders") or {}).get("configs", {})
    tap.ok(c.get("cleanup.policy") == "compact" and c.get("segment.ms") == "600000" and
           c.get("retention.ms") == "3600000",
           "both values set, the earlier override kept (%s)" % how) or tap.diag(c)
    rc, out, err = odr(b, "topic", "alter-config", "orders", "--delete", "retention.ms", *mode)
    c = (odr_json(b, "topic", "describe", "orders") or {}).get("configs", {})
    tap.ok(rc == 0 and c.get("retention.ms") == "604800000" and c.get("cleanup.policy") == "compact",
           "alter-config --delete: back to the default, the others stay (%s)" % how) \
        or tap.diag((err, c))
    rc, out, err = odr(b, "topic", "alter-config", "orders", "--set", "retention.ms=banana", *mode)
    tap.is_(rc, 1, "a bad config value: exit 1 (%s)" % how)
    tap.like(err, r"INVALID_CONFIG|INVALID_REQUEST", "the error names the Kafka error")
    odr(b, "topic", "alter-config", "orders", "--delete", "cleanup.policy", "--delete",
        "segment.ms", *mode)

rc, out, err = odr(b, "topic", "add-partitions", "orders", "-n", "5")
d = odr_json(b, "topic", "describe", "orders")
tap.ok(rc == 0 and d and len(d["partitions"]) == 5, "add-partitions -n 5: five partitions") or tap.diag(err)
rc, out, err = odr(b, "topic", "add-partitions", "orders", "-n", "4")
tap.is_(rc, 1, "fewer partitions than now: exit 1")
tap.like(err, r"INVALID_PARTITIONS", "INVALID_PARTITIONS named")

rc, out, err = odr(b, "topic", "delete", "payments")
tap.ok(rc == 0 and "deleted topic payments" in out, "topic delete") or tap.diag(err)
names = [t["name"] for t in odr_json(b, "topic", "list") or []]
tap.ok("payments" not in names, "the deleted topic is gone from the list")

# ---- cluster --------------------------------------------------------------
ci = odr_json(b, "cluster", "info")
tap.ok(ci is not None and ci["controller"] == 1 and ci["cluster_id"] and
       ci["brokers"] == [{"id": 1, "host": "127.0.0.1", "port": b.port}],
       "cluster info --output json: cluster id, controller, brokers") or tap.diag(ci)
for mode in ([], ["--no-incremental"]):
    incremental = not mode and 44 in apis
    where = "cluster" if incremental else "broker"
    rc, out, err = odr(b, "cluster", "config", "set", "log.retention.ms=7200000", *mode)
    tap.ok(rc == 0 and ("cluster default" if incremental else "1 broker") in out,
           "cluster config set %s: on the %s" % (" ".join(mode), where)) or tap.diag((err, out))
    g = odr_json(b, "cluster", "config", "get", "log.retention.ms")
    tap.ok(g and g["log.retention.ms"]["value"] == "7200000" and
           g["log.retention.ms"]["source"] == where,
           "cluster config get shows the value and its source (%s)" % where) or tap.diag(g)
    rc, out, err = odr(b, "cluster", "config", "delete", "log.retention.ms", *mode)
    g = odr_json(b, "cluster", "config", "get", "log.retention.ms")
    tap.ok(rc == 0 and g and g["log.retention.ms"]["source"] == "default",
           "cluster config delete: the override is gone (%s)" % where) or tap.diag((err, g))
rc, out, err = odr(b, "cluster", "config", "get", "no.such.key")
tap.ok(rc == 1 and "no.such.key" in err, "an unknown broker key: exit 1, named")

rc, out, err = odr(b, "cluster", "quorum", "--output", "json")
if 55 in apis:
    q = odrcli.json_lines(out) if rc == 0 else []
    tap.ok(rc == 0 and q and q[0]["leader"] == 1 and q[0]["voters"],
           "cluster quorum: DescribeQuorum answered (leader, voters)") or tap.diag((rc, err, out))
else:
    tap.ok(rc == 1 and "not supported by this broker" in err and "DescribeQuorum" in err,
           "cluster quorum on a broker without DescribeQuorum: exit 1, says so") or tap.diag(err)

# ---- usage errors: exit 2 and a message ------------------------------------
for args, pattern in [
    (["topic", "create", "x"], r"needs -p PARTITIONS"),
    (["topic", "create", "x", "-p", "zero"], r"-p takes a partition count"),
    (["topic", "frobnicate"], r"unknown topic subcommand 'frobnicate'"),
    (["topic", "list", "--bogus"], r"unknown option --bogus"),
    (["frob"], r"unknown command 'frob'"),
    (["produce"], r"produce takes one TOPIC"),
    (["consume", "t", "--offset", "sideways"], r"--offset takes oldest, newest"),
    (["produce", "t", "--partitioner", "nope"], r"unknown partitioner 'nope'"),
    (["--output", "yaml", "topic", "list"], r"--output takes text or json"),
    (["-X", "no.such.setting=1", "topic", "list"], r"No such configuration property"),
    (["group", "reset-offsets", "g", "--topic", "t"], r"--to-"),
    (["acl", "create", "--topic", "t"], r"acl create needs"),
]:
    rc, out, err = odr(b, *args)
    tap.ok(rc == 2 and __import__("re").search(pattern, err),
           "usage error %s: exit 2, message" % " ".join(args)) or tap.diag((rc, err))
rc, out, err = odr(None)
tap.ok(rc == 2 and "usage: odr" in err, "no command: usage on stderr, exit 2")
rc, out, err = odr(None, "--help")
tap.ok(rc == 0 and "exit codes" in out, "--help: usage on stdout, exit 0")
rc, out, err = odr(None, "topic", "create", "--help")
tap.ok(rc == 0 and "usage: odr topic create" in out, "a command's --help: exit 0")

# ---- unreachable brokers: exit 3, fast ---------------------------------------
dead = "127.0.0.1:%d" % odtest.free_port()
for args in (["topic", "list"], ["produce", "x"], ["consume", "x"], ["group", "list"],
             ["cluster", "quorum"]):
    t0 = time.monotonic()
    rc, out, err = odr(dead, "--timeout", "2", *args, input="a\n", timeout=30)
    took = time.monotonic() - t0
    tap.ok(rc == 3 and "cannot reach" in err, "%s with no broker: exit 3, 'cannot reach'"
           % " ".join(args)) or tap.diag((rc, err))
    tap.ok(took < 20, "... and it gives up near --timeout (%.1fs)" % took)

# ---- profile file and -X ------------------------------------------------------
home = odtest.scratch("odr-profile")
prof = os.path.join(home, "profile")
with open(prof, "w") as f:
    f.write("# a profile\nbrokers = %s\noutput=json\nclient.id=odr-from-profile\n" % b.bootstrap)
rc, out, err = odr(None, "--profile", prof, "topic", "list")
tap.ok(rc == 0 and '"name": "orders"' in out, "--profile FILE: brokers and output from it") or tap.diag(err)
rc, out, err = odr(None, "topic", "list", env={"ODR_PROFILE": prof})
tap.ok(rc == 0 and '"name": "orders"' in out, "ODR_PROFILE names the profile") or tap.diag(err)
os.makedirs(os.path.join(home, ".config", "odr"))
with open(os.path.join(home, ".config", "odr", "profile"), "w") as f:
    f.write("brokers=%s\n" % b.bootstrap)
rc, out, err = odr(None, "topic", "list", env={"HOME": home})
tap.ok(rc == 0 and "orders" in out, "~/.config/odr/profile is read by default") or tap.diag(err)
rc, out, err = odr(dead, "--timeout", "2", "topic", "list", env={"HOME": home})
tap.is_(rc, 3, "--brokers on the command line wins over the profile")
with open(prof, "w") as f:
    f.write("brokers=%s\nno.such.librdkafka.key=1\n" % b.bootstrap)
rc, out, err = odr(None, "--profile", prof, "topic", "list")
tap.ok(rc == 2 and "no.such.librdkafka.key" in err, "a bad setting in the profile: exit 2, named")
rc, out, err = odr(None, "--profile", os.path.join(home, "missing"), "topic", "list")
tap.ok(rc == 2 and "cannot read the profile" in err, "a missing --profile: exit 2")
rc, out, err = odr(b, "-X", "client.id=odr-x-test", "-v", "topic", "list")
tap.is_(rc, 0, "-X key=value passes a librdkafka setting")

sys.exit(odtest.finish())
