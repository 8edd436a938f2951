"""cluster.py - a local Odradek cluster for the tests (t/60xx): N nodes, each
broker+controller (or as asked), on free loopback ports, started from empty
data directories with the same controller.quorum.voters and no format step.

    c = cluster.Cluster(3, sets={"controller.quorum.fetch.timeout.ms": "1000"})
    c.start()                       # every node answers ApiVersions
    lid, epoch = c.wait_leader()    # DescribeQuorum agrees on one leader
    c.wait_brokers(3)               # every node registered (Metadata on each)
    c.start().ready()               # the same: started, a leader, all n brokers
    c.node(lid).kill9(); c.node(lid).start()
    c.bootstrap                     # "127.0.0.1:p1,127.0.0.1:p2,..."

With proxies=True the voters reach each other through t/lib/proxy.py, one
proxy per direction (node i -> node j), so c.isolate(i) / c.heal(i) cut a
node off from the quorum and back. Each node is an odtest.Broker with its
own temp dir, node.id i (1-based) and two listeners: PLAINTEXT (clients)
and CONTROLLER (the quorum).
"""
import os
import time

import odtest
import proxy as proxymod

META_TOPIC = "__cluster_metadata"
CREATE_TOPICS = 19
DESCRIBE_QUORUM = 55


class Cluster:
    def __init__(self, n=3, sets=None, proxies=False, roles=None, voters=None, sasl=False):
        self.n = n
        # sasl=True: a third listener, SASL_PLAINTEXT on self.sports, per node.
        self.sports = [odtest.free_port() for _ in range(n)] if sasl else []
        self.tmp = odtest.scratch()
        self.bports = [odtest.free_port() for _ in range(n)]
        self.cports = [odtest.free_port() for _ in range(n)]
        voter_ids = voters or list(range(1, n + 1))
        self.proxies = {}
        if isinstance(sets, dict):
            sets = list(sets.items())
        self.nodes = []
        self.roles = {}
        for i in range(1, n + 1):
            if proxies:
                addrs = []
                for j in voter_ids:
                    if j == i:
                        addrs.append("%d@127.0.0.1:%d" % (j, self.cports[j - 1]))
                    else:
                        p = proxymod.Proxy(self.cports[j - 1]).start()
                        self.proxies[(i, j)] = p
                        addrs.append("%d@127.0.0.1:%d" % (j, p.port))
            else:
                addrs = ["%d@127.0.0.1:%d" % (j, self.cports[j - 1]) for j in voter_ids]
            role = (roles or {}).get(i, "broker,controller")
            self.roles[i] = role
            listeners = "PLAINTEXT://127.0.0.1:%d" % self.bports[i - 1]
            if sasl:
                listeners += ",SASL_PLAINTEXT://127.0.0.1:%d" % self.sports[i - 1]
            if "controller" in role:
                listeners += ",CONTROLLER://127.0.0.1:%d" % self.cports[i - 1]
            s = [("listeners", listeners), ("controller.listener.names", "CONTROLLER"),
                 ("controller.quorum.voters", ",".join(addrs)), ("process.roles", role)]
            s += list(sets or [])
            d = os.path.join(self.tmp, "n%d" % i)
            os.makedirs(d, exist_ok=True)
            self.nodes.append(odtest.Broker(sets=s, port=self.bports[i - 1], tmp=d,
                                            name="node%d" % i, node_id=i))

    def node(self, node_id):
        return self.nodes[node_id - 1]

    @property
    def bootstrap(self):
        return ",".join("127.0.0.1:%d" % p for p in self.bports)

    def bootstrap_of(self, ids):
        return ",".join("127.0.0.1:%d" % self.bports[i - 1] for i in ids)

    def start(self, timeout=20):
        """Every node started, then each waited for: a node's broker
        listeners accept once its registration is unfenced, which needs a
        quorum of the voters up."""
        for b in self.nodes:
            b.spawn()
        for b in self.nodes:
            b.wait_started(timeout)
        return self

    def ready(self, timeout=30):
        """After start(): waits for an agreed leader and for every node to
        list all n brokers (so every node must have the broker role)."""
        self.wait_leader(timeout)
        self.wait_brokers(self.n, timeout)
        return self

    def stop(self):
        for b in self.nodes:
            b.stop()
        self.stop_proxies()

    def stop_proxies(self):
        for p in self.proxies.values():
            p.stop()

    def running(self):
        return [b.node_id for b in self.nodes if b.running()]

    # ---- quorum ------------------------------------------------------------

    def describe_quorum(self, node_id, version=1, controller=True):
        """DescribeQuorum on a node's controller (or broker) listener.
        Returns {error, leader, epoch, hw, voters: [(id, leo)], observers}."""
        if "controller" not in self.roles[node_id]:
            controller = False
        port = self.cports[node_id - 1] if controller else self.bports[node_id - 1]
        with odtest.Conn(port, timeout=5) as c:
            return describe_quorum(c, version)

    def quorum_views(self):
        """{node_id: (leader, epoch)} of every running node that answers."""
        out = {}
        for i in self.running():
            try:
                q = self.describe_quorum(i)
            except (OSError, odtest.ProtoError, odtest.ConnectionClosed):
                continue
            out[i] = (q["leader"], q["epoch"])
        return out

    def wait_leader(self, timeout=30, exclude=()):
        """Waits until every running node names the same leader in the same
        epoch and that leader answers DescribeQuorum as leader."""
        got = {}

        def agreed():
            got.clear()
            views = self.quorum_views()
            vals = set(views.values())
            if len(views) != len(self.running()) or len(vals) != 1:
                return False
            leader, epoch = vals.pop()
            if leader < 0 or leader in exclude or leader not in self.running():
                return False
            q = self.describe_quorum(leader)
            if q["error"] != 0:
                return False
            got["v"] = (leader, epoch)
            return True
        if not odtest.wait_until(agreed, timeout, interval=0.1):
            raise odtest.BrokerError("no agreed leader within %ss: %s"
                                     % (timeout, self.quorum_views()))
        return got["v"]

    def wait_brokers(self, count, timeout=30, nodes=None):
        """Waits until Metadata on every running node lists `count` brokers."""
        def ok():
            for i in (nodes or self.running()):
                try:
                    with odtest.Conn(self.bports[i - 1], timeout=5) as c:
                        if len(odtest.metadata(c, [])["brokers"]) != count:
                            return False
                except (OSError, odtest.ProtoError, odtest.ConnectionClosed):
                    return False
            return True
        if not odtest.wait_until(ok, timeout, interval=0.1):
            raise odtest.BrokerError("not %d brokers on every node within %ss" % (count, timeout))

    # ---- faults --------------------------------------------------------------

    def isolate(self, node_id):
        """Cuts node_id off from the other voters (needs proxies=True)."""
        for (a, b), p in self.proxies.items():
            if node_id in (a, b):
                p.block()

    def heal(self, node_id):
        for (a, b), p in self.proxies.items():
            if node_id in (a, b):
                p.unblock()


