#!/usr/bin/python3
# kafka-python over SSL listeners: produce and consume with host name
# checking against the broker's certificate (SAN 127.0.0.1), a consumer
# group over TLS, and mutual TLS (ssl.client.auth=required) with a client
# certificate whose principal shows in the connection log; without a
# certificate kafka-python cannot connect.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
import tls  # noqa: E402

try:
    import kafka.errors as Errors
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
except ImportError as e:
    tap.skip_all("kafka-python not available: %s" % e)

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "300")))
N = min(int(os.environ.get("ODTEST_N", "100000")), 10000)
pki = tls.Pki(odtest.scratch("pki"))
srv = pki.server()
carol = pki.client("carol", ou="ops")


def ssl_kw(client=None):
    kw = {"security_protocol": "SSL", "ssl_cafile": pki.ca, "ssl_check_hostname": True,
          "request_timeout_ms": 30000, "api_version_auto_timeout_ms": 10000}
    if client:
        kw["ssl_certfile"] = client["cert"]
        kw["ssl_keyfile"] = client["key"]
    return kw


def round_trip(b, topic, client=None, group=None):
    p = KafkaProducer(bootstrap_servers=b.tls_bootstrap, linger_ms=20, **ssl_kw(client))
    futs = [p.send(topic, key=b"k%d" % i, value=b"v-%07d" % i) for i in range(N)]
    p.flush(60)
    ok = all(f.succeeded() for f in futs)
    p.close()
    cons = KafkaConsumer(bootstrap_servers=b.tls_bootstrap, group_id=group,
                         enable_auto_commit=group is not None, auto_offset_reset="earliest",
                         fetch_max_wait_ms=100, consumer_timeout_ms=15000, **ssl_kw(client))
    if group:
        cons.subscribe([topic])
    else:
        tp = TopicPartition(topic, 0)
        cons.assign([tp])
        cons.seek_to_beginning(tp)
    vals = []
    for m in cons:
        vals.append(m.value)
        if len(vals) >= N:
            break
    cons.close()
    return ok, vals == [b"v-%07d" % i for i in range(N)]


b = tls.broker(pki, srv, sets=[("log.level", "debug")]).start()
ok, same = round_trip(b, "kp-ssl")
tap.ok(ok, "kafka-python: %d messages produced over SSL (host name checked)" % N)
tap.ok(same, "kafka-python: read back over SSL with assign(), in order")
ok, same = round_trip(b, "kp-ssl-group", group="kp-group")
tap.ok(ok and same, "kafka-python: a consumer group (JoinGroup/SyncGroup/commits) over SSL")
b.stop()

bm = tls.broker(pki, srv, name="mtls", sets=[("log.level", "debug"), ("ssl.client.auth", "required"),
                                              ("ssl.principal.mapping.rules",
                                               "RULE:^CN=(.*?),OU=(.*?),.*$/$2:$1/L")]).start()
try:
    p = KafkaProducer(bootstrap_servers=bm.tls_bootstrap, **dict(ssl_kw(), request_timeout_ms=5000,
                                                                 max_block_ms=5000))
    p.send("kp-mtls", b"x").get(timeout=5)
    p.close()
    tap.ok(False, "ssl.client.auth=required: kafka-python without a certificate is refused")
except (Errors.KafkaError, OSError) as e:  # ssl.SSLError is an OSError
    tap.ok(True, "ssl.client.auth=required: kafka-python without a certificate is refused (%s)"
           % type(e).__name__)
ok, same = round_trip(bm, "kp-mtls", carol)
tap.ok(ok and same, "kafka-python with carol's certificate: produce and consume over mutual TLS")
tap.like(bm.log_text(), r"CN=carol,OU=ops,O=Odradek Test -> principal User:ops:carol",
         "carol's principal from the mapping rule ($2:$1, lower case)")
bm.stop()

sys.exit(odtest.finish())
