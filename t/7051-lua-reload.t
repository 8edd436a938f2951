#!/usr/bin/python3
# lua.scripts across SIGHUP and at start: a reload with a good script
# replaces the policies without dropping connections (a connection opened
# before still works); a reload with a broken script is logged and keeps the
# old set; a script that fails at start stops the start with its file and
# line; lua.libraries.allow takes only io, os, package, debug, and opens them.
import os
import signal
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck
    from confluent_kafka.admin import NewTopic
except ImportError as e:
    tap.skip_all("confluent_kafka missing: %s" % e)
odtest.watchdog(180)
TMP = odtest.scratch()
SCRIPT = os.path.join(TMP, "policy.lua")


def write(text):
    with open(SCRIPT + ".tmp", "w") as f:
        f.write(text)
    os.rename(SCRIPT + ".tmp", SCRIPT)


DENY = '''odradek.policy("create_topics", function(req)
  if req.name:match("^%s") then return false, "no %s topics" end
  return true
end)
'''
write(DENY % ("x%-", "x-"))
b = odtest.Broker(sets={"lua.scripts": SCRIPT}).start()
admin = odtest.ck_admin(b.bootstrap)


def create(name):
    fs = admin.create_topics([NewTopic(name, 1, 1)], operation_timeout=20, request_timeout=20)
    try:
        fs[name].result(20)
        return None
    except ck.KafkaException as e:
        return e.args[0].str()


tap.ok("no x- topics" in (create("x-1") or ""), "the first script refuses x-*")
tap.is_(create("y-1"), None, "and allows y-*")

kept = odtest.Conn(b.port)
tap.ok(odtest.metadata(kept) is not None, "a connection is open before the reload")
n_before = b.log_text().count("lua: reloaded")
write(DENY % ("y%-", "y-"))
os.kill(b.pid, signal.SIGHUP)
tap.ok(odtest.wait_until(lambda: b.log_text().count("lua: reloaded") > n_before, 10),
       "SIGHUP reloads the scripts")
tap.ok("no y- topics" in (create("y-2") or ""), "the new script refuses y-*")
tap.is_(create("x-2"), None, "and no longer x-*")
tap.ok(odtest.metadata(kept) is not None, "the connection opened before the reload still works")

write("odradek.policy('create_topics', function(req) return false, 'broken' end\n")  # no ')'
os.kill(b.pid, signal.SIGHUP)
tap.ok(odtest.wait_until(lambda: "lua: reload failed, the scripts loaded before stay in use"
                         in b.log_text(), 10), "a broken script's reload fails and is logged")
tap.ok("policy.lua:2:" in b.log_text() or "policy.lua:1:" in b.log_text(),
       "with the script's file and line")
tap.ok("no y- topics" in (create("y-3") or ""), "the old policies stay in force")
tap.is_(create("x-3"), None, "(x-3 still allowed)")
write("while true do end\n")
os.kill(b.pid, signal.SIGHUP)
tap.ok(odtest.wait_until(lambda: "instruction budget" in b.log_text() and
                         b.log_text().count("reload failed") >= 2, 10),
       "a script looping at load time fails the reload on its budget")
tap.ok(odtest.metadata(kept) is not None, "the broker and the old connection still serve")
kept.close()


def start_fails(sets, name):
    bb = odtest.Broker(sets=sets, name=name)
    r = subprocess.run(bb.argv(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    return r.returncode, r.stdout.decode("utf-8", "replace")


bad = os.path.join(TMP, "bad.lua")
with open(bad, "w") as f:
    f.write("-- tries to leave the sandbox at load time\nos.execute('true')\n")
rc, out = start_fails({"lua.scripts": bad}, "badstart")
tap.ok(rc != 0 and "bad.lua:2: attempt to index a nil value (global 'os')" in out,
       "a script failing at start stops the start with file and line") or tap.diag(out[-400:])
rc, out = start_fails({"lua.scripts": os.path.join(TMP, "missing.lua")}, "missing")
tap.ok(rc != 0 and "cannot open" in out and "missing.lua" in out,
       "a missing script stops the start") or tap.diag(out[-400:])
rc, out = start_fails({"lua.scripts": bad, "lua.libraries.allow": "os,net"}, "badlib")
tap.ok(rc != 0 and "lua.libraries.allow: 'net' is not one of io, os, package, debug" in out,
       "an unknown library name stops the start") or tap.diag(out[-400:])
b2 = odtest.Broker(sets={"lua.scripts": bad, "lua.libraries.allow": "os"}, name="withos").start()
tap.ok(b2.running(), "with lua.libraries.allow=os the same script loads")
sys.exit(odtest.finish())
