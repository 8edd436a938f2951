"""groupstore.py - a group coordinator whose store is replicated, for the
tests t/616x: a 3-node cluster with one __consumer_offsets partition on all
three nodes, where freezing the followers (SIGSTOP) keeps a group record out
of the ISR, plus the raw steps those tests share.

    c = groupstore.cluster()                  # started, leader and brokers agreed
    coord = groupstore.coordinator([c.bports[0]], "g")
    groupstore.offsets_isr(c.bports[coord - 1])   # [1, 2, 3] once in sync
    j = groupstore.join(conn, "g", session_ms=30000, rebalance_ms=30000)
"""
import cluster as clustermod
import groups as G
import odtest

# offsets.commit.timeout.ms: how long a group write waits for the ISR before
# the coordinator gives up; replica.lag.time.max.ms: long, so frozen followers
# stay in the ISR and the high watermark cannot pass the record.
SETS = {"offsets.topic.num.partitions": "1",
        "offsets.topic.replication.factor": "3",
        "offsets.commit.timeout.ms": "3000",
        "replica.lag.time.max.ms": "60000",
        "group.initial.rebalance.delay.ms": "0",
        "auto.leader.rebalance.enable": "false"}


def cluster():
    """The 3-node cluster of SETS, started, with an agreed leader and every
    broker registered."""
    return clustermod.Cluster(3, sets=dict(SETS)).start().ready()


def coordinator(ports, group, among=None, timeout=30):
    """The node id FindCoordinator names for `group`, asking `ports` in turn
    until one answers without error (and, given `among`, names one of those
    node ids); None if none does within `timeout` seconds."""
    def ask():
        for port in ports:
            try:
                with odtest.Conn(port, timeout=10) as cn:
                    r = G.find_coordinator(cn, group)
                if r["error"] == 0 and (among is None or r["node_id"] in among):
                    return r["node_id"]
            except (OSError, odtest.ProtoError, odtest.ConnectionClosed):
                pass
        return None
    found = []
    odtest.wait_until(lambda: found.append(ask()) or found[-1] is not None, timeout)
    return found[-1]


def offsets_isr(port):
    """The sorted ISR of __consumer_offsets-0 in Metadata from `port` ([] when
    the node does not answer or does not know the partition)."""
    try:
        with odtest.Conn(port, timeout=5) as cn:
            md = odtest.metadata(cn, ["__consumer_offsets"])
        return sorted(md["topics"]["__consumer_offsets"]["partitions"][0]["isr"])
    except (OSError, odtest.ProtoError, odtest.ConnectionClosed, KeyError, IndexError):
        return []


def join(conn, group, member_id="", **kw):
    """JoinGroup (groups.join_group's keywords), sent again with the member id
    a MEMBER_ID_REQUIRED answer hands out."""
    r = G.join_group(conn, group, member_id=member_id, **kw)
    if r["error"] == G.MEMBER_ID_REQUIRED:
        r = G.join_group(conn, group, member_id=r["member_id"], **kw)
    return r

