"""groups.py - consumer-group helpers for the integration tests t/40xx.

Raw protocol (on odtest.Conn): FindCoordinator, JoinGroup, SyncGroup,
Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups,
ListGroups, DeleteGroups, OffsetDelete, each at a chosen version (flexible
versions handled), plus the "consumer" protocol's subscription and
assignment payloads. Every decoder returns plain dicts.

Client helpers: a confluent_kafka group member that records its
assignments and messages (CkMember, polled round robin from the test's
thread with poll_all), the same for kafka-python (KpMember, which polls in
its own thread because kafka-python blocks in poll() during a rejoin; close
mixed sets with close_all), DescribeGroups-based waits (wait_stable), a
producer of numbered messages "m-<i>" to partition i % P, and a member that
runs in its own process (so a test can kill -9 it):

    /usr/bin/python3 t/lib/groups.py member   BOOTSTRAP GROUP TOPIC [prop=value ...]
    /usr/bin/python3 t/lib/groups.py kpmember BOOTSTRAP GROUP TOPIC [kwarg=value ...]

prints one JSON object per line: {"ev": "assign"|"revoke", "parts": [...]},
{"ev": "msg", "p": P, "o": OFFSET, "v": VALUE}; it commits synchronously
after every message (confluent) or batch (kafka-python).
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import (NO_TAGS, Reader, array, boolean, compact_array,  # noqa: E402
                    compact_string, i8, i16, i32, i64, string, uvarint)

# ---- api keys and error codes -------------------------------------------------
OFFSET_COMMIT, OFFSET_FETCH, FIND_COORDINATOR, JOIN_GROUP = 8, 9, 10, 11
HEARTBEAT, LEAVE_GROUP, SYNC_GROUP, DESCRIBE_GROUPS, LIST_GROUPS = 12, 13, 14, 15, 16
DELETE_GROUPS, OFFSET_DELETE = 42, 47

NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
OFFSET_METADATA_TOO_LARGE = 12
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
ILLEGAL_GENERATION = 22
INCONSISTENT_GROUP_PROTOCOL = 23
INVALID_GROUP_ID = 24
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
GROUP_ID_NOT_FOUND = 69
NON_EMPTY_GROUP = 68
MEMBER_ID_REQUIRED = 79
FENCED_INSTANCE_ID = 82
GROUP_SUBSCRIBED_TO_TOPIC = 86

# Flexible versions per api (request header v2 / response header v1 from here on).
FLEX_FROM = {OFFSET_COMMIT: 8, OFFSET_FETCH: 6, FIND_COORDINATOR: 3, JOIN_GROUP: 6,
             HEARTBEAT: 4, LEAVE_GROUP: 4, SYNC_GROUP: 4, DESCRIBE_GROUPS: 5,
             LIST_GROUPS: 3, DELETE_GROUPS: 2, OFFSET_DELETE: 99}


class _W:
    """Body writer that knows whether the version is flexible."""

    def __init__(self, flex):
        self.flex = flex
        self.out = []

    def raw(self, b):
        self.out.append(b)
        return self

    def str(self, s):
        return self.raw(compact_string(s) if self.flex else string(s))

    def bytes(self, b):
        if self.flex:
            return self.raw(uvarint(0) if b is None else uvarint(len(b) + 1) + b)
        return self.raw(odtest.bytes_(b))

    def arr(self, items, fn):
        """fn(writer, item) writes one item (same flexibility)."""
        def one(x):
            w = _W(self.flex)
            fn(w, x)
            return w.get()
        return self.raw(compact_array(items, one) if self.flex else array(items, one))

    def tags(self):
        if self.flex:
            self.out.append(NO_TAGS)
        return self

    def get(self):
        return b"".join(self.out)


class _R:
    """Response reader that knows whether the version is flexible."""

    def __init__(self, r, flex):
        self.r = r
        self.flex = flex

    def i8(self): return self.r.i8()
    def i16(self): return self.r.i16()
    def i32(self): return self.r.i32()
    def i64(self): return self.r.i64()
    def boolean(self): return self.r.boolean()

    def str(self):
        return self.r.compact_string() if self.flex else self.r.string()

    def bytes(self):
        return self.r.compact_bytes() if self.flex else self.r.bytes_()

    def arr(self, fn):
        sub = lambda rr: fn(_R(rr, self.flex))  # noqa: E731
        return (self.r.compact_array(sub) if self.flex else self.r.array(sub)) or []

    def tags(self):
        if self.flex:
            self.r.tags()

    def remaining(self):
        return self.r.remaining()


def _call(conn, key, version, w, timeout=None):
    flex = version >= FLEX_FROM[key]
    r = conn.request(key, version, w.get(), flexible=flex, timeout=timeout)
    return _R(r, flex)


def _send(conn, key, version, w):
    """Send without waiting (for requests that block, e.g. JoinGroup)."""
    flex = version >= FLEX_FROM[key]
    return conn.send_request(key, version, w.get(), flexible=flex)


def _recv(conn, key, version, corr, timeout=None):
    flex = version >= FLEX_FROM[key]
    data = conn.recv_frame(timeout)
    if data is None:
        raise odtest.ConnectionClosed("closed instead of a response to api %d v%d" % (key, version))
    r = Reader(data)
    got = r.i32()
    if got != corr:
        raise odtest.ProtoError("correlation id %d, expected %d" % (got, corr))
    if flex:
        r.tags()
    return _R(r, flex)


# ---- consumer protocol payloads ----------------------------------------------------

def subscription(topics, user_data=None, version=0, owned=None):
    """ConsumerProtocolSubscription (v0; v1 adds owned partitions)."""
    b = i16(version) + array(topics, string) + odtest.bytes_(user_data)
    if version >= 1:
        b += array(sorted((owned or {}).items()),
                   lambda tp: string(tp[0]) + array(tp[1], i32))
    return b


def assignment(parts, user_data=None):
    """ConsumerProtocolAssignment v0. parts: {topic: [partition, ...]}."""
    return (i16(0) + array(sorted(parts.items()), lambda tp: string(tp[0]) + array(tp[1], i32)) +
            odtest.bytes_(user_data))


def parse_assignment(b):
    """{topic: [partitions]} from a ConsumerProtocolAssignment (None/empty -> {})."""
    if not b:
        return {}
    r = Reader(b)
    r.i16()
    out = {}
    for t, ps in r.array(lambda x: (x.string(), x.array(lambda y: y.i32()))) or []:
        out.setdefault(t, []).extend(ps)
    return out


def parse_subscription(b):
    if not b:
        return None
    r = Reader(b)
    v = r.i16()
    return {"version": v, "topics": r.array(lambda x: x.string())}


# ---- requests -------------------------------------------------------------------

def find_coordinator(conn, key, key_type=0, version=1):
    """v0-3: {error, node_id, host, port}; v4+: list of {key, node_id, host,
    port, error} (key may be a list of keys then)."""
    flex = version >= 3
    w = _W(flex)
    if version <= 3:
        w.str(key)
        if version >= 1:
            w.raw(i8(key_type))
    else:
        w.raw(i8(key_type))
        w.arr(key if isinstance(key, list) else [key], lambda ww, k: ww.str(k))
    w.tags()
    r = _call(conn, FIND_COORDINATOR, version, w)
    if version >= 1:
        r.i32()
    if version <= 3:
        out = {"error": r.i16()}
        if version >= 1:
            out["message"] = r.str()
        out.update(node_id=r.i32(), host=r.str(), port=r.i32())
        r.tags()
        return out

    def one(x):
        d = {"key": x.str(), "node_id": x.i32(), "host": x.str(), "port": x.i32(),
             "error": x.i16(), "message": x.str()}
        x.tags()
        return d
    res = r.arr(one)
    r.tags()
    return res


def _join_body(group, member_id, protocols, protocol_type, session_ms, rebalance_ms,
               instance_id, version, reason=None):
    flex = version >= 6
    w = _W(flex).str(group).raw(i32(session_ms))
    if version >= 1:
        w.raw(i32(rebalance_ms))
    w.str(member_id)
    if version >= 5:
        w.str(instance_id)
    w.str(protocol_type)

    def proto(ww, p):
        ww.str(p[0]).bytes(p[1]).tags()
    w.arr(protocols, proto)
    if version >= 8:
        w.str(reason)
    return w.tags()


def _join_parse(r, version):
    out = {}
    if version >= 2:
        out["throttle"] = r.i32()
    out["error"] = r.i16()
    out["generation"] = r.i32()
    if version >= 7:
        out["protocol_type"] = r.str()
    out["protocol"] = r.str()
    out["leader"] = r.str()
    if version >= 9:
        out["skip_assignment"] = r.boolean()
    out["member_id"] = r.str()

    def mem(x):
        d = {"member_id": x.str()}
        if version >= 5:
            d["instance_id"] = x.str()
        d["metadata"] = x.bytes()
        x.tags()
        return d
    out["members"] = r.arr(mem)
    r.tags()
    return out


def join_group(conn, group, member_id="", protocols=None, protocol_type="consumer",
               session_ms=10000, rebalance_ms=10000, instance_id=None, version=5,
               topics=("t",), timeout=30):
    """JoinGroup; protocols: [(name, metadata)] (default: range with a
    subscription of `topics`). Blocks until the broker answers."""
    if protocols is None:
        protocols = [("range", subscription(list(topics)))]
    w = _join_body(group, member_id, protocols, protocol_type, session_ms, rebalance_ms,
                   instance_id, version)
    return _join_parse(_call(conn, JOIN_GROUP, version, w, timeout=timeout), version)


def join_group_send(conn, group, member_id="", protocols=None, protocol_type="consumer",
                    session_ms=10000, rebalance_ms=10000, instance_id=None, version=5,
                    topics=("t",)):
    """Send a JoinGroup without waiting; finish with join_group_recv."""
    if protocols is None:
        protocols = [("range", subscription(list(topics)))]
    w = _join_body(group, member_id, protocols, protocol_type, session_ms, rebalance_ms,
                   instance_id, version)
    return _send(conn, JOIN_GROUP, version, w)


def join_group_recv(conn, corr, version=5, timeout=30):
    return _join_parse(_recv(conn, JOIN_GROUP, version, corr, timeout), version)


def _sync_body(group, generation, member_id, assignments, instance_id, version,
               protocol_type=None, protocol_name=None):
    w = _W(version >= 4).str(group).raw(i32(generation)).str(member_id)
    if version >= 3:
        w.str(instance_id)
    if version >= 5:
        w.str(protocol_type).str(protocol_name)
    w.arr(assignments, lambda ww, a: ww.str(a[0]).bytes(a[1]).tags())
    return w.tags()


def _sync_parse(r, version):
    out = {}
    if version >= 1:
        out["throttle"] = r.i32()
    out["error"] = r.i16()
    if version >= 5:
        out["protocol_type"] = r.str()
        out["protocol"] = r.str()
    out["assignment"] = r.bytes()
    r.tags()
    return out


def sync_group(conn, group, generation, member_id, assignments=(), instance_id=None,
               version=3, timeout=30, protocol_type=None, protocol_name=None):
    """SyncGroup; assignments: [(member_id, assignment bytes)] (leader only)."""
    w = _sync_body(group, generation, member_id, list(assignments), instance_id, version,
                   protocol_type, protocol_name)
    return _sync_parse(_call(conn, SYNC_GROUP, version, w, timeout=timeout), version)


def sync_group_send(conn, group, generation, member_id, assignments=(), instance_id=None,
                    version=3):
    w = _sync_body(group, generation, member_id, list(assignments), instance_id, version)
    return _send(conn, SYNC_GROUP, version, w)


def sync_group_recv(conn, corr, version=3, timeout=30):
    return _sync_parse(_recv(conn, SYNC_GROUP, version, corr, timeout), version)


def heartbeat(conn, group, generation, member_id, instance_id=None, version=3):
    """Returns the error code."""
    w = _W(version >= 4).str(group).raw(i32(generation)).str(member_id)
    if version >= 3:
        w.str(instance_id)
    r = _call(conn, HEARTBEAT, version, w.tags())
    if version >= 1:
        r.i32()
    err = r.i16()
    r.tags()
    return err


def leave_group(conn, group, members, version=3):
    """members: [(member_id, instance_id)] (v0-2: one member id).
    Returns {error, members: [(member_id, instance_id, error)]}."""
    w = _W(version >= 4).str(group)
    if version <= 2:
        w.str(members[0][0])
    else:
        w.arr(members, lambda ww, m: (ww.str(m[0]).str(m[1]),
                                      ww.str(None) if version >= 5 else None, ww.tags()))
    r = _call(conn, LEAVE_GROUP, version, w.tags())
    out = {}
    if version >= 1:
        out["throttle"] = r.i32()
    out["error"] = r.i16()
    if version >= 3:
        def mem(x):
            d = (x.str(), x.str(), x.i16())
            x.tags()
            return d
        out["members"] = r.arr(mem)
    r.tags()
    return out


def offset_commit(conn, group, offsets, generation=-1, member_id="", instance_id=None,
                  version=7):
    """offsets: {(topic, partition): (offset, metadata)} or {(t, p): offset}.
    Returns {(topic, partition): error}."""
    by_topic = {}
    for (t, p), v in offsets.items():
        off, meta = v if isinstance(v, tuple) else (v, "")
        by_topic.setdefault(t, []).append((p, off, meta))
    w = _W(version >= 8).str(group)
    if version >= 1:
        w.raw(i32(generation)).str(member_id)
    if version >= 7:
        w.str(instance_id)
    if 2 <= version <= 4:
        w.raw(i64(-1))

    def part(ww, x):
        ww.raw(i32(x[0]) + i64(x[1]))
        if version >= 6:
            ww.raw(i32(-1))
        if version == 1:
            ww.raw(i64(-1))
        ww.str(x[2]).tags()
    w.arr(sorted(by_topic.items()), lambda ww, tp: ww.str(tp[0]).arr(tp[1], part).tags())
    r = _call(conn, OFFSET_COMMIT, version, w.tags())
    if version >= 3:
        r.i32()
    out = {}

    def topic(x):
        name = x.str()

        def p(y):
            idx, err = y.i32(), y.i16()
            y.tags()
            out[(name, idx)] = err
        x.arr(p)
        x.tags()
    r.arr(topic)
    r.tags()
    return out


def offset_fetch(conn, group, parts=None, version=5):
    """parts: {topic: [partitions]} or None (all, v2+). v0-7 only.
    Returns {error, offsets: {(t, p): (offset, metadata, error)}}."""
    assert version <= 7
    w = _W(version >= 6).str(group)
    w.arr(None if parts is None else sorted(parts.items()),
          lambda ww, tp: ww.str(tp[0]).raw(
              compact_array(tp[1], i32) if ww.flex else array(tp[1], i32)).tags())
    if version >= 7:
        w.raw(boolean(False))
    r = _call(conn, OFFSET_FETCH, version, w.tags())
    out = {"offsets": {}, "error": 0}
    if version >= 3:
        out["throttle"] = r.i32()

    def topic(x):
        name = x.str()

        def p(y):
            idx, off = y.i32(), y.i64()
            if version >= 5:
                y.i32()
            meta, err = y.str(), y.i16()
            y.tags()
            out["offsets"][(name, idx)] = (off, meta, err)
        x.arr(p)
        x.tags()
    r.arr(topic)
    if version >= 2:
        out["error"] = r.i16()
    r.tags()
    return out


def describe_groups(conn, groups, version=4):
    """Returns [{error, group_id, state, protocol_type, protocol, members:
    [{member_id, instance_id, client_id, client_host, metadata, assignment}]}]."""
    w = _W(version >= 5).arr(groups, lambda ww, g: ww.str(g))
    if version >= 3:
        w.raw(boolean(False))
    r = _call(conn, DESCRIBE_GROUPS, version, w.tags())
    if version >= 1:
        r.i32()

    def mem(x):
        d = {"member_id": x.str()}
        if version >= 4:
            d["instance_id"] = x.str()
        d.update(client_id=x.str(), client_host=x.str(), metadata=x.bytes(),
                 assignment=x.bytes())
        x.tags()
        return d

    def grp(x):
        d = {"error": x.i16(), "group_id": x.str(), "state": x.str(),
             "protocol_type": x.str(), "protocol": x.str(), "members": x.arr(mem)}
        if version >= 3:
            d["authorized_operations"] = x.i32()
        x.tags()
        return d
    res = r.arr(grp)
    r.tags()
    return res


def describe_group(conn, group, version=4):
    return describe_groups(conn, [group], version)[0]


def list_groups(conn, version=1, states=None):
    """Returns {error, groups: [(group_id, protocol_type[, state])]}."""
    w = _W(version >= 3)
    if version >= 4:
        w.arr(states or [], lambda ww, s: ww.str(s))
    if version >= 5:
        w.arr([], lambda ww, s: ww.str(s))
    r = _call(conn, LIST_GROUPS, version, w.tags())
    out = {}
    if version >= 1:
        out["throttle"] = r.i32()
    out["error"] = r.i16()

    def g(x):
        d = (x.str(), x.str())
        if version >= 4:
            d += (x.str(),)
        if version >= 5:
            d += (x.str(),)
        x.tags()
        return d
    out["groups"] = r.arr(g)
    r.tags()
    return out


def delete_groups(conn, groups, version=1):
    """Returns {group_id: error}."""
    w = _W(version >= 2).arr(groups, lambda ww, g: ww.str(g)).tags()
    r = _call(conn, DELETE_GROUPS, version, w)
    r.i32()
    out = {}

    def one(x):
        g, e = x.str(), x.i16()
        x.tags()
        out[g] = e
    r.arr(one)
    r.tags()
    return out


def offset_delete(conn, group, parts):
    """OffsetDelete v0; parts: {topic: [partitions]}.
    Returns (error, {(t, p): error})."""
    w = _W(False).str(group).arr(sorted(parts.items()),
                                 lambda ww, tp: ww.str(tp[0]).arr(tp[1], lambda w3, p: w3.raw(i32(p))))
    r = _call(conn, OFFSET_DELETE, 0, w)
    err = r.i16()
    r.i32()
    out = {}

    def topic(x):
        name = x.str()
        for p, e in x.arr(lambda y: (y.i32(), y.i16())):
            out[(name, p)] = e
    r.arr(topic)
    return err, out


# ---- waiting for a group's state --------------------------------------------------

def group_state(port, group):
    """DescribeGroups over a fresh connection (None on a transport error)."""
    try:
        with odtest.Conn(port, timeout=5) as c:
            return describe_group(c, group)
    except Exception:
        return None


def owners(desc, topic):
    """{partition: [member_id, ...]} from a DescribeGroups result."""
    out = {}
    for m in (desc or {}).get("members") or []:
        for p in parse_assignment(m["assignment"]).get(topic, []):
            out.setdefault(p, []).append(m["member_id"])
    return out


def wait_stable(port, group, members, topic, nparts, timeout=60, poll=None):
    """Wait until DescribeGroups shows `members` members, state Stable and
    every partition of `topic` owned by exactly one member. poll(): called
    while waiting (the clients must keep polling). Returns the description
    or None."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if poll:
            poll()
        else:
            time.sleep(0.1)
        d = group_state(port, group)
        last = d
        if (d and d["error"] == 0 and d["state"] == "Stable" and len(d["members"]) == members):
            own = owners(d, topic)
            if sorted(own) == list(range(nparts)) and all(len(v) == 1 for v in own.values()):
                return d
    tap.diag("group %s not stable with %d members: last %r" % (group, members, _desc_short(last)))
    return None


