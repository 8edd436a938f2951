#!/usr/bin/python3
# The partitioners module loads into a broker whose core has the partitioner
# registry of ABI 1.3 (od_register_partitioner): dlopen resolves every
# symbol, init registers each strategy, and the broker serves requests with
# it loaded. Skipped while odradekd does not export the registry (it comes
# with the extension points of issue 9).
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

build = odtest.find_build()
so = os.path.join(build, ".libs", "partitioners.so")
if not os.path.exists(so):
    tap.bail_out("partitioners.so is not built in %s" % build)
odtest.watchdog(60)
tmp = odtest.scratch()
conf = os.path.join(tmp, "odradek.properties")
with open(conf, "w") as f:
    f.write("load_module storage_segment\nload_module kraft\nload_module partitioners\n")
b = odtest.Broker(config=conf, tmp=tmp).start()
with odtest.Conn(b.port) as c:
    tap.is_(odtest.api_versions(c, 0)["error"], 0, "the broker with the partitioners module answers")
log = b.log_text()
tap.ok(" ERROR " not in log, "no ERROR line in the broker log") or tap.diag(log[-2000:])
sys.exit(odtest.finish())
