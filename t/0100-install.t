#!/usr/bin/python3
# 0100-install.t - an install under a non-default prefix works on its own:
# configure --prefix=<tmp>/prefix in a fresh build dir, make install, then
#  - the installed odradekd starts with only listeners and log.dirs set
#    (its built-in module.dir and log.dir point into that prefix), and
#    kcat produces and consumes through it;
#  - the installed etc/odradek.properties is accepted;
#  - modules/examples/hello builds out of tree against the installed
#    odradek.pc and header, installs into the .pc's moduledir, and the
#    installed daemon loads it by bare name;
#  - the systemd unit is installed and names the installed paths.
# Builds the tree once without sanitizers (a minute or two on 2 cores).
import os
import re
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

SRC = odtest.TOP
for tool in ("make", "cc", "pkg-config", "kcat"):
    if not shutil.which(tool):
        tap.skip_all("%s not found" % tool)
if not os.path.exists(os.path.join(SRC, "configure")):
    tap.skip_all("no configure in %s (run autogen.sh or scripts/setup.sh)" % SRC)
odtest.watchdog(float(os.environ.get("ODTEST_TIMEOUT", "900")))

TMP = odtest.scratch()
BUILD = os.path.join(TMP, "build")
PREFIX = os.path.join(TMP, "prefix")
DAEMON = os.path.join(PREFIX, "sbin", "odradekd")
os.makedirs(BUILD)


class Installed(odtest.Broker):
    """The installed daemon, given nothing but what the caller sets."""

    def __init__(self, args, **kw):
        super().__init__(**kw)
        self.args = args

    def argv(self):
        return [DAEMON, "--set", "listeners=PLAINTEXT://%s:%d" % (odtest.HOST, self.port)] + \
            self.args


def sh(cmd, log, env=None, timeout=900):
    rc, out, err = odtest.run(cmd, timeout=timeout, env=env)
    with open(os.path.join(TMP, log), "wb") as f:
        f.write(out + err)
    if rc != 0:
        tap.diag("%s -> rc %s" % (" ".join(cmd), rc))
        for line in (out + err).decode(errors="replace").splitlines()[-30:]:
            tap.diag("  " + line)
    return rc, (out + err).decode(errors="replace")


# 1: configure (no sanitizers: the installed daemon is an ordinary one) and
# install; -O0 keeps the build short.
env = dict(os.environ, CFLAGS="-O0 -g0")
rc, _ = sh(["sh", "-c", 'cd "$0" && exec "$1" --prefix="$2"', BUILD,
           os.path.join(SRC, "configure"), PREFIX], "configure.log", env=env, timeout=300)
if rc == 0:
    rc, _ = sh(["make", "-C", BUILD, "-j2", "install"], "install.log", env=env)
tap.ok(rc == 0 and os.access(DAEMON, os.X_OK), "configure --prefix=<tmp>/prefix && make install")
if rc != 0:
    tap.bail_out("install failed")

# 2: the built-in defaults point into the prefix.
rc, doc = sh([DAEMON, "--config-doc"], "config-doc.log")
mdir = re.search(r"^\| `module\.dir` \| string \| `([^`]*)`", doc, re.M)
ldir = re.search(r"^\| `log\.dir` \| string \| `([^`]*)`", doc, re.M)
tap.is_(mdir and mdir.group(1), os.path.join(PREFIX, "lib", "odradek", "modules"),
        "built-in module.dir is <prefix>/lib/odradek/modules")
tap.is_(ldir and ldir.group(1), os.path.join(PREFIX, "var", "lib", "odradek"),
        "built-in log.dir is <prefix>/var/lib/odradek")

# 3-5: only listeners and log.dirs given; kcat round trip.
data = os.path.join(TMP, "data")
b = Installed(["--set", "log.dirs=" + data], tmp=TMP, name="installed")
started = True
try:
    b.start()
except odtest.BrokerError:
    started = False
tap.ok(started, "installed odradekd starts with only listeners and log.dirs set")
kcat = ["kcat", "-b", b.bootstrap, "-m", "15", "-X", "broker.address.family=v4"]
rc, _, err = odtest.run(kcat + ["-P", "-t", "inst", "-p", "0"], input=b"one\ntwo\nthree\n",
                        timeout=60)
tap.ok(rc == 0, "kcat produces 3 messages")
rc, out, err = odtest.run(kcat + ["-C", "-t", "inst", "-p", "0", "-o", "beginning", "-e", "-q"],
                          timeout=60)
tap.is_(out.decode(errors="replace").split(), ["one", "two", "three"],
        "kcat consumes them back in order")
tap.is_(b.stop(), 0, "installed odradekd exits 0 on SIGTERM")

# 6: the installed sample config is accepted as it is.
props = os.path.join(PREFIX, "etc", "odradek.properties")
b2 = Installed(["-c", props, "--set", "log.dirs=" + os.path.join(TMP, "data2")], tmp=TMP,
               name="installed-properties")
started = True
try:
    b2.start()
except odtest.BrokerError:
    started = False
tap.ok(started and b2.stop() == 0, "installed etc/odradek.properties starts and stops cleanly")

# 7-8: examples/hello against the installed pkg-config file, installed into
# its moduledir and loaded by bare name through the built-in module.dir.
hello = os.path.join(TMP, "hello")
os.makedirs(hello)
penv = dict(os.environ, PKG_CONFIG_PATH=os.path.join(PREFIX, "lib", "pkgconfig"),
            PKG_CONFIG_LIBDIR="/nonexistent")
rc, out = sh(["make", "-C", hello, "-f", os.path.join(SRC, "modules", "examples", "hello", "Makefile"),
              "install"], "hello.log", env=penv, timeout=120)
tap.ok(rc == 0 and "-I%s/include/odradek" % PREFIX in out and
       os.path.exists(os.path.join(PREFIX, "lib", "odradek", "modules", "hello.so")),
       "examples/hello builds against <prefix>/include/odradek and installs into the moduledir")
cfg = os.path.join(TMP, "hello.properties")
with open(cfg, "w") as f:
    f.write("load_module storage_segment\nload_module kraft\nload_module hello\n"
            "hello.greeting=bonjour\n")
b3 = Installed(["-c", cfg, "--set", "log.dirs=" + os.path.join(TMP, "data3")], tmp=TMP,
               name="installed-hello")
started = True
try:
    b3.start()
except odtest.BrokerError:
    started = False
tap.ok(started and "bonjour" in b3.log_text() and b3.stop() == 0,
       "installed odradekd loads hello by bare name and it greets (bonjour)")

# 9: the systemd unit names the installed daemon and config, a user and fds.
unit = os.path.join(PREFIX, "lib", "systemd", "system", "odradek.service")
text = open(unit).read() if os.path.exists(unit) else ""
tap.ok(("ExecStart=%s --config %s" % (DAEMON, props)) in text and
       re.search(r"^User=odradek$", text, re.M) and re.search(r"^LimitNOFILE=\d+", text, re.M) and
       re.search(r"^StateDirectory=odradek$", text, re.M) and
       os.path.exists(os.path.join(PREFIX, "lib", "sysusers.d", "odradek.sysusers")),
       "odradek.service and the sysusers entry are installed with the prefix's paths")

sys.exit(odtest.finish())
