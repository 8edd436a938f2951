#!/usr/bin/python3
# odr produce, consume, group and bench against a real broker: a round trip
# with keys and headers (checked with confluent_kafka too), consume's JSON
# lines and -f formats, start offsets (oldest, newest, N, @timestamp), a
# group's commit of exactly what was printed, lag in `group describe`,
# reset-offsets (dry run, then --execute), group delete, records the broker
# refuses (exit 1 with the error name), and bench summaries. acl and user
# against this broker: the error in a user's words and exit 1 (or success
# when the broker offers the APIs).
import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
import odrcli  # noqa: E402
from odrcli import odr, odr_json, json_lines  # noqa: E402

if not odrcli.available():
    tap.skip_all("odr not built (librdkafka-dev missing at configure time)")
try:
    import confluent_kafka as ck
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)
odtest.watchdog(280)
b = odtest.Broker(sets={"group.initial.rebalance.delay.ms": "0"}).start()
T = "events"
tap.is_(odr(b, "topic", "create", T, "-p", "3")[0], 0, "topic created with odr")

# ---- produce: keys, headers ---------------------------------------------------
lines = ["user-%d:value %d" % (i % 7, i) for i in range(30)] + ["no delimiter here"]
rc, out, err = odr(b, "produce", T, "--key-delimiter", ":", "-H", "source=odr", "-H", "run=1",
                   input="\n".join(lines) + "\n")
tap.ok(rc == 0 and out == "", "produce: exit 0, nothing printed without -v") or tap.diag(err)

msgs, hw = odtest.ck_read(b.bootstrap, T, [0, 1, 2])
got = sorted(((m.key() or b"").decode(), m.value().decode()) for p in msgs for m in msgs[p])
want = sorted([tuple(ln.split(":", 1)) for ln in lines[:-1]] + [("", "no delimiter here")])
tap.is_(got, want, "confluent_kafka reads back every key and value")
tap.ok(all(m.headers() == [("source", b"odr"), ("run", b"1")] for p in msgs for m in msgs[p]),
       "every record carries both headers, in order")
nokey = [m for p in msgs for m in msgs[p] if m.value() == b"no delimiter here"]
tap.ok(len(nokey) == 1 and nokey[0].key() is None, "a line without the delimiter has a null key")
by_key = {}
for p in msgs:
    for m in msgs[p]:
        if m.key():
            by_key.setdefault(m.key(), set()).add(p)
tap.ok(all(len(s) == 1 for s in by_key.values()), "one key, one partition")

# ---- consume: JSON lines, formats ----------------------------------------------
rc, out, err = odr(b, "consume", T, "--num", "31", "--output", "json")
recs = json_lines(out) if rc == 0 else []
tap.is_(len(recs), 31, "consume --num 31 --output json: 31 lines") or tap.diag(err)
tap.ok(all(set(r) == {"topic", "partition", "offset", "timestamp", "key", "value", "headers"}
           for r in recs), "each line: topic, partition, offset, timestamp, key, value, headers")
tap.is_(sorted((r["key"] or "", r["value"]) for r in recs), want, "the same records as written")
tap.ok(all(r["headers"] == [{"key": "source", "value": "odr"}, {"key": "run", "value": "1"}]
           for r in recs), "headers as [{key, value}] in order")
tap.ok(any(r["key"] is None for r in recs), "a null key is JSON null")
now = int(time.time() * 1000)
tap.ok(all(r["topic"] == T and abs(r["timestamp"] - now) < 600000 for r in recs),
       "topic and a current timestamp")
rc, out, err = odr(b, "consume", T, "--partition", "0", "-e", "-f", "%t|%p|%o|%k|%s|%h\\n")
rows = [ln.split("|") for ln in out.splitlines()]
tap.ok(rc == 0 and len(rows) == hw[0] and all(r[0] == T and r[1] == "0" for r in rows) and
       [int(r[2]) for r in rows] == list(range(hw[0])),
       "-e stops at the end; -f prints topic, partition, offsets 0..n-1") or tap.diag((err, out[:300]))
tap.ok(all(r[5] == "source=odr,run=1" for r in rows), "%h prints k=v,k=v")
rc, out, err = odr(b, "consume", T, "--partition", "0", "--offset", "2", "-e", "-f", "%o\\n")
tap.is_([int(x) for x in out.split()], list(range(2, hw[0])), "--offset N starts at N")
rc, out, err = odr(b, "consume", T, "--offset", "newest", "-e")
tap.ok(rc == 0 and out == "", "--offset newest -e: nothing old is printed")
ts = recs[0]["timestamp"] if recs else 0
rc, out, err = odr(b, "consume", T, "--offset", "@%d" % (ts + 3600 * 1000), "-e")
tap.ok(rc == 0 and out == "", "--offset @(an hour later): nothing")
rc, out, err = odr(b, "consume", T, "--offset", "@0", "-e", "-f", "%s\\n")
tap.is_(len(out.splitlines()), 31, "--offset @0: everything")
rc, out, err = odr(b, "consume", "no-such-topic", "--num", "1")
tap.ok(rc == 1 and "UNKNOWN_TOPIC_OR_PART" in err, "consume of an unknown topic: exit 1, named")
rc, out, err = odr(b, "consume", T, "--partition", "9", "-e")
tap.ok(rc == 1 and "no partition 9" in err, "consume of a missing partition: exit 1")

