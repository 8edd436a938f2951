// kafkajs-sasl.js BROKER MECHANISM USER PASSWORD - a kafkajs admin and
// producer logging in with SASL (plain, scram-sha-256, scram-sha-512);
// prints one JSON object for t/7160-sasl-clients.t.
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const [broker, mechanism, username, password] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'odradek-sasl-test', brokers: [broker],
                          logLevel: logLevel.NOTHING, retry: { retries: 0 },
                          sasl: { mechanism, username, password } });
const topic = 'js-sasl-' + mechanism;
const out = {};

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  out.created = await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  const producer = kafka.producer();
  await producer.connect();
  const res = await producer.send({ topic, messages: [{ value: 'a' }, { value: 'b' }], acks: -1 });
  out.produced = res.map(r => r.errorCode);
  await producer.disconnect();
  const offs = await admin.fetchTopicOffsets(topic);
  out.high = offs.map(o => o.high);
  await admin.disconnect();
  return out;
}

const timer = setTimeout(() => { console.log(JSON.stringify({ error: 'timeout', partial: out })); process.exit(2); }, 60000);
main().then(o => { clearTimeout(timer); console.log(JSON.stringify(o)); process.exit(0); },
            e => { clearTimeout(timer); console.log(JSON.stringify({ error: String(e), type: e.name, partial: out })); process.exit(1); });
