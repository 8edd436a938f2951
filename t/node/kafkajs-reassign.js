// kafkajs-reassign.js BOOTSTRAP ACTION... - kafkajs's admin reassignment
// calls, for t/6160: each ACTION is `alter:TOPIC:PART:R1,R2,...` or
// `list` (every move in progress); prints one JSON object per action.
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const kafka = new Kafka({ clientId: 'odradek-reassign', brokers: process.argv[2].split(','),
                          logLevel: logLevel.NOTHING, retry: { retries: 8 } });

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  for (const action of process.argv.slice(3)) {
    const out = { action };
    try {
      if (action.startsWith('alter:')) {
        const [, topic, part, reps] = action.split(':');
        await admin.alterPartitionReassignments({
          topics: [{ topic, partitionAssignment: [{ partition: Number(part),
                                                    replicas: reps.split(',').map(Number) }] }],
          timeout: 30000 });
        out.ok = true;
      } else if (action === 'list') {
        out.list = (await admin.listPartitionReassignments({ timeout: 30000 })).topics;
      }
    } catch (e) {
      out.error = e.type || e.message;
    }
    console.log(JSON.stringify(out));
  }
  await admin.disconnect();
}

main().catch(e => { console.log(JSON.stringify({ error: String(e) })); process.exit(0); });
