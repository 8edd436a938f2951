/* hello.c - the smallest useful Odradek module, built out of tree.
 *
 * It shows the whole contract: include the one installed header, export
 * `od_module`, register configuration keys in init(), use core services.
 * Build it against an installed Odradek with the Makefile beside it, then
 * load it from the broker's config file:
 *
 *     load_module /path/to/hello.so
 *     hello.greeting=bonjour
 */
#include <stdio.h>

#include <odradek-module.h>

/* Set by the core from the `hello.greeting` key (core-owned string). */
static char *hello_greeting;

static const od_conf_def_t hello_conf[] = {
    {
        .name = "hello.greeting",
        .type = OD_CONF_STRING,
        .dflt = "hello",
        .doc = "What the example module says when the broker starts.",
        .target = &hello_greeting,
    },
};

static int hello_init(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    if (od_register_config(ctx, hello_conf, sizeof hello_conf / sizeof hello_conf[0]) != 0) {
        snprintf(err, errsz, "cannot register hello.greeting");
        return -1;
    }
    return 0;
}

/* Configuration values are in their targets once start() runs. */
static int hello_start(od_module_ctx_t *ctx, char *err, size_t errsz)
{
    (void)ctx;
    (void)err;
    (void)errsz;
    od_logf(OD_LOG_INFO, "example_hello: %s", hello_greeting ? hello_greeting : "(not set)");
    return 0;
}

static void hello_fini(od_module_ctx_t *ctx)
{
    (void)ctx;
    od_logf(OD_LOG_DEBUG, "example_hello: goodbye");
}

od_module_t od_module = {
    .abi_major = OD_ABI_MAJOR,
    .abi_minor = OD_ABI_MINOR,
    .name = "example_hello",
    .version = "1.0",
    .kinds = OD_KIND_OTHER,
    .init = hello_init,
    .fini = hello_fini,
    .start = hello_start,
};
