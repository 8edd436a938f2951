// kafkajs-acl.js BROKER - kafkajs's createAcls, describeAcls and deleteAcls
// (an independent JavaScript client) against one broker; prints one JSON
// object with what it saw, for t/7254-acl-kafkajs.t to check.
'use strict';
const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes,
        ResourcePatternTypes } = require('kafkajs');

const broker = process.argv[2];
const kafka = new Kafka({ clientId: 'odradek-acl-test', brokers: [broker],
                          logLevel: logLevel.NOTHING, retry: { retries: 2 } });
const out = {};

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  out.created = await admin.createAcls({ acl: [
    { resourceType: AclResourceTypes.TOPIC, resourceName: 'js-topic',
      resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:js', host: '*',
      operation: AclOperationTypes.READ, permissionType: AclPermissionTypes.ALLOW },
    { resourceType: AclResourceTypes.GROUP, resourceName: 'js-',
      resourcePatternType: ResourcePatternTypes.PREFIXED, principal: 'User:js', host: '*',
      operation: AclOperationTypes.ALL, permissionType: AclPermissionTypes.DENY },
  ] });
  const d = await admin.describeAcls({
    resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY });
  out.described = d.resources.map((r) => ({
    type: r.resourceType, name: r.resourceName, pattern: r.resourcePatternType,
    acls: r.acls.map((a) => [a.principal, a.host, a.operation, a.permissionType]) }));
  const m = await admin.describeAcls({
    resourceType: AclResourceTypes.GROUP, resourceName: 'js-consumers',
    resourcePatternType: ResourcePatternTypes.MATCH, operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ANY });
  out.matched = m.resources.map((r) => r.resourceName);
  const del = await admin.deleteAcls({ filters: [
    { resourceType: AclResourceTypes.TOPIC, resourcePatternType: ResourcePatternTypes.ANY,
      operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY } ] });
  out.deleted = del.filterResponses.map((f) => [f.errorCode, f.matchingAcls.length]);
  const left = await admin.describeAcls({
    resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY });
  out.left = left.resources.map((r) => r.resourceName);
  try {
    await admin.createAcls({ acl: [
      { resourceType: AclResourceTypes.TOPIC, resourceName: 'x',
        resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'nocolon', host: '*',
        operation: AclOperationTypes.READ, permissionType: AclPermissionTypes.ALLOW } ] });
    out.bad = 'accepted';
  } catch (e) {
    out.bad = e.type || e.name;
  }
  await admin.disconnect();
}

main().then(() => console.log(JSON.stringify(out)),
            (e) => { out.error = String(e && (e.stack || e)); console.log(JSON.stringify(out)); });