def _desc_short(d):
    if not d:
        return d
    return {"state": d.get("state"), "protocol": d.get("protocol"), "error": d.get("error"),
            "members": [(m["member_id"], parse_assignment(m["assignment"]))
                        for m in d.get("members") or []]}


# ---- producing numbered messages ----------------------------------------------------

def produce_numbered(bootstrap, topic, nparts, start, count, prefix="m"):
    """Produce messages "<prefix>-<i>" for i in [start, start+count), i % nparts
    as partition, acks=all; returns the set of values delivered."""
    import confluent_kafka as ck
    p = ck.Producer(odtest.ck_conf(bootstrap, acks="all", **{"linger.ms": 5}),
                    logger=odtest.RdLog())
    ok = set()
    errs = []

    def cb(err, msg):
        if err is None:
            ok.add(msg.value().decode())
        elif len(errs) < 5:
            errs.append(str(err))
    for i in range(start, start + count):
        while True:
            try:
                p.produce(topic, b"%s-%d" % (prefix.encode(), i), None, i % nparts, on_delivery=cb)
                break
            except BufferError:
                p.poll(0.05)
    left = p.flush(60)
    if left or errs or len(ok) != count:
        raise RuntimeError("produce %s: %d delivered of %d, %d left, errors %s"
                           % (topic, len(ok), count, left, errs))
    return ok


