#!/usr/bin/python3
# The metadata log's group commit: proposals made in one loop turn share one
# fdatasync and are applied after it. Requests pipelined in one write are
# handled in one loop turn, so they race as two clients would: a second
# auto-creation of a topic being created, a second deletion of a topic
# being deleted, adding partitions to or configuring a topic being deleted.
# None of them may write a record that cannot be applied (which stopped the
# control plane and every later start); the broker keeps taking changes and
# starts again.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import Reader, array, frame, i8, i16, i32, request_header, string  # noqa: E402

odtest.watchdog(180)
b = odtest.Broker().start()
c = odtest.Conn(b.port)
UNKNOWN, LNA = 3, 5


def create_body(name, parts=1):
    return array([name], lambda n: string(n) + i32(parts) + i16(1) + array([], None) +
                 array([], None)) + i32(10000)


def delete_body(name):
    return array([name], string) + i32(10000)


def partitions_body(name, count):
    return array([name], lambda n: string(n) + i32(count) + i32(-1)) + i32(10000) + i8(0)


def alter_body(name):
    return array([name], lambda n: i8(2) + string(n) + array(
        [("retention.ms", "1000")], lambda kv: string(kv[0]) + string(kv[1]))) + i8(0)


def pipeline(reqs):
    """Sends (api, version, body) requests in one write; returns a Reader at
    each response body (after the correlation id), in order."""
    data = b""
    for api, ver, body in reqs:
        c.corr += 1
        data += frame(request_header(api, ver, c.corr) + body)
    c.send_raw(data)
    out = []
    for _ in reqs:
        r = Reader(c.recv_frame())
        r.i32()
        out.append(r)
    return out


def create_result(r):
    return dict(r.array(lambda rr: (rr.string(), rr.i16())))


def delete_result(r):
    r.i32()
    return dict(r.array(lambda rr: (rr.string(), rr.i16())))


def meta_result(r, name):
    r.array(lambda rr: (rr.i32(), rr.string(), rr.i32(), rr.string()))  # brokers
    r.i32()  # controller

    def part(rr):
        return (rr.i16(), rr.i32(), rr.i32(), rr.array(lambda x: x.i32()),
                rr.array(lambda x: x.i32()))
    topics = r.array(lambda rr: (rr.i16(), rr.string(), rr.boolean(), rr.array(part)))
    return {t[1]: t[0] for t in topics}[name]


# 1. The first proposal of the turn commits at once; the next one is
#    batched; a third request for the same new topic must not propose it again.
rs = pipeline([(odtest.CREATE_TOPICS, 0, create_body("first1")),
               (odtest.METADATA, 1, array(["race1"], string)),
               (odtest.METADATA, 1, array(["race1"], string))])
tap.is_(create_result(rs[0]), {"first1": 0}, "the turn's first proposal")
e1, e2 = meta_result(rs[1], "race1"), meta_result(rs[2], "race1")
tap.ok(e1 == 0 and e2 == LNA,
       "auto-create waits for the group commit; a second one in the same turn answers "
       "LEADER_NOT_AVAILABLE instead of proposing again (%s, %s)" % (e1, e2))
tap.is_(odtest.metadata(c, ["race1"])["topics"]["race1"]["error"], 0, "race1 exists once")

# 2. Two deletions of one topic in one turn.
tap.is_(odtest.create_topics(c, [("del1", 2, 1)]), {"del1": 0}, "del1 created")
rs = pipeline([(odtest.CREATE_TOPICS, 0, create_body("first2")),
               (odtest.DELETE_TOPICS, 1, delete_body("del1")),
               (odtest.DELETE_TOPICS, 1, delete_body("del1"))])
tap.is_((delete_result(rs[1]), delete_result(rs[2])), ({"del1": 0}, {"del1": UNKNOWN}),
        "the second deletion in the turn: UNKNOWN_TOPIC_OR_PARTITION")

# 3. Deleting and adding partitions / configuring in one turn.
tap.is_(odtest.create_topics(c, [("del2", 1, 1)]), {"del2": 0}, "del2 created")
rs = pipeline([(odtest.CREATE_TOPICS, 0, create_body("first3")),
               (odtest.DELETE_TOPICS, 1, delete_body("del2")),
               (37, 0, partitions_body("del2", 3)),
               (33, 0, alter_body("del2"))])
tap.is_(delete_result(rs[1]), {"del2": 0}, "del2 deleted")
rs[2].i32()
cp = rs[2].array(lambda rr: (rr.string(), rr.i16(), rr.string()))
tap.is_(cp[0][1], UNKNOWN, "CreatePartitions of the topic being deleted: UNKNOWN_TOPIC_OR_PARTITION")
rs[3].i32()
ac = rs[3].array(lambda rr: (rr.i16(), rr.string(), rr.i8(), rr.string()))
tap.ok(ac[0][0] in (0, UNKNOWN), "AlterConfigs of it is answered (%d)" % ac[0][0])

# 4. Two CreatePartitions of one topic in one turn.
tap.is_(odtest.create_topics(c, [("grow", 1, 1)]), {"grow": 0}, "grow created")
rs = pipeline([(odtest.CREATE_TOPICS, 0, create_body("first4")),
               (37, 0, partitions_body("grow", 3)),
               (37, 0, partitions_body("grow", 4))])
rs[1].i32()
rs[2].i32()
g1 = rs[1].array(lambda rr: (rr.string(), rr.i16(), rr.string()))[0][1]
g2 = rs[2].array(lambda rr: (rr.string(), rr.i16(), rr.string()))[0][1]
tap.ok(g1 == 0 and g2 == 37, "the second CreatePartitions in the turn: INVALID_PARTITIONS "
       "(%s, %s)" % (g1, g2))
tap.is_(len(odtest.metadata(c, ["grow"])["topics"]["grow"]["partitions"]), 3, "grow has 3")

# The control plane still takes changes, and the log replays.
tap.is_(odtest.create_topics(c, [("after", 1, 1)]), {"after": 0},
        "later changes are committed")
tap.ok("cannot be applied" not in b.log_text() and "refusing further" not in b.log_text(),
       "no record was refused")
c.close()
b.restart()
c = odtest.Conn(b.port)
topics = odtest.metadata(c)["topics"]
tap.ok(all(n in topics for n in ("first1", "race1", "first2", "grow", "after")) and
       "del1" not in topics and "del2" not in topics,
       "after a restart the image is the same (%s)" % sorted(topics))
tap.is_(len(topics["grow"]["partitions"]), 3, "grow still has 3 partitions")
c.close()
odtest.finish()
