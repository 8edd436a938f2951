/* test_topicname.c - Kafka topic name rules. */
#include "od_nameset.h"
#include "od_topicname.h"
#include "tap.h"

static int valid(const char *s)
{
    char err[300];
    return od_topic_name_valid(s, strlen(s), err, sizeof err) == 0;
}

int main(void)
{
    char long_name[300], err[300];
    const char *bad_chars[] = {"a b", "a/b",   "a\\b", "caf\xc3\xa9", "a:b",
                               "a*",  "tab\t", "a+b",  "\"q\""};
    int bad = 0;

    tap_no_plan();
    tap_ok(valid("orders"), "plain name");
    tap_ok(valid("a.b_c-D9"), "all legal character classes");
    tap_ok(valid("..."), "three dots are legal");
    tap_ok(valid(".hidden"), "leading dot is legal");
    tap_ok(valid("__consumer_offsets"), "internal topic name is a valid name");
    tap_ok(!valid(""), "empty name");
    tap_ok(!valid("."), "\".\"");
    tap_ok(!valid(".."), "\"..\"");
    tap_is_int(od_topic_name_valid(".", 1, err, sizeof err), 17, "error code 17");
    tap_ok(strstr(err, "\"..\"") != NULL, "message for dots: %s", err);
    tap_is_int(od_topic_name_valid(NULL, 0, err, sizeof err), 17, "NULL name");

    memset(long_name, 'x', sizeof long_name);
    tap_is_int(od_topic_name_valid(long_name, 249, err, sizeof err), 0, "249 characters is fine");
    tap_is_int(od_topic_name_valid(long_name, 250, err, sizeof err), 17,
               "250 characters is too long");
    tap_ok(strstr(err, "249") != NULL, "message names the limit");

    for (size_t i = 0; i < sizeof bad_chars / sizeof bad_chars[0]; i++)
        if (valid(bad_chars[i]))
            bad++;
    tap_is_int(bad, 0, "illegal characters rejected");
    tap_is_int(od_topic_name_valid("ab\0c", 4, err, sizeof err), 17, "embedded NUL rejected");
    tap_is_int(od_topic_name_valid("abc!", 3, err, sizeof err), 0, "only len bytes are looked at");
    tap_is_int(od_topic_name_valid("a b", 3, err, sizeof err), 17, "space rejected");
    tap_ok(strstr(err, "ASCII alphanumerics") != NULL, "message for characters: %s", err);

    tap_ok(od_topic_name_collides("a.b", "a_b"), "'.' and '_' collide");
    tap_ok(od_topic_name_collides("a_b.c", "a.b_c"), "mixed collide");
    tap_ok(od_topic_name_collides("same", "same"), "identical names collide");
    tap_ok(!od_topic_name_collides("a.b", "a-b"), "'-' does not collide");
    tap_ok(!od_topic_name_collides("a.b", "a.bc"), "prefix does not collide");
    tap_ok(!od_topic_name_collides("abc", "ab"), "shorter does not collide");
    tap_ok(od_topic_name_has_collision_chars("a.b") && !od_topic_name_has_collision_chars("ab-c"),
           "collision chars");

    tap_ok(od_topic_is_internal("__consumer_offsets"), "__consumer_offsets is internal");
    tap_ok(od_topic_is_internal("__transaction_state"), "__transaction_state is internal");
    tap_ok(!od_topic_is_internal("_single"), "one underscore is not internal");
    tap_ok(!od_topic_is_internal("orders"), "orders is not internal");
    tap_ok(!od_topic_is_internal(""), "empty is not internal");
    tap_ok(!od_topic_is_internal("__mine"), "other names starting with __ are not internal (Kafka)");
    const od_internal_topic_t *it = od_topic_internal("__cluster_metadataX", 18);
    tap_ok(it && (it->flags & OD_ITOPIC_CONTROL_PLANE), "__cluster_metadata is the control plane's");
    it = od_topic_internal("__consumer_offsets", 18);
    tap_ok(it && !(it->flags & OD_ITOPIC_CONTROL_PLANE), "__consumer_offsets is internal, not the control plane's");
    tap_ok(!od_topic_internal("__cluster_metadat", 17), "a prefix is not internal");

    od_nameset_t set;
    tap_is_int(od_nameset_init(&set, 3), 0, "nameset for 3 names");
    tap_is_int(od_nameset_add(&set, "a", 1), 1, "first a");
    tap_is_int(od_nameset_add(&set, "ab", 1), 2, "only len bytes count: a again");
    tap_is_int(od_nameset_add(&set, "", 0), 1, "empty name");
    tap_is_int(od_nameset_add(&set, NULL, 0), 2, "NULL is the empty name");
    tap_is_int(od_nameset_add(&set, "b", 1), 1, "b");
    tap_is_int(od_nameset_add(&set, "c", 1), 0, "a fourth distinct name does not fit");
    tap_is_int(od_nameset_count(&set, "a", 1), 2, "count of a");
    tap_is_int(od_nameset_count(&set, "zz", 2), 0, "count of a name never added");
    od_nameset_free(&set);
    static char many[20000][8];
    tap_is_int(od_nameset_init(&set, 20000), 0, "nameset for 20000 names");
    int dup = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(many[i], sizeof many[i], "n%d", i % 10000);
        dup += od_nameset_add(&set, many[i], strlen(many[i])) > 1;
    }
    tap_is_int(dup, 10000, "second half are duplicates");
    od_nameset_free(&set);
    return tap_done();
}