# ---- confluent_kafka members --------------------------------------------------------

def require_static_membership():
    """Skips the whole test unless confluent_kafka is there and its
    librdkafka knows group.instance.id (KIP-345)."""
    try:
        import confluent_kafka as ck
        ck.Consumer({"group.id": "x", "group.instance.id": "x"}).close()
    except ImportError as e:
        tap.skip_all("confluent_kafka not available: %s" % e)
    except ck.KafkaException as e:
        tap.skip_all("this librdkafka has no static membership (group.instance.id): %s" % e)


class CkMember:
    """A confluent_kafka Consumer in a group, subscribed to `topics`,
    recording assignment changes and messages. Poll with .poll()."""

    def __init__(self, name, bootstrap, group, topics, cooperative=False, commit_on_revoke=True,
                 **conf):
        import confluent_kafka as ck
        self.ck = ck
        self.name = name
        self.log = odtest.RdLog()
        c = odtest.ck_conf(bootstrap, **{"group.id": group, "auto.offset.reset": "earliest",
                                         "enable.auto.commit": False,
                                         "session.timeout.ms": 10000,
                                         "heartbeat.interval.ms": 500,
                                         "fetch.wait.max.ms": 100,
                                         "topic.metadata.refresh.interval.ms": 2000,
                                         "client.id": name})
        if cooperative:
            c["partition.assignment.strategy"] = "cooperative-sticky"
        for k, v in conf.items():
            c[k.replace("_", ".")] = v
        self.conf = c
        self.cooperative = cooperative
        self.commit_on_revoke = commit_on_revoke
        self.c = ck.Consumer(c, logger=self.log)
        self.assigned = set()        # current assignment (partition numbers)
        self.events = []             # (monotonic time, "assign"/"revoke", [partitions])
        self.msgs = []               # (partition, offset, value str)
        self.msg_times = []          # monotonic time of each message
        self.errors = []
        self.closed = False
        self.c.subscribe(list(topics), on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _on_assign(self, consumer, parts):
        ps = sorted(tp.partition for tp in parts)
        self.events.append((time.monotonic(), "assign", ps))
        if self.cooperative:
            consumer.incremental_assign(parts)
            self.assigned |= set(ps)
        else:
            consumer.assign(parts)
            self.assigned = set(ps)

    def _on_revoke(self, consumer, parts):
        ps = sorted(tp.partition for tp in parts)
        self.events.append((time.monotonic(), "revoke", ps))
        if self.commit_on_revoke:
            self.commit()
        if self.cooperative:
            consumer.incremental_unassign(parts)
            self.assigned -= set(ps)
        else:
            consumer.unassign()
            self.assigned = set()

    def commit(self):
        """Synchronous commit of the consumed positions; False when there was
        nothing to commit, raises on a real error."""
        try:
            self.c.commit(asynchronous=False)
            return True
        except self.ck.KafkaException as e:
            if e.args[0].code() == self.ck.KafkaError._NO_OFFSET:
                return False
            self.errors.append("commit: %s" % e)
            return False

    def poll(self, timeout=0.05):
        if self.closed:
            return 0
        n = 0
        for m in self.c.consume(num_messages=500, timeout=timeout):
            if m.error() is not None:
                if m.error().code() != self.ck.KafkaError._PARTITION_EOF and len(self.errors) < 50:
                    self.errors.append(str(m.error()))
                continue
            self.msgs.append((m.partition(), m.offset(), m.value().decode()))
            self.msg_times.append(time.monotonic())
            n += 1
        return n

    def values(self):
        return [v for _, _, v in self.msgs]

    def n_events(self, kind=None):
        return len([e for e in self.events if kind is None or e[1] == kind])

    def close(self):
        if not self.closed:
            self.closed = True
            self.c.close()


class KpMember:
    """A kafka-python KafkaConsumer in a group (range assignor by default).

    kafka-python's poll() blocks until a pending JoinGroup completes, so
    several members cannot be polled round robin from one thread (the first
    would wait for the others forever): each member polls in its own thread,
    and commit()/close() are run by that thread (the client is not thread
    safe). poll() from the test is a short sleep."""

    def __init__(self, name, bootstrap, group, topics, assignor="range", **conf):
        import queue
        import threading
        from kafka import ConsumerRebalanceListener, KafkaConsumer
        from kafka.coordinator.assignors.range import RangePartitionAssignor
        from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
        self.name = name
        assignors = {"range": [RangePartitionAssignor],
                     "roundrobin": [RoundRobinPartitionAssignor]}[assignor]
        kw = dict(bootstrap_servers=bootstrap, group_id=group, client_id=name,
                  auto_offset_reset="earliest", enable_auto_commit=False,
                  session_timeout_ms=10000, heartbeat_interval_ms=500,
                  fetch_max_wait_ms=100, metadata_max_age_ms=2000,
                  partition_assignment_strategy=assignors)
        kw.update(conf)
        self.c = KafkaConsumer(**kw)
        self.assigned = set()
        self.events = []
        self.msgs = []
        self.errors = []
        self.closed = False
        self._cmds = queue.Queue()
        me = self

        class L(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                ps = sorted(tp.partition for tp in revoked)
                me.events.append((time.monotonic(), "revoke", ps))
                me._commit()
                me.assigned = set()

            def on_partitions_assigned(self, assigned):
                ps = sorted(tp.partition for tp in assigned)
                me.events.append((time.monotonic(), "assign", ps))
                me.assigned = set(ps)
        self.c.subscribe(list(topics), listener=L())
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self):
        import queue
        while True:
            try:
                cmd, done = self._cmds.get_nowait()
            except queue.Empty:
                cmd = None
            if cmd == "commit":
                done.append(self._commit())
            elif cmd == "close":
                try:
                    self.c.close()
                except Exception as e:
                    self.errors.append("close: %r" % e)
                done.append(True)
                return
            try:
                for tp, recs in self.c.poll(timeout_ms=50, max_records=500).items():
                    for m in recs:
                        self.msgs.append((m.partition, m.offset, m.value.decode()))
            except Exception as e:
                if len(self.errors) < 50:
                    self.errors.append("poll: %r" % e)
                time.sleep(0.05)

    def _call(self, cmd, timeout=60):
        done = []
        self._cmds.put((cmd, done))
        deadline = time.monotonic() + timeout
        while not done and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.01)
        return done[0] if done else None

    def _commit(self):
        try:
            self.c.commit()
            return True
        except Exception as e:  # e.g. CommitFailedError during a rebalance
            if len(self.errors) < 50:
                self.errors.append("commit: %r" % e)
            return False

    def commit(self):
        return self._call("commit")

    def poll(self, timeout=0.05):
        time.sleep(min(timeout, 0.02))
        return 0

    def values(self):
        return [v for _, _, v in list(self.msgs)]

    def n_events(self, kind=None):
        return len([e for e in list(self.events) if kind is None or e[1] == kind])

    def close(self):
        if not self.closed:
            self.closed = True
            self._call("close")
            self._thread.join(30)

    def close_async(self):
        """Ask the member's thread to close; see close_all()."""
        if not self.closed:
            self.closed = True
            self._cmds.put(("close", []))


