#!/usr/bin/python3
# The example authorizer (modules/examples/authz_allowlist) builds out of
# tree with pkg-config against a staged `make install`, loads through
# load_module, is selected by its class name and decides: what its file
# lists is allowed (produce, create), the rest denied with Kafka's errors,
# Metadata hides what it may not describe; a module listening to
# OD_EVENT_AUTHORIZE decides before the authorizer (both ways, with its
# reason in the audit log); a bad rule stops the start with the file and
# line.
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

# A module listening to OD_EVENT_AUTHORIZE decides before the authorizer:
# it allows WRITE on "other" (which the file does not) and denies DESCRIBE
# of "allowed" (which the file allows); everything else it defers.
hdr_dir = [d for d, _, fs in os.walk(stage) for f in fs if f == "odradek-module.h"][0]
evsrc = os.path.join(tmp, "authz_event.c")
with open(evsrc, "w") as f:
    f.write(r'''
#include <stdio.h>
#include <string.h>
#include <odradek-module.h>
static int on_authorize(void *arg, int event, const void *ev)
{
    const od_ev_authorize_t *e = ev;
    const od_action_t *a = e->action;
    (void)arg;
    (void)event;
    if (a->resource_type != OD_RES_TOPIC)
        return OD_DEFER;
    if (a->operation == OD_ACL_OP_WRITE && a->resource_name_len == 5 &&
        memcmp(a->resource_name, "other", 5) == 0)
        return OD_ALLOW;
    if (a->operation == OD_ACL_OP_DESCRIBE && a->resource_name_len == 7 &&
        memcmp(a->resource_name, "allowed", 7) == 0) {
        snprintf(e->reason, e->reason_size, "hidden by authz_event");
        return OD_DENY;
    }
    return OD_DEFER;
}
static int ev_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    (void)err;
    (void)errsz;
    return od_register_event(ctx, OD_EVENT_AUTHORIZE, on_authorize, NULL);
}
od_module_t od_module = {.abi_major = OD_ABI_MAJOR, .abi_minor = OD_ABI_MINOR,
                         .name = "authz_event", .version = "1", .kinds = OD_KIND_OTHER,
                         .init = ev_init};
''')
evso = os.path.join(tmp, "authz_event.so")
p = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I" + hdr_dir,
                    "-fPIC", "-shared", "-o", evso, evsrc], capture_output=True, text=True)
tap.is_(p.returncode, 0, "a module listening to OD_EVENT_AUTHORIZE builds")
if p.returncode:
    tap.diag(p.stderr)
cfg2 = os.path.join(tmp, "broker-ev.properties")
with open(cfg2, "w") as f:
    f.write(open(cfg).read() + "load_module %s\n" % evso)
audit = os.path.join(tmp, "audit.jsonl")
be = odtest.Broker(config=cfg2, name="events", tmp=b.tmp,
                   sets={"authorizer.audit.log": audit}).start()
with odtest.Conn(be.port) as c:
    out = odtest.produce(c, {("other", 0): batch})
    tap.is_(out[("other", 0)][0], 0, "the event's ALLOW wins over the file's silence")
    md = odtest.metadata(c, ["allowed"])
    tap.is_(md["topics"]["allowed"]["error"], acl.TOPIC_AUTHORIZATION_FAILED,
            "the event's DENY wins over the file's ALLOW")
lines = [ln for ln in acl.audit_lines(audit) if ln.get("resource") == "allowed"]
tap.ok(lines and lines[0]["reason"] == "hidden by authz_event",
       "the audit log has the event's reason")
be.stop()

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
