#!/usr/bin/python3
# SASL and the module events (ABI 1.3): a test module built here listens to
# AUTHENTICATE (denies one user with a reason, rewrites another's
# principal) and REQUEST (logs the client's principal, mechanism and
# session expiry as every later hook sees them).
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import sasl  # noqa: E402
import tap  # noqa: E402
from odtest import Conn  # noqa: E402

if not shutil.which("cc"):
    tap.skip_all("no C compiler")
odtest.watchdog(120)
tmp = odtest.scratch("sasl-events")
SRC = r'''
#include <stdio.h>
#include <string.h>
#include <odradek-module.h>

static int on_auth(void *arg, int event, const void *e)
{
    const od_ev_auth_t *ev = e;
    if (strcmp(ev->principal, "User:mallory") == 0) {
        snprintf(ev->reason, ev->reason_size, "mallory is banned");
        return OD_DENY;
    }
    if (strcmp(ev->principal, "User:bob") == 0)
        snprintf(ev->principal, ev->principal_size, "User:robert");
    return OD_DEFER;
}

static int on_request(void *arg, int event, const void *e)
{
    const od_ev_request_t *ev = e;
    if (ev->api_key == 3)
        od_logf(OD_LOG_INFO, "evsasl: metadata from %s via %s expiry %s",
                ev->client->principal, ev->client->sasl_mechanism ? ev->client->sasl_mechanism : "-",
                ev->client->session_expiry_ms > 0 ? "set" : "none");
    return OD_DEFER;
}

static int init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    (void)err; (void)errsz;
    od_register_event(ctx, OD_EVENT_AUTHENTICATE, on_auth, NULL);
    od_register_event(ctx, OD_EVENT_REQUEST, on_request, NULL);
    return 0;
}

const od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR, .abi_minor = OD_ABI_MINOR, .name = "evsasl", .version = "1",
    .kinds = OD_KIND_OTHER, .init = init,
};
'''
c, so = os.path.join(tmp, "evsasl.c"), os.path.join(tmp, "evsasl.so")
with open(c, "w") as f:
    f.write(SRC)
p = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter",
                    "-fPIC", "-shared", "-I", os.path.join(odtest.TOP, "core"), "-o", so, c],
                   capture_output=True, timeout=120)
tap.is_(p.returncode, 0, "the event module builds (%s)" % p.stderr.decode()[-200:])
cfg = os.path.join(tmp, "odradek.properties")
with open(cfg, "w") as f:
    f.write("load_module storage_segment\nload_module kraft\nload_module sasl_plain\n"
            "load_module sasl_scram\nload_module %s\n" % so)
b = sasl.SaslBroker(mechanisms="PLAIN,SCRAM-SHA-256", config=cfg,
                    sets={"connections.max.reauth.ms": "600000"}).start()
for u in ("alice", "bob", "mallory"):
    sasl.add_user(b.port, u, u + "-pw")


def login(user, mech="PLAIN"):
    c = Conn(b.sasl_port)
    if mech == "PLAIN":
        sasl.handshake(c, "PLAIN")
        res = sasl.authenticate(c, sasl.plain_token(user, user + "-pw"))
    else:
        res = sasl.scram_login(c, mech, user, user + "-pw")
    return c, res


c, (err, msg, _, life) = login("alice")
tap.is_(err, 0, "alice logs in")
odtest.metadata(c)
c.close()
c, (err, msg, _, _) = login("mallory")
tap.is_((err, msg), (sasl.SASL_AUTHENTICATION_FAILED, "mallory is banned"),
        "AUTHENTICATE denies mallory with the module's reason")
tap.is_(c.wait_closed(5), "closed", "and the connection closes")
c.close()
c, (err, msg, _, _) = login("bob", "SCRAM-SHA-256")
tap.is_(err, 0, "bob logs in with SCRAM")
odtest.metadata(c)
err, msg, _, _ = sasl.scram_login(c, "SCRAM-SHA-256", "bob", "bob-pw")
tap.is_(err, 0, "bob re-authenticates: the rewritten principal is the same again")
c.close()
with Conn(b.port) as c:
    odtest.metadata(c)
log = b.log_text()
tap.like(log, r"evsasl: metadata from User:alice via PLAIN expiry set",
         "REQUEST sees alice's principal, mechanism and session expiry")
tap.like(log, r"evsasl: metadata from User:robert via SCRAM-SHA-256",
         "AUTHENTICATE rewrote bob to User:robert")
tap.like(log, r"evsasl: metadata from User:ANONYMOUS via - expiry none",
         "the PLAINTEXT listener's client is User:ANONYMOUS")
tap.ok(not re.search(r"authenticated as User:mallory", log), "mallory never authenticated")
sys.exit(odtest.finish())
