/* first_byte.c - an example partitioner: a record goes to the partition
 * its key's first byte names, modulo the partition count ("a..." and
 * "a-other" land together; keys that start with '0'..'9' spread well over
 * ten partitions).
 *
 * Partitioners are registered by name in the core's registry; the broker
 * uses one where it must say where a keyed record belongs (the placement
 * check of a topic, placement.partitioner=first-byte, doc/routing.md).
 * partition() runs on the event loop for every record it is asked about:
 * no allocation, no blocking, the same answer for the same key every time.
 */
#include <stdio.h>

#include <odradek-module.h>

static int32_t first_byte_partition(void *self, const uint8_t *key, size_t key_len,
                                    const uint8_t *value, size_t value_len, int32_t npartitions)
{
    (void)self, (void)value, (void)value_len;
    if (npartitions <= 0)
        return -1;
    /* A null or empty key has no first byte: no opinion, as a sticky
     * partitioner has none for null keys (the client's choice stands). */
    if (!key || key_len == 0)
        return -1;
    return (int32_t)(key[0] % (uint32_t)npartitions);
}

static const od_partitioner_ops_t first_byte_ops = {
    .struct_size = sizeof(od_partitioner_ops_t),
    .name = "first-byte",
    .partition = first_byte_partition,
};

static int first_byte_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    if (od_register_partitioner(ctx, &first_byte_ops, NULL) != OD_OK) {
        snprintf(err, errsz, "cannot register the first-byte partitioner");
        return -1;
    }
    od_mlogf(ctx, OD_LOG_INFO, "partitioner first-byte registered");
    return 0;
}

static void first_byte_fini(od_module_ctx_t *ctx)
{
    (void)ctx;
}

od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "first_byte",
    .version = "1.0",
    .kinds = OD_KIND_PARTITIONER,
    .init = first_byte_init,
    .fini = first_byte_fini,
};
