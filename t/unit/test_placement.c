/* test_placement.c - replica placement: distinct brokers per partition,
 * leaders striped evenly, one replica per rack while racks remain, fenced
 * brokers left out, Kafka's INVALID_REPLICATION_FACTOR message. */
#include <stdio.h>
#include <string.h>

#include "od_metadata.h"
#include "od_placement.h"
#include "od_proto_gen.h"
#include "tap.h"

static od_broker_reg_t B[16];
static od_image_t img;

static void brokers(int n, const char *const *racks)
{
    memset(B, 0, sizeof B);
    for (int i = 0; i < n; i++) {
        B[i].id = 100 + i;
        B[i].rack = racks ? (char *)racks[i] : NULL;
    }
    img.brokers = B;
    img.nbrokers = (size_t)n;
}

static const char *rack_of(int32_t id) { return B[id - 100].rack ? B[id - 100].rack : ""; }

int main(void)
{
    od_uuid_t tid;
    int32_t out[8];
    char err[256];
    int ok, leaders[16];

    tap_no_plan();
    memset(&img, 0, sizeof img);
    memset(&tid, 0, sizeof tid);
    tid.b[0] = 7;

    brokers(3, NULL);
    ok = 1;
    memset(leaders, 0, sizeof leaders);
    for (int p = 0; p < 30; p++) {
        if (od_place_partition(&img, &tid, p, 3, out, err, sizeof err) != 0)
            ok = 0;
        if (out[0] == out[1] || out[1] == out[2] || out[0] == out[2])
            ok = 0;
        leaders[out[0] - 100]++;
    }
    tap_ok(ok, "rf 3 over 3 brokers: three distinct replicas, 30 partitions");
    tap_ok(leaders[0] == 10 && leaders[1] == 10 && leaders[2] == 10, "leaders striped evenly (%d %d %d)",
           leaders[0], leaders[1], leaders[2]);

    brokers(5, NULL);
    ok = 1;
    int follower_on[5] = {0};
    for (int p = 0; p < 50; p++) {
        od_place_partition(&img, &tid, p, 2, out, err, sizeof err);
        ok &= out[0] != out[1];
        follower_on[out[1] - 100]++;
    }
    tap_ok(ok, "rf 2 over 5 brokers: distinct");
    tap_ok(follower_on[0] == 10 && follower_on[4] == 10, "followers spread too (%d .. %d)",
           follower_on[0], follower_on[4]);

    {
        static const char *const racks[6] = {"a", "a", "b", "b", "c", "c"};
        brokers(6, racks);
        ok = 1;
        for (int p = 0; p < 60; p++) {
            od_place_partition(&img, &tid, p, 3, out, err, sizeof err);
            ok &= strcmp(rack_of(out[0]), rack_of(out[1])) && strcmp(rack_of(out[1]), rack_of(out[2])) &&
                  strcmp(rack_of(out[0]), rack_of(out[2]));
        }
        tap_ok(ok, "3 racks, rf 3: one replica per rack in all 60 partitions");
        ok = 1;
        for (int p = 0; p < 60; p++) {
            od_place_partition(&img, &tid, p, 5, out, err, sizeof err);
            for (int i = 0; i < 5; i++)
                for (int j = 0; j < i; j++)
                    ok &= out[i] != out[j];
            /* The first three cover the three racks. */
            ok &= strcmp(rack_of(out[0]), rack_of(out[1])) && strcmp(rack_of(out[1]), rack_of(out[2])) &&
                  strcmp(rack_of(out[0]), rack_of(out[2]));
        }
        tap_ok(ok, "3 racks, rf 5: distinct brokers, racks covered first");
    }

    brokers(3, NULL);
    B[1].fenced = 1;
    ok = 1;
    for (int p = 0; p < 10; p++) {
        od_place_partition(&img, &tid, p, 2, out, err, sizeof err);
        ok &= out[0] != 101 && out[1] != 101;
    }
    tap_ok(ok, "a fenced broker gets no replica");
    tap_ok(od_place_partition(&img, &tid, 0, 3, out, err, sizeof err) == -OD_ERR_INVALID_REPLICATION_FACTOR,
           "rf 3 with 2 unfenced brokers: INVALID_REPLICATION_FACTOR");
    tap_ok(!strcmp(err, "Unable to replicate the partition 3 time(s): The target replication factor "
                        "of 3 cannot be reached because only 2 broker(s) are registered."),
           "Kafka's message: %s", err);
    B[0].fenced = B[2].fenced = 1;
    tap_ok(od_place_check(&img, 1, err, sizeof err) < 0 && strstr(err, "All brokers are currently fenced"),
           "all fenced: %s", err);
    return tap_done();
}
