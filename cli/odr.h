/* odr.h - what the files of the `odr` command line share: the global
 * options, exit codes, client set-up and errors in a user's words.
 *
 * Each command group is one file (odr_topic.c, odr_produce.c, ...) with one
 * entry point, odr_cmd_<group>(ctx, argc, argv), called by odr_main.c with
 * the arguments after the group's name (global options already removed). */
#ifndef ODR_H
#define ODR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

/* Exit codes a script can rely on (doc/cli.md, odr.1). */
#define ODR_EXIT_OK 0
#define ODR_EXIT_KAFKA 1       /* the broker answered with an error */
#define ODR_EXIT_USAGE 2       /* bad command line (or produce input) */
#define ODR_EXIT_UNREACHABLE 3 /* no broker reachable, or the timeout passed */

#define ODR_MAX_SETTINGS 128

typedef struct odr_ctx {
    const char *brokers;    /* bootstrap list */
    int json;               /* --output json */
    int timeout_ms;         /* --timeout (seconds on the command line) */
    int verbose;            /* -v: librdkafka's log lines and progress notes */
    int no_incremental;     /* --no-incremental: config changes by AlterConfigs */
    const char *registry;   /* the profile's schema.registry.url, or NULL */
    size_t nsettings;       /* -X key=value and profile settings, in order */
    const char *set_key[ODR_MAX_SETTINGS];
    const char *set_val[ODR_MAX_SETTINGS];
} odr_ctx_t;

/* ---- messages and exits (odr_util.c) ---- */
/* "odr: <message>" on stderr and ODR_EXIT_USAGE. */
int odr_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "odr: <message>" on stderr; returns code. */
int odr_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A Kafka error in a user's words: "odr: NAME: <what it means for subject>;
 * <what to do>" (plus the broker's own message when it has one). subject
 * names the thing, e.g. "topic 'orders'"; name is the bare name for the
 * suggested commands. Returns the exit code for err (1, or 3 for transport
 * and timeout errors). */
int odr_kafka_fail(rd_kafka_resp_err_t err, const char *broker_msg, const char *kind,
                   const char *name);
/* 3 for errors that mean "could not talk to the cluster in time", else 1. */
int odr_exit_for(rd_kafka_resp_err_t err);

/* ---- clients (odr_util.c) ---- */
/* A configuration with bootstrap.servers, every -X setting and a quiet log
 * (unless -v). NULL after a message (bad -X: usage error in *code). */
rd_kafka_conf_t *odr_conf(odr_ctx_t *ctx, int *code);
/* The same, with odr's defaults for one command applied first, so -X and
 * the profile override them: {"key", "value", ..., NULL}. */
rd_kafka_conf_t *odr_conf_defaults(odr_ctx_t *ctx, const char *const *defaults, int *code);
/* Set one property; a bad one is a usage error. */
int odr_conf_set(rd_kafka_conf_t *conf, const char *key, const char *val);
/* A client of that type, connected: a Metadata request answered within the
 * timeout (else a message and *code = 3). Takes conf. */
rd_kafka_t *odr_client(odr_ctx_t *ctx, rd_kafka_type_t type, rd_kafka_conf_t *conf, int *code);
/* The client the admin commands use (a producer, connected). NULL after a
 * message, with *code set. */
rd_kafka_t *odr_admin(odr_ctx_t *ctx, int *code);
/* Admin options for op with the request timeout set. */
rd_kafka_AdminOptions_t *odr_admin_options(odr_ctx_t *ctx, rd_kafka_t *rk, rd_kafka_admin_op_t op);
/* Wait for the result of one admin call on q; NULL on timeout (message
 * printed, *code = 3). An error of the whole request is reported and *code
 * set; the event is then destroyed and NULL returned. */
rd_kafka_event_t *odr_admin_wait(odr_ctx_t *ctx, rd_kafka_queue_t *q, const char *kind,
                                 const char *name, int *code);
/* Metadata of all topics, or of one (then an unknown topic is an error). */
const rd_kafka_metadata_t *odr_metadata(odr_ctx_t *ctx, rd_kafka_t *rk, const char *topic,
                                        int *code);

/* ---- parsing (odr_util.c) ---- */
/* "key=value" into its halves (the key is copied into buf). 0 or -1. */
int odr_split_kv(const char *arg, char *buf, size_t bufsz, const char **key, const char **val);
/* Whole decimal numbers in [min, max]; 0 or -1. */
int odr_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* getopt_long with odr's messages: returns the option, -1 at the end, -2
 * after a usage message (exit ODR_EXIT_USAGE), -3 after --help/-h printed
 * usage (exit 0). Call odr_getopt_reset() before a command's first call. */
struct option;
int odr_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
               const char *usage);
void odr_getopt_reset(void);
#define ODR_GETOPT_EXIT(c) ((c) == -2 ? ODR_EXIT_USAGE : 0)
/* For subcommands without options but --help: -1 to go on (optind at the
 * operands), else the exit code (0 after --help, 2 after a usage error). */
int odr_no_options(int argc, char **argv, const char *usage);
/* A copy of the n elements of size bytes at v sorted by cmp (free it);
 * NULL when out of memory. */
void *odr_sorted_copy(const void *v, size_t n, size_t size,
                      int (*cmp)(const void *, const void *));
/* Wall clock in ms and monotonic ms. */
int64_t odr_now_ms(void);
int64_t odr_mono_ms(void);
/* Set on SIGINT/SIGTERM: loops stop and finish cleanly (commit, summary). */
extern volatile int odr_stop;
void odr_catch_signals(void);

/* ---- command groups ---- */
int odr_cmd_topic(odr_ctx_t *ctx, int argc, char **argv);
int odr_cmd_produce(odr_ctx_t *ctx, int argc, char **argv);
int odr_cmd_consume(odr_ctx_t *ctx, int argc, char **argv);
int odr_cmd_group(odr_ctx_t *ctx, int argc, char **argv);
int odr_cmd_cluster(odr_ctx_t *ctx, int argc, char **argv);
int odr_cmd_acl(odr_ctx_t *ctx, int argc, char **argv);
int odr_cmd_user(odr_ctx_t *ctx, int argc, char **argv);
int odr_cmd_bench(odr_ctx_t *ctx, int argc, char **argv);
int odr_cmd_schema(odr_ctx_t *ctx, int argc, char **argv);

#endif
