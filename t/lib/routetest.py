"""Helpers of the routing tests (t/8200-8299): a broker with the
partitioners module and Lua scripts, Produce v8 (error messages), the
partition each client algorithm picks, and metrics scraping."""
import re
import time
import urllib.request
import zlib

import odtest
from odtest import array, bytes_, i16, i32, string

PRODUCE = 0
BASE_MODULES = ["storage_segment", "storage_memory", "kraft", "partitioners"]


def broker(scripts=None, sets=None, metrics=True, tmp=None):
    s = [("load_module", m) for m in BASE_MODULES]
    if scripts:
        s.append(("lua.scripts", ",".join(scripts)))
    mport = None
    if metrics:
        mport = odtest.free_port()
        s.append(("metrics.listener", "http://127.0.0.1:%d" % mport))
    s += list((sets or {}).items())
    b = odtest.Broker(sets=s, tmp=tmp)
    b.metrics_url = "http://127.0.0.1:%d/metrics" % mport if mport else None
    return b


def write(tmp, name, text):
    import os
    p = os.path.join(tmp, name)
    with open(p, "w") as f:
        f.write(text)
    return p


def produce_until(stop, producer, topic, record, on_delivery, every, pause=0.0, nap=0.0,
                  refused=()):
    """Produces record(i) = (key, value), i = 0, 1, ..., to `topic` with a
    confluent_kafka producer until `stop` (a threading.Event) is set. A full
    local queue (BufferError) is polled away and the same record tried again;
    so is an exception in `refused`, after a longer poll. Every `every`
    records the producer is polled `pause` seconds and the thread sleeps `nap`
    (a rate a loaded machine keeps up with)."""
    i = 0
    while not stop.is_set():
        key, value = record(i)
        try:
            producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
        except BufferError:
            producer.poll(0.05)
            continue
        except refused:
            producer.poll(0.2)
            continue
        i += 1
        if i % every == 0:
            producer.poll(pause)
            if nap:
                time.sleep(nap)


def produce_v8(conn, topic, partition, batch, acks=1):
    """One partition's Produce v8: (error, base_offset, error_message, record_errors)."""
    body = (string(None) + i16(acks) + i32(10000) +
            array([topic], lambda t: string(t) + array([partition],
                                                       lambda p: i32(p) + bytes_(batch))))
    r = conn.request(PRODUCE, 8, body)
    out = {}

    def part(x):
        p, err, off = x.i32(), x.i16(), x.i64()
        x.i64()  # log_append_time
        x.i64()  # log_start_offset
        rerrs = x.array(lambda y: (y.i32(), y.string()))
        msg = x.string()
        out[p] = (err, off, msg, rerrs)

    r.array(lambda rr: (rr.string(), rr.array(part)))
    return out[partition]


# Java's murmur2 (Kafka's Utils.murmur2, positive) in Lua 5.4 integers: a
# local function murmur2(s) for scripts to prepend (t/8200, where it must
# agree with the module's, and scripts/bench-route.py).
LUA_MURMUR2 = r'''
local M = 0x5bd1e995
local function mul(a, b) return (a * b) & 0xffffffff end
local function murmur2(s)
  local len = #s
  local h = (0x9747b28c ~ len) & 0xffffffff
  local i = 1
  while len - (i - 1) >= 4 do
    local b1, b2, b3, b4 = s:byte(i, i + 3)
    local k = b1 | (b2 << 8) | (b3 << 16) | (b4 << 24)
    k = mul(k, M); k = k ~ (k >> 24); k = mul(k, M)
    h = mul(h, M) ~ k
    i = i + 4
  end
  local rem = len - (i - 1)
  if rem == 3 then h = h ~ (s:byte(i + 2) << 16) end
  if rem >= 2 then h = h ~ (s:byte(i + 1) << 8) end
  if rem >= 1 then h = h ~ s:byte(i); h = mul(h, M) end
  h = h ~ (h >> 13); h = mul(h, M); h = h ~ (h >> 15)
  return h & 0x7fffffff
end
'''


def java_murmur2(key):
    """Kafka's Utils.murmur2 as toPositive(h) - the Java client's."""
    data = bytearray(key)
    length = len(data)
    m, r = 0x5bd1e995, 24
    h = (0x9747b28c ^ length) & 0xffffffff
    for i in range(0, length - length % 4, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * m) & 0xffffffff
        k ^= k >> r
        k = (k * m) & 0xffffffff
        h = (h * m) & 0xffffffff
        h ^= k
    rem = length % 4
    tail = length - rem
    if rem == 3:
        h ^= data[tail + 2] << 16
    if rem >= 2:
        h ^= data[tail + 1] << 8
    if rem >= 1:
        h ^= data[tail]
        h = (h * m) & 0xffffffff
    h ^= h >> 13
    h = (h * m) & 0xffffffff
    h ^= h >> 15
    return h & 0x7fffffff


def murmur2_partition(key, n):
    return java_murmur2(key) % n


def crc32_partition(key, n):
    return (zlib.crc32(key) & 0xffffffff) % n


SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')


def scrape(url):
    """{(name, frozenset(labels)): value} of the metrics page."""
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    out = {}
    for ln in text.splitlines():
        if ln.startswith("#") or not ln.strip():
            continue
        m = SAMPLE_RE.match(ln)
        if not m:
            continue
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                      m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def metric(url, name, **labels):
    want = frozenset(labels.items())
    return sum(v for (n, ls), v in scrape(url).items() if n == name and want <= ls)
