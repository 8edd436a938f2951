#!/usr/bin/python3
# The example credential backend (modules/examples/sasl_cred_static) builds
# out of tree with its own Makefile against the module kit as installed
# (include/odradek/odradek-module.h and an odradek.pc, staged here), loads
# with load_module, and a PLAIN login (kcat) goes through it.
import os
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import sasl  # noqa: E402
import tap  # noqa: E402
from odtest import Conn  # noqa: E402

for tool in ("make", "cc", "pkg-config"):
    if not shutil.which(tool):
        tap.skip_all("%s not found" % tool)
odtest.watchdog(180)
SRC = odtest.TOP
tmp = odtest.scratch("example")
stage = os.path.join(tmp, "stage")
os.makedirs(os.path.join(stage, "include", "odradek"))
os.makedirs(os.path.join(stage, "lib", "pkgconfig"))
shutil.copy(os.path.join(SRC, "core", "odradek-module.h"), os.path.join(stage, "include", "odradek"))
with open(os.path.join(stage, "lib", "pkgconfig", "odradek.pc"), "w") as f:
    f.write("prefix=%s\nincludedir=${prefix}/include\nmoduledir=${prefix}/modules\n\n"
            "Name: odradek\nDescription: staged module kit\nVersion: 0\n"
            "Cflags: -I${includedir}/odradek -fPIC\n" % stage)
out_dir = os.path.join(tmp, "build")
os.makedirs(out_dir)
env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(stage, "lib", "pkgconfig"),
           PKG_CONFIG_LIBDIR="/nonexistent")
rc, out, err = odtest.run(["make", "-C", out_dir, "-f",
                           os.path.join(SRC, "modules", "examples", "sasl_cred_static", "Makefile")],
                          env=env, timeout=120)
so = os.path.join(out_dir, "cred_static.so")
tap.ok(rc == 0 and os.path.exists(so), "the example builds out of tree with pkg-config odradek")
if rc:
    tap.diag((out + err).decode(errors="replace")[-1500:])
    tap.bail_out("no module")
tap.ok(("-I%s/include/odradek" % stage).encode() in out, "against the staged headers")

cfg = os.path.join(tmp, "odradek.properties")
with open(cfg, "w") as f:
    f.write("load_module storage_segment\nload_module kraft\nload_module sasl_plain\n"
            "load_module %s\nsasl.credential.backend=static\n"
            "cred_static.users=alice:alice-pw,bob:bob-pw\n" % so)
b = sasl.SaslBroker(mechanisms="PLAIN", config=cfg).start()


def login(user, pw):
    with Conn(b.sasl_port) as c:
        sasl.handshake(c, "PLAIN")
        return sasl.authenticate(c, sasl.plain_token(user, pw))[0]


tap.is_(login("alice", "alice-pw"), 0, "alice logs in through the example backend")
tap.is_(login("bob", "alice-pw"), sasl.SASL_AUTHENTICATION_FAILED, "bob with alice's password: no")
tap.is_(login("alice", "alice-p"), sasl.SASL_AUTHENTICATION_FAILED, "a prefix of the password: no")
if shutil.which("kcat"):
    rc, out, err = odtest.run(["kcat", "-b", b.sasl_bootstrap, "-X", "broker.address.family=v4",
                               "-X", "security.protocol=SASL_PLAINTEXT", "-X",
                               "sasl.mechanisms=PLAIN", "-X", "sasl.username=bob", "-X",
                               "sasl.password=bob-pw", "-L"], timeout=60)
    tap.ok(rc == 0 and b"1 brokers" in out, "kcat -L logs in as bob through it")
else:
    tap.skip("kcat is not installed")
sys.exit(odtest.finish())
