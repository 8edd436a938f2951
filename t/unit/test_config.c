/* test_config.c - configuration file parsing, --set, validation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "od_codec.h"
#include "od_config.h"
#include "od_core.h"
#include "od_topic_config.h"
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

static int topic_check(const char *key, const char *value, char *err, size_t errsz)
{
    err[0] = 0;
    return od_topic_config_check(key, strlen(key), value, (int32_t)strlen(value), err, errsz);
}

/* Topic keys: nan/inf refused, the keys Kafka 3.x accepts and ignores
 * accepted (and validated), and typed resolution into od_topic_cfg_t. */
static void topic_configs(void)
{
    char err[512];
    tap_is_int(run("\nratio=nan\n", NULL, err, sizeof(err)), -1, "double nan refused");
    tap_ok(strstr(err, ":2:") && strstr(err, "not a finite number"), "line 2, reason: %s", err);
    tap_is_int(run("ratio=inf\n", NULL, err, sizeof(err)), -1, "double inf refused");
    tap_is_int(run(NULL, "ratio=-INF", err, sizeof(err)), -1, "double -INF refused on --set");
    tap_is_int(topic_check("min.cleanable.dirty.ratio", "nan", err, sizeof(err)), -1,
               "topic min.cleanable.dirty.ratio=nan refused");
    tap_ok(strstr(err, "finite") != NULL, "reason: %s", err);
    tap_is_int(topic_check("min.cleanable.dirty.ratio", "0.25", err, sizeof(err)), 0,
               "topic min.cleanable.dirty.ratio=0.25 accepted");
    tap_is_int(topic_check("message.format.version", "2.8", err, sizeof(err)), 0,
               "message.format.version=2.8 accepted");
    tap_is_int(topic_check("message.format.version", "0.10.2-IV0", err, sizeof(err)), 0,
               "message.format.version=0.10.2-IV0 accepted");
    tap_ok(topic_check("message.format.version", "banana", err, sizeof(err)) == -1,
           "message.format.version=banana refused: %s", err);
    tap_is_int(topic_check("message.format.version", "2.", err, sizeof(err)), -1,
               "message.format.version=2. refused");
    tap_is_int(topic_check("message.downconversion.enable", "false", err, sizeof(err)), 0,
               "message.downconversion.enable=false accepted");
    tap_is_int(topic_check("message.downconversion.enable", "maybe", err, sizeof(err)), -1,
               "message.downconversion.enable=maybe refused");
    tap_is_int(topic_check("cleanup.policy", "compact, delete", err, sizeof(err)), 0,
               "cleanup.policy=compact, delete accepted");
    tap_ok(topic_check("cleanup.policy", "delete,compacted", err, sizeof(err)) == -1,
           "cleanup.policy=delete,compacted refused: %s", err);
    tap_is_int(topic_check("no.such.key", "1", err, sizeof(err)), -1, "unknown topic key refused");

    /* Resolution: broker settings under topic overrides, typed. */
    od_core_t *core = od_core_new();
    size_t nbd;
    const od_conf_def_t *bdefs = od_topic_broker_defs(&nbd);
    int rc = od_config_register(&core->config, bdefs, nbd, "core", err, sizeof(err));
    if (rc == 0)
        rc = od_config_add_set(&core->config, "log.cleanup.policy=compact", err, sizeof(err));
    if (rc == 0)
        rc = od_config_add_set(&core->config, "message.max.bytes=5000", err, sizeof(err));
    if (rc == 0)
        rc = od_config_apply(&core->config, err, sizeof(err));
    tap_ok(rc == 0, "broker topic-default keys registered and set: %s", err);
    od_topic_cfg_t b;
    od_topic_cfg_resolve(core, NULL, NULL, &b);
    tap_ok(b.cleanup_policy == OD_CLEANUP_COMPACT && b.max_message_bytes == 5000 &&
               b.compression_type == -1 && b.min_cleanable_dirty_ratio == 0.5 &&
               b.log_append_time == 0 && b.segment_bytes == 1073741824 &&
               b.retention_ms == 604800000,
           "broker defaults resolved: policy %lld, max.message.bytes %lld, codec %lld",
           (long long)b.cleanup_policy, (long long)b.max_message_bytes,
           (long long)b.compression_type);
    od_kv_t kv[] = {{"message.timestamp.type", "LogAppendTime"},
                    {"min.cleanable.dirty.ratio", "nan"}, /* stored by an older broker */
                    {"compression.type", "zstd"},
                    {"cleanup.policy", "delete,compact"},
                    {"message.format.version", "2.8"}};
    od_topic_t t;
    memset(&t, 0, sizeof(t));
    t.name = "typed";
    t.configs = kv;
    t.nconfigs = sizeof(kv) / sizeof(kv[0]);
    od_topic_cfg_resolve(core, &t, "message.format.version", &t.cfg);
    tap_ok(t.cfg.log_append_time == 1 && t.cfg.compression_type == OD_CODEC_ZSTD &&
               t.cfg.cleanup_policy == (OD_CLEANUP_DELETE | OD_CLEANUP_COMPACT) &&
               t.cfg.max_message_bytes == 5000,
           "topic overrides resolved over the broker's");
    tap_ok(t.cfg.min_cleanable_dirty_ratio == 0.5,
           "a stored nan ratio falls back to the broker value (%g)", t.cfg.min_cleanable_dirty_ratio);
    od_log_config_t lc;
    od_topic_log_config(core, &t, &lc);
    tap_ok(lc.cleanup_policy == t.cfg.cleanup_policy && lc.segment_bytes == 1073741824,
           "log config built from the typed configs");
    od_core_shutdown(core);
    od_core_free(core);
}

int main(void)
{
    char err[512];
    tap_plan(24 + 21);
    topic_configs();

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