# ---- groups: commit what was printed, lag, reset ---------------------------------
G = "odr-g"
rc, out, err = odr(b, "consume", T, "--group", G, "--num", "10", "--output", "json")
first = json_lines(out) if rc == 0 else []
tap.is_(len(first), 10, "consume --group --num 10: ten records") or tap.diag(err)
d = odr_json(b, "group", "describe", G)
tap.ok(d is not None and {"group", "state", "partitions"} <= set(d) and d["group"] == G,
       "group describe --output json: group, state, partitions") or tap.diag(d)
parts = {(p["topic"], p["partition"]): p for p in (d or {}).get("partitions", [])}
tap.ok(all(set(p) == {"topic", "partition", "committed", "end", "lag"} for p in parts.values()),
       "each partition: topic, partition, committed, end, lag")
printed_next = {}
for r in first:
    printed_next[r["partition"]] = max(printed_next.get(r["partition"], 0), r["offset"] + 1)
tap.is_({k[1]: v["committed"] for k, v in parts.items() if v["committed"] is not None},
        printed_next, "committed offsets are exactly one past what was printed")
tap.ok(all(p["end"] == hw[k[1]] and p["lag"] == p["end"] - (p["committed"] or 0)
           for k, p in parts.items()), "end is the high watermark, lag = end - committed")
tap.is_(sum(p["lag"] for p in parts.values()) + 10, sum(hw[k[1]] for k in parts),
        "the lags add up to what is unread in the partitions read from")
tap.is_(d.get("state") if d else None, "Empty", "the group is Empty after the consumer left")

rc, out, err = odr(b, "consume", T, "--group", G, "--num", "21", "--output", "json")
rest = json_lines(out) if rc == 0 else []
seen = sorted((r["partition"], r["offset"]) for r in first + rest)
tap.is_(len(set(seen)), 31, "the next run of the group goes on where the commit was: no repeats")
d = odr_json(b, "group", "describe", G)
tap.ok(d and all(p["lag"] == 0 for p in d["partitions"]), "lag 0 everywhere after reading all")

rc, out, err = odr(b, "group", "reset-offsets", G, "--topic", T, "--to-earliest")
tap.ok(rc == 0 and "dry run" in out, "reset-offsets without --execute: a dry run") or tap.diag(err)
d = odr_json(b, "group", "describe", G)
tap.ok(d and all(p["lag"] == 0 for p in d["partitions"]), "... which changed nothing")
r = odr_json(b, "group", "reset-offsets", G, "--topic", T, "--to-earliest", "--execute")
tap.ok(r and r["executed"] and all(p["new"] == 0 for p in r["partitions"]),
       "reset-offsets --to-earliest --execute: every partition to 0") or tap.diag(r)
d = odr_json(b, "group", "describe", G)
tap.ok(d and sum(p["lag"] for p in d["partitions"]) == 31, "lag is 31 again")
r = odr_json(b, "group", "reset-offsets", G, "--topic", T, "--to-offset", "1", "--execute")
d = odr_json(b, "group", "describe", G)
tap.ok(d and all(p["committed"] == min(1, hw[p["partition"]]) for p in d["partitions"]),
       "--to-offset 1: each partition at 1 (clamped into the log)") or tap.diag(d)
r = odr_json(b, "group", "reset-offsets", G, "--topic", T, "--to-latest", "--execute")
d = odr_json(b, "group", "describe", G)
tap.ok(d and all(p["lag"] == 0 for p in d["partitions"]), "--to-latest: lag 0")

