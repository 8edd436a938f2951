#!/usr/bin/python3
# Routes and module events (doc/routing.md): the order on the produce path
# is placement check -> routes -> OD_EVENT_APPEND -> append, and copies and
# dead letters go through OD_EVENT_APPEND too. With the test module
# t/lib/evmod.c (denies appends holding "FORBIDDEN"): a route that puts
# FORBIDDEN into a header is denied by the module after the route ran; a
# copy re-keyed to FORBIDDEN is dropped (logged, counted as lost) while its
# original is appended; a record the placement check refuses never reaches
# the module. Copies reach modules as one batch per target partition.
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import routetest as rt  # noqa: E402
import tap  # noqa: E402

odtest.watchdog(120)
TMP = odtest.scratch()
so = os.path.join(TMP, "evmod.so")
r = subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-I",
                    os.path.join(odtest.TOP, "core"), "-fPIC", "-shared", "-pthread",
                    '-DEVMOD_NAME="evmod"', "-o", so,
                    os.path.join(odtest.TOP, "t", "lib", "evmod.c")],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
tap.is_(r.returncode, 0, "the test module builds") or tap.diag(r.stdout.decode())
LUA = rt.write(TMP, "ev.lua", r'''
odradek.route("mark", function(rec)
  if rec.value == "mark" then rec.headers["x"] = "FORBIDDEN" end
  return true
end)
odradek.route("src", function(rec)
  rec:copy("dst", "murmur2", "FORBIDDEN")
  rec:copy("dst2", "murmur2")
  return true
end)
''')
rt.BASE_MODULES.append(so)
b = rt.broker(scripts=[LUA], sets={"evmod.max.partitions": "100"}).start()
admin = odtest.ck_admin(b.bootstrap)
for t in ("mark", "src", "dst", "dst2"):
    odtest.ck_create_topic(admin, t, 1)
odtest.ck_create_topic(admin, "placed", 2, {"placement.partitioner": "murmur2"})

with odtest.Conn(b.port) as c:
    e1, _, m1, _ = rt.produce_v8(c, "mark", 0, odtest.build_batch([(b"k", b"plain")]))
    e2, _, m2, _ = rt.produce_v8(c, "mark", 0, odtest.build_batch([(b"k", b"mark")]))
    tap.is_(e1, 0, "a record the route leaves alone passes the module")
    tap.ok(e2 == 87 and "FORBIDDEN" in (m2 or ""),
           "the header the route added is seen by the module's APPEND event (denied)") or \
        tap.diag(repr((e2, m2)))
    e3 = rt.produce_v8(c, "src", 0, odtest.build_batch([(b"k", b"v")]))[0]
    src = odtest.fetch_all(c, "src", 0)[0]
    dst = odtest.fetch_all(c, "dst", 0)[0]
    dst2 = odtest.fetch_all(c, "dst2", 0)[0]
tap.ok(e3 == 0 and len(src) == 1, "the original of a denied copy is appended")
tap.is_(([x[2] for x in dst], [x[2] for x in dst2]), ([], [b"k"]),
        "the copy re-keyed to FORBIDDEN is dropped, the other (to another topic) kept")
tap.ok("denied by module evmod" in b.log_text() and "copy dropped" in b.log_text(),
       "the dropped copy is logged")
tap.is_(rt.metric(b.metrics_url, "odradek_route_lost_total", kind="route", hook="src"), 1.0,
        "... and counted as lost")
k = next(k for k in (b"a", b"b", b"c", b"d") if rt.murmur2_partition(k, 2) == 0)
with odtest.Conn(b.port) as c:
    e4, _, m4, _ = rt.produce_v8(c, "placed", 1, odtest.build_batch([(k, b"FORBIDDEN")]))
tap.ok(e4 == 87 and "belongs in partition 0" in (m4 or ""),
       "the placement check answers before the module is asked") or tap.diag(repr(m4))
odtest.finish()
