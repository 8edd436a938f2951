/* test_scram.c - the SCRAM arithmetic (core/sec/od_scram.c) against the
 * SCRAM-SHA-256 example of RFC 7677 section 3, base64 edge cases, and
 * SCRAM credential records through the image (apply, snapshot, remove). */
#include <stdlib.h>
#include <string.h>

#include "od_core.h"
#include "od_proto_gen.h"
#include "od_scram.h"
#include "od_scram_store.h"
#include "tap.h"

static void rfc7677(void)
{
    const char *bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
    const char *sfirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                         "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const char *without = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    uint8_t salt[32];
    int sl = od_scram_b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt, sizeof(salt));
    tap_ok(sl == 16, "salt decodes to 16 bytes");
    od_scram_cred_t cred;
    tap_ok(od_scram_cred_from_password(OD_SCRAM_SHA_256, "pencil", salt, (size_t)sl, 4096,
                                       &cred) == 0 && cred.key_len == 32,
           "credential from the password");
    char am[512];
    snprintf(am, sizeof(am), "%s,%s,%s", bare, sfirst, without);
    uint8_t sig[64], proof[64], server[64];
    od_scram_hmac(OD_SCRAM_SHA_256, cred.stored_key, 32, (const uint8_t *)am, strlen(am), sig);
    /* ClientKey = Hi-derived; rebuild it to get the proof as a client would. */
    uint8_t salted[64], ck[64];
    od_scram_salted_password(OD_SCRAM_SHA_256, "pencil", 6, salt, (size_t)sl, 4096, salted);
    od_scram_hmac(OD_SCRAM_SHA_256, salted, 32, (const uint8_t *)"Client Key", 10, ck);
    for (int i = 0; i < 32; i++)
        proof[i] = ck[i] ^ sig[i];
    char b64[128];
    od_scram_b64_encode(proof, 32, b64);
    tap_ok(strcmp(b64, "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=") == 0,
           "client proof of RFC 7677: %s", b64);
    od_scram_hmac(OD_SCRAM_SHA_256, cred.server_key, 32, (const uint8_t *)am, strlen(am), server);
    od_scram_b64_encode(server, 32, b64);
    tap_ok(strcmp(b64, "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=") == 0,
           "server signature of RFC 7677: %s", b64);
    uint8_t h[64];
    od_scram_hash(OD_SCRAM_SHA_256, ck, 32, h);
    tap_ok(od_scram_equal(h, cred.stored_key, 32), "H(ClientKey) is the stored key");
    h[31] ^= 1;
    tap_ok(!od_scram_equal(h, cred.stored_key, 32), "a one-bit difference is seen");
    tap_ok(od_scram_cred_from_password(OD_SCRAM_SHA_512, "pencil", salt, (size_t)sl, 4096,
                                       &cred) == 0 && cred.key_len == 64,
           "SHA-512 keys are 64 bytes");
    tap_ok(od_scram_key_len(3) == 0 && od_scram_hash(3, ck, 1, h) < 0, "mechanism 3 is refused");
}

static void base64(void)
{
    uint8_t out[8];
    tap_ok(od_scram_b64_decode("", 0, out, sizeof(out)) == 0, "empty base64");
    tap_ok(od_scram_b64_decode("YQ==", 4, out, sizeof(out)) == 1 && out[0] == 'a', "YQ== is a");
    tap_ok(od_scram_b64_decode("YQ=", 3, out, sizeof(out)) < 0, "length not a multiple of 4");
    tap_ok(od_scram_b64_decode("Y===", 4, out, sizeof(out)) < 0, "three pads");
    tap_ok(od_scram_b64_decode("YQ==YQ==", 8, out, sizeof(out)) < 0, "padding in the middle");
    tap_ok(od_scram_b64_decode("Y,Q=", 4, out, sizeof(out)) < 0, "a comma");
    tap_ok(od_scram_b64_decode("YWFhYWFhYWFh", 12, out, 8) < 0, "output beyond max");
}

