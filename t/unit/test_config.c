/* test_config.c - configuration file parsing, --set, validation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "od_config.h"
#include "tap.h"

static int64_t v_int, v_bool;
static double v_dbl;
static char *v_str, *v_enum;

static const od_conf_def_t defs[] = {
    {"num.partitions", OD_CONF_INT, "1", 1, 100, NULL, "doc", &v_int, 0},
    {"auto.create.topics.enable", OD_CONF_BOOL, "true", 0, 0, NULL, "doc", &v_bool, 0},
    {"ratio", OD_CONF_DOUBLE, "0.5", 0, 1, NULL, "doc", &v_dbl, 0},
    {"listeners", OD_CONF_LIST, "PLAINTEXT://:9092", 0, 0, NULL, "doc", &v_str, 0},
    {"message.timestamp.type", OD_CONF_ENUM, "CreateTime", 0, 0, "CreateTime,LogAppendTime", "doc",
     &v_enum, 0},
};

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/od-test-config-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        close(fd);
        return NULL;
    }
    close(fd);
    return path;
}

/* Run file + sets through a fresh config; returns apply's rc, err filled. */
static int run(const char *text, const char *set, char *err, size_t errsz)
{
    od_config_t c;
    od_config_init(&c);
    err[0] = 0;
    int rc = od_config_register(&c, defs, sizeof(defs) / sizeof(defs[0]), "test", err, errsz);
    char *path = text ? write_tmp(text) : NULL;
    if (rc == 0 && path)
        rc = od_config_read_file(&c, path, err, errsz);
    if (rc == 0 && set)
        rc = od_config_add_set(&c, set, err, errsz);
    if (rc == 0)
        rc = od_config_apply(&c, err, errsz);
    if (path)
        unlink(path);
    od_config_free(&c);
    return rc;
}

int main(void)
{
    char err[512];
    tap_plan(24);

    tap_is_int(run("", NULL, err, sizeof(err)), 0, "empty file is fine");
    tap_is_int(v_int, 1, "default applied");
    tap_is_int(v_bool, 1, "bool default applied");
    tap_ok(v_dbl == 0.5, "double default applied");

    tap_is_int(run("# comment\n! also comment\n\nnum.partitions = 7\n", NULL, err, sizeof(err)), 0,
               "comments, blanks and spaces around '='");
    tap_is_int(v_int, 7, "value from file");

    tap_is_int(run("num.partitions=7\n", "num.partitions=9", err, sizeof(err)), 0, "--set accepted");
    tap_is_int(v_int, 9, "--set overrides the file");

    tap_is_int(run("num.partitions=2\nbogus.key=2\n", NULL, err, sizeof(err)), -1, "unknown key refused");
    tap_ok(strstr(err, ":2:") && strstr(err, "unknown configuration key 'bogus.key'"),
           "error names file line 2 and the key: %s", err);
    tap_ok(strstr(err, "/tmp/od-test-config-") != NULL, "error names the file");

    tap_is_int(run("\n\nnum.partitions=abc\n", NULL, err, sizeof(err)), -1, "non-integer refused");
    tap_ok(strstr(err, ":3:") && strstr(err, "not an integer"), "line 3, reason: %s", err);

    tap_is_int(run("num.partitions=0\n", NULL, err, sizeof(err)), -1, "below minimum refused");
    tap_ok(strstr(err, "out of range") != NULL, "reason says out of range: %s", err);

    tap_is_int(run("auto.create.topics.enable=yes\n", NULL, err, sizeof(err)), -1, "bad bool refused");
    tap_is_int(run("ratio=1.5\n", NULL, err, sizeof(err)), -1, "double out of range refused");
    tap_is_int(run("message.timestamp.type=Wallclock\n", NULL, err, sizeof(err)), -1,
               "enum outside its choices refused");
    tap_is_int(run("message.timestamp.type=LogAppendTime\n", NULL, err, sizeof(err)), 0, "enum choice accepted");

    tap_is_int(run(NULL, "nope=1", err, sizeof(err)), -1, "unknown --set key refused");
    tap_ok(strstr(err, "--set") != NULL, "error names --set: %s", err);

    tap_is_int(run("just some words\n", NULL, err, sizeof(err)), -1, "line without '=' refused");

    od_config_t c;
    od_config_init(&c);
    tap_is_int(od_config_read_file(&c, "/nonexistent/odradek.properties", err, sizeof(err)), -1,
               "missing file refused");
    tap_ok(strstr(err, "/nonexistent/odradek.properties") != NULL, "error names the missing file");
    od_config_free(&c);
    return tap_done();
}
