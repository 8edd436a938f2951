"""modkit.py - the module kit as an out-of-tree module author uses it: one
staged `make install` of the build, and modules built with their own
Makefile against its header through `pkg-config odradek`.

    import modkit
    kit = modkit.stage(tmp)                  # bails out when nothing installs
    ok, so, out = kit.build_example("partitioner_first_byte", "first_byte")
    so = kit.compile("bad_abi", c_source)    # a one-file module of a test's own
"""
import os
import shutil
import subprocess

import odtest
import tap


class Kit:
    def __init__(self, tmp, stage, pc):
        self.tmp = tmp
        self.stage = stage
        self.env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pc),
                        PKG_CONFIG_SYSROOT_DIR=stage, PKG_CONFIG_LIBDIR="/nonexistent")

    def build_example(self, example, name):
        """make -f modules/examples/<example>/Makefile in a directory of its
        own: (built against the staged header, path of <name>.so, output)."""
        out = os.path.join(self.tmp, "build-" + example)
        os.makedirs(out, exist_ok=True)
        p = subprocess.run(["make", "-C", out, "-f",
                            os.path.join(odtest.TOP, "modules", "examples", example, "Makefile")],
                           capture_output=True, text=True, env=self.env, timeout=120)
        so = os.path.join(out, name + ".so")
        ok = p.returncode == 0 and os.path.exists(so) and "-I" + self.stage in p.stdout
        return ok, so, p.stdout + p.stderr

    def compile(self, name, source):
        """A one-file module (or any shared object) from C source, with the
        staged header's flags; its path, or None (with a diagnostic)."""
        src = os.path.join(self.tmp, name + ".c")
        with open(src, "w") as f:
            f.write(source)
        cflags = subprocess.run(["pkg-config", "--cflags", "odradek"], capture_output=True,
                                text=True, env=self.env).stdout.split()
        so = os.path.join(self.tmp, name + ".so")
        p = subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-fPIC", "-shared", "-o", so,
                            src] + cflags, capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            tap.diag("cc %s: %s" % (name, p.stderr[-1500:]))
            return None
        return so


def need_tools(*more):
    """Skip the test without make, cc, pkg-config (and the tools named)."""
    for tool in ("make", "cc", "pkg-config") + more:
        if not shutil.which(tool):
            tap.skip_all("%s not found" % tool)


def stage(tmp):
    """make install DESTDIR=<tmp>/stage of the build under test (one test
    point); a Kit for it, or bail out."""
    st = os.path.join(tmp, "stage")
    p = subprocess.run(["make", "-C", odtest.find_build(), "install", "DESTDIR=" + st],
                       capture_output=True, text=True, timeout=600)
    pcs = [os.path.join(d, f) for d, _, fs in os.walk(st) for f in fs if f == "odradek.pc"]
    tap.ok(p.returncode == 0 and pcs, "make install DESTDIR=<stage>")
    if p.returncode != 0 or not pcs:
        tap.diag(p.stderr[-2000:])
        tap.bail_out("no staged install")
    return Kit(tmp, st, pcs[0])
