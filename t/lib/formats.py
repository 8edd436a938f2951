"""Schemas and records the odr format tests share (t/8301 `odr consume
--value-format`, t/8302 `odr produce --value-format`): a broker with the
schema registry listener, the Avro User schema, and the protobuf
shop.Order message built from a FileDescriptorProto at run time."""
import odrcli
import odtest
import tap

# kit.User: every Avro kind the CLI tests print and read back
USER_AVSC = {"type": "record", "name": "User", "namespace": "kit", "fields": [
    {"name": "name", "type": "string"}, {"name": "age", "type": "int"},
    {"name": "email", "type": ["null", "string"], "default": None},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "score", "type": "double"},
    {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
    {"name": "attrs", "type": {"type": "map", "values": "long"}}]}

# the example order of shop_order_types() in proto3's JSON mapping (64-bit
# integers as strings, bytes as base64, repeated scalars as arrays)
ORDER_JSON = {"id": str(1 << 40), "name": "ann", "qty": [1, 2, 3], "item": {"price": 9.5},
              "blob": "AP8=", "ok": True, "delta": -5, "status": "SHIPPED"}


def registry_broker(name, seconds):
    """(scratch dir, registry URL, started Broker) with the schema registry
    (schema.registry.listener) on a free loopback port, the test bounded to
    seconds; skips the test when odr is not built."""
    if not odrcli.available():
        tap.skip_all("odr not built (librdkafka-dev missing at configure time)")
    odtest.watchdog(seconds)
    tmp = odtest.scratch(name)
    url = "http://127.0.0.1:%d" % odtest.free_port()
    return tmp, url, odtest.Broker(tmp=tmp, sets={"schema.registry.listener": url}).start()


def shop_order_types():
    """(Order, Item, example): the message classes of shop.proto (proto3,
    package shop: Order {int64 id = 1; string name = 2; repeated int32 qty
    = 3; Item item = 4; bytes blob = 5; bool ok = 6; sint32 delta = 7;
    Status status = 8; message Item {double price = 1;} enum Status {NEW =
    0; SHIPPED = 2;}}) and an Order whose JSON is
    ORDER_JSON. Raises ImportError without python3-protobuf."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="shop.proto", package="shop", syntax="proto3")
    order = fdp.message_type.add(name="Order")
    for name, num, typ, label, tn in [
            ("id", 1, F.TYPE_INT64, F.LABEL_OPTIONAL, None),
            ("name", 2, F.TYPE_STRING, F.LABEL_OPTIONAL, None),
            ("qty", 3, F.TYPE_INT32, F.LABEL_REPEATED, None),
            ("item", 4, F.TYPE_MESSAGE, F.LABEL_OPTIONAL, ".shop.Order.Item"),
            ("blob", 5, F.TYPE_BYTES, F.LABEL_OPTIONAL, None),
            ("ok", 6, F.TYPE_BOOL, F.LABEL_OPTIONAL, None),
            ("delta", 7, F.TYPE_SINT32, F.LABEL_OPTIONAL, None),
            ("status", 8, F.TYPE_ENUM, F.LABEL_OPTIONAL, ".shop.Order.Status")]:
        fd = order.field.add(name=name, number=num, type=typ, label=label)
        if tn:
            fd.type_name = tn
    order.nested_type.add(name="Item").field.add(name="price", number=1, type=F.TYPE_DOUBLE,
                                                 label=F.LABEL_OPTIONAL)
    status = order.enum_type.add(name="Status")
    status.value.add(name="NEW", number=0)
    status.value.add(name="SHIPPED", number=2)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)

    def message_class(d):
        try:
            return message_factory.GetMessageClass(d)
        except AttributeError:  # python3-protobuf before 4.21
            return message_factory.MessageFactory(pool).GetPrototype(d)
    Order = message_class(pool.FindMessageTypeByName("shop.Order"))
    Item = message_class(pool.FindMessageTypeByName("shop.Order.Item"))
    example = Order(id=1 << 40, name="ann", qty=[1, 2, 3], ok=True, delta=-5, blob=b"\x00\xff",
                    item=Item(price=9.5), status=2)
    return Order, Item, example
