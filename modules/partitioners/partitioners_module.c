/* partitioners_module.c - the `partitioners` module: every strategy of
 * partitioners_algo.c registered as a partitioner (ABI 1.3), by name.
 *
 * The core asks a partitioner where a record belongs (routing copies, the
 * per-topic placement check). Where a strategy places a record by chance or
 * by its own state (null keys of the *_random strategies and sticky, every
 * record of random and round_robin) the answer is "no opinion" (-1): the
 * caller chooses, and a placement check does not judge such records. */
#include <stdio.h>

#include <odradek-module.h>

#include "partitioners_algo.h"

#define PARTITIONERS_MAX 16

typedef struct partitioners_reg {
    const partitioners_algo_t *algo;
    partitioners_state_t state;
    od_partitioner_ops_t ops;
} partitioners_reg_t;

static partitioners_reg_t partitioners_regs[PARTITIONERS_MAX];

static int32_t partitioners_partition(void *self, const uint8_t *key, size_t key_len,
                                      const uint8_t *value, size_t value_len, int32_t n)
{
    partitioners_reg_t *r = self;
    (void)value;
    if (n <= 0 || partitioners_is_free(r->algo, key, key_len))
        return -1;
    return r->algo->fn(&r->state, key, key_len, value_len, n);
}

static int partitioners_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    size_t i = 0;
    for (const partitioners_algo_t *a = partitioners_table; a->name; a++, i++) {
        if (i == PARTITIONERS_MAX) {
            snprintf(err, errsz, "more than %d partitioners", PARTITIONERS_MAX);
            return -1;
        }
        partitioners_reg_t *r = &partitioners_regs[i];
        r->algo = a;
        partitioners_state_init(&r->state, 0);
        r->ops = (od_partitioner_ops_t){
            .struct_size = sizeof r->ops,
            .name = a->name,
            .partition = partitioners_partition,
        };
        if (od_register_partitioner(ctx, &r->ops, r) != OD_OK) {
            snprintf(err, errsz, "cannot register partitioner %s", a->name);
            return -1;
        }
    }
    return 0;
}

od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "partitioners",
    .version = "1.0",
    .kinds = OD_KIND_PARTITIONER,
    .init = partitioners_init,
};
