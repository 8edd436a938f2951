/* od_main.c - odradekd [-c FILE] [--set key=value]...; odradekd hash-password USER */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "od_core.h"
#include "od_sasl.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: odradekd [-c FILE] [--set key=value]...\n"
            "\n"
            "  -c, --config FILE   read settings from FILE (key=value lines, load_module NAME)\n"
            "      --set K=V       set K to V, overriding the file (repeatable)\n"
            "      --config-doc    print every configuration key as markdown and exit\n"
            "  hash-password USER  print a sasl.argon2.file line for the password on stdin\n"
            "  -h, --help          this text\n"
            "  -V, --version       print the version\n"
            "\n"
            "With no file odradekd runs on built-in defaults: a single-node broker that is\n"
            "also its own KRaft controller, e.g.\n"
            "  odradekd --set listeners=PLAINTEXT://127.0.0.1:19092 --set log.dirs=/tmp/x\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "hash-password") == 0)
        return od_sasl_hash_password_main(argc - 1, argv + 1);
    const char *config = NULL;
    int config_doc = 0;
    char **sets = calloc((size_t)argc + 1, sizeof(char *));
    size_t nsets = 0;
    if (!sets)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(sets);
            return 0;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("odradekd %s (module ABI %d.%d)\n", PACKAGE_VERSION, OD_ABI_MAJOR, OD_ABI_MINOR);
            free(sets);
            return 0;
        } else if (strcmp(a, "--config-doc") == 0) {
            config_doc = 1;
        } else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(a, "--set") == 0 && i + 1 < argc) {
            sets[nsets++] = argv[++i];
        } else if (strncmp(a, "--set=", 6) == 0) {
            sets[nsets++] = (char *)a + 6;
        } else {
            fprintf(stderr, "odradekd: unknown or incomplete argument '%s'\n", a);
            usage(stderr);
            free(sets);
            return 2;
        }
    }
    od_core_t *core = od_core_new();
    if (!core) {
        fprintf(stderr, "odradekd: out of memory\n");
        free(sets);
        return 1;
    }
    char err[1024] = "";
    int rc = 0;
    if (config_doc) {
        rc = od_core_config_doc(core, config, sets, nsets, stdout, err, sizeof(err)) < 0;
        if (rc)
            fprintf(stderr, "odradekd: %s\n", err);
        od_core_shutdown(core);
        od_core_free(core);
        free(sets);
        return rc;
    }
    if (od_core_start(core, config, sets, nsets, err, sizeof(err)) < 0) {
        od_logf(OD_LOG_ERROR, "cannot start: %s", err);
        fprintf(stderr, "odradekd: %s\n", err);
        rc = 1;
    } else {
        rc = od_core_run(core) < 0 ? 1 : 0;
    }
    od_core_shutdown(core);
    od_core_free(core);
    free(sets);
    return rc;
}
