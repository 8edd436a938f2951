"""tap.py - a tiny TAP producer for the integration tests (run by prove).

Usage:
    import tap
    tap.plan(3)          # or no plan: done() prints "1..N" at the end
    tap.ok(cond, "name")
    tap.is_(got, want, "name")
    tap.diag("text")
    tap.skip("reason", count)
    sys.exit(tap.done())

An uncaught exception is reported as a failing test (with the traceback as
diagnostics) so a crashing test script can never look like a pass. done()
returns 1 if any test failed or the count does not match the plan.
Callbacks registered with at_done(fn) run with passed=True/False before the
summary, so the harness can keep temp dirs and print broker logs on failure.
prove shows a test's standard output only with -v, so a failed test also
writes its failures and the last diagnostics to standard error: a CI log
then says why without a rerun.
"""
import atexit
import sys
import traceback

_n = 0
_failed = 0
_planned = None
_done = False
_callbacks = []
_kept = []  # the last lines of failures and diagnostics, for stderr
_KEEP = 400


def _out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    if line.startswith("#") or line.startswith("not ok"):
        _kept.append(line)
        if len(_kept) > _KEEP:
            del _kept[: len(_kept) - _KEEP]


def plan(n):
    global _planned
    _planned = n
    _out("1..%d" % n)


def diag(msg):
    for line in str(msg).splitlines() or [""]:
        _out("# " + line)


note = diag


def ok(cond, name=""):
    global _n, _failed
    _n += 1
    name = str(name).replace("#", "\\#").replace("\n", " ")
    if cond:
        _out("ok %d - %s" % (_n, name))
    else:
        _failed += 1
        _out("not ok %d - %s" % (_n, name))
        # Where the failing check is, so the log points to the line.
        frame = sys._getframe(1)
        while frame and frame.f_code.co_filename == __file__:
            frame = frame.f_back
        if frame is not None:
            diag("  at %s line %d" % (frame.f_code.co_filename, frame.f_lineno))
    return bool(cond)


def is_(got, want, name=""):
    res = got == want
    if not res:
        ok(False, name)
        diag("       got: %r" % (_short(got),))
        diag("  expected: %r" % (_short(want),))
    else:
        ok(True, name)
    return res


def like(got, pattern, name=""):
    import re
    res = got is not None and re.search(pattern, got) is not None
    ok(res, name)
    if not res:
        diag("  %r" % (_short(got),))
        diag("  does not match /%s/" % pattern)
    return res


def _short(v):
    if isinstance(v, (bytes, str)) and len(v) > 400:
        return v[:400] + (b"..." if isinstance(v, bytes) else "...")
    return v


def skip(reason, count=1):
    global _n
    for _ in range(count):
        _n += 1
        _out("ok %d # skip %s" % (_n, reason))


def skip_all(reason):
    global _done
    _done = True
    _out("1..0 # SKIP %s" % reason)
    _run_callbacks(True)
    sys.exit(0)


def bail_out(reason):
    global _done
    _done = True
    _out("Bail out! %s" % reason)
    _run_callbacks(False)
    sys.exit(255)


def failed():
    return _failed > 0


def count():
    return _n


def at_done(fn):
    _callbacks.append(fn)


def _run_callbacks(passed):
    while _callbacks:
        fn = _callbacks.pop()
        try:
            fn(passed)
        except Exception:  # a broken cleanup must not hide the results
            diag("cleanup failed:\n" + traceback.format_exc())


def done():
    """Finish: print the plan if there was none; return the exit code."""
    global _done
    if _done:
        return 1 if _failed else 0
    _done = True
    passed = _failed == 0 and (_planned is None or _planned == _n)
    _run_callbacks(passed)
    if _planned is None:
        _out("1..%d" % _n)
    elif _planned != _n:
        diag("planned %d tests but ran %d" % (_planned, _n))
    if _failed:
        diag("failed %d of %d tests" % (_failed, _n))
    if not passed:
        sys.stderr.write("".join("%s: %s\n" % (sys.argv[0], ln) for ln in _kept))
        sys.stderr.flush()
    return 0 if passed else 1


def _excepthook(etype, value, tb):
    ok(False, "uncaught exception: %s: %s" % (etype.__name__, value))
    diag("".join(traceback.format_exception(etype, value, tb)))
    done()
    # Python exits with status 1 after an uncaught exception.


sys.excepthook = _excepthook


@atexit.register
def _at_exit():
    # A script that forgot done() still reports (and cleans up).
    if not _done:
        done()
