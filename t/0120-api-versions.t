#!/usr/bin/python3
# 0120-api-versions.t - ApiVersions advertises exactly the version ranges of
# core/proto/schema/*.ods (request and response both cover them), lowered
# only where od_dispatch.c caps a handler, and every schema'd API is served.
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

# Handlers that implement less than their schema (od_dispatch.c's caps).
CAPS = {}  # none today; od_dispatch.c lists them

# The kraft module's own APIs (core/proto/schema/kraft/) that it serves on
# every listener, not only the controller's: DescribeQuorum (KIP-836).
CP_ALL_LISTENERS = {55}
# Served and listed on controller listeners only, as Kafka: Envelope
# (KIP-590; t/6180 checks the controller listener's list).
CONTROLLER_ONLY = {58}

odtest.watchdog(120)
schema = {}
names = {}
sdir = os.path.join(odtest.TOP, "core", "proto", "schema")
kdir = os.path.join(sdir, "kraft")
files = [os.path.join(sdir, fn) for fn in sorted(os.listdir(sdir)) if fn.endswith(".ods")]
files += [os.path.join(kdir, fn) for fn in sorted(os.listdir(kdir)) if fn.endswith(".ods")]
for path in files:
    for m in re.finditer(r"^(request|response) (\w+) key (\d+) versions (\d+)(?:-(\d+))?",
                         open(path).read(), re.M):
        kind, name, key, lo = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
        if os.path.dirname(path) == kdir and key not in CP_ALL_LISTENERS:
            continue
        if key in CONTROLLER_ONLY:
            continue
        hi = int(m.group(5) or lo)
        schema.setdefault(key, {})[kind] = (lo, hi)
        if kind == "request":
            names[key] = name
want = {}
for key, kinds in schema.items():
    if "request" in kinds and "response" in kinds:
        lo = max(kinds["request"][0], kinds["response"][0])
        hi = min(kinds["request"][1], kinds["response"][1])
        want[key] = (lo, min(hi, CAPS.get(key, hi)))
tap.ok(len(want) >= 20, "%d APIs have request and response schemas" % len(want))

b = odtest.Broker().start()
for version in (0, 3):
    c = odtest.Conn(b.port)
    got = odtest.api_versions(c, version)["apis"]
    c.close()
    wrong = ["%s(%d): advertised %s, schema says %s" % (names.get(k, "?"), k, got.get(k), want[k])
             for k in sorted(want) if got.get(k) != want[k]]
    extra = [k for k in got if k not in want]
    for w in wrong:
        tap.diag(w)
    tap.ok(not wrong and not extra,
           "ApiVersions v%d: %d ranges equal the schemas' (caps: %s), none without a schema"
           % (version, len(got), CAPS))

# The highest version served (the cap, or the schema's top) is answered and
# one above it closes the connection: ListOffsets with no topics.
for key, cap in [(2, CAPS.get(2, schema[2]["request"][1]))]:
    body = odtest.i32(-1) + odtest.i8(0) + odtest.uvarint(1) + odtest.NO_TAGS
    c = odtest.Conn(b.port)
    try:
        c.request(2, cap, body, flexible=True)
        served = True
    except (odtest.ConnectionClosed, odtest.ProtoError, OSError):
        served = False
    c.close()
    tap.ok(served, "ListOffsets v%d (the cap) is answered" % cap)
    c = odtest.Conn(b.port)
    try:
        c.request(2, cap + 1, body, flexible=True)
        closed = False
    except (odtest.ConnectionClosed, OSError):
        closed = True
    c.close()
    tap.ok(closed, "ListOffsets v%d (above the cap) closes the connection" % (cap + 1))
sys.exit(odtest.finish())
