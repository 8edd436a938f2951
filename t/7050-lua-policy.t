#!/usr/bin/python3
# Lua admin policies (doc/lua.md) with real admin clients (confluent_kafka
# AdminClient, kafka-python KafkaAdminClient; DeleteRecords raw, as neither
# client of these versions has it): the issue's create_topics example accepts
# and rejects with its reason (POLICY_VIOLATION); a policy that errors, loops
# forever, hogs memory or tries to leave the sandbox (os.execute, io.open,
# require, bytecode) is rejected with "policy script failed" while the broker
# keeps serving; policies for create_partitions (reading req.cluster),
# delete_topics, alter_configs, delete_groups and delete_records decide per
# resource, the other resources of a request go on.
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import array, i32, i64, string  # noqa: E402

try:
    import confluent_kafka as ck
    from confluent_kafka.admin import ConfigResource, NewPartitions, NewTopic
    import kafka.admin
    import kafka.errors
except ImportError as e:
    tap.skip_all("client library missing: %s" % e)
odtest.watchdog(240)
TMP = odtest.scratch()
MARK = os.path.join(TMP, "escaped")
SCRIPT = os.path.join(TMP, "policy.lua")
with open(SCRIPT, "w") as f:
    f.write(r'''
odradek.policy("create_topics", function(req)
  if not req.name:match("^team%-") then return false, "topic names must start with team-" end
  if req.partitions > 12 then return false, "at most 12 partitions per topic" end
  return true
end)

-- Misbehaving policies, chosen by topic name.
local MARK = "@MARK@"
odradek.policy("create_topics", function(req)
  local n = req.name
  if n == "team-error" then error("deliberate failure") end
  if n == "team-loop" then while true do end end
  if n == "team-hog" then local t = {} for i = 1, 1e7 do t[i] = string.rep("x", 1024) .. i end end
  if n == "team-rep" then return #string.rep("x", 1 << 40) > 0 end
  if n == "team-os" then os.execute("touch " .. MARK) end
  if n == "team-io" then io.open(MARK, "w"):write("x") end
  if n == "team-require" then require("os").execute("touch " .. MARK) end
  if n == "team-bytecode" then load("\27LuaT\0\25\147\r\n\26\n", "x", "b")() end
  if n == "team-shape" then return "yes" end
  if n == "team-compact" and req.configs["cleanup.policy"] ~= "compact" then
    return false, "team-compact must be compacted"
  end
  return true
end)

odradek.policy("create_partitions", function(req)
  local t = req.cluster.topics[req.name]
  assert(t.configs["cleanup.policy"] == "delete" and t.internal == false, "lazy configs")
  assert(odradek.topic(req.name).partitions == t.partitions, "odradek.topic")
  if req.partitions > 2 * t.partitions then
    return false, ("at most doubling: %s has %d"):format(req.name, t.partitions)
  end
  return true
end)

odradek.policy("delete_topics", function(req)
  if req.name == "team-keep" then return false, "team-keep is kept" end
  return true
end)

odradek.policy("alter_configs", function(req)
  local r = req.configs["retention.ms"]
  if r and tonumber(r) < 60000 then
    return false, "retention.ms below a minute on " .. req.resource_type .. " " .. req.name
  end
  return true
end)

odradek.policy("delete_groups", function(req)
  if req.name:match("^protected") then return false, "protected groups stay" end
  return true
end)

odradek.policy("delete_records", function(req)
  return req.name ~= "team-keep", "records of team-keep are kept"
end)
'''.replace("@MARK@", MARK))

b = odtest.Broker(sets={"lua.scripts": SCRIPT, "lua.instructions.max": "2000000",
                        "lua.memory.max.bytes": str(16 << 20)}).start()
boot = b.bootstrap
tap.ok("lua: loaded 1 script(s)" in b.log_text(), "the script is loaded at start")
admin = odtest.ck_admin(boot)


def ck_create(*topics, config=None):
    """{name: None or (code, message)} for NewTopic(name, partitions)."""
    fs = admin.create_topics([NewTopic(n, p, 1, config=config or {}) for n, p in topics],
                             operation_timeout=20, request_timeout=20)
    out = {}
    for n, fu in fs.items():
        try:
            fu.result(20)
            out[n] = None
        except ck.KafkaException as e:
            out[n] = (e.args[0].code(), e.args[0].str())
    return out


PV = ck.KafkaError.POLICY_VIOLATION
r = ck_create(("team-a", 3), ("other", 3), ("team-big", 13))
tap.is_(r["team-a"], None, "confluent_kafka: team-a with 3 partitions is created")
tap.ok(r["other"] and r["other"][0] == PV and "topic names must start with team-" in r["other"][1],
       "'other' is POLICY_VIOLATION with the script's reason") or tap.diag(repr(r["other"]))
tap.ok(r["team-big"] and r["team-big"][0] == PV and
       "at most 12 partitions per topic" in r["team-big"][1],
       "13 partitions is POLICY_VIOLATION with the script's reason") or tap.diag(repr(r))

ka = kafka.admin.KafkaAdminClient(bootstrap_servers=boot, request_timeout_ms=20000)
try:
    ka.create_topics([kafka.admin.NewTopic("nope", 1, 1)])
    tap.ok(False, "kafka-python: 'nope' is refused")
except kafka.errors.PolicyViolationError as e:
    tap.ok("topic names must start with team-" in str(e),
           "kafka-python: PolicyViolationError with the reason")

