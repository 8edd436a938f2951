#!/usr/bin/python3
# SASL_SSL listeners: TLS first, then SASL inside the TLS session.
# librdkafka logs in with SCRAM-SHA-256 over SASL_SSL and round-trips
# messages; a wrong password is refused; a plaintext SASL client on the
# SASL_SSL port fails the TLS handshake; with ssl.client.auth=required the
# certificate is demanded and verified, but the principal is SASL's (as
# Kafka's principal builder), seen by a Lua admin policy's req.principal.
# In a build without the SASL layer, it checks instead that a SASL_SSL
# listener stops the start.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
import tls  # noqa: E402

try:
    import confluent_kafka as ck
    import confluent_kafka.admin  # noqa: F401 (ck.admin)
except ImportError as e:
    tap.skip_all("confluent_kafka not available: %s" % e)

odtest.watchdog(int(os.environ.get("ODTEST_TIMEOUT", "300")))
pki = tls.Pki(odtest.scratch("pki"))
srv = pki.server()
erin = pki.client("erin")
TMP = odtest.scratch()
rc, text = tls.start_fails(tls.sets_args([
    ("ssl.keystore.location", srv["keystore"]),
    ("listeners", "PLAINTEXT://127.0.0.1:%d,SASL_SSL://127.0.0.1:%d"
     % (odtest.free_port(), odtest.free_port())),
    ("process.roles", "bogus")]), TMP)  # a probe: it never gets to run
if "is not supported yet" in text:
    # Without the SASL layer a SASL_SSL listener would let clients in
    # unauthenticated: the start must stop instead.
    tap.ok(rc not in (0, None), "no SASL layer in this build: a SASL_SSL listener stops the start")
    tap.like(text, r"security protocol SASL_SSL is not supported yet", "... with the reason")
    sys.exit(odtest.finish())

import sasl  # noqa: E402 (t/lib/sasl.py comes with the SASL layer)

policy = os.path.join(TMP, "policy.lua")
with open(policy, "w") as f:
    f.write('odradek.policy("create_topics", function(req)\n'
            '  return false, "principal=" .. req.principal .. " listener=" .. req.listener\n'
            'end)\n')
b = tls.broker(pki, srv, tls_listener="SASL_SSL", sets=[
    ("sasl.enabled.mechanisms", "SCRAM-SHA-256"), ("ssl.client.auth", "required"),
    ("ssl.principal.mapping.rules", "RULE:^CN=(.*?),.*$/cert-$1/"),
    ("lua.scripts", policy), ("log.level", "debug")]).start()
sasl.add_user(b.port, "frank", "frank-secret")


def conf(password="frank-secret", client=erin, proto="SASL_SSL", **extra):
    c = odtest.ck_conf(b.tls_bootstrap, **{"security.protocol": proto,
                                           "sasl.mechanisms": "SCRAM-SHA-256",
                                           "sasl.username": "frank", "sasl.password": password,
                                           "ssl.ca.location": pki.ca})
    if client and proto == "SASL_SSL":
        c["ssl.certificate.location"] = client["cert"]
        c["ssl.key.location"] = client["key"]
    c.update(extra)
    return c


def can_list(c):
    a = ck.admin.AdminClient(dict(c, logger=odtest.RdLog()))
    try:
        a.list_topics(timeout=5)
        return True
    except ck.KafkaException:
        return False


log = odtest.RdLog()
p = ck.Producer(dict(conf(), **{"linger.ms": 5}), logger=log)
for i in range(2000):
    p.produce("sasl-ssl", value=b"m-%05d" % i)
tap.is_(p.flush(60), 0, "SCRAM-SHA-256 over SASL_SSL: 2000 messages produced")
got, hw = odtest.ck_read(b.tls_bootstrap, "sasl-ssl", [0], extra=conf())
tap.ok([m.value() for m in got[0]] == [b"m-%05d" % i for i in range(2000)],
       "... and read back over SASL_SSL")
tap.ok(not can_list(conf(password="wrong")), "a wrong SCRAM password is refused")
tap.ok(not can_list(conf(client=None)), "ssl.client.auth=required: no certificate, no SASL either")
tap.ok(not can_list(conf(proto="SASL_PLAINTEXT")), "plaintext SASL on the SASL_SSL port fails")

a = ck.admin.AdminClient(dict(conf(), logger=odtest.RdLog()))
try:
    a.create_topics([ck.admin.NewTopic("probe", 1, 1)], operation_timeout=20)["probe"].result(30)
    msg = "created"
except ck.KafkaException as e:
    msg = str(e.args[0])
tap.like(msg, r"principal=User:frank listener=SASL_SSL",
         "the principal is SASL's (User:frank), not the certificate's")
tap.ok("cert-erin" not in b.log_text(), "the certificate mapping is not used on SASL_SSL")
sys.exit(odtest.finish())
