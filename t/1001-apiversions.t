#!/usr/bin/python3
# ApiVersions (v0, v3, unknown version) and Metadata over raw sockets; kcat -L.
import json
import os
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import Conn  # noqa: E402

odtest.watchdog(240)
b = odtest.Broker().start()

# ---- ApiVersions v0 ----------------------------------------------------------
with Conn(b.port) as c:
    v0 = odtest.api_versions(c, 0)
tap.is_(v0["error"], 0, "ApiVersions v0: error 0")
apis = v0["apis"]
tap.is_(len(apis), len(v0["list"]), "ApiVersions v0: no api key listed twice")
tap.ok(all(lo <= hi and lo >= 0 for lo, hi in apis.values()), "ApiVersions v0: every min <= max")
tap.is_(v0["trailing"], 0, "ApiVersions v0: no trailing bytes")


def supports(key, ver):
    r = apis.get(key)
    return r is not None and r[0] <= ver <= r[1]


tap.ok(supports(18, 0) and supports(18, 3), "ApiVersions v0..v3 advertised (%r)" % (apis.get(18),))
tap.ok(supports(0, 3), "Produce v3 advertised (%r)" % (apis.get(0),))
tap.ok(supports(1, 4), "Fetch v4 advertised (%r)" % (apis.get(1),))
tap.ok(supports(3, 1), "Metadata v1 advertised (%r)" % (apis.get(3),))
tap.ok(supports(19, 0), "CreateTopics v0 advertised (%r)" % (apis.get(19),))
tap.ok(supports(2, 1), "ListOffsets v1 advertised (%r)" % (apis.get(2),))
tap.diag("advertised: " + " ".join("%d:%d-%d" % (k, lo, hi) for k, (lo, hi) in sorted(apis.items())))

# ---- ApiVersions v1 and v3 ------------------------------------------------------
with Conn(b.port) as c:
    v1 = odtest.api_versions(c, 1)
    tap.is_((v1["error"], v1["apis"]), (0, apis), "ApiVersions v1: same ranges as v0")
    tap.ok(v1["throttle"] is not None and v1["trailing"] == 0, "ApiVersions v1: throttle, no trailing bytes")
    v3 = odtest.api_versions(c, 3)
    tap.is_(v3["error"], 0, "ApiVersions v3: error 0")
    tap.is_(v3["apis"], apis, "ApiVersions v3 (flexible body, response header v0): same ranges as v0")
    tap.ok(v3["throttle"] is not None, "ApiVersions v3: throttle_time_ms present")
    tap.is_(v3["trailing"], 0, "ApiVersions v3: body fully consumed (tagged fields parsed)")

# ---- an unknown version gets UNSUPPORTED_VERSION in the v0 layout -------------
with Conn(b.port) as c:
    v99 = odtest.api_versions(c, 0, raw_version=99)
    tap.is_(v99["error"], odtest.UNSUPPORTED_VERSION, "ApiVersions v99: error 35 UNSUPPORTED_VERSION")
    tap.is_(v99["apis"].get(18), apis.get(18), "ApiVersions v99: the ranges are included (v0 layout)")
    tap.is_(v99["trailing"], 0, "ApiVersions v99: v0 layout, no trailing bytes")
    # librdkafka retries on the same connection at the version it learned.
    again = odtest.api_versions(c, 3)
    tap.is_((again["error"], again["apis"]), (0, apis), "same connection works after v99 (retry at v3)")
    m = odtest.metadata(c)
    tap.ok(m["brokers"], "same connection serves Metadata after v99")

# ---- pipelined requests come back in order ---------------------------------------
with Conn(b.port) as c:
    corrs = []
    for ver in (0, 1, 2, 0):
        corrs.append(c.send_request(18, ver, b""))
    corrs.append(c.send_request(3, 1, odtest.array(None, None)))
    got = []
    for _ in corrs:
        fr = c.recv_frame()
        got.append(odtest.Reader(fr).i32() if fr else None)
    tap.is_(got, corrs, "pipelined requests: responses in request order")

