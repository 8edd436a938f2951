#!/usr/bin/python3
# bench-metrics.py [--topics T] [--partitions P] [--count N] [--record]
#
# What the metrics endpoint costs, on a release build (ODRADEK_BUILD, default
# _build-release; scripts/bench.sh builds it):
#   1. scrape time and size with T topics of P partitions (memory backend, so
#      the figure is the endpoint's, not the disk's) and one group with a
#      committed offset on every partition: 30 scrapes in a row;
#   2. produce throughput (scripts/odbench, N records of 100 bytes, acks=1)
#      with metrics off, then on and scraped every 100 ms, twice each,
#      alternating, on a fresh broker each time.
# Prints the figures; --record appends them to doc/benchmarks.md. Traffic
# only to 127.0.0.1; brokers are stopped at the end.
import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("ODRADEK_BUILD", os.path.join(TOP, "_build-release"))
sys.path.insert(0, os.path.join(TOP, "t", "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

import confluent_kafka as ck  # noqa: E402
from confluent_kafka.admin import NewTopic  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--topics", type=int, default=100)
ap.add_argument("--partitions", type=int, default=10)
ap.add_argument("--count", type=int, default=1000000)
ap.add_argument("--record", action="store_true")
args = ap.parse_args()
out = []


def say(s):
    print(s, flush=True)
    out.append(s)


def scrape(port):
    t0 = time.perf_counter()
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30) as r:
        body = r.read()
    return time.perf_counter() - t0, body


# ---- 1. scrape cost -----------------------------------------------------------------
mport = odtest.free_port()
b = odtest.Broker(sets={"metrics.listener": "http://127.0.0.1:%d" % mport,
                        "log.storage.backend": "memory",
                        "group.initial.rebalance.delay.ms": "0"}).start()
admin = odtest.ck_admin(b.bootstrap)
names = ["bench-%03d" % i for i in range(args.topics)]
for i in range(0, len(names), 20):
    fs = admin.create_topics([NewTopic(n, args.partitions, 1) for n in names[i:i + 20]],
                             operation_timeout=60)
    for f in fs.values():
        f.result(60)
prod = ck.Producer(odtest.ck_conf(b.bootstrap, **{"linger.ms": 5}))
for n in names:
    for p in range(args.partitions):
        prod.produce(n, value=b"x" * 100, partition=p)
prod.flush(60)
c = ck.Consumer(odtest.ck_conf(b.bootstrap, **{"group.id": "bench-g", "enable.auto.commit": False}))
tps = [ck.TopicPartition(n, p, 1) for n in names for p in range(args.partitions)]
for i in range(0, len(tps), 500):
    c.commit(offsets=tps[i:i + 500], asynchronous=False)
c.close()
times, size = [], 0
for _ in range(30):
    dt, body = scrape(mport)
    times.append(dt)
    size = len(body)
series = sum(1 for ln in body.split(b"\n") if ln and not ln.startswith(b"#"))
times.sort()
say("scrape, %d topics x %d partitions, one group committed on all: %d series, %d bytes; "
    "median %.1f ms, max %.1f ms (30 scrapes, urllib, including HTTP)"
    % (args.topics, args.partitions, series, size, statistics.median(times) * 1e3, times[-1] * 1e3))
b.stop()

# ---- 2. produce throughput, metrics off vs on and scraped -----------------------------------
odbench = os.path.join(os.environ["ODRADEK_BUILD"], "scripts", "odbench")


def produce_run(metrics_on):
    sets = {}
    mp = odtest.free_port()
    if metrics_on:
        sets["metrics.listener"] = "http://127.0.0.1:%d" % mp
    br = odtest.Broker(sets=sets).start()
    adm = odtest.ck_admin(br.bootstrap)
    odtest.ck_create_topic(adm, "tp", 1)
    stop, n = threading.Event(), [0]

    def scraper():
        while not stop.is_set():
            scrape(mp)
            n[0] += 1
            time.sleep(0.1)
    th = threading.Thread(target=scraper, daemon=True)
    if metrics_on:
        th.start()
    r = subprocess.run([odbench, "produce", "--brokers", br.bootstrap, "--topic", "tp",
                        "--count", str(args.count), "--size", "100", "--acks", "1"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    stop.set()
    if metrics_on:
        th.join(30)
    br.stop()
    text = r.stdout.decode()
    rate = [ln.strip() for ln in text.splitlines() if "records/sec" in ln]
    return (rate[-1] if rate else "odbench failed: " + text[-300:]), n[0]


for rnd in range(2):
    for on in (False, True):
        rate, n = produce_run(on)
        say("produce %d x 100 B, acks=1, metrics %s: %s"
            % (args.count, "on, %d scrapes during the run" % n if on else "off", rate))

if args.record:
    with open(os.path.join(TOP, "doc", "benchmarks.md"), "a") as f:
        f.write("\n## Metrics endpoint cost, %s\n\n" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
        f.write("Figures from `scripts/bench-metrics.py --record` (release build, -O2, this "
                "shared 2-core machine; noisy):\n\n")
        for s in out:
            f.write("- %s\n" % s)
sys.exit(tap.done())
