#!/usr/bin/python3
# Module metrics (module ABI 1.2): a module built outside the tree declares
# a counter and a gauge in init and adds to them; the broker serves them as
# odradek_<name> on metrics.listener. od_metrics_add refuses undeclared
# names and negative counter deltas. A module declaring a bad name fails
# its init and stops the start with its file and the reason. A module built
# for ABI 1.1 (no metrics) still loads.
import os
import shutil
import subprocess
import sys
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

if not shutil.which("cc"):
    tap.skip_all("no C compiler")
odtest.watchdog(120)
TMP = odtest.scratch()
HDR = os.path.join(odtest.TOP, "core")

MOD = r'''
#include <stdio.h>
#include <odradek-module.h>
static const od_metric_def_t defs[] = {
    {"mcount_things_total", OD_METRIC_COUNTER, "Things counted by the test module."},
    {"mcount_level", OD_METRIC_GAUGE, "A level set by the test module."},
};
static int m_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    if (od_register_metrics(ctx, defs, sizeof defs / sizeof defs[0]) < 0) {
        snprintf(err, errsz, "od_register_metrics failed");
        return -1;
    }
    return 0;
}
static int m_start(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    (void)ctx; (void)err; (void)errsz;
    int a = od_metrics_add("mcount_things_total", 5);
    int b = od_metrics_add("mcount_things_total", 2);
    int c = od_metrics_add("mcount_things_total", -1);
    int d = od_metrics_add("mcount_level", 10);
    int e = od_metrics_add("mcount_level", -3);
    int f = od_metrics_add("mcount_nothing_total", 1);
    od_logf(OD_LOG_INFO, "mcount: add results %d %d %d %d %d %d", a, b, c, d, e, f);
    return 0;
}
od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR, .abi_minor = OD_ABI_MINOR, .name = "mcount", .version = "1",
    .kinds = OD_KIND_OTHER, .init = m_init, .start = m_start,
};
'''
BAD = r'''
#include <stdio.h>
#include <odradek-module.h>
static const od_metric_def_t defs[] = {{"other_things_total", OD_METRIC_COUNTER, "x"}};
static int m_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    if (od_register_metrics(ctx, defs, 1) < 0) {
        snprintf(err, errsz, "od_register_metrics refused its table");
        return -1;
    }
    return 0;
}
od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR, .abi_minor = OD_ABI_MINOR, .name = "mbad", .version = "1",
    .kinds = OD_KIND_OTHER, .init = m_init,
};
'''
OLD = r'''
#include <odradek-module.h>
static int m_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    (void)ctx; (void)err; (void)errsz;
    od_logf(OD_LOG_INFO, "mold: loaded");
    return 0;
}
od_module_t od_module = {
    .abi_major = 1, .abi_minor = 1, .name = "mold", .version = "1",
    .kinds = OD_KIND_OTHER, .init = m_init,
};
'''


def build(name, src):
    c, so = os.path.join(TMP, name + ".c"), os.path.join(TMP, name + ".so")
    with open(c, "w") as f:
        f.write(src)
    r = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", HDR, "-fPIC",
                        "-shared", "-o", so, c], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    tap.is_(r.returncode, 0, "module %s builds against odradek-module.h" % name) or \
        tap.diag(r.stdout.decode())
    return so


mcount, mbad, mold = build("mcount", MOD), build("mbad", BAD), build("mold", OLD)


def config(name, mods):
    p = os.path.join(TMP, name)
    with open(p, "w") as f:
        f.write("load_module storage_segment\nload_module kraft\n")
        for m in mods:
            f.write("load_module %s\n" % m)
    return p


mport = odtest.free_port()
b = odtest.Broker(config=config("good.properties", [mcount, mold]),
                  sets={"metrics.listener": "http://127.0.0.1:%d" % mport}).start()
with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10) as r:
    text = r.read().decode()
tap.ok("# TYPE odradek_mcount_things_total counter\nodradek_mcount_things_total 7\n" in text,
       "the module's counter is served as odradek_mcount_things_total (5 + 2)")
tap.ok("# TYPE odradek_mcount_level gauge\nodradek_mcount_level 7\n" in text,
       "the module's gauge went up and down (10 - 3)")
tap.ok("# HELP odradek_mcount_things_total Things counted by the test module.\n" in text,
       "its HELP text")
tap.ok("mcount: add results 0 0 -1 0 0 -1" in b.log_text(),
       "od_metrics_add: negative counter delta and undeclared name return -1")
tap.ok("mold: loaded" in b.log_text(), "a module built for ABI 1.1 loads next to it")
tap.is_(b.stop(), 0, "broker with the modules exits 0 on SIGTERM")

bb = odtest.Broker(config=config("bad.properties", [mbad]), name="bad")
try:
    bb.start(timeout=15)
    started = True
except odtest.BrokerError:
    started = False
log = bb.log_text()
tap.ok(not started and "mbad.so" in log and "metric 'other_things_total'" in log and
       "od_register_metrics refused its table" in log,
       "a module declaring a name without its prefix stops the start (file, name, reason)") or \
    tap.diag(log[-800:])
sys.exit(odtest.finish())
