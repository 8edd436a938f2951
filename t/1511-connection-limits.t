#!/usr/bin/python3
# Descriptors and connection counts: max.connections stops accepting until a
# connection closes, max.connections.per.ip (and its overrides) refuses the
# excess at once, the start raises the soft open-file limit to the hard one,
# and running out of descriptors makes the broker back off accepting instead
# of spinning (its CPU time is read from /proc/PID/stat: ~100% vs ~0%).
import os
import resource
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import Conn  # noqa: E402

odtest.watchdog(240)


def answers(c, timeout=10):
    try:
        c.send_request(18, 0, b"")
        fr = c.recv_frame(timeout=timeout)
        return fr is not None
    except (socket.timeout, OSError, odtest.ConnectionClosed):
        return False


# ---- max.connections: the broker stops accepting; a slot frees on close ----------
b = odtest.Broker(sets={"max.connections": "3"}).start()
held = [Conn(b.port) for _ in range(3)]
tap.ok(all(answers(c) for c in held), "3 connections (max.connections=3) are served")
extra = Conn(b.port)  # the kernel completes the handshake into the backlog
extra.send_request(18, 0, b"")
try:
    early = extra.recv_frame(timeout=1.5)
except socket.timeout:
    early = "timeout"
tap.is_(early, "timeout", "a 4th connection is not served while 3 are open")
held[0].close()
fr = extra.recv_frame(timeout=10)
tap.ok(fr is not None, "once one closes, the 4th is accepted and answered")
tap.ok("max.connections=3" in b.log_text(), "the broker logs that it stopped accepting")
for c in held[1:] + [extra]:
    c.close()
b.stop()

# ---- max.connections.per.ip and overrides -----------------------------------------
b = odtest.Broker(sets={"max.connections.per.ip": "2"}).start()
two = [Conn(b.port) for _ in range(2)]
tap.ok(all(answers(c) for c in two), "2 connections from 127.0.0.1 (max.connections.per.ip=2) served")
third = Conn(b.port)
tap.is_(third.wait_closed(5), "closed", "a 3rd from the same address is closed at once")
third.close()
tap.ok("refused connection from 127.0.0.1" in b.log_text(), "the refusal is logged with the address")
two[0].close()
time.sleep(0.2)
again = Conn(b.port)
tap.ok(answers(again), "after one closes, a new connection from that address is served")
again.close()
two[1].close()
b.stop()
b = odtest.Broker(sets={"max.connections.per.ip": "1",
                        "max.connections.per.ip.overrides": "127.0.0.1:4,10.1.2.3:0"}).start()
four = [Conn(b.port) for _ in range(4)]
tap.ok(all(answers(c) for c in four), "the override lets 127.0.0.1 hold 4 connections")
fifth = Conn(b.port)
tap.is_(fifth.wait_closed(5), "closed", "a 5th is closed")
for c in four + [fifth]:
    c.close()
b.stop()
bad = odtest.Broker(sets={"max.connections.per.ip.overrides": "localhost:3"}, name="bad")
rc, out, err = odtest.run(bad.argv(), timeout=30)
tap.ok(rc not in (0, None) and b"max.connections.per.ip.overrides" in err + out and b"--set" in err + out,
       "a host name in the overrides is refused at start with where it was set") or \
    tap.diag((err + out)[-400:].decode("utf-8", "replace"))

# ---- the soft open-file limit is raised to the hard one ----------------------------
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
low = min(256, hard)


def lower_soft():
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))


orig_popen = subprocess.Popen


def popen_with(fn):
    def p(*a, **k):
        k["preexec_fn"] = fn
        return orig_popen(*a, **k)
    return p


if low < hard:
    odtest.subprocess.Popen = popen_with(lower_soft)
    b = odtest.Broker(name="rlimit").start()
    odtest.subprocess.Popen = orig_popen
    with open("/proc/%d/limits" % b.pid) as f:
        line = [ln for ln in f if ln.startswith("Max open files")][0].split()
    tap.is_((line[3], line[4]), (str(hard), str(hard)), "the broker's soft limit is the hard one (%d)" % hard)
    tap.ok("raised open-file limit from %d to %d" % (low, hard) in b.log_text(), "and it says so")
    b.stop()
else:
    tap.skip("hard open-file limit is %d: nothing to raise" % hard)
    tap.skip("hard open-file limit is %d: nothing to raise" % hard)

# ---- out of descriptors: back off, do not spin ----------------------------------------
NOFILE = 64


def small_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


odtest.subprocess.Popen = popen_with(small_limit)
b = odtest.Broker(name="emfile").start()
odtest.subprocess.Popen = orig_popen
tick = os.sysconf("SC_CLK_TCK")


def cpu_seconds():
    with open("/proc/%d/stat" % b.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick  # utime + stime


socks = []
for _ in range(150):  # more than the broker has descriptors
    s = socket.create_connection((odtest.HOST, b.port), timeout=5)
    socks.append(s)
time.sleep(1.0)
c0 = cpu_seconds()
time.sleep(3.0)
used = cpu_seconds() - c0
tap.ok(used < 1.0, "150 connections against %d descriptors: the broker used %.2f s of CPU in 3 s "
       "(backing off, not spinning at ~3 s)" % (NOFILE, used))
tap.ok("Too many open files" in b.log_text(), "the accept failure is logged")
for s in socks:
    s.close()
time.sleep(0.5)
ok = odtest.wait_until(lambda: answers(Conn(b.port, timeout=5), 5), 20, 0.5)
tap.ok(ok, "after the connections close, a new one is served")
sys.exit(odtest.finish())
