#!/usr/bin/python3
# bench-tls.py [--count N] [--size S] [--rounds R] [--record]
#
# What TLS costs, on a release build (ODRADEK_BUILD, default _build-release;
# scripts/bench.sh builds it). One broker with a PLAINTEXT and an SSL
# listener (segment storage, so fetches send file ranges: sendfile on
# plaintext, kTLS's SSL_sendfile or read + SSL_write copies on TLS).
# scripts/odbench (librdkafka) produces N records of S bytes (acks=1) to a
# topic over one listener and consumes them back over the same listener;
# plaintext and TLS alternate, R rounds, fresh topics each time. The ratio
# TLS/plaintext of each figure is from runs in the same broker run.
#
# When the kernel offers kTLS (tcp_available_ulp lists "tls"), a second
# broker with ssl.ktls.enable=false gives the copy path for comparison;
# the broker's odradek_tls_file_bytes_total{path} says which path served.
# Prints the figures; --record appends them to doc/benchmarks.md. Traffic
# only to 127.0.0.1; brokers are stopped at the end.
import argparse
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("ODRADEK_BUILD", os.path.join(TOP, "_build-release"))
sys.path.insert(0, os.path.join(TOP, "t", "lib"))
import odtest  # noqa: E402
import tls  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--count", type=int, default=500000)
ap.add_argument("--size", type=int, default=1000)
ap.add_argument("--rounds", type=int, default=2)
ap.add_argument("--record", action="store_true")
args = ap.parse_args()
odbench = os.path.join(os.environ["ODRADEK_BUILD"], "scripts", "odbench")
out = []


def say(s):
    print(s, flush=True)
    out.append(s)


def result(text):
    for ln in text.splitlines():
        if ln.startswith("result "):
            return dict(kv.split("=", 1) for kv in ln.split()[1:])
    raise RuntimeError("odbench gave no result: " + text[-500:])


def bench(mode, bootstrap, topic, extra):
    cmd = [odbench, mode, "--brokers", bootstrap, "--topic", topic, "--count", str(args.count),
           "--timeout-s", "600"]
    if mode == "produce":
        cmd += ["--size", str(args.size), "--acks", "1"]
    for k, v in extra:
        cmd += ["--set", "%s=%s" % (k, v)]
    r = subprocess.run(["nice", "-n", "10"] + cmd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=900)
    res = result(r.stdout.decode(errors="replace"))
    if int(res.get("timed_out", "0")) or int(res.get("errors", "0")):
        raise RuntimeError("odbench %s %s: %s" % (mode, topic, res))
    return float(res["mb_per_sec"]), float(res["msgs_per_sec"])


def file_bytes(mport):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10).read().decode()
    return {p: int(v) for p, v in re.findall(r'odradek_tls_file_bytes_total\{path="(\w+)"\} (\d+)',
                                              text)}


def run_broker(pki, srv, ktls, tag):
    mport = odtest.free_port()
    b = tls.broker(pki, srv, name="bench-" + tag, sets=[
        ("metrics.listener", "http://127.0.0.1:%d" % mport), ("ssl.ktls.enable", ktls),
        ("num.partitions", "1")]).start()
    ssl_client = [("security.protocol", "SSL"), ("ssl.ca.location", pki.ca)]
    figs = {"plain": {"produce": [], "consume": []}, "tls": {"produce": [], "consume": []}}
    for rnd in range(args.rounds):
        for kind, boot, extra in (("plain", b.bootstrap, []), ("tls", b.tls_bootstrap, ssl_client)):
            topic = "bench-%s-%s-%d" % (tag, kind, rnd)
            figs[kind]["produce"].append(bench("produce", boot, topic, extra))
            figs[kind]["consume"].append(bench("consume", boot, topic, extra))
    paths = file_bytes(mport)
    b.stop()
    return figs, paths


def report(figs, label):
    for what in ("produce", "consume"):
        p = [mb for mb, _ in figs["plain"][what]]
        t = [mb for mb, _ in figs["tls"][what]]
        say("- %s %s %d x %d B: plaintext %s MB/s, TLS %s MB/s; TLS/plaintext (medians) %.2f"
            % (label, what, args.count, args.size, " / ".join("%.1f" % x for x in p),
               " / ".join("%.1f" % x for x in t), statistics.median(t) / statistics.median(p)))


pki = tls.Pki(odtest.scratch("bench-pki"))
srv = pki.server()
ulp = open("/proc/sys/net/ipv4/tcp_available_ulp").read().split()
kernel_tls = "tls" in ulp
say("Figures from `scripts/bench-tls.py%s` (release build, TLSv1.3 TLS_AES_256_GCM_SHA384 as "
    "librdkafka negotiates it, one client connection, this shared 2-core machine; noisy). "
    "OpenSSL: %s; kernel ULPs: %s."
    % ("" if (args.count, args.size, args.rounds) == (500000, 1000, 2)
       else " --count %d --size %d --rounds %d" % (args.count, args.size, args.rounds),
       subprocess.run(["openssl", "version"], stdout=subprocess.PIPE).stdout.decode().strip(),
       " ".join(ulp) or "none"))
say("")
figs, paths = run_broker(pki, srv, "true", "ktls-on")
report(figs, "kTLS allowed:" if kernel_tls else "no kernel TLS (copy path):")
say("- log bytes sent over TLS by path: ktls %d, copy %d" % (paths.get("ktls", 0), paths.get("copy", 0)))
if kernel_tls:
    figs2, paths2 = run_broker(pki, srv, "false", "ktls-off")
    report(figs2, "ssl.ktls.enable=false (copy path):")
    say("- log bytes by path with kTLS off: ktls %d, copy %d"
        % (paths2.get("ktls", 0), paths2.get("copy", 0)))
    say("- kTLS/copy consume (medians): %.2f" % (
        statistics.median(mb for mb, _ in figs["tls"]["consume"]) /
        statistics.median(mb for mb, _ in figs2["tls"]["consume"])))
else:
    say("- kTLS vs copy: not measurable here (the kernel has no tls ULP), so every TLS fetch "
        "took the copy path")

if args.record:
    with open(os.path.join(TOP, "doc", "benchmarks.md"), "a") as f:
        f.write("\n## TLS, %s\n\n" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
        f.write("\n".join(out) + "\n")
odtest.finish()
