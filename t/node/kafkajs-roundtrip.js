// kafkajs-roundtrip.js BROKER - admin, produce and consume with kafkajs
// (an independent JavaScript client) against one broker; prints one JSON
// object with what it saw, for t/1400-kafkajs.t to check.
'use strict';
const { Kafka, CompressionTypes, logLevel } = require('kafkajs');

const broker = process.argv[2];
const kafka = new Kafka({ clientId: 'odradek-test', brokers: [broker], logLevel: logLevel.NOTHING,
                          retry: { retries: 5 } });
const N = 2000;
const out = { steps: [] };

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  out.created = await admin.createTopics({ topics: [{ topic: 'js-orders', numPartitions: 3 }] });
  out.createdAgain = await admin.createTopics({ topics: [{ topic: 'js-orders', numPartitions: 3 }] });
  const md = await admin.fetchTopicMetadata({ topics: ['js-orders'] });
  out.partitions = md.topics[0].partitions.length;
  const cluster = await admin.describeCluster();
  out.brokers = cluster.brokers.length;
  out.controller = cluster.controller;

  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < N; i++) {
    messages.push({ key: 'k' + (i % 10), value: i % 100 === 0 ? null : 'v' + i,
                    headers: { idx: String(i) }, partition: i % 3 });
  }
  const res = await producer.send({ topic: 'js-orders', messages, acks: -1,
                                    compression: CompressionTypes.GZIP });
  out.produced = res.map(r => ({ partition: r.partition, error: r.errorCode, base: r.baseOffset }));
  await producer.disconnect();

  out.offsets = await admin.fetchTopicOffsets('js-orders');
  await admin.deleteTopics({ topics: ['js-orders'] }).catch(() => {});
  await admin.disconnect();
  return out;
}

// Consuming needs a consumer group in kafkajs (it has no assign()), and
// groups arrive with the consumer-group issue; offsets are checked instead.
const timer = setTimeout(() => { console.log(JSON.stringify({ error: 'timeout', partial: out })); process.exit(2); }, 60000);
main().then(o => { clearTimeout(timer); console.log(JSON.stringify(o)); process.exit(0); },
            e => { clearTimeout(timer); console.log(JSON.stringify({ error: String(e), partial: out })); process.exit(1); });
