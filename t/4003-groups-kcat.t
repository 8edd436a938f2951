#!/usr/bin/python3
# kcat's balanced consumer (-G): two instances in one group split a
# 6-partition topic between them and consume every message once; when one
# exits, the other takes over its partitions and consumes what follows.
import os
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

KCAT = shutil.which("kcat") or shutil.which("kafkacat")
if not KCAT:
    tap.skip_all("kcat not installed")
try:
    import confluent_kafka  # noqa: F401
except ImportError as e:
    tap.skip_all("confluent_kafka (used to produce and to create the topic) not available: %s" % e)
import groups as G  # noqa: E402

odtest.watchdog(150)
b = odtest.Broker(sets={"group.initial.rebalance.delay.ms": "0"}).start()
with odtest.Conn(b.port) as c:
    if G.JOIN_GROUP not in odtest.api_versions(c, 0)["apis"]:
        tap.skip_all("the broker does not advertise JoinGroup (no group coordinator)")
BS = b.bootstrap
TOPIC, P, GRP = "grp-kcat", 6, "grp-kcat-g"
odtest.ck_create_topic(odtest.ck_admin(BS), TOPIC, P)
tmp = odtest.scratch("4003-kcat")


class Kcat:
    def __init__(self, name):
        self.out = os.path.join(tmp, name + ".out")
        self.err = os.path.join(tmp, name + ".err")
        self.name = name
        self.proc = subprocess.Popen(
            [KCAT, "-b", BS, "-G", GRP, "-u", "-q", "-f", "%p %o %s\\n",
             "-X", "broker.address.family=v4", "-X", "auto.offset.reset=earliest",
             "-X", "heartbeat.interval.ms=500", "-X", "session.timeout.ms=10000",
             "-X", "client.id=" + name, TOPIC],
            stdout=open(self.out, "wb"), stderr=open(self.err, "wb"), stdin=subprocess.DEVNULL)

    def lines(self):
        with open(self.out, "rb") as f:
            data = f.read().decode("utf-8", "replace")
        # the last line may be incomplete
        return [ln.split(" ", 2) for ln in data.split("\n")[:-1] if ln.count(" ") >= 2]

    def values(self):
        return [x[2] for x in self.lines()]

    def partitions(self):
        return set(int(x[0]) for x in self.lines())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def stderr(self):
        with open(self.err, "rb") as f:
            return f.read().decode("utf-8", "replace")[-1500:]


k1, k2 = Kcat("kcat1"), Kcat("kcat2")
d = G.wait_stable(b.port, GRP, 2, TOPIC, P, timeout=45)
tap.ok(d is not None, "two kcat -G instances: group Stable with 2 members, each partition "
       "assigned once") or tap.diag("kcat1: %s\nkcat2: %s" % (k1.stderr(), k2.stderr()))
own = {}
if d:
    own = {m["client_id"]: sorted(G.parse_assignment(m["assignment"]).get(TOPIC, [])) for m in d["members"]}
    tap.is_(sorted(len(v) for v in own.values()), [3, 3], "each instance got 3 partitions (%s)" % own)
N = 3000
want = G.produce_numbered(BS, TOPIC, P, 0, N)


def got_all(ks, w):
    return lambda: w <= set(v for k in ks for v in k.values())


done = odtest.wait_until(got_all([k1, k2], want), 60, 0.2)
vals = k1.values() + k2.values()
tap.ok(done and len(vals) == N and set(vals) == want, "every message consumed exactly once "
       "(%d lines for %d messages)" % (len(vals), N)) or \
    tap.diag("missing %d" % len(want - set(vals)))
p1, p2 = k1.partitions(), k2.partitions()
tap.ok(p1 and p2 and not (p1 & p2) and p1 | p2 == set(range(P)),
       "the two instances read disjoint partition sets covering all (%s / %s)" % (sorted(p1), sorted(p2)))
if own:
    tap.is_({"kcat1": sorted(p1), "kcat2": sorted(p2)}, own, "... exactly those in their assignments")
ok_offsets = all(int(x[1]) == (int(x[2].split("-")[1]) // P) for k in (k1, k2) for x in k.lines())
tap.ok(ok_offsets, "offsets match the produce order in every partition")

# One instance exits (SIGTERM: commit and leave); the other takes everything.
time.sleep(1.5)  # let the auto commit (5 s interval) not matter: kcat commits on close
rc = k2.stop()
tap.is_(rc, 0, "kcat2 exits 0 on SIGTERM")
seen2 = set(k2.values())
d = G.wait_stable(b.port, GRP, 1, TOPIC, P, timeout=30)
tap.ok(d is not None, "after kcat2 left, kcat1 alone owns all 6 partitions")
want2 = G.produce_numbered(BS, TOPIC, P, N, 1200)
done = odtest.wait_until(got_all([k1], want2), 60, 0.2)
tap.ok(done, "kcat1 consumes all 1200 new messages, from every partition")
again = [v for v in k1.values() if v in seen2]
tap.ok(not again, "nothing kcat2 had consumed (and committed) is consumed again (%d)" % len(again))
tap.is_(k1.stop(), 0, "kcat1 exits 0 on SIGTERM")
d = G.group_state(b.port, GRP)
tap.ok(d and d["state"] == "Empty", "the group is Empty after both left")
if tap.failed():
    tap.diag("kcat1 stderr: " + k1.stderr())
    tap.diag("kcat2 stderr: " + k2.stderr())
sys.exit(odtest.finish())