# ---- Metadata v1 and CreateTopics v0 -----------------------------------------------
with Conn(b.port) as c:
    res = odtest.create_topics(c, [("apiv-three", 3, 1), ("apiv-one", 1, 1)])
    tap.is_(res, {"apiv-three": 0, "apiv-one": 0}, "CreateTopics v0: two topics created")
    md = odtest.metadata(c)
    tap.is_(md["trailing"], 0, "Metadata v1: body fully consumed")
    tap.is_([(x["node_id"], x["host"], x["port"]) for x in md["brokers"]],
            [(1, "127.0.0.1", b.port)], "Metadata v1: one broker, node 1 at the listener address")
    tap.is_(md["controller_id"], 1, "Metadata v1: controller_id is a real broker id")
    t = md["topics"].get("apiv-three")
    tap.ok(t is not None and t["error"] == 0, "Metadata v1 (all topics): apiv-three listed")
    if t:
        tap.is_(sorted(p["partition"] for p in t["partitions"]), [0, 1, 2], "apiv-three: partitions 0..2")
        tap.ok(all(p["leader"] == 1 and p["replicas"] == [1] and p["isr"] == [1] and p["error"] == 0
                   for p in t["partitions"]), "apiv-three: leader, replicas and isr are node 1")
        tap.ok(not t["internal"], "apiv-three: not internal")
    md1 = odtest.metadata(c, ["apiv-one"])
    tap.is_(list(md1["topics"]), ["apiv-one"], "Metadata v1 for one topic lists only that topic")

# ---- kcat -L -----------------------------------------------------------------
if not shutil.which("kcat"):
    tap.skip("kcat is not installed", 10)
    with Conn(b.port) as c:
        tap.is_(odtest.api_versions(c, 0)["error"], 0, "broker still answers ApiVersions")
    sys.exit(odtest.finish())
KCAT = ["kcat", "-b", b.bootstrap, "-m", "15", "-X", "broker.address.family=v4"]
rc, out, err = odtest.run(KCAT + ["-L"], timeout=30)
tap.is_(rc, 0, "kcat -L exits 0") or tap.diag(err.decode(errors="replace")[-2000:])
text = out.decode(errors="replace")
tap.like(text, r"broker 1 at 127\.0\.0\.1:%d" % b.port, "kcat -L lists broker 1")
tap.like(text, r'topic "apiv-three" with 3 partitions', "kcat -L lists apiv-three with 3 partitions")

rc, out, err = odtest.run(KCAT + ["-L", "-J"], timeout=30)
tap.is_(rc, 0, "kcat -L -J exits 0")
try:
    j = json.loads(out.decode())
except ValueError:
    j = {}
    tap.diag(out[-2000:])
tap.is_([(x.get("id"), x.get("name")) for x in j.get("brokers", [])], [(1, b.bootstrap)],
        "kcat -L -J: brokers")
tap.is_(j.get("controllerid"), 1, "kcat -L -J: controllerid 1")
topics = {t.get("topic"): t for t in j.get("topics", [])}
tap.ok("apiv-three" in topics and "apiv-one" in topics, "kcat -L -J: both topics listed")
tp = topics.get("apiv-three", {})
tap.is_(sorted((p.get("partition"), p.get("leader")) for p in tp.get("partitions", [])),
        [(0, 1), (1, 1), (2, 1)], "kcat -L -J: apiv-three partitions and leaders")

rc, out, err = odtest.run(KCAT + ["-L", "-J", "-t", "apiv-one"], timeout=30)
try:
    j = json.loads(out.decode())
except ValueError:
    j = {}
tap.is_([t.get("topic") for t in j.get("topics", [])], ["apiv-one"], "kcat -L -t lists one topic")

# The broker survived all of that.
with Conn(b.port) as c:
    tap.is_(odtest.api_versions(c, 0)["error"], 0, "broker still answers ApiVersions")

sys.exit(odtest.finish())