def describe_quorum(conn, version=1):
    R = odtest
    body = (R.compact_array([META_TOPIC], lambda t: R.compact_string(t) +
                            R.compact_array([0], lambda p: R.i32(p) + R.NO_TAGS) + R.NO_TAGS)
            + R.NO_TAGS)
    r = conn.request(DESCRIBE_QUORUM, version, body, flexible=True)
    out = {"error": r.i16(), "leader": -1, "epoch": -1, "hw": -1, "voters": [],
           "observers": []}
    if version >= 2:
        out["message"] = r.compact_string()

    def replica(rr):
        rid = rr.i32()
        if version >= 2:
            rr.take(16)
        leo = rr.i64()
        if version >= 1:
            rr.i64()
            rr.i64()
        rr.tags()
        return (rid, leo)

    def partition(rr):
        d = {"partition": rr.i32(), "error": rr.i16()}
        if version >= 2:
            rr.compact_string()
        d["leader"], d["epoch"], d["hw"] = rr.i32(), rr.i32(), rr.i64()
        d["voters"] = rr.compact_array(replica) or []
        d["observers"] = rr.compact_array(replica) or []
        rr.tags()
        return d

    def topic(rr):
        name = rr.compact_string()
        parts = rr.compact_array(partition)
        rr.tags()
        return name, parts
    topics = r.compact_array(topic)
    if topics and topics[0][1]:
        p = topics[0][1][0]
        if p["error"]:
            out["error"] = p["error"]
        for k in ("leader", "epoch", "hw", "voters", "observers"):
            out[k] = p[k]
    return out


def create_topic_v5(conn, name):
    """CreateTopics v5 (flexible) of one topic, 1 partition, replication 1,
    timeout 20 s: {name: (error, message)}. v5, as the forwarding tests want
    the error message a forwarded request is answered with."""
    R = odtest
    body = (R.uvarint(2) + R.compact_string(name) + R.i32(1) + R.i16(1)
            + R.uvarint(1) + R.uvarint(1) + R.NO_TAGS  # no assignments, no configs
            + R.i32(20000) + R.boolean(False) + R.NO_TAGS)
    r = conn.request(CREATE_TOPICS, 5, body, flexible=True)
    r.i32()  # throttle_time_ms
    out = {}
    for _ in range(r.uvarint() - 1):
        n = r.compact_string()
        e = r.i16()
        m = r.compact_string()
        r.i32()  # num_partitions
        r.i16()  # replication_factor
        r.uvarint()  # configs: null
        r.tags()
        out[n] = (e, m)
    return out
