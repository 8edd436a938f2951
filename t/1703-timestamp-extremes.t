#!/usr/bin/python3
# Timestamp limits and client timestamps at the int64 extremes: the window
# [now - before.max.ms, now + after.max.ms] is computed without signed
# overflow (the sanitizer build aborts on one), so limits of 2^63-2 accept
# any timestamp, small limits refuse INT64_MAX and far-past timestamps, and
# the broker stays up.
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

INVALID_TIMESTAMP = 32
BIG = str(2**63 - 2)
odtest.watchdog(90)
b = odtest.Broker().start()
with odtest.Conn(b.port) as c:
    res = odtest.create_topics(c, [
        ("huge", 1, 1, {"message.timestamp.before.max.ms": BIG, "message.timestamp.after.max.ms": BIG}),
        ("diff", 1, 1, {"message.timestamp.difference.max.ms": BIG}),
        ("small", 1, 1, {"message.timestamp.before.max.ms": "60000",
                         "message.timestamp.after.max.ms": "60000"})])
tap.is_(res, {"huge": 0, "diff": 0, "small": 0}, "topics with limits of 2^63-2 and of one minute")
now = int(time.time() * 1000)
MAXTS = 2**63 - 1


def prod(topic, base_ts, deltas):
    batch = odtest.build_batch([(b"k", b"v", None, d) for d in deltas], base_ts=base_ts)
    with odtest.Conn(b.port) as c:
        return odtest.produce(c, {(topic, 0): batch})[(topic, 0)][0]


tap.is_(prod("huge", now, [0]), 0, "limits 2^63-2, a current timestamp: accepted")
tap.is_(prod("huge", MAXTS, [0]), 0, "limits 2^63-2, timestamp INT64_MAX: accepted")
tap.is_(prod("huge", 0, [0, 1]), 0, "limits 2^63-2, timestamp 0: accepted")
tap.is_(prod("diff", MAXTS - 5, [0, 5]), 0,
        "message.timestamp.difference.max.ms=2^63-2 (the fallback), timestamps up to INT64_MAX: accepted")
tap.is_(prod("small", MAXTS, [0]), INVALID_TIMESTAMP, "one-minute window, INT64_MAX: INVALID_TIMESTAMP")
tap.is_(prod("small", 0, [0]), INVALID_TIMESTAMP, "one-minute window, timestamp 0: INVALID_TIMESTAMP")
tap.is_(prod("small", now, [0, 1]), 0, "one-minute window, now: accepted")
tap.ok(b.running(), "broker still running")
sys.exit(odtest.finish())
