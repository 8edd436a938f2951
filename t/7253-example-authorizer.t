#!/usr/bin/python3
# The example authorizer (modules/examples/authz_allowlist) builds out of
# tree with pkg-config against a staged `make install`, loads through
# load_module, is selected by its class name and decides: what its file
# lists is allowed (produce, create), the rest denied with Kafka's errors,
# Metadata hides what it may not describe; a bad rule stops the start with
# the file and line.
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
import acl  # noqa: E402

odtest.watchdog(300)
build = odtest.find_build()
src = odtest.TOP
tmp = odtest.scratch("allowlist")
stage = os.path.join(tmp, "stage")
p = subprocess.run(["make", "-C", build, "install", "DESTDIR=" + stage], capture_output=True,
                   text=True, timeout=600)
tap.is_(p.returncode, 0, "make install DESTDIR=<stage>")
pcs = [os.path.join(d, f) for d, _, fs in os.walk(stage) for f in fs if f == "odradek.pc"]
if p.returncode != 0 or not pcs:
    tap.diag(p.stderr[-2000:])
    tap.bail_out("no staged install")
outdir = os.path.join(tmp, "allowlist")
os.makedirs(outdir)
env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]), PKG_CONFIG_SYSROOT_DIR=stage,
           PKG_CONFIG_LIBDIR="/nonexistent")
p = subprocess.run(["make", "-C", outdir, "-f",
                    os.path.join(src, "modules", "examples", "authz_allowlist", "Makefile")],
                   capture_output=True, text=True, env=env, timeout=120)
so = os.path.join(outdir, "allowlist.so")
tap.ok(p.returncode == 0 and os.path.exists(so), "allowlist.so builds out of tree with pkg-config")
tap.ok("-I" + stage in p.stdout + p.stderr, "... against the staged header")

rules = os.path.join(tmp, "rules")
with open(rules, "w") as f:
    f.write("# principal operation type name\n"
            "User:ANONYMOUS CREATE CLUSTER kafka-cluster\n"
            "User:ANONYMOUS *      TOPIC   allowed\n"
            "*              DESCRIBE TOPIC public   # anyone may see it\n")
cfg = os.path.join(tmp, "broker.properties")
with open(cfg, "w") as f:
    f.write("load_module storage_segment\nload_module kraft\nload_module %s\n"
            "authorizer.class.name=com.example.AllowListAuthorizer\n"
            "allowlist.file=%s\n" % (so, rules))
b = odtest.Broker(config=cfg).start()
tap.ok("3 rule(s)" in b.log_text(), "the module read its three rules")
with odtest.Conn(b.port) as c:
    res = odtest.create_topics(c, [("allowed", 1, 1), ("public", 1, 1), ("other", 1, 1)])
    tap.is_(res, {"allowed": 0, "public": 0, "other": 0}, "CREATE on the cluster: topics created")
    batch = odtest.build_batch([(b"k", b"v", [])])
    out = odtest.produce(c, {("allowed", 0): batch, ("other", 0): batch, ("public", 0): batch})
    tap.is_((out[("allowed", 0)][0], out[("other", 0)][0], out[("public", 0)][0]),
            (0, acl.TOPIC_AUTHORIZATION_FAILED, acl.TOPIC_AUTHORIZATION_FAILED),
            "produce: allowed by the file, others TOPIC_AUTHORIZATION_FAILED")
    md = odtest.metadata(c)
    names = sorted(t for t in md["topics"] if not t.startswith("__"))
    tap.is_(names, ["allowed", "public"], "Metadata shows what the file lets it describe")
    res = acl.create_acls(c, [acl.binding(acl.R_TOPIC, "t", acl.P_LITERAL, "User:x", "*",
                                          acl.READ, acl.ALLOW)])
    tap.is_(res[0][0], acl.CLUSTER_AUTHORIZATION_FAILED,
            "CreateAcls needs ALTER on the cluster, which the file does not give")
b.stop()

with open(rules, "a") as f:
    f.write("User:x BOGUS TOPIC t\n")
b2 = odtest.Broker(config=cfg, name="bad")
try:
    b2.start(timeout=10)
    tap.ok(False, "a bad rule stops the start")
except odtest.BrokerError:
    tap.ok(b2.last_rc not in (None, 0), "a bad rule stops the start (exit %s)" % b2.last_rc)
tap.ok(rules + ":5: unknown operation 'BOGUS'" in b2.log_text(),
       "... naming the file, the line and the word")
sys.exit(odtest.finish())
