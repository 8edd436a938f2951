#!/usr/bin/python3
# Protobuf through the schema registry: confluent_kafka's ProtobufSerializer
# registers the message type's file (a base64 FileDescriptorProto, as the
# Confluent clients do) and writes the wire format with message indexes; a
# topic with confluent.value.schema.validation appends those records and
# refuses records that are not messages of the registered type (wrong wire
# types, bad UTF-8, truncated, an index naming no type). The message class is
# built from a FileDescriptorProto at run time (python3-protobuf), so no
# protoc is needed.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402

try:
    import confluent_kafka as ck
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
except ImportError as e:
    tap.skip_all("clients missing: %s" % e)

odtest.watchdog(120)
F = descriptor_pb2.FieldDescriptorProto
fdp = descriptor_pb2.FileDescriptorProto(name="shop.proto", package="shop", syntax="proto3")
order = fdp.message_type.add(name="Order")
order.field.add(name="id", number=1, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
order.field.add(name="name", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
order.field.add(name="qty", number=3, type=F.TYPE_INT32, label=F.LABEL_REPEATED)
order.field.add(name="item", number=4, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
                type_name=".shop.Order.Item")
item = order.nested_type.add(name="Item")
item.field.add(name="price", number=1, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
pool = descriptor_pool.DescriptorPool()
pool.Add(fdp)
desc = pool.FindMessageTypeByName("shop.Order")
def message_class(d):
    try:
        return message_factory.GetMessageClass(d)
    except AttributeError:
        return message_factory.MessageFactory(pool).GetPrototype(d)


Order = message_class(desc)
Item = message_class(pool.FindMessageTypeByName("shop.Order.Item"))

reg_port = odtest.free_port()
URL = "http://127.0.0.1:%d" % reg_port
b = odtest.Broker(sets={"schema.registry.listener": URL}).start()
sr = SchemaRegistryClient({"url": URL})
with odtest.Conn(b.port) as c:
    res = odtest.create_topics(c, [("orders", 1, 1, {"confluent.value.schema.validation": "true"})])
tap.is_(res, {"orders": 0}, "topic created")

ser = ProtobufSerializer(Order, sr)
ctx = SerializationContext("orders", MessageField.VALUE)
good = [ser(Order(id=1, name="ann", qty=[1, 2, 3]), ctx),
        ser(Order(id=2, item=Item(price=9.5)), ctx), ser(Order(), ctx)]
latest = sr.get_latest_version("orders-value")
tap.is_(latest.schema.schema_type, "PROTOBUF", "ProtobufSerializer registered a PROTOBUF schema")
sid = latest.schema_id


def produce(values):
    pr = ck.Producer(odtest.ck_conf(b.bootstrap, **{"linger.ms": 0, "acks": "all",
                                                    "enable.idempotence": False,
                                                    "message.send.max.retries": 0}),
                     logger=odtest.RdLog())
    out = [None] * len(values)
    for i, v in enumerate(values):
        pr.produce("orders", value=v, partition=0,
                   on_delivery=lambda err, msg, i=i: out.__setitem__(i, err.code() if err else 0))
        pr.flush(30)
    return out


tap.is_(produce(good), [0, 0, 0], "ProtobufSerializer records are appended")
wire = bytes([0]) + sid.to_bytes(4, "big")
bad = [wire + b"\x00" + b"\x0d\x00\x00\x00\x00",      # id as fixed32
       wire + b"\x00" + b"\x12\x01\xff",              # name not UTF-8
       wire + b"\x00" + b"\x12\x05ab",                # name longer than the record
       wire + b"\x02\x08" + b"\x08\x01",              # index 4 of one top-level type
       wire + b"\x00" + b"\x22\x03\x09\x00\x00",      # item.price cut short
       wire]                                          # no indexes at all
tap.is_(produce(bad), [ck.KafkaError.INVALID_RECORD] * len(bad),
        "wrong wire type, bad UTF-8, truncated, bad index, bad nested message, no indexes: "
        "INVALID_RECORD")
with odtest.Conn(b.port) as c:
    tap.is_(odtest.list_offsets(c, {("orders", 0): -1})[("orders", 0)][2], 3,
            "only the good records were appended")
tap.is_(sr.get_schema(sid).schema_type, "PROTOBUF", "GET /schemas/ids/{id} of it")
odtest.finish()
