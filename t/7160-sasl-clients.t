#!/usr/bin/python3
# Unmodified clients logging in over SASL_PLAINTEXT with PLAIN,
# SCRAM-SHA-256 and SCRAM-SHA-512 against SCRAM credentials made with
# AlterUserScramCredentials: kcat, confluent-kafka (librdkafka),
# kafka-python and kafkajs produce and read back; each also sees a wrong
# password refused with its own authentication error.
import json
import logging
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import sasl  # noqa: E402
import tap  # noqa: E402

logging.basicConfig(level=logging.CRITICAL)
odtest.watchdog(400)
b = sasl.SaslBroker().start()
sasl.add_user(b.port, "alice", "alice-secret")
BS = b.sasl_bootstrap
MECHS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

# ---- kcat ----
if shutil.which("kcat"):
    for mech in MECHS:
        base = ["kcat", "-b", BS, "-m", "15", "-X", "broker.address.family=v4",
                "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=" + mech,
                "-X", "sasl.username=alice"]
        t = "kcat-" + mech.lower()
        rc, out, err = odtest.run(base + ["-X", "sasl.password=alice-secret", "-P", "-t", t],
                                  input=b"one\ntwo\nthree\n", timeout=60)
        tap.is_(rc, 0, "kcat %s produce exits 0" % mech)
        if rc:
            tap.diag(err.decode(errors="replace")[-800:])
        rc, out, err = odtest.run(base + ["-X", "sasl.password=alice-secret", "-C", "-t", t,
                                          "-e", "-q", "-o", "beginning"], timeout=60)
        tap.is_(out.decode().split(), ["one", "two", "three"], "kcat %s reads them back" % mech)
        rc, out, err = odtest.run(base + ["-X", "sasl.password=nope", "-L"], timeout=60)
        tap.ok(rc != 0 and b"Authentication failed" in err,
               "kcat %s with a wrong password fails with the broker's message" % mech)
else:
    tap.skip("kcat is not installed", 9)

# ---- confluent-kafka (librdkafka) ----
try:
    import confluent_kafka as ck
except ImportError:
    ck = None
if ck:
    for mech in MECHS:
        conf = odtest.ck_conf(BS, **{"security.protocol": "SASL_PLAINTEXT",
                                     "sasl.mechanisms": mech, "sasl.username": "alice",
                                     "sasl.password": "alice-secret"})
        t = "ck-" + mech.lower()
        p = ck.Producer(dict(conf), logger=odtest.RdLog())
        errs = []
        for i in range(10):
            p.produce(t, b"m%d" % i, on_delivery=lambda e, m: errs.append(e))
        left = p.flush(30)
        tap.ok(left == 0 and errs == [None] * 10, "confluent-kafka %s: 10 messages delivered" % mech)
        msgs, hw = odtest.ck_read(BS, t, [0], extra={k: v for k, v in conf.items()
                                                     if k.startswith("s") and "." in k})
        tap.is_([m.value() for m in msgs[0]], [b"m%d" % i for i in range(10)],
                "confluent-kafka %s consumer reads them" % mech)
        bad = dict(conf, **{"sasl.password": "nope"})
        got = []
        a = ck.Producer(dict(bad, error_cb=lambda e: got.append(e)), logger=odtest.RdLog())
        md_err = None
        try:
            a.list_topics(timeout=8)
        except ck.KafkaException as e:
            md_err = e
        a.poll(1)  # error_cb runs from poll
        tap.ok(md_err is not None and any(e.code() == ck.KafkaError._AUTHENTICATION for e in got),
               "confluent-kafka %s wrong password: _AUTHENTICATION error" % mech)
else:
    tap.skip("python3-confluent-kafka is not installed", 9)

# ---- kafka-python ----
try:
    import kafka
    import kafka.errors as Errors
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
except ImportError:
    kafka = None
if kafka:
    for mech in MECHS:
        kw = dict(bootstrap_servers=BS, security_protocol="SASL_PLAINTEXT", sasl_mechanism=mech,
                  sasl_plain_username="alice", sasl_plain_password="alice-secret",
                  api_version_auto_timeout_ms=10000, request_timeout_ms=20000)
        t = "kp-" + mech.lower()
        p = KafkaProducer(**kw)
        futs = [p.send(t, b"x%d" % i) for i in range(5)]
        ok = all(f.get(timeout=30) for f in futs)
        p.close()
        tap.ok(ok, "kafka-python %s: 5 messages sent" % mech)
        c = KafkaConsumer(consumer_timeout_ms=3000, **kw)
        tp = TopicPartition(t, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        vals = [m.value for m in c]
        c.close()
        tap.is_(vals, [b"x%d" % i for i in range(5)], "kafka-python %s consumer reads them" % mech)
        bad = dict(kw, sasl_plain_password="nope")
        fails = b.log_text().count("SASL %s failed" % mech)
        try:
            KafkaProducer(**bad).close()
            tap.ok(False, "kafka-python %s wrong password refused" % mech)
        except (Errors.AuthenticationFailedError, Errors.NoBrokersAvailable,
                Errors.KafkaConnectionError) as e:
            tap.ok(b.log_text().count("SASL %s failed" % mech) > fails,
                   "kafka-python %s wrong password refused by the broker (%s)"
                   % (mech, type(e).__name__))
else:
    tap.skip("kafka-python is not installed", 9)

# ---- kafkajs ----
here = os.path.dirname(os.path.abspath(__file__))
node_dir = os.path.join(here, "node")
if shutil.which("node") and os.path.isdir(os.path.join(node_dir, "node_modules", "kafkajs")):
    for mech in ("plain", "scram-sha-256", "scram-sha-512"):
        def js(pw):
            proc = subprocess.run(["node", os.path.join(node_dir, "kafkajs-sasl.js"), BS, mech,
                                   "alice", pw], capture_output=True, text=True, timeout=90)
            try:
                return json.loads(proc.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                return {"error": "no JSON: %r %r" % (proc.stdout[-300:], proc.stderr[-300:])}
        out = js("alice-secret")
        tap.ok("error" not in out and out.get("produced") == [0] and out.get("high") == ["2"],
               "kafkajs %s: admin and producer logged in, 2 messages stored (%s)"
               % (mech, out.get("error", "ok")))
        out = js("nope")
        tap.like(out.get("error", ""), r"(?i)authentication failed|SASL",
                 "kafkajs %s wrong password: %s" % (mech, out.get("error", "")[:80]))
else:
    tap.skip("node or kafkajs missing", 6)

tap.ok(b.running(), "broker alive after all clients")
sys.exit(odtest.finish())
