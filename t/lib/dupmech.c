/* dupmech.c - a test module registering the SASL mechanism DUPMECH_MECH
 * under the module name DUPMECH_NAME (t/7001: a mechanism registered by
 * two modules stops the start naming both). */
#include <stdio.h>

#include <odradek-module.h>

static int m_begin(void *self, od_sasl_session_t *s, void **st, char *err, size_t errsz)
{
    (void)self, (void)s, (void)st, (void)err, (void)errsz;
    return OD_OK;
}
static int m_step(void *self, void *st, od_sasl_session_t *s, const uint8_t *in, size_t len,
                  char *err, size_t errsz)
{
    (void)self, (void)st, (void)s, (void)in, (void)len;
    snprintf(err, errsz, "test mechanism");
    return OD_ERR_DENIED;
}
static const od_sasl_mech_ops_t ops = {sizeof(od_sasl_mech_ops_t), DUPMECH_MECH, m_begin, m_step,
                                       NULL};
static int m_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    (void)err, (void)errsz;
    /* The return value is ignored on purpose: the core stops the start anyway. */
    od_register_sasl_mechanism(ctx, &ops, NULL);
    return 0;
}
od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR, .abi_minor = OD_ABI_MINOR, .name = DUPMECH_NAME, .version = "1",
    .kinds = OD_KIND_AUTHN, .init = m_init,
};
