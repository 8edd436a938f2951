#!/usr/bin/python3
# Configuration errors are reported with file, line and reason, and stop
# the broker; a valid file starts it.
import os
import re
import socket
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

odtest.watchdog(240)
BUILD = odtest.find_build()
TMP = odtest.scratch()
ODRADEKD = os.path.join(BUILD, "odradekd")


def base_sets(skip=()):
    port = odtest.free_port()
    sets = [("module.dir", os.path.join(BUILD, ".libs")),
            ("listeners", "PLAINTEXT://127.0.0.1:%d" % port),
            ("log.dirs", os.path.join(TMP, "data-%d" % port)),
            ("node.id", "1")]
    out = []
    for k, v in sets:
        if k not in skip:
            out += ["--set", "%s=%s" % (k, v)]
    return out


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def expect_fail(args, what, timeout=15):
    """Run odradekd with args; it must exit non-zero by itself. Returns stderr."""
    rc, out, err = odtest.run([ODRADEKD] + args, timeout=timeout)
    err = (err + out).decode("utf-8", "replace")
    if rc is None:
        tap.ok(False, "%s: odradekd exits (it was still running after %ds)" % (what, timeout))
    else:
        tap.ok(rc != 0, "%s: odradekd exits non-zero (got %d)" % (what, rc))
    if rc == 0 or rc is None:
        tap.diag(err[-2000:])
    return err


def line_re(path, line):
    # "file:3: reason" or "file line 3" or "file, line 3"
    return r"%s(:|.{0,20}\bline\s*)%d\b" % (re.escape(path), line)


def check_file_error(name, lines, bad_line, key, skip=(), reason_re=None):
    text = "# odtest: %s\n\n" % name + "".join(l + "\n" for l in lines)
    path = write(name + ".properties", text)
    line = bad_line + 2  # the comment and the blank line come first
    err = expect_fail(base_sets(skip) + ["-c", path], name)
    tap.like(err, line_re(path, line), "%s: stderr names the file and line %d" % (name, line))
    tap.ok(key in err, "%s: stderr names the key %s" % (name, key)) or tap.diag(err[-1000:])
    if reason_re:
        tap.like(err, reason_re, "%s: stderr gives the reason" % name)


# ---- unknown key ----------------------------------------------------------
check_file_error("unknown-key", ["num.partitions=2", "no.such.key=1"], 2, "no.such.key",
                 reason_re=r"(?i)unknown|unrecogni[sz]ed|not a known|invalid key")

# ---- bad values -----------------------------------------------------------
check_file_error("bad-int", ["num.partitions=abc"], 1, "num.partitions",
                 reason_re=r"(?i)integer|number|numeric|invalid|abc")
check_file_error("zero-partitions", ["log.retention.hours=168", "num.partitions=0"], 2,
                 "num.partitions", reason_re=r"(?i)range|least|minimum|>=|must be|invalid|0")
check_file_error("bad-bool", ["auto.create.topics.enable=maybe"], 1,
                 "auto.create.topics.enable", reason_re=r"(?i)bool|true|invalid|maybe")
check_file_error("bad-listeners", ["listeners=garbage"], 1, "listeners",
                 skip=("listeners",), reason_re=r"(?i)listener|invalid|garbage|PLAINTEXT")

# ---- --set ----------------------------------------------------------------
err = expect_fail(base_sets() + ["--set", "unknown.odtest.key=1"], "--set unknown key")
tap.ok("unknown.odtest.key" in err, "--set unknown key: stderr names it") or tap.diag(err[-1000:])
err = expect_fail(base_sets() + ["--set", "num.partitions=abc"], "--set num.partitions=abc")
tap.ok("num.partitions" in err, "--set bad value: stderr names the key") or tap.diag(err[-1000:])
err = expect_fail(base_sets() + ["--set", "no-equals-sign"], "--set without =")

# ---- missing config file --------------------------------------------------
missing = os.path.join(TMP, "no-such-dir", "odradek.properties")
err = expect_fail(base_sets() + ["-c", missing], "missing config file")
tap.ok(missing in err, "missing config file: stderr names it") or tap.diag(err[-1000:])
tap.like(err, r"(?i)no such file|not found|cannot open|can't open|does not exist|ENOENT",
         "missing config file: stderr says why")

# ---- missing module -------------------------------------------------------
mod = "/nonexistent/odtest-module.so"
path = write("bad-module.properties", "# odtest\nload_module %s\n" % mod)
err = expect_fail(base_sets() + ["-c", path], "missing module")
tap.ok(mod in err, "missing module: stderr names the module file") or tap.diag(err[-1000:])

# ---- start-up failures outside the config -----------------------------------
busy = socket.socket()
busy.bind(("127.0.0.1", 0))
busy.listen(1)
bport = busy.getsockname()[1]
err = expect_fail(base_sets(skip=("listeners",)) +
                  ["--set", "listeners=PLAINTEXT://127.0.0.1:%d" % bport], "listener port in use")
tap.ok(str(bport) in err and re.search(r"(?i)in use|bind", err),
       "listener port in use: stderr names the port and the reason") or tap.diag(err[-1000:])
busy.close()
afile = write("a-file", "not a directory\n")
bad_dir = os.path.join(afile, "data")
err = expect_fail(base_sets(skip=("log.dirs",)) + ["--set", "log.dirs=" + bad_dir],
                  "log.dirs under a regular file")
tap.ok(afile in err, "log.dirs under a regular file: stderr names the path") or tap.diag(err[-1000:])

# ---- a valid file starts ----------------------------------------------------
port = odtest.free_port()
data = os.path.join(TMP, "valid-data")
path = write("valid.properties", """# a valid configuration
# comments and blank lines are ignored

module.dir=%s
listeners=PLAINTEXT://127.0.0.1:%d
log.dirs=%s
node.id=1
num.partitions=3
auto.create.topics.enable=true
log.retention.hours=168
""" % (os.path.join(BUILD, ".libs"), port, data))


class FileBroker(odtest.Broker):
    def argv(self):
        return [ODRADEKD, "-c", path]


b = FileBroker(port=port, tmp=TMP, name="valid-file-broker")
try:
    b.start()
    tap.ok(True, "broker starts from a valid file")
    with odtest.Conn(b.port) as c:

        def parts():
            m = odtest.metadata(c, ["odtest-auto"])
            t = m["topics"].get("odtest-auto")
            return t if t and t["error"] == 0 and t["partitions"] else None
        t = odtest.wait_until(parts, 10, 0.1)
        tap.ok(t is not None, "auto-created topic has metadata")
        tap.is_(len(t["partitions"]) if t else None, 3,
                "num.partitions=3 from the file applies to auto-created topics")
    tap.ok(os.path.isdir(data), "log.dirs from the file is used")
except odtest.BrokerError as e:
    tap.ok(False, "broker starts from a valid file: %s" % e)

sys.exit(odtest.finish())