def close_all(members, timeout=30):
    """Close a mix of members without deadlock: a kafka-python member's
    thread may sit in a blocking rejoin that needs the other members (also
    the confluent ones, polled from this thread) to rejoin too."""
    kps = [m for m in members if isinstance(m, KpMember) and not m.closed]
    for m in kps:
        m.close_async()
    deadline = time.monotonic() + timeout
    while any(m._thread.is_alive() for m in kps) and time.monotonic() < deadline:
        for m in members:
            if not isinstance(m, KpMember):
                m.poll(0.02)
    for m in members:
        if not isinstance(m, KpMember):
            m.close()


def poll_all(members, seconds, until=None):
    """Poll every open member round robin for `seconds` or until until()."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for m in members:
            m.poll(0.02)
        if until and until():
            return True
    return bool(until and until())


def consumed_until(members, want):
    """until() for poll_all: the members together have consumed every value
    of `want` (a set)."""
    def f():
        got = set()
        for m in members:
            got.update(m.values())
        return want <= got
    return f


def dup_report(members, want):
    """(missing, duplicated, unexpected) values across members."""
    counts = {}
    for m in members:
        for v in m.values():
            counts[v] = counts.get(v, 0) + 1
    missing = sorted(want - set(counts))
    dups = sorted(v for v, n in counts.items() if n > 1)
    extra = sorted(v for v in counts if v not in want)
    return missing, dups, extra


def partition_owners(members):
    """{partition: [member names]} from the members' current assignments."""
    out = {}
    for m in members:
        if not m.closed:
            for p in m.assigned:
                out.setdefault(p, []).append(m.name)
    return out