# Ctrl-C: a consumer without --num stops, commits what it printed, exits 0
import signal  # noqa: E402
import subprocess  # noqa: E402
G2 = "odr-g-int"
env = dict(os.environ, HOME=odtest.scratch("odr-home"))
p = subprocess.Popen([odrcli.binary(), "--brokers", b.bootstrap, "consume", T, "--group", G2,
                      "-f", "%p %o\\n"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
seen_lines = []
while len(seen_lines) < 31:
    ln = p.stdout.readline()
    if not ln:
        break
    seen_lines.append(ln)
p.send_signal(signal.SIGINT)
try:
    rc = p.wait(30)
except subprocess.TimeoutExpired:
    p.kill()
    rc = None
errtext = p.stderr.read().decode()
tap.ok(rc == 0 and len(seen_lines) == 31, "consume --group until Ctrl-C: 31 lines, exit 0") \
    or tap.diag((rc, len(seen_lines), errtext[-500:]))
tap.ok(not odtest.SANITIZER_RE.search(errtext), "no sanitizer report after the interrupt")
d = odr_json(b, "group", "describe", G2)
tap.ok(d and sum(p_["committed"] or 0 for p_ in d["partitions"]) == 31 and
       all(p_["lag"] == 0 for p_ in d["partitions"]),
       "after the interrupt everything printed is committed") or tap.diag(d)

# a live member shows in describe, with its assignment
live = subprocess.Popen([odrcli.binary(), "--brokers", b.bootstrap, "consume", T, "--group",
                         "odr-live", "-f", ""], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL, env=env)


def stable():
    rc_, out_, _ = odr(b, "group", "describe", "odr-live", "--output", "json")
    d_ = json_lines(out_)[0] if rc_ == 0 else None
    return d_ if d_ and d_["state"] == "Stable" and d_["members"] else None


d = odtest.wait_until(stable, 30, 0.5)
m = d["members"][0] if d else {}
tap.ok(d and len(d["members"]) == 1 and m["client_id"] == "odr" and
       sorted(a["partition"] for a in m["assignment"]) == [0, 1, 2] and
       {(p_["topic"], p_["partition"]) for p_ in d["partitions"]} == {(T, 0), (T, 1), (T, 2)},
       "a live member: Stable, client id odr, all three partitions assigned and listed") \
    or tap.diag(d)
live.send_signal(signal.SIGINT)
live.wait(30)

lst = odr_json(b, "group", "list")
tap.ok(lst is not None and any(g["group"] == G for g in lst), "group list --output json has the group")
rc, out, err = odr(b, "group", "describe", "never-seen")
tap.ok(rc == 1 and "GROUP_ID_NOT_FOUND" in err, "describe of an unknown group: exit 1, named")
rc, out, err = odr(b, "group", "delete", G)
tap.ok(rc == 0 and "deleted group %s" % G in out, "group delete") or tap.diag(err)
lst = odr_json(b, "group", "list") or []
tap.ok(not any(g["group"] == G for g in lst), "the group is gone")

# ---- records the broker refuses ------------------------------------------------
tap.is_(odr(b, "topic", "create", "small", "-p", "1", "-c", "max.message.bytes=200")[0], 0,
        "a topic with max.message.bytes=200")
rc, out, err = odr(b, "--timeout", "5", "produce", "small", input="x" * 2000 + "\nok\n")
tap.ok(rc == 1 and "MSG_SIZE_TOO_LARGE" in err, "a record too large: exit 1, the error named") \
    or tap.diag((rc, err))
rc, out, err = odr(b, "produce", "no-such-topic", input="x\n")
tap.ok(rc == 1 and "UNKNOWN_TOPIC_OR_PART" in err, "produce to an unknown topic: exit 1")
rc, out, err = odr(b, "produce", T, "--partition", "7", input="x\n")
tap.ok(rc == 1 and "no partition 7" in err, "produce to a missing partition: exit 1")
rc, out, err = odr(b, "-v", "--output", "json", "produce", T, "--partition", "1",
                   "--compression", "zstd", "--acks", "1", input="a\nb\n")
v = json_lines(out) if rc == 0 else []
tap.ok(len(v) == 2 and all(x["partition"] == 1 for x in v) and v[1]["offset"] == v[0]["offset"] + 1,
       "-v --output json: one line per delivered record (--partition, zstd, acks 1)") \
    or tap.diag((err, out))


def typed_produce():
    """odr -v produce with stdin a pipe kept open, as at a terminal: each
    line's offset is printed when the broker acknowledges it, before the next
    line is typed. Returns (offsets seen while stdin was open, rc, rest)."""
    import select
    import subprocess
    e = dict(os.environ, HOME=odtest.scratch("odr-home"))
    pr = subprocess.Popen([odrcli.binary(), "--brokers", b.bootstrap, "-v", "produce", T,
                           "--partition", "2"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
    seen = []
    try:
        for word in (b"typed-1\n", b"typed-2\n"):
            pr.stdin.write(word)
            pr.stdin.flush()
            if not select.select([pr.stdout], [], [], 30)[0]:
                break
            seen.append(pr.stdout.readline().decode().split())
        out, err = pr.communicate(timeout=60)  # closes stdin: the end of the input
    finally:
        if pr.poll() is None:
            pr.kill()
            pr.wait()
    return seen, pr.returncode, out.decode() + err.decode()


seen, rc, rest = typed_produce()
tap.ok(len(seen) == 2 and all(x[:2] == [T, "2"] for x in seen) and
       int(seen[1][2]) == int(seen[0][2]) + 1 and rc == 0 and
       rest == "odr: 2 records sent, 2 delivered, 0 failed\n",
       "-v with stdin open: each offset printed when acknowledged, before the next line") \
    or tap.diag((seen, rc, rest))
rc, out, err = odr(b, "produce", T, "--key-delimiter", "=", input="k=no newline at the end")
msgs, hw = odtest.ck_read(b.bootstrap, T, [0, 1, 2])
tap.ok(rc == 0 and any(m.value() == b"no newline at the end" and m.key() == b"k"
                       for p in msgs for m in msgs[p]), "a last line without a newline is sent")
big = "x" * 300000
rc, out, err = odr(b, "-v", "produce", T, "--partition", "0", input="%s\n\nend\n" % big)
msgs, hw = odtest.ck_read(b.bootstrap, T, [0])
vals = [m.value() for m in msgs[0]][-3:]
tap.ok(rc == 0 and vals == [big.encode(), b"", b"end"] and len(out.splitlines()) == 3,
       "a line longer than the read buffer, an empty line, and one after them") \
    or tap.diag((rc, err, [len(v or b"") for v in vals]))

# ---- bench ------------------------------------------------------------------------
tap.is_(odr(b, "topic", "create", "bench", "-p", "2")[0], 0, "bench topic")
rc, out, err = odr(b, "bench", "produce", "bench", "-n", "3000", "-s", "64")
tap.ok(rc == 0 and re.search(r"3000 records \(0 failed\)", out) and "records/s" in out and
       "MB/s" in out and re.search(r"p50 [\d.]+ +p99 [\d.]+ +p999 [\d.]+", out),
       "bench produce: records, rates, p50/p99/p999") or tap.diag((err, out))
tap.ok("[" not in err, "no progress bar when stderr is not a terminal")
# on a terminal (a pty as stderr) the progress bar is drawn
import pty  # noqa: E402
master, slave = pty.openpty()
odr(b, "topic", "create", "bench-tty", "-p", "1")
bp = subprocess.Popen([odrcli.binary(), "--brokers", b.bootstrap, "bench", "produce", "bench-tty",
                       "-n", "2000"], stdout=subprocess.PIPE, stderr=slave,
                      env=dict(os.environ, HOME=odtest.scratch("odr-home")))
os.close(slave)
tty_err = b""
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    tty_err += chunk
bout = bp.communicate(timeout=60)[0].decode()
os.close(master)
tap.ok(bp.returncode == 0 and re.search(rb"\r\[#+\.*\] \d+/2000", tty_err) and "records/s" in bout,
       "on a terminal: a progress bar on stderr, the summary on stdout") or tap.diag((tty_err[-300:], bout))
s = odr_json(b, "bench", "consume", "bench", "-n", "3000")
tap.ok(s and s["records"] == 3000 and s["bytes"] == 3000 * 64 and s["records_per_sec"] > 0 and
       all(s["latency_ms"][k] is not None for k in ("p50", "p99", "p999")),
       "bench consume --output json: all records, bytes, rate, percentiles") or tap.diag(s)

# ---- acl and user: whatever this broker offers -----------------------------------
with odtest.Conn(b.port) as cn:
    apis = odtest.api_versions(cn, 0)["apis"]
rc, out, err = odr(b, "acl", "create", "--allow", "--principal", "User:alice", "--operation",
                   "read,describe", "--topic", T)
if 30 in apis:
    tap.ok(rc in (0, 1) and (rc == 0 or re.search(r"SECURITY_DISABLED: the broker has no authorizer", err)),
           "acl create: done, or SECURITY_DISABLED in words") or tap.diag((rc, err))
else:
    tap.ok(rc == 1 and "does not support this request" in err,
           "acl create on a broker without CreateAcls: exit 1, says so") or tap.diag((rc, err))
rc, out, err = odr(b, "acl", "list", "--output", "json")
tap.ok(rc in (0, 1) and (rc == 0 or "does not support" in err or "SECURITY_DISABLED" in err),
       "acl list: a list, or the reason in words") or tap.diag((rc, err))
rc, out, err = odr(b, "user", "create", "bob", "--password", "s3cret")
if 51 in apis:
    tap.is_(rc, 0, "user create (SCRAM-SHA-256)") or tap.diag(err)
    u = odr_json(b, "user", "list")
    tap.ok(u and any(x["user"] == "bob" for x in u), "user list shows bob") or tap.diag(u)
    tap.is_(odr(b, "user", "delete", "bob")[0], 0, "user delete")
else:
    tap.ok(rc == 1 and "not supported by this broker" in err,
           "user create on a broker without SCRAM APIs: exit 1, says so") or tap.diag((rc, err))

sys.exit(odtest.finish())
