#!/usr/bin/python3
# `odr produce --partitioner NAME` with a broker partitioner module
# (--partitioner-module: modules/examples/partitioner_first_byte built out
# of tree against the staged header) and with a Lua script
# (--partitioner-lua: by headers, by key, by value), each record's
# partition read back with confluent_kafka; the same script loaded by the
# broker as a placement check (placement.action=reject) accepts what odr
# placed with it and refuses murmur2's placement. Bad cases, each with its
# message and exit code: files that do not load (missing, not a module,
# wrong ABI major, another kind, a symbol odr lacks, no partitioner, a Lua
# syntax error, the sandbox), unknown names (listing the registered ones),
# and records a script fails (error, endless loop, out of range, memory
# hog: exit 1, nothing of them produced), and a topic made again with fewer
# partitions while a long-running odr produces to it (the count read again).
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import modkit  # noqa: E402
import odrcli  # noqa: E402
import odtest  # noqa: E402
import routetest as rt  # noqa: E402
import tap  # noqa: E402
from odrcli import odr  # noqa: E402

if not odrcli.available():
    tap.skip_all("odr not built (librdkafka-dev missing at configure time)")
modkit.need_tools()
try:
    import confluent_kafka  # noqa: F401
except ImportError as e:
    tap.skip_all("confluent_kafka missing: %s" % e)

odtest.watchdog(400)
TMP = odtest.scratch("odrpart")
kit = modkit.stage(TMP)
ok, FIRST_BYTE, output = kit.build_example("partitioner_first_byte", "first_byte")
tap.ok(ok, "partitioner_first_byte builds out of tree against the staged header") \
    or tap.diag(output[-1500:])


def staged_module(name):
    for d, _, fs in os.walk(kit.stage):
        if name + ".so" in fs:
            return os.path.join(d, name + ".so")
    return None


LUA = rt.write(TMP, "parts.lua", r'''
odradek.partitioner("by_region", function(key, value, headers, n)
  return (tonumber(headers["region"]) or 0) % n
end)
odradek.partitioner("key_sum", function(key, value, headers, n)
  if key == nil then return 0 end
  local s = 0
  for i = 1, #key do s = s + key:byte(i) end
  return s % n
end)
odradek.partitioner("by_value", function(key, value, headers, n)
  return tonumber(value:match("^(%d+)")) % n
end)
odradek.partitioner("picky", function(key, value, headers, n)
  if key == "bad" then error("deliberately broken for key bad") end
  return 0
end)
odradek.partitioner("spin", function(key, value, headers, n) while true do end end)
odradek.partitioner("too_far", function(key, value, headers, n) return n + 3 end)
odradek.partitioner("hog", function(key, value, headers, n)
  local t = {}
  while true do t[#t + 1] = string.rep("x", 1 << 20) .. #t end
end)
-- hooks odr accepts and ignores, so the broker loads the same file
odradek.route("routed", function(rec) rec.headers["seen"] = "1"; return true end)
odradek.policy("create_topics", function(req) return true end)
''')

b = rt.broker(scripts=[LUA]).start()


def produce(topic, lines, *args):
    return odr(b, "produce", topic, "--key-delimiter", "\t", *args,
               input="".join(line + "\n" for line in lines))


def placed(topic, n):
    """{(key, value): partition} of every record of topic."""
    msgs, _ = odtest.ck_read(b.bootstrap, topic, list(range(n)))
    return {((m.key() or b"").decode() if m.key() is not None else None, m.value().decode()): p
            for p, ms in msgs.items() for m in ms}


def records(topic, n):
    _, hw = odtest.ck_read(b.bootstrap, topic, list(range(n)))
    return sum(hw.values())


def topic(name, n, *configs):
    rc, _, err = odr(b, "topic", "create", name, "-p", str(n), *configs)
    tap.is_(rc, 0, "topic %s with %d partitions" % (name, n)) or tap.diag(err)