def exactly_once_owned(members, nparts):
    own = partition_owners(members)
    return sorted(own) == list(range(nparts)) and all(len(v) == 1 for v in own.values())


def moved_to(members, nparts, parts):
    """For poll_all: members own every partition exactly once, parts among them."""
    return lambda: (exactly_once_owned(members, nparts) and
                    parts <= set().union(*(m.assigned for m in members)))


def diag_events(members, t0):
    """Each member's rebalance events (seconds since t0), for a failed test."""
    for m in members:
        tap.diag("---- %s events %s" % (m.name, [(round(t - t0, 2), k, p) for t, k, p in m.events]))


def client_test_broker(topic, nparts):
    """The started broker of a client group test, without initial rebalance
    delay, with topic of nparts partitions: (broker, admin client). The test
    is skipped when it advertises no JoinGroup (no group coordinator)."""
    b = odtest.Broker(sets={"group.initial.rebalance.delay.ms": "0"}).start()
    with odtest.Conn(b.port) as c:
        if JOIN_GROUP not in odtest.api_versions(c, 0)["apis"]:
            tap.skip_all("the broker does not advertise JoinGroup (no group coordinator)")
    admin = odtest.ck_admin(b.bootstrap)
    odtest.ck_create_topic(admin, topic, nparts)
    return b, admin


