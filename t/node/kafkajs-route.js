// kafkajs-route.js BROKER - produce through the Lua route of `orders`
// (t/8201-routes.t): JSON objects with a region header (accepted, copied by
// region), then one value that is not JSON (rejected by the route). Prints
// one JSON object with what it saw.
'use strict';
const { Kafka, CompressionTypes, logLevel } = require('kafkajs');

const kafka = new Kafka({ clientId: 'kafkajs-route', brokers: [process.argv[2]],
                          logLevel: logLevel.NOTHING, retry: { retries: 0 } });
const out = {};

async function main() {
  const producer = kafka.producer({ retry: { retries: 0 } });
  await producer.connect();
  const messages = [];
  for (let i = 0; i < 20; i++)
    messages.push({ key: 'js-' + i, value: JSON.stringify({ js: i }),
                    headers: { region: String(i) }, partition: 0 });
  const res = await producer.send({ topic: 'orders', messages, acks: -1,
                                    compression: CompressionTypes.GZIP });
  out.produced = res.map(r => ({ partition: r.partition, error: r.errorCode }));
  try {
    await producer.send({ topic: 'orders', acks: -1,
                          messages: [{ key: 'js-bad', value: 'not json', partition: 0 }] });
    out.bad = 'accepted';
  } catch (e) {
    out.bad = e.type || e.name;
    out.badMessage = String(e.message);
  }
  await producer.disconnect();
  return out;
}

main().then(o => { console.log(JSON.stringify(o)); },
            e => { console.log(JSON.stringify({ error: String(e && e.stack || e) })); });