# ---- a broker partitioner module ----
topic("fb", 4)
keys = ["a1", "b2", "c3", "d4", "e5", "zz", "0-zero", "9-nine", "é-utf8"]
rc, _, err = produce("fb", ["%s\tv-%s" % (k, k) for k in keys], "--partitioner-module",
                     FIRST_BYTE, "--partitioner", "first-byte")
tap.is_(rc, 0, "odr produce --partitioner-module first_byte.so --partitioner first-byte") \
    or tap.diag(err)
got = placed("fb", 4)
want = {(k, "v-" + k): k.encode()[0] % 4 for k in keys}
tap.is_(got, want, "every record in the partition of its key's first byte (mod 4)")
tap.ok("first_byte" not in err, "the module's info line stays quiet without -v") \
    or tap.diag(err)
rc, _, err = odr(b, "-v", "produce", "fb", "--partitioner-module", FIRST_BYTE,
                 "--partitioner", "first-byte", input="keyless\n")
tap.ok(rc == 0 and "odr: first_byte: info: partitioner first-byte registered" in err,
       "-v: od_mlogf lines on stderr with the module's name; a null key (no opinion) is "
       "librdkafka's choice") or tap.diag(err)
tap.is_(records("fb", 4), len(keys) + 1, "... and is delivered")

# ---- Lua partitioners: headers, key, value ----
topic("region", 4)
for region in ("0", "1", "2", "3", "6"):
    rc, _, err = produce("region", ["k\tfrom-%s" % region], "-H", "region=" + region,
                         "--partitioner-lua", LUA, "--partitioner", "by_region")
    tap.is_(rc, 0, "by_region with -H region=%s" % region) or tap.diag(err)
got = placed("region", 4)
tap.is_(got, {("k", "from-%s" % r): int(r) % 4 for r in ("0", "1", "2", "3", "6")},
        "by_region (the issue's example): the -H header chose each partition")

KEYS = ["key-%d" % i for i in range(30)] + ["x", "ключ"]


def key_sum(k, n):
    return sum(k.encode()) % n


topic("keysum", 5)
rc, _, err = produce("keysum", ["%s\tv" % k for k in KEYS] + ["no key here"],
                     "--partitioner-lua", LUA, "--partitioner", "key_sum")
tap.is_(rc, 0, "key_sum over %d keys and a null key" % len(KEYS)) or tap.diag(err)
want = {(k, "v"): key_sum(k, 5) for k in KEYS}
want[(None, "no key here")] = 0
tap.is_(placed("keysum", 5), want, "key_sum: every key where the script puts it, nil key on 0")

topic("byvalue", 3)
rc, _, err = produce("byvalue", ["k\t%d-th" % i for i in range(9)], "--partitioner-lua", LUA,
                     "--partitioner", "by_value")
tap.is_(rc, 0, "by_value") or tap.diag(err)
tap.is_(placed("byvalue", 3), {("k", "%d-th" % i): i % 3 for i in range(9)},
        "by_value: the script sees the record's value")

# ---- the same file as the broker's placement check ----
topic("placed", 5, "-c", "placement.partitioner=key_sum", "-c", "placement.action=reject")
rc, _, err = produce("placed", ["%s\tv" % k for k in KEYS], "--partitioner-lua", LUA,
                     "--partitioner", "key_sum")
tap.is_(rc, 0, "the broker's placement check (key_sum, reject) accepts odr's key_sum records") \
    or tap.diag(err)
tap.is_(records("placed", 5), len(KEYS), "... all %d of them" % len(KEYS))
misplaced = [k for k in KEYS if rt.murmur2_partition(k.encode(), 5) != key_sum(k, 5)]
rc, _, err = produce("placed", ["%s\tm" % k for k in KEYS], "--partitioner", "murmur2")
tap.ok(misplaced and rc == 1 and "INVALID_RECORD" in err,
       "... and refuses murmur2's placement of the %d keys it disagrees on" % len(misplaced)) \
    or tap.diag("rc %s: %s" % (rc, err))

