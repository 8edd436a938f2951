/* od_scram.h - the SCRAM arithmetic of RFC 5802 (SHA-256, SHA-512 of RFC
 * 7677) with OpenSSL: salted passwords, stored and server keys, HMACs,
 * base64 and constant-time comparison. No state, no I/O: the core (PLAIN
 * against stored SCRAM credentials, AlterUserScramCredentials) and the
 * sasl_scram module both build this file. */
#ifndef OD_SCRAM_H
#define OD_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#include "odradek-module.h"

#define OD_SCRAM_MAX_KEY 64
/* Kafka's ScramMechanism bounds on iterations (ScramFormatter). */
#define OD_SCRAM_MIN_ITERATIONS 4096
#define OD_SCRAM_MAX_ITERATIONS 16384

/* 32 (SHA-256), 64 (SHA-512), 0 for anything else. */
size_t od_scram_key_len(int mechanism);
/* "SCRAM-SHA-256" -> OD_SCRAM_SHA_256, ...; 0 when not a SCRAM name. */
int od_scram_mech_by_name(const char *name);
const char *od_scram_mech_name(int mechanism);

/* out gets od_scram_key_len(mechanism) bytes; 0, or -1. */
int od_scram_hash(int mechanism, const uint8_t *in, size_t len, uint8_t *out);
int od_scram_hmac(int mechanism, const uint8_t *key, size_t klen, const uint8_t *msg, size_t mlen,
                  uint8_t *out);
/* Hi(password, salt, i) = PBKDF2-HMAC. */
int od_scram_salted_password(int mechanism, const char *password, size_t plen,
                             const uint8_t *salt, size_t slen, int32_t iterations, uint8_t *out);
/* StoredKey = H(HMAC(salted, "Client Key")), ServerKey = HMAC(salted,
 * "Server Key"). */
int od_scram_keys(int mechanism, const uint8_t *salted, uint8_t *stored_key, uint8_t *server_key);
/* The credential a password makes with the given salt and iterations. */
int od_scram_cred_from_password(int mechanism, const char *password, const uint8_t *salt,
                                size_t slen, int32_t iterations, od_scram_cred_t *out);
/* 1 when equal (time independent of where they differ), else 0. */
int od_scram_equal(const void *a, const void *b, size_t n);

/* Base64 (standard alphabet, padded). encode: out needs 4*((n+2)/3)+1
 * bytes, NUL-terminated, returns the length. decode: -1 on bad input or
 * when the result would pass max; else the decoded length. */
size_t od_scram_b64_encode(const uint8_t *in, size_t n, char *out);
int od_scram_b64_decode(const char *in, size_t n, uint8_t *out, size_t max);

#endif
