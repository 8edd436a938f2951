/* od_sasl_hash.c - `odradekd hash-password USER`: reads a password from
 * standard input (its first line) and prints the "USER:$argon2id$..." line
 * of a sasl.argon2.file (libsodium's crypto_pwhash_str, interactive
 * limits). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "od_sasl.h"

int od_sasl_hash_password_main(int argc, char **argv)
{
    if (argc != 2 || !argv[1][0] || strchr(argv[1], ':') || strchr(argv[1], '\n')) {
        fprintf(stderr, "usage: odradekd hash-password USER  (the password is read from "
                        "standard input; USER without ':')\n");
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "odradekd: libsodium does not initialise\n");
        return 1;
    }
    char pw[1026];
    if (!fgets(pw, sizeof(pw), stdin)) {
        fprintf(stderr, "odradekd: no password on standard input\n");
        return 1;
    }
    size_t n = strlen(pw);
    while (n > 0 && (pw[n - 1] == '\n' || pw[n - 1] == '\r'))
        pw[--n] = '\0';
    if (n == 0 || n > 1024) {
        fprintf(stderr, "odradekd: the password must be 1 to 1024 bytes\n");
        sodium_memzero(pw, sizeof(pw));
        return 1;
    }
    char out[crypto_pwhash_STRBYTES];
    int rc = crypto_pwhash_str(out, pw, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE);
    sodium_memzero(pw, sizeof(pw));
    if (rc != 0) {
        fprintf(stderr, "odradekd: hashing failed (out of memory)\n");
        return 1;
    }
    printf("%s:%s\n", argv[1], out);
    return 0;
}
