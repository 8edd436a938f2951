// kafkajs-schema.js BROKER ID - produce to the validating topic `js`
// (t/8130-schema-kafkajs.t): a batch of values in Confluent's wire format
// (magic byte 0, the 4-byte schema id ID, JSON text) that fit the schema,
// then a batch where one record lacks a required field, then one that is
// not in the wire format. Prints one JSON object with what it saw.
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const kafka = new Kafka({ clientId: 'kafkajs-schema', brokers: [process.argv[2]],
                          logLevel: logLevel.NOTHING, retry: { retries: 0 } });
const id = Number(process.argv[3]);

function wire(obj) {
  const head = Buffer.alloc(5);
  head.writeUInt8(0, 0);
  head.writeUInt32BE(id, 1);
  return Buffer.concat([head, Buffer.from(JSON.stringify(obj))]);
}

async function attempt(producer, messages) {
  try {
    const res = await producer.send({ topic: 'js', acks: -1, messages });
    return { error: res[0].errorCode, offset: res[0].baseOffset };
  } catch (e) {
    return { error: e.type || e.name, message: String(e.message) };
  }
}

async function main() {
  const producer = kafka.producer({ retry: { retries: 0 } });
  await producer.connect();
  const out = {};
  const good = [];
  for (let i = 0; i < 10; i++)
    good.push({ key: 'k' + i, value: wire({ name: 'js-' + i, n: i }), partition: 0 });
  out.good = await attempt(producer, good);
  out.missing = await attempt(producer, [
    { value: wire({ name: 'ok' }), partition: 0 },
    { value: wire({ n: 3 }), partition: 0 },
    { value: wire({ name: 'ok too' }), partition: 0 }]);
  out.plain = await attempt(producer, [{ value: '{"name": "no wire format"}', partition: 0 }]);
  await producer.disconnect();
  return out;
}

main().then(o => { console.log(JSON.stringify(o)); },
            e => { console.log(JSON.stringify({ error: String(e && e.stack || e) })); });