# ---- files that do not load: exit 2, nothing read ----
NOT_A_MODULE = kit.compile("not_a_module", "int odr_test_not_a_module = 1;\n")
BAD_ABI = kit.compile("bad_abi", r'''
#include <odradek-module.h>
static int init(od_module_ctx_t *ctx, char *err, size_t errsz)
{ (void)ctx, (void)err, (void)errsz; return 0; }
od_module_t od_module = {OD_ABI_MAJOR + 1, 0, "bad_abi", "1", OD_KIND_PARTITIONER, init, NULL,
                         NULL};
''')
NO_PART = kit.compile("no_part", r'''
#include <odradek-module.h>
static int64_t seed;
static od_conf_def_t defs[] = {{"no_part.seed", OD_CONF_INT, "1", 0, 9, NULL, "a seed", &seed, 0}};
static int init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    (void)err, (void)errsz;
    od_register_config(ctx, defs, 1); /* refused by odr; ignored here */
    return 0;
}
od_module_t od_module = {OD_ABI_MAJOR, OD_ABI_MINOR, "no_part", "1", OD_KIND_PARTITIONER, init,
                         NULL, NULL};
''')
GARBAGE = rt.write(TMP, "garbage.so", "this is no ELF file\n")
SYNTAX = rt.write(TMP, "syntax.lua", 'odradek.partitioner("p", function(key)\n  return (\nend)\n')
SANDBOX = rt.write(TMP, "sandbox.lua", 'local f = io.open("/etc/passwd")\n')
TOP_SPIN = rt.write(TMP, "top_spin.lua", "while true do end\n")
NONE = rt.write(TMP, "none.lua", "-- registers nothing\n")

bad_loads = [
    ("a missing module file", ["--partitioner-module", os.path.join(TMP, "nope.so")],
     ["cannot load module", "No such file"]),
    ("a file that is no shared object", ["--partitioner-module", GARBAGE],
     ["cannot load module", "garbage.so"]),
    ("a shared object without od_module", ["--partitioner-module", NOT_A_MODULE],
     ["has no 'od_module' symbol (not an Odradek module)"]),
    ("a module built for ABI major + 1", ["--partitioner-module", BAD_ABI],
     ["was built for module ABI 2.0", "the major must match", "rebuild the module"]),
    ("a module that registers no partitioner", ["--partitioner-module", NO_PART],
     ["module no_part", "registered no partitioner",
      "od_register_config (configuration keys): odr hosts partitioners only"]),
    ("a storage module", ["--partitioner-module", staged_module("storage_memory")],
     ["is not a partitioner module (its kinds: storage)"]),
    ("a module needing core services odr lacks", ["--partitioner-module",
                                                  staged_module("kraft")],
     ["cannot load module", "undefined symbol: od_"]),
    ("an unknown name in a module", ["--partitioner-module", FIRST_BYTE],
     ["unknown partitioner 'p'", "registers first-byte"]),
    ("an unknown built-in name", [], ["unknown partitioner 'p'", "murmur2", "round_robin"]),
    ("a missing Lua file", ["--partitioner-lua", os.path.join(TMP, "nope.lua")],
     ["--partitioner-lua", "cannot open", "nope.lua"]),
    ("a Lua syntax error", ["--partitioner-lua", SYNTAX], ["syntax.lua:3:"]),
    ("a script using io (not in the sandbox)", ["--partitioner-lua", SANDBOX],
     ["sandbox.lua:1:", "io"]),
    ("a script whose top level never ends", ["--partitioner-lua", TOP_SPIN],
     ["top_spin.lua", "instruction budget of 1000000 exceeded"]),
    ("an unknown name in a script", ["--partitioner-lua", LUA],
     ["unknown partitioner 'p'", "by_region, by_value, hog, key_sum, picky, spin, too_far"]),
    ("a script without partitioners", ["--partitioner-lua", NONE],
     ["unknown partitioner 'p'", "registers no partitioner"]),
]
for what, args, needles in bad_loads:
    rc, _, err = produce("fb", ["never\tread"], *(args + ["--partitioner", "p"]))
    tap.ok(rc == 2 and all(n in err for n in needles),
           "%s: exit 2, %s" % (what, " / ".join(needles))) or tap.diag("rc %s: %s" % (rc, err))
