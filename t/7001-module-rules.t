#!/usr/bin/python3
# Start-up rules of ABI 1.3: a SASL mechanism registered by two modules
# stops the start naming both (even when init ignores the return value);
# per-listener overrides (listener.name.<listener>.<key>) of a module's key
# flagged OD_CONF_F_LISTENER are validated like the key and read with
# od_config_listener_get, falling back to the key's own value; a key without
# the flag, a bad value and an unknown listener stop the start with file,
# line and reason.
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

if not shutil.which("cc"):
    tap.skip_all("no C compiler")
odtest.watchdog(120)
TMP = odtest.scratch()
HDR = os.path.join(odtest.TOP, "core")
LIB = os.path.join(odtest.TOP, "t", "lib")


def build(name, src, defs):
    so = os.path.join(TMP, name + ".so")
    r = subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-I",
                        HDR, "-fPIC", "-shared", "-pthread"] + defs +
                       ["-o", so, os.path.join(LIB, src)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    tap.is_(r.returncode, 0, "module %s builds" % name) or tap.diag(r.stdout.decode())
    return so


mech_a = build("mech_a", "dupmech.c", ['-DDUPMECH_NAME="mech_a"', '-DDUPMECH_MECH="PLAIN"'])
mech_b = build("mech_b", "dupmech.c", ['-DDUPMECH_NAME="mech_b"', '-DDUPMECH_MECH="PLAIN"'])
mech_c = build("mech_c", "dupmech.c", ['-DDUPMECH_NAME="mech_c"', '-DDUPMECH_MECH="SCRAM-SHA-256"'])
evmod = build("evmod", "evmod.c", ['-DEVMOD_NAME="evmod"'])


def config(name, mods, lines=()):
    p = os.path.join(TMP, name)
    with open(p, "w") as f:
        f.write("load_module storage_segment\nload_module kraft\n")
        for m in mods:
            f.write("load_module %s\n" % m)
        for ln in lines:
            f.write(ln + "\n")
    return p


def fails(cfg, sets=()):
    b = odtest.Broker(config=cfg, sets=list(sets), name="b%d" % fails.n)
    fails.n += 1
    r = subprocess.run(b.argv(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    return r.returncode, r.stdout.decode("utf-8", "replace")


fails.n = 0

rc, out = fails(config("dup.properties", [mech_a, mech_c, mech_b]))
tap.ok(rc != 0, "two modules registering PLAIN: the start fails")
tap.ok("SASL mechanism PLAIN is registered by both module mech_a and module mech_b" in out,
       "the error names the mechanism and both modules") or tap.diag(out[-600:])
tap.ok("dup.properties:5" in out, "and where the second module was loaded") or tap.diag(out[-600:])

cfg = config("listener.properties", [evmod], ["evmod.limit=7",
                                              "listener.name.plaintext.evmod.limit=42"])
b = odtest.Broker(config=cfg).start()
tap.ok("evmod: limit 7, on PLAINTEXT 42" in b.log_text(),
       "od_config_listener_get gives the listener's override; the key keeps its own value")
b.stop()
b = odtest.Broker(config=config("base.properties", [evmod], ["evmod.limit=9"]), name="base").start()
tap.ok("evmod: limit 9, on PLAINTEXT 9" in b.log_text(), "without an override: the key's value")
b.stop()

rc, out = fails(config("bad.properties", [evmod], ["listener.name.PLAINTEXT.evmod.limit=500"]))
tap.ok(rc != 0 and "bad.properties:4: value 500 for evmod.limit is out of range [1, 100]" in out,
       "a bad per-listener value stops the start with file, line and reason") or tap.diag(out[-600:])
rc, out = fails(config("noflag.properties", [evmod], ["listener.name.plaintext.evmod.deny.api=3"]))
tap.ok(rc != 0 and "noflag.properties:4: configuration key 'evmod.deny.api' cannot be set per "
       "listener" in out, "a key without the listener flag is refused") or tap.diag(out[-600:])
rc, out = fails(config("nolistener.properties", [evmod], ["listener.name.sasl_ssl.evmod.limit=3"]))
tap.ok(rc != 0 and "nolistener.properties:4: listener.name.sasl_ssl.evmod.limit names listener "
       "'sasl_ssl', which is not in listeners" in out,
       "an override for a listener that does not exist is refused") or tap.diag(out[-600:])
sys.exit(odtest.finish())
