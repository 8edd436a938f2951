"""odrcli.py - running the `odr` command line in the t/80xx tests.

    import odrcli
    rc, out, err = odrcli.odr(broker, "topic", "list", "--output", "json")
    doc = odrcli.odr_json(broker, "topic", "describe", "t")   # asserts exit 0

Every run is checked for sanitizer reports on stderr (the build may use
--enable-sanitizers; a leak or UB report fails the test that ran it).
"""
import json
import os

import odtest
import tap


def binary():
    return os.path.join(odtest.find_build(), "odr")


def available():
    return os.access(binary(), os.X_OK)


def odr(broker, *args, input=None, timeout=60, env=None):
    """Run odr against broker (or a "host:port" string, or None for no
    --brokers); returns (rc, stdout text, stderr text)."""
    cmd = [binary()]
    if broker is not None:
        cmd += ["--brokers", broker if isinstance(broker, str) else broker.bootstrap]
    cmd += list(args)
    e = dict(os.environ)
    # no profile of the user running the tests
    e["HOME"] = odtest.scratch("odr-home")
    e.pop("ODR_PROFILE", None)
    e.pop("ODR_BROKERS", None)
    e.update(env or {})
    data = input.encode() if isinstance(input, str) else input
    rc, out, err = odtest.run(cmd, timeout=timeout, input=data, env=e)
    out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    if odtest.SANITIZER_RE.search(err):
        tap.ok(False, "sanitizer report from odr %s" % " ".join(args))
        tap.diag(err[-3000:])
    return rc, out, err


def odr_json(broker, *args, **kw):
    """odr ... --output json, parsed; None (with a diagnostic) when it fails."""
    rc, out, err = odr(broker, *(list(args) + ["--output", "json"]), **kw)
    if rc != 0:
        tap.diag("odr %s: rc %s: %s" % (" ".join(args), rc, err.strip()[-800:]))
        return None
    try:
        return json.loads(out)
    except ValueError as e:
        tap.diag("odr %s: not JSON (%s): %r" % (" ".join(args), e, out[:800]))
        return None


def json_lines(text):
    """One JSON document per line."""
    return [json.loads(ln) for ln in text.splitlines() if ln.strip()]
