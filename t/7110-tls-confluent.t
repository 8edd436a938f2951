#!/usr/bin/python3
# librdkafka (confluent_kafka) over SSL listeners: produce and consume with
# server authentication (security.protocol=SSL, ssl.ca.location), a client
# not trusting the broker's CA refused, then mutual authentication with
# ssl.client.auth=required (no certificate or an untrusted one: refused;
# a good one: accepted, principal from ssl.principal.mapping.rules in the
# connection log, and in a Lua admin policy's req.principal) and
# ssl.client.auth=requested (no certificate: ANONYMOUS).
import os
import re
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
N = min(int(os.environ.get("ODTEST_N", "100000")), 20000)
pki = tls.Pki(odtest.scratch("pki"))
srv = pki.server()
alice = pki.client("alice", ou="eng")
bob = pki.client("bob")
rogue_pki = tls.Pki(odtest.scratch("rogue"))
mallory = rogue_pki.client("mallory")


def ssl_conf(b, client=None, ca=None, **extra):
    c = odtest.ck_conf(b.tls_bootstrap, **{"security.protocol": "SSL",
                                           "ssl.ca.location": ca or pki.ca})
    if client:
        c["ssl.certificate.location"] = client["cert"]
        c["ssl.key.location"] = client["key"]
    c.update(extra)
    return c


def round_trip(b, topic, client=None, n=N):
    """Produce n messages over SSL and read them back over SSL; returns
    (delivered, read back matching)."""
    log = odtest.RdLog()
    p = ck.Producer(ssl_conf(b, client, **{"linger.ms": 5}), logger=log)
    errs = []
    for i in range(n):
        while True:
            try:
                p.produce(topic, key=b"k%d" % i, value=b"value-%08d" % i,
                          on_delivery=lambda e, m: e and errs.append(e))
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(60)
    delivered = left == 0 and not errs
    if not delivered:
        log.diag()
    got, hw = odtest.ck_read(b.tls_bootstrap, topic, [0], extra=ssl_conf(b, client))
    vals = [m.value() for m in got[0]]
    return delivered, vals == [b"value-%08d" % i for i in range(n)]


def refused(b, client=None, ca=None):
    """True if librdkafka cannot get metadata over SSL (the handshake fails)."""
    log = odtest.RdLog()
    a = ck.admin.AdminClient(dict(ssl_conf(b, client, ca), logger=log))
    try:
        a.list_topics(timeout=4)
        return False
    except ck.KafkaException:
        return True


# ---- server authentication only ------------------------------------------------
b = tls.broker(pki, srv, sets=[("log.level", "debug"), ("ssl.key.password", "hunter2")]).start()
delivered, same = round_trip(b, "ssl-server-auth")
tap.ok(delivered, "librdkafka: %d messages produced over SSL" % N)
tap.ok(same, "librdkafka: all %d read back over SSL, in order, byte-exact" % N)
tap.ok(refused(b, ca=rogue_pki.ca), "a client that does not trust the broker's CA fails the handshake")
tap.like(b.log_text(), r"TLS handshake failed", "the failed handshake is in the broker log")
tap.like(b.log_text(), r"principal User:ANONYMOUS",
         "without a client certificate the principal is User:ANONYMOUS")
res = ck.admin.ConfigResource(ck.admin.ConfigResource.Type.BROKER, "1")
adm = odtest.ck_admin(b.bootstrap)
cfg = adm.describe_configs([res])[res].result(20)
pw = cfg.get("ssl.key.password")
tap.ok(pw is not None and pw.is_sensitive and pw.value is None,
       "DescribeConfigs: ssl.key.password is sensitive and its value is not shown")
tap.ok(cfg.get("ssl.keystore.location") is not None and
       cfg["ssl.keystore.location"].value == srv["keystore"],
       "DescribeConfigs: ssl.keystore.location is shown")
b.stop()

# ---- mutual authentication: required -------------------------------------------
# A Lua admin policy sees the principal every hook sees (od_client_t).
policy = os.path.join(odtest.scratch("lua"), "policy.lua")
with open(policy, "w") as f:
    f.write('odradek.policy("create_topics", function(req)\n'
            '  if req.principal == "User:alice-engineer" then return true end\n'
            '  return false, "topics are created by alice, not " .. req.principal\n'
            'end)\n')
rules = r"RULE:^CN=([a-z]+),OU=eng,O=Odradek Test$/$1-engineer/,RULE:^CN=(.*?),O=.*$/$1/U,DEFAULT"
bm = tls.broker(pki, srv, name="mtls", sets=[("log.level", "debug"), ("ssl.client.auth", "required"),
                                              ("ssl.principal.mapping.rules", rules),
                                              ("lua.scripts", policy)]).start()
tap.ok(refused(bm), "ssl.client.auth=required: a client without a certificate is refused")
tap.ok(refused(bm, mallory), "ssl.client.auth=required: a certificate from another CA is refused")
text = bm.log_text()
tap.like(text, r"TLS handshake failed: peer did not return a certificate",
         "the broker logs the missing certificate")
tap.like(text, r"TLS handshake failed: certificate verify failed",
         "the broker logs the untrusted certificate")
delivered, same = round_trip(bm, "ssl-mutual", alice, n=2000)
tap.ok(delivered and same, "alice's certificate: produce and consume over mutual TLS")
text = bm.log_text()
tap.like(text, r"client certificate CN=alice,OU=eng,O=Odradek Test -> principal User:alice-engineer",
         "first matching rule maps alice's subject (RFC 2253, most specific first)")
tap.ok(refused(bm, bob) is False, "bob's certificate is accepted")
tap.like(bm.log_text(), r"client certificate CN=bob,O=Odradek Test -> principal User:BOB",
         "second rule with /U maps bob to BOB")
def create(client, name):
    a = ck.admin.AdminClient(dict(ssl_conf(bm, client), logger=odtest.RdLog()))
    try:
        a.create_topics([ck.admin.NewTopic(name, 1, 1)], operation_timeout=20)[name].result(30)
        return "created"
    except ck.KafkaException as e:
        return str(e.args[0])


tap.is_(create(alice, "by-alice"), "created",
        "a Lua admin policy sees alice's mapped principal (User:alice-engineer)")
tap.like(create(bob, "by-bob"), r"POLICY_VIOLATION.*not User:BOB",
         "... and bob's (User:BOB): refused with the policy's reason")
tap.ok(not re.search(r"principal User:ANONYMOUS", bm.log_text()),
       "no connection got through unauthenticated")
bm.stop()

# ---- requested: a certificate is optional ----------------------------------------
br = tls.broker(pki, srv, name="requested", sets=[("log.level", "debug"),
                                                    ("ssl.client.auth", "requested")]).start()
tap.ok(not refused(br), "ssl.client.auth=requested: a client without a certificate connects")
tap.like(br.log_text(), r"principal User:ANONYMOUS", "... as User:ANONYMOUS")
tap.ok(not refused(br, alice), "ssl.client.auth=requested: a client with a certificate connects")
tap.like(br.log_text(), r"CN=alice,OU=eng,O=Odradek Test -> principal User:CN=alice,OU=eng,O=Odradek Test",
         "DEFAULT rule: the principal is the whole subject DN")
tap.ok(refused(br, mallory), "ssl.client.auth=requested: an untrusted certificate is still refused")
br.stop()

sys.exit(odtest.finish())
