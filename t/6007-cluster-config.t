#!/usr/bin/python3
# 6007-cluster-config.t - the cluster keys as Kafka has them: bad
# combinations stop the start with the key named (a listener whose
# security protocol is not PLAINTEXT, an inter.broker.listener.name that
# names no broker listener, a quorum without controller.listener.names, a
# broker-only node without voters, a controller that is not a voter,
# bootstrap servers without voters); a controller-only node votes and
# leads but registers no broker.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster  # noqa: E402
import odtest  # noqa: E402
import tap  # noqa: E402

odtest.watchdog(150)
BUILD = odtest.find_build()
TMP = odtest.scratch()


def refused(sets, want, what):
    port = odtest.free_port()
    argv = [os.path.join(BUILD, "odradekd"), "--set", "module.dir=" + os.path.join(BUILD, ".libs"),
            "--set", "log.dirs=" + os.path.join(TMP, "d%d" % port), "--set", "node.id=1",
            "--set", "listeners=PLAINTEXT://127.0.0.1:%d" % port]
    for k, v in sets:
        argv += ["--set", "%s=%s" % (k, v)]
    rc, out, err = odtest.run(argv, timeout=15)
    text = (err + out).decode("utf-8", "replace")
    ok = rc not in (0, None) and want in text
    tap.ok(ok, "%s: refused, naming '%s'" % (what, want)) or tap.diag(text[-800:])


p1 = odtest.free_port()
refused([("listeners", "CLUSTER://127.0.0.1:%d" % p1)], "listener.security.protocol.map",
        "a listener name missing from the map (not a controller listener)")
refused([("inter.broker.listener.name", "NOPE")], "inter.broker.listener.name",
        "inter.broker.listener.name naming no listener")
refused([("controller.quorum.voters", "1@127.0.0.1:1,2@127.0.0.1:2,3@127.0.0.1:3")],
        "controller.listener.names", "three voters without controller.listener.names")
refused([("process.roles", "broker")], "controller.quorum.voters", "broker-only without voters")
refused([("controller.quorum.voters", "2@127.0.0.1:2,3@127.0.0.1:3"),
         ("controller.listener.names", "CONTROLLER")], "not in controller.quorum.voters",
        "a controller that is not a voter")
refused([("controller.quorum.bootstrap.servers", "127.0.0.1:1")], "KIP-853",
        "bootstrap servers without voters")

c = cluster.Cluster(3, roles={3: "controller"}).start()
leader, epoch = c.wait_leader()
tap.ok(leader in (1, 2, 3), "with a controller-only node 3 the quorum elects %d" % leader)
try:
    c.wait_brokers(2, nodes=[1, 2])
    two = True
except odtest.BrokerError as e:
    tap.diag(str(e))
    two = False
tap.ok(two, "nodes 1 and 2 list two brokers: the controller-only node registers none")
c.node(leader).kill9()
l2, e2 = c.wait_leader()
tap.ok(l2 != leader and e2 > epoch, "after kill -9 of %d, %d leads epoch %d" % (leader, l2, e2))
c.node(leader).start()
sys.exit(odtest.finish())