# ---- a member in its own process ---------------------------------------------------

class ProcMember:
    """A confluent_kafka group member in a child process (killable)."""

    def __init__(self, bootstrap, group, topic, tmp, name="proc", kind="member", **conf):
        """kind: "member" (confluent_kafka; conf keys with dots) or
        "kpmember" (kafka-python; conf keys are KafkaConsumer kwargs)."""
        args = [sys.executable if sys.executable else "/usr/bin/python3",
                os.path.abspath(__file__), kind, bootstrap, group, topic]
        args += ["%s=%s" % (k, v) for k, v in conf.items()]
        self.out_path = os.path.join(tmp, name + ".out")
        self.err_path = os.path.join(tmp, name + ".err")
        self.outf = open(self.out_path, "wb")
        self.errf = open(self.err_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self.outf, stderr=self.errf,
                                     stdin=subprocess.DEVNULL)
        self.name = name

    def events(self):
        out = []
        try:
            with open(self.out_path, "rb") as f:
                for ln in f:
                    try:
                        out.append(json.loads(ln))
                    except ValueError:
                        pass  # a partial last line
        except OSError:
            pass
        return out

    def assigned(self):
        cur = set()
        for e in self.events():
            if e["ev"] == "assign":
                cur = set(e["parts"])
            elif e["ev"] == "revoke":
                cur = set()
        return cur

    def values(self):
        return [e["v"] for e in self.events() if e["ev"] == "msg"]

    def kill9(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def stderr_text(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def _member_main(argv):
    """Child process: a confluent_kafka member printing JSON lines until SIGTERM."""
    import signal
    import confluent_kafka as ck
    tap._done = True  # no TAP output from the child
    bootstrap, group, topic = argv[:3]
    conf = odtest.ck_conf(bootstrap, **{"group.id": group, "auto.offset.reset": "earliest",
                                        "enable.auto.commit": False,
                                        "heartbeat.interval.ms": 500,
                                        "fetch.wait.max.ms": 100})
    for kv in argv[3:]:
        k, v = kv.split("=", 1)
        conf[k] = v
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *a: stop.__setitem__(0, True))

    def emit(d):
        sys.stdout.write(json.dumps(d) + "\n")
        sys.stdout.flush()

    c = ck.Consumer(conf, logger=odtest.RdLog())

    def on_assign(cons, parts):
        emit({"ev": "assign", "parts": sorted(tp.partition for tp in parts), "t": time.time()})
        cons.assign(parts)

    def on_revoke(cons, parts):
        emit({"ev": "revoke", "parts": sorted(tp.partition for tp in parts), "t": time.time()})
        try:
            cons.commit(asynchronous=False)
        except ck.KafkaException:
            pass
        cons.unassign()
    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    while not stop[0]:
        for m in c.consume(num_messages=100, timeout=0.1):
            if m.error() is None:
                emit({"ev": "msg", "p": m.partition(), "o": m.offset(), "v": m.value().decode()})
                try:
                    c.commit(message=m, asynchronous=False)
                except ck.KafkaException:
                    pass
    c.close()
    emit({"ev": "closed"})
    return 0


def _kpmember_main(argv):
    """Child process: a kafka-python member (range assignor) printing JSON lines."""
    import signal
    from kafka import ConsumerRebalanceListener, KafkaConsumer
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    tap._done = True
    bootstrap, group, topic = argv[:3]
    kw = dict(bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
              enable_auto_commit=False, heartbeat_interval_ms=500, fetch_max_wait_ms=100,
              partition_assignment_strategy=[RangePartitionAssignor])
    for kv in argv[3:]:
        k, v = kv.split("=", 1)
        kw[k] = int(v) if v.lstrip("-").isdigit() else v
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *a: stop.__setitem__(0, True))

    def emit(d):
        sys.stdout.write(json.dumps(d) + "\n")
        sys.stdout.flush()

    c = KafkaConsumer(**kw)

    class L(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            emit({"ev": "revoke", "parts": sorted(tp.partition for tp in revoked)})

        def on_partitions_assigned(self, assigned):
            emit({"ev": "assign", "parts": sorted(tp.partition for tp in assigned)})
    c.subscribe([topic], listener=L())
    while not stop[0]:
        for tp, recs in c.poll(timeout_ms=100).items():
            for m in recs:
                emit({"ev": "msg", "p": m.partition, "o": m.offset, "v": m.value.decode()})
            try:
                c.commit()
            except Exception:
                pass
    c.close()
    emit({"ev": "closed"})
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "member":
        sys.exit(_member_main(sys.argv[2:]))
    if len(sys.argv) >= 5 and sys.argv[1] == "kpmember":
        sys.exit(_kpmember_main(sys.argv[2:]))
    sys.stderr.write(__doc__)
    sys.exit(2)
