"""acl.py - helpers for the authorization tests (t/7250-7299).

Raw CreateAcls / DescribeAcls / DeleteAcls (v1, the first with pattern
types) and Metadata v8 (authorized-operations bitmasks) so tests can say
exactly what goes over the wire; brokers started with an authorizer; the
audit log read back as JSON lines. Clients (kafka-python's admin ACL calls,
kcat, confluent_kafka) are used unmodified by the tests themselves.
"""
import json
import os

import odtest
from odtest import array, i8, i16, i32, string, boolean

CREATE_ACLS, DESCRIBE_ACLS, DELETE_ACLS = 30, 29, 31

# Kafka's codes (AclOperation, ResourceType, PatternType, AclPermissionType)
ANY, ALL, READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE = 1, 2, 3, 4, 5, 6, 7, 8
CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE = 9, 10, 11, 12
R_ANY, R_TOPIC, R_GROUP, R_CLUSTER, R_TXN = 1, 2, 3, 4, 5
P_ANY, P_MATCH, P_LITERAL, P_PREFIXED = 1, 2, 3, 4
DENY, ALLOW = 2, 3

# error codes
TOPIC_AUTHORIZATION_FAILED = 29
GROUP_AUTHORIZATION_FAILED = 30
CLUSTER_AUTHORIZATION_FAILED = 31
INVALID_REQUEST = 42
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53
SECURITY_DISABLED = 54
UNKNOWN_TOPIC_ID = 100

STANDARD = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def broker(sets=None, audit=None, **kw):
    """A broker with the ACL authorizer (Kafka's class name). audit: a path
    for authorizer.audit.log."""
    s = {"authorizer.class.name": STANDARD}
    if audit:
        s["authorizer.audit.log"] = audit
    s.update(sets or {})
    return odtest.Broker(sets=s, **kw)


def binding(rtype, name, pattern, principal, host, op, perm):
    return (rtype, name, pattern, principal, host, op, perm)


def create_acls(conn, bindings, version=1):
    """Returns [(error_code, message)] per binding."""
    def one(b):
        rtype, name, pattern, principal, host, op, perm = b
        return (i8(rtype) + string(name) + (i8(pattern) if version >= 1 else b"") +
                string(principal) + string(host) + i8(op) + i8(perm))
    r = conn.request(CREATE_ACLS, version, array(bindings, one))
    r.i32()  # throttle
    return r.array(lambda rr: (rr.i16(), rr.string()))


def _filter(f):
    rtype, name, pattern, principal, host, op, perm = f
    return (i8(rtype) + string(name) + i8(pattern) + string(principal) + string(host) +
            i8(op) + i8(perm))


def describe_acls(conn, flt):
    """Returns (error_code, message, [binding tuples])."""
    r = conn.request(DESCRIBE_ACLS, 1, _filter(flt))
    r.i32()
    ec, msg = r.i16(), r.string()

    def res(rr):
        rtype, name, pattern = rr.i8(), rr.string(), rr.i8()
        acls = rr.array(lambda x: (x.string(), x.string(), x.i8(), x.i8()))
        return [(rtype, name, pattern, p, h, op, perm) for p, h, op, perm in acls]
    out = []
    for group in r.array(res) or []:
        out += group
    return ec, msg, out


def delete_acls(conn, filters):
    """Returns [(error_code, message, [(error, binding tuple)])] per filter."""
    def matching(rr):
        ec, msg = rr.i16(), rr.string()
        b = (rr.i8(), rr.string(), rr.i8(), rr.string(), rr.string(), rr.i8(), rr.i8())
        return ec, b
    r = conn.request(DELETE_ACLS, 1, array(filters, _filter))
    r.i32()
    return r.array(lambda rr: (rr.i16(), rr.string(), rr.array(matching)))


MATCH_ALL = (R_ANY, None, P_ANY, None, None, ANY, ANY)


def metadata_v8(conn, topics=None, cluster_ops=False, topic_ops=False, auto_create=False):
    """Metadata v8 (not flexible). Returns (cluster_ops, {name: (error, ops)})."""
    body = (array(topics, string) + boolean(auto_create) + boolean(cluster_ops) +
            boolean(topic_ops))
    r = conn.request(odtest.METADATA, 8, body)
    r.i32()
    r.array(lambda rr: (rr.i32(), rr.string(), rr.i32(), rr.string()))
    r.string()
    r.i32()

    def part(rr):
        rr.i16(), rr.i32(), rr.i32(), rr.i32()
        rr.array(lambda x: x.i32())
        rr.array(lambda x: x.i32())
        rr.array(lambda x: x.i32())

    def topic(rr):
        ec, name, _internal = rr.i16(), rr.string(), rr.boolean()
        rr.array(part)
        return name, (ec, rr.i32())
    ts = dict(r.array(topic) or [])
    return r.i32(), ts


def ops_mask(*ops):
    m = 0
    for o in ops:
        m |= 1 << o
    return m


def audit_lines(path):
    """Every line of the audit file, parsed; a line that is not JSON fails."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(ln) for ln in f if ln.strip()]


def kp_admin(bootstrap):
    from kafka.admin import KafkaAdminClient
    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)


def fetch_as(conn, topic, partition, offset, replica_id):
    """Fetch v4 of one partition as replica_id (-1: a consumer). Returns
    the partition's error code."""
    body = (i32(replica_id) + i32(0) + i32(1) + i32(1 << 20) + i8(0) +
            array([topic], lambda t: string(t) + array(
                [partition], lambda p: i32(p) + odtest.i64(offset) + i32(1 << 20))))
    r = conn.request(odtest.FETCH, 4, body)
    r.i32()
    errs = []

    def t(rr):
        rr.string()

        def part(x):
            x.i32()
            errs.append(x.i16())
            x.i64(), x.i64()
            x.array(lambda y: (y.i64(), y.i64()))
            x.bytes_()
        rr.array(part)
    r.array(t)
    return errs[0]


def init_producer_id(conn):
    """InitProducerId v0 without a transactional id: the error code."""
    r = conn.request(22, 0, string(None) + i32(60000))
    r.i32()
    return r.i16()


def create_topic_v5(conn, name, partitions=1, rf=1):
    """CreateTopics v5 (flexible) of one topic. Returns (error,
    topic_config_error, number of configs or None when null)."""
    nt = odtest.NO_TAGS
    body = (odtest.compact_array([name], lambda n: odtest.compact_string(n) + i32(partitions) +
                                 i16(rf) + odtest.compact_array([], None) +
                                 odtest.compact_array([], None) + nt) +
            i32(10000) + boolean(False) + nt)
    r = conn.request(odtest.CREATE_TOPICS, 5, body, flexible=True)
    r.i32()

    def topic(rr):
        rr.compact_string()
        ec = rr.i16()
        rr.compact_string()
        rr.i32(), rr.i16()

        def cfg(x):
            x.compact_string(), x.compact_string(), x.boolean(), x.i8(), x.boolean()
            x.tags()
        cfgs = rr.compact_array(cfg)
        tags = rr.tags()
        tce = odtest.Reader(tags[0]).i16() if 0 in tags else 0
        return ec, tce, None if cfgs is None else len(cfgs)
    return r.compact_array(topic)[0]