static size_t encode_set(uint8_t *buf, size_t cap, const char *user, int8_t mech, int32_t it)
{
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_metarec_frame(&w, OD_METAREC_USER_SCRAM_CREDENTIAL, 0);
    od_UserScramCredentialRecord_t r;
    od_UserScramCredentialRecord_init(&r);
    uint8_t key[64] = {1, 2, 3};
    r.name = od_str_c(user);
    r.mechanism = mech;
    r.salt.p = (const uint8_t *)"salty";
    r.salt.len = 5;
    r.stored_key.p = key;
    r.stored_key.len = (int32_t)od_scram_key_len(mech);
    r.server_key.p = key;
    r.server_key.len = (int32_t)od_scram_key_len(mech);
    r.iterations = it;
    od_UserScramCredentialRecord_encode(&w, 0, &r);
    size_t len = 0;
    uint8_t *flat = od_wbuf_flatten(&w, &len);
    od_wbuf_free(&w);
    if (!flat || len > cap) {
        free(flat);
        return 0;
    }
    memcpy(buf, flat, len);
    free(flat);
    return len;
}

static void store(void)
{
    od_core_t core;
    memset(&core, 0, sizeof(core));
    od_image_init(&core.image);
    uint8_t rec[512];
    char err[256];
    size_t n = encode_set(rec, sizeof(rec), "alice", OD_SCRAM_SHA_256, 4096);
    tap_ok(n > 0 && od_metadata_apply(&core, rec, n, 1, err, sizeof(err)) == 0,
           "UserScramCredentialRecord applies");
    n = encode_set(rec, sizeof(rec), "alice", OD_SCRAM_SHA_512, 8192);
    tap_ok(od_metadata_apply(&core, rec, n, 2, err, sizeof(err)) == 0, "and the SHA-512 one");
    od_scram_cred_t c;
    tap_ok(od_scram_credential_get(&core, "alice", OD_SCRAM_SHA_512, &c) == OD_OK &&
               c.iterations == 8192 && c.salt_len == 5,
           "lookup finds the SHA-512 credential");
    tap_ok(od_scram_credential_get(&core, "bob", OD_SCRAM_SHA_256, &c) == OD_ERR_NOT_FOUND,
           "an unknown user is not found");
    n = encode_set(rec, sizeof(rec), "bad", 7, 4096);
    tap_ok(od_metadata_apply(&core, rec, n, 3, err, sizeof(err)) < 0, "mechanism 7 is refused: %s",
           err);
    od_meta_record_t *recs = NULL;
    size_t nrecs = 0;
    tap_ok(od_metadata_snapshot(&core, &recs, &nrecs) == 0, "snapshot");
    size_t scram = 0;
    od_core_t fresh;
    memset(&fresh, 0, sizeof(fresh));
    od_image_init(&fresh.image);
    for (size_t i = 0; i < nrecs; i++) {
        od_slice_t s;
        od_slice_init(&s, recs[i].data, recs[i].len);
        int16_t key, ver;
        if (od_metarec_peek(&s, &key, &ver) == 0 && key == OD_METAREC_USER_SCRAM_CREDENTIAL) {
            scram++;
            od_metadata_apply(&fresh, recs[i].data, recs[i].len, (int64_t)i, err, sizeof(err));
        }
        free((void *)recs[i].data);
    }
    free(recs);
    tap_ok(scram == 2, "the snapshot has both credentials (%zu)", scram);
    tap_ok(od_scram_credential_get(&fresh, "alice", OD_SCRAM_SHA_256, &c) == OD_OK,
           "replayed into a fresh image");
    od_wbuf_t w;
    od_wbuf_init(&w);
    od_metarec_frame(&w, OD_METAREC_REMOVE_USER_SCRAM_CREDENTIAL, 0);
    od_RemoveUserScramCredentialRecord_t rr;
    od_RemoveUserScramCredentialRecord_init(&rr);
    rr.name = od_str_c("alice");
    rr.mechanism = OD_SCRAM_SHA_256;
    od_RemoveUserScramCredentialRecord_encode(&w, 0, &rr);
    size_t len = 0;
    uint8_t *flat = od_wbuf_flatten(&w, &len);
    od_wbuf_free(&w);
    tap_ok(flat && od_metadata_apply(&core, flat, len, 4, err, sizeof(err)) == 0, "remove applies");
    free(flat);
    tap_ok(od_scram_credential_get(&core, "alice", OD_SCRAM_SHA_256, &c) == OD_ERR_NOT_FOUND &&
               od_scram_credential_get(&core, "alice", OD_SCRAM_SHA_512, &c) == OD_OK,
           "only that mechanism is gone");
    od_image_free(&core, &core.image);
    od_image_free(&fresh, &fresh.image);
    od_scram_store_free(&core);
    od_scram_store_free(&fresh);
}

int main(void)
{
    rfc7677();
    base64();
    store();
    return tap_done();
}