FAILED = "policy script failed"
for name, what in [("team-error", "an error"), ("team-loop", "an endless loop"),
                   ("team-hog", "a memory hog"), ("team-rep", "a string.rep bomb"),
                   ("team-os", "os.execute"), ("team-io", "io.open"),
                   ("team-require", "require"), ("team-bytecode", "loading bytecode"),
                   ("team-shape", "a result of the wrong shape")]:
    r = ck_create((name, 1))[name]
    tap.ok(r and r[0] == PV and FAILED in r[1], "%s: POLICY_VIOLATION '%s'" % (what, FAILED)) or \
        tap.diag(repr(r))
tap.ok(not os.path.exists(MARK), "no sandbox escape created the marker file")
log = b.log_text()
tap.ok("instruction budget of 2000000 exceeded" in log, "the budget failure is logged")
tap.ok("lua.memory.max.bytes" in log, "the memory failure is logged")
tap.ok("policy.lua:12: deliberate failure" in log, "the error is logged with the file and line")
tap.ok("global 'os'" in log and "global 'io'" in log and "global 'require'" in log,
       "the sandbox errors name what was missing")

# The broker still serves after all that.
p = ck.Producer(odtest.ck_conf(boot), logger=odtest.RdLog())
errs = []
p.produce("team-a", b"still here", partition=0, on_delivery=lambda e, m: errs.append(e))
p.flush(20)
tap.is_(errs, [None], "a produce after the failed policies succeeds")
r = ck_create(("team-b", 2), ("team-compact", 1))
tap.is_(r["team-b"], None, "and a good topic is still created")
tap.ok(r["team-compact"] and "team-compact must be compacted" in r["team-compact"][1],
       "req.configs: without cleanup.policy=compact it is refused")
r = ck_create(("team-compact", 1), config={"cleanup.policy": "compact"})
tap.is_(r["team-compact"], None, "with cleanup.policy=compact it is created")

# ---- create_partitions (req.cluster.topics) -----------------------------------
fs = admin.create_partitions([NewPartitions("team-a", 7), NewPartitions("team-b", 4)],
                             request_timeout=20)
res = {}
for n, fu in fs.items():
    try:
        fu.result(20)
        res[n] = None
    except ck.KafkaException as e:
        res[n] = (e.args[0].code(), e.args[0].str())
tap.ok(res["team-a"] and res["team-a"][0] == PV and "at most doubling: team-a has 3" in res["team-a"][1],
       "create_partitions reads the current count from req.cluster.topics") or tap.diag(repr(res))
tap.is_(res["team-b"], None, "doubling team-b is accepted in the same request (the policy read "
        "the topic's configs and odradek.topic)")

# ---- alter_configs ----------------------------------------------------------
fs = admin.alter_configs([ConfigResource("topic", "team-a", set_config={"retention.ms": "1000"}),
                          ConfigResource("topic", "team-b", set_config={"retention.ms": "120000"})],
                         request_timeout=20)
res = {}
for rsc, fu in fs.items():
    try:
        fu.result(20)
        res[rsc.name] = None
    except ck.KafkaException as e:
        res[rsc.name] = (e.args[0].code(), e.args[0].str())
tap.ok(res["team-a"] and res["team-a"][0] == PV and
       "retention.ms below a minute on topic team-a" in res["team-a"][1],
       "AlterConfigs: a short retention is refused with the reason") or tap.diag(repr(res))
tap.is_(res["team-b"], None, "the other resource of the request is altered")
try:
    ka.alter_configs([kafka.admin.ConfigResource(kafka.admin.ConfigResourceType.BROKER, "",
                                                 configs={"log.retention.ms": "10"})])
    tap.ok(True, "kafka-python AlterConfigs on the cluster default answers")
except kafka.errors.KafkaError as e:
    tap.ok(False, "kafka-python AlterConfigs answers: %s" % e)

# ---- delete_topics ----------------------------------------------------------
ck_create(("team-keep", 1), ("team-drop", 1))
fs = admin.delete_topics(["team-keep", "team-drop"], operation_timeout=20, request_timeout=20)
res = {}
for n, fu in fs.items():
    try:
        fu.result(20)
        res[n] = None
    except ck.KafkaException as e:
        res[n] = (e.args[0].code(), e.args[0].str())
tap.ok(res["team-keep"] and res["team-keep"][0] == PV, "DeleteTopics of team-keep is refused")
tap.is_(res["team-drop"], None, "team-drop of the same request is deleted")

# ---- delete_groups (kafka-python) --------------------------------------------
try:
    out = ka.delete_consumer_groups(["protected-1", "nobody"])
    codes = {g: getattr(e, "__name__", type(e).__name__) for g, e in out}
except kafka.errors.KafkaError as e:
    codes = {"error": str(e)}
tap.is_(codes.get("protected-1"), "PolicyViolationError", "DeleteGroups of protected-1 is refused")
tap.ok(codes.get("nobody") in ("GroupIdNotFoundError", "GroupIdNotFoundException"),
       "the other group is looked up as usual (%s)" % codes.get("nobody"))

# ---- delete_records (raw DeleteRecords v0) -------------------------------------
with odtest.Conn(b.port) as c:
    body = array([("team-keep", 0), ("team-a", 0)],
                 lambda tp: string(tp[0]) + array([tp[1]], lambda p: i32(p) + i64(-1))) + i32(5000)
    r = c.request(21, 0, body)
    r.i32()
    got = {}
    for name, parts in r.array(lambda x: (x.string(), x.array(lambda y: (y.i32(), y.i64(), y.i16())))):
        got[name] = parts[0][2]
tap.is_(got.get("team-keep"), 44, "DeleteRecords on team-keep: POLICY_VIOLATION")
tap.is_(got.get("team-a"), 0, "DeleteRecords on team-a goes on")
ka.close()
tap.ok(time.sleep(0) is None and b.running(), "the broker is still running")
sys.exit(odtest.finish())
