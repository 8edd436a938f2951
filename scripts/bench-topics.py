#!/usr/bin/python3
# bench-topics.py [N] - figures for topic creation at scale: one Metadata
# request auto-creating N topics, one CreateTopics request of N topics, and
# a restart replaying them; with strace available, the fdatasync calls each
# step made (group commit: one per loop turn, not one per topic).
# Uses ODRADEK_BUILD (default ./_build). Prints figures; asserts nothing.
import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(top, "t", "lib"))
os.environ.setdefault("ODRADEK_BUILD", os.path.join(top, "_build"))
import odtest  # noqa: E402
from odtest import array, i32, i16, string  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
b = odtest.Broker(name="bench")
b.start(timeout=60)
strace = shutil.which("strace")
trace = os.path.join(b.tmp, "strace.out")
tracer = None
if strace:
    # Attached, not wrapping: signals still reach the broker directly.
    tracer = subprocess.Popen([strace, "-f", "-qq", "-y", "-e", "trace=fdatasync,fsync",
                               "-o", trace, "-p", str(b.pid)], stderr=subprocess.DEVNULL)
    odtest.wait_until(lambda: os.path.exists(trace), 10)
    time.sleep(1)


def syncs():
    """fsync-family calls on the metadata log (strace -y names the file)."""
    if not strace:
        return "n/a"
    with open(trace) as f:
        return sum(1 for ln in f if re.search(r"\b(fdatasync|fsync)\(\d+<[^>]*__cluster_metadata-0", ln))


def all_syncs():
    if not strace:
        return "n/a"
    with open(trace) as f:
        return sum(1 for ln in f if re.search(r"\b(fdatasync|fsync)\(", ln))


c = odtest.Conn(b.port, timeout=300)
s0 = syncs()
t0 = time.monotonic()
md = odtest.metadata(c, ["auto-%d" % i for i in range(N)])
t1 = time.monotonic()
s1 = syncs()
ok = sum(1 for t in md["topic_list"] if t["error"] == 0)
print("metadata auto-create %d topics: %.3f s, %d answered with the topic, %s metadata-log "
      "fsyncs (%s fsyncs in all, partition logs included)"
      % (N, t1 - t0, ok, s1 if s0 == "n/a" else s1 - s0, all_syncs()))
t0 = time.monotonic()
body = array(["ct-%d" % i for i in range(N)],
             lambda n: string(n) + i32(1) + i16(1) + array([], None) + array([], None)) + i32(60000)
r = c.request(odtest.CREATE_TOPICS, 0, body, timeout=300)
res = r.array(lambda rr: (rr.string(), rr.i16()))
t1 = time.monotonic()
s2 = syncs()
print("CreateTopics %d topics in one request: %.3f s, %d created, %s fsync calls"
      % (N, t1 - t0, sum(1 for _, e in res if e == 0), s2 if s1 == "n/a" else s2 - s1))
c.close()
if tracer:
    tracer.send_signal(2)  # detach
    tracer.wait(30)
b.stop(timeout=300)
t0 = time.monotonic()
b.start(timeout=300)
print("restart replaying %d topics: %.3f s to ready" % (2 * N, time.monotonic() - t0))
b.stop(timeout=300)
subprocess.run(["rm", "-rf", b.tmp])