rc, _, err = produce("fb", ["x"], "--partitioner-lua", LUA)
tap.ok(rc == 2 and "need --partitioner NAME" in err, "--partitioner-lua needs --partitioner") \
    or tap.diag(err)
rc, _, err = produce("fb", ["x"], "--partitioner-lua", LUA, "--partitioner-module", FIRST_BYTE,
                     "--partitioner", "key_sum")
tap.ok(rc == 2 and "exclude each other" in err, "a module and a script exclude each other") \
    or tap.diag(err)

# ---- records a script fails: exit 1, the others still produced ----
topic("fails", 4)
bad_records = [
    ("an error", "picky", ["good\t1", "bad\t2", "good\t3"], 2,
     ["line 2: Lua partitioner picky (", "parts.lua:", "deliberately broken for key bad"]),
    ("an endless loop", "spin", ["k\t1"], 0,
     ["line 1: Lua partitioner spin", "instruction budget of 1000000 exceeded"]),
    ("a result out of range", "too_far", ["k\t1", "k\t2"], 0,
     ["line 1:", "line 2:", "returned 7 for 4 partitions"]),
    ("a memory hog", "hog", ["k\t1"], 0,
     ["line 1: Lua partitioner hog", "not enough memory", "33554432 bytes"]),
]
total = 0
for what, name, lines, delivered, needles in bad_records:
    rc, _, err = produce("fails", lines, "--partitioner-lua", LUA, "--partitioner", name)
    total += delivered
    tap.ok(rc == 1 and all(n in err for n in needles),
           "%s: exit 1, %s" % (what, " / ".join(needles))) or tap.diag("rc %s: %s" % (rc, err))
    tap.is_(records("fails", 4), total, "... %d record(s) of %d produced" % (delivered, len(lines)))

# ---- a topic made again with fewer partitions while odr produces ----
LAST = rt.write(TMP, "last.lua",
                'odradek.partitioner("last", function(key, value, headers, n) return n - 1 end)\n')
topic("shrink", 4)
err_path = os.path.join(TMP, "shrink.err")


def hw(name, n):
    return odtest.ck_read(b.bootstrap, name, list(range(n)))[1]


def text(path):
    with open(path, errors="replace") as f:
        return f.read()


with open(err_path, "wb") as fe:
    pr = subprocess.Popen([odrcli.binary(), "--brokers", b.bootstrap, "-v", "produce", "shrink",
                           "--partitioner-lua", LAST, "--partitioner", "last"],
                          stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=fe,
                          env=dict(os.environ, HOME=TMP))
    pr.stdin.write(b"before\n")
    pr.stdin.flush()
    tap.ok(odtest.wait_until(lambda: hw("shrink", 4)[3] == 1, 30, interval=0.3),
           "a long-running odr produce places on the last of 4 partitions")
    odr(b, "topic", "delete", "shrink")
    topic("shrink", 2)
    pr.stdin.write(b"after-0\n")
    pr.stdin.flush()
    # librdkafka learns the new count when after-0 (placed among the old 4)
    # comes back; odr, blocked on its input, hears of it with the next
    # record, which it places again among the count it reads then.
    odtest.wait_until(lambda: "partition count changed from 4 to 2" in text(err_path), 60,
                      interval=0.2)
    pr.stdin.write(b"after-1\n")
    pr.stdin.close()
    rc = pr.wait(timeout=120)
got = placed("shrink", 2)
err = text(err_path)
tap.ok(got.get((None, "after-1")) == 1 and all(p == 1 for p in got.values()),
       "after the topic is made again with 2 partitions odr reads the count again: "
       "the next record goes to the last of 2") or tap.diag("%s rc %s %s" % (got, rc, err))
tap.ok((None, "after-0") in got if rc == 0 else rc == 1 and "UNKNOWN_PARTITION" in err,
       "the record sent while the count was stale is delivered there or reported failed "
       "(exit %d)" % rc) or tap.diag(err)

sys.exit(odtest.finish())
