/* kraft_quorum_state.c - the small state files of a KRaft voter.
 *
 *   quorum-state     Raft's persistent state (current epoch, vote, known
 *                    leader), JSON in the layout of Kafka's QuorumStateData
 *                    v0. Raft's safety depends on it: a voter must never vote
 *                    twice in one epoch nor go back to an older epoch, so it
 *                    is replaced atomically and durably before the module
 *                    acts on a new state.
 *   meta.properties  the identity of the node and its cluster (version=1,
 *                    cluster.id, node.id), as Kafka writes it.
 *
 * Also the parser of controller.quorum.voters. */
#include "kraft.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define SMALL_FILE_MAX (64 * 1024) /* neither file is ever close to this */

/* ---- files ------------------------------------------------------------------ */

int kraft_mkdirs(const char *path, char *err, size_t errsz)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        snprintf(err, errsz, "bad directory name '%s'", path);
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
            snprintf(err, errsz, "cannot create directory %s: %s", buf, strerror(errno));
            return -1;
        }
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errsz, "%s is not a directory", path);
        return -1;
    }
    return 0;
}

int kraft_fsync_dir(const char *dir, char *err, size_t errsz)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        snprintf(err, errsz, "cannot fsync directory %s: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int kraft_commit_tmp(int fd, const char *tmp, const char *path, const char *dir, char *err,
                     size_t errsz)
{
    if (fsync(fd) < 0) {
        snprintf(err, errsz, "cannot fsync %s: %s", tmp, strerror(errno));
        close(fd);
        return -1;
    }
    if (close(fd) < 0) {
        snprintf(err, errsz, "cannot close %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (rename(tmp, path) < 0) {
        snprintf(err, errsz, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        return -1;
    }
    return kraft_fsync_dir(dir, err, errsz);
}

int kraft_write_file_atomic(const char *path, const void *data, size_t len, char *err,
                            size_t errsz)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 5), *dir = malloc(n + 2);
    int fd = -1, rc = -1;
    if (!tmp || !dir) {
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    snprintf(tmp, n + 5, "%s.tmp", path);
    const char *slash = strrchr(path, '/');
    if (slash && slash != path)
        snprintf(dir, n + 2, "%.*s", (int)(slash - path), path);
    else
        snprintf(dir, n + 2, "%s", slash ? "/" : ".");
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errsz, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    for (size_t done = 0; done < len;) {
        ssize_t w = write(fd, (const uint8_t *)data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errsz, "cannot write %s: %s", tmp, strerror(errno));
            goto out;
        }
        done += (size_t)w;
    }
    rc = kraft_commit_tmp(fd, tmp, path, dir, err, errsz);
    fd = -1; /* closed */
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0 && tmp)
        unlink(tmp);
    free(tmp);
    free(dir);
    return rc;
}

/* Reads a whole small file into a NUL-terminated buffer (caller frees).
 * Returns NULL with *missing set when it does not exist, NULL with err on
 * other errors. */
static char *slurp(const char *path, int *missing, char *err, size_t errsz)
{
    *missing = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            *missing = 1;
        else
            snprintf(err, errsz, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(SMALL_FILE_MAX + 1);
    size_t len = 0;
    if (!buf) {
        snprintf(err, errsz, "out of memory");
        close(fd);
        return NULL;
    }
    for (;;) {
        ssize_t r = read(fd, buf + len, SMALL_FILE_MAX + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > SMALL_FILE_MAX) {
            snprintf(err, errsz, "%s is larger than %d bytes", path, SMALL_FILE_MAX);
            goto fail;
        }
    }
    close(fd);
    buf[len] = '\0';
    if (strlen(buf) != len) {
        snprintf(err, errsz, "%s contains NUL bytes", path);
        free(buf);
        return NULL;
    }
    return buf;
fail:
    close(fd);
    free(buf);
    return NULL;
}

/* Parses a decimal integer in [min, max] that makes up all of [s, e). */
static int parse_int(const char *s, const char *e, int64_t min, int64_t max, int64_t *out)
{
    int neg = 0;
    int64_t v = 0;
    if (s < e && *s == '-') {
        neg = 1;
        s++;
    }
    if (s >= e)
        return -1;
    for (; s < e; s++) {
        if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    v = neg ? -v : v;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* ---- controller.quorum.voters ------------------------------------------------ */

int kraft_parse_voters(const char *s, kraft_voter_t *out, size_t max, size_t *n, char *err,
                       size_t errsz)
{
    *n = 0;
    if (!s)
        return 0;
    const char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p)
        return 0;
    for (;;) {
        const char *b = p, *e = strchr(p, ',');
        if (!e)
            e = p + strlen(p);
        while (b < e && isspace((unsigned char)*b))
            b++;
        const char *t = e;
        while (t > b && isspace((unsigned char)t[-1]))
            t--;
        int len = (int)(t - b);
        const char *at = memchr(b, '@', (size_t)(t - b));
        const char *colon = NULL;
        for (const char *q = t; q > b; q--)
            if (q[-1] == ':') {
                colon = q - 1;
                break;
            }
        int64_t id, port;
        if (!at || !colon || colon < at ||
            parse_int(b, at, 0, INT32_MAX, &id) < 0 ||
            parse_int(colon + 1, t, 1, 65535, &port) < 0) {
            snprintf(err, errsz,
                     "controller.quorum.voters: '%.*s' is not of the form id@host:port", len, b);
            return -1;
        }
        const char *h = at + 1, *he = colon;
        if (he > h && *h == '[' && he[-1] == ']') { /* [IPv6]:port */
            h++;
            he--;
        }
        if (he <= h || (size_t)(he - h) >= sizeof out->host || memchr(h, '@', (size_t)(he - h))) {
            snprintf(err, errsz, "controller.quorum.voters: bad host in '%.*s'", len, b);
            return -1;
        }
        for (size_t i = 0; i < *n; i++)
            if (out[i].id == (int32_t)id) {
                snprintf(err, errsz, "controller.quorum.voters: voter %" PRId64 " is listed twice",
                         id);
                return -1;
            }
        if (*n == max) {
            snprintf(err, errsz, "controller.quorum.voters: more than %zu voters", max);
            return -1;
        }
        kraft_voter_t *v = &out[(*n)++];
        memset(v, 0, sizeof *v);
        v->id = (int32_t)id;
        memcpy(v->host, h, (size_t)(he - h));
        v->host[he - h] = '\0';
        v->port = (int)port;
        if (!*e)
            return 0;
        p = e + 1;
    }
}

/* ---- quorum-state ---------------------------------------------------------------- */

/* A minimal JSON reader: enough for QuorumStateData, and it skips any other
 * key so files written by newer versions still read. */
typedef struct jr {
    const char *p, *end;
    int depth;
} jr_t;

static void jws(jr_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int jlit(jr_t *j, char c)
{
    jws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return 1;
    }
    return 0;
}

/* A string; [*s, *e) gets its raw (still escaped) contents. */
static int jstr(jr_t *j, const char **s, const char **e)
{
    if (!jlit(j, '"'))
        return -1;
    *s = j->p;
    while (j->p < j->end && *j->p != '"') {
        if ((unsigned char)*j->p < 0x20)
            return -1;
        if (*j->p == '\\' && ++j->p >= j->end)
            return -1;
        j->p++;
    }
    if (j->p >= j->end)
        return -1;
    *e = j->p++;
    return 0;
}

static int jint(jr_t *j, int64_t min, int64_t max, int64_t *out)
{
    jws(j);
    const char *s = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return parse_int(s, j->p, min, max, out);
}

static int jskip(jr_t *j)
{
    const char *s, *e;
    jws(j);
    if (j->p >= j->end || ++j->depth > 32)
        return -1;
    int rc = 0;
    char c = *j->p;
    if (c == '"') {
        rc = jstr(j, &s, &e);
    } else if (c == '{' || c == '[') {
        j->p++;
        char close = c == '{' ? '}' : ']';
        if (!jlit(j, close)) {
            do {
                if (c == '{' && (jstr(j, &s, &e) < 0 || !jlit(j, ':')))
                    return -1;
                if (jskip(j) < 0)
                    return -1;
            } while (jlit(j, ','));
            rc = jlit(j, close) ? 0 : -1;
        }
    } else {
        /* number, true, false, null */
        s = j->p;
        while (j->p < j->end && (isalnum((unsigned char)*j->p) || strchr("+-.", *j->p)))
            j->p++;
        rc = j->p > s ? 0 : -1;
    }
    j->depth--;
    return rc;
}

static int key_is(const char *s, const char *e, const char *k)
{
    return (size_t)(e - s) == strlen(k) && memcmp(s, k, (size_t)(e - s)) == 0;
}

static int read_voters(jr_t *j, kraft_qstate_t *qs)
{
    qs->nvoters = 0;
    if (!jlit(j, '['))
        return -1;
    if (jlit(j, ']'))
        return 0;
    do {
        int have_id = 0;
        const char *s, *e;
        if (!jlit(j, '{'))
            return -1;
        if (!jlit(j, '}')) {
            do {
                if (jstr(j, &s, &e) < 0 || !jlit(j, ':'))
                    return -1;
                int64_t v;
                if (key_is(s, e, "voterId")) {
                    if (jint(j, 0, INT32_MAX, &v) < 0 || qs->nvoters == KRAFT_MAX_VOTERS)
                        return -1;
                    qs->voters[qs->nvoters++] = (int32_t)v;
                    have_id = 1;
                } else if (jskip(j) < 0) {
                    return -1;
                }
            } while (jlit(j, ','));
            if (!jlit(j, '}'))
                return -1;
        }
        if (!have_id)
            return -1;
    } while (jlit(j, ','));
    return jlit(j, ']') ? 0 : -1;
}

void kraft_qstate_init(kraft_qstate_t *qs)
{
    memset(qs, 0, sizeof *qs);
    qs->leader_id = -1;
    qs->leader_epoch = 0;
    qs->voted_id = -1;
}

int kraft_qstate_read(const char *path, kraft_qstate_t *qs, char *err, size_t errsz)
{
    int missing;
    kraft_qstate_init(qs);
    char *buf = slurp(path, &missing, err, errsz);
    if (!buf)
        return missing ? 0 : -1;
    jr_t j = {buf, buf + strlen(buf), 0};
    unsigned seen = 0; /* 1 leaderId, 2 leaderEpoch, 4 votedId, 8 data_version */
    const char *what = "not a JSON object";
    if (!jlit(&j, '{'))
        goto bad;
    if (!jlit(&j, '}')) {
        do {
            const char *s, *e;
            int64_t v;
            what = "malformed JSON";
            if (jstr(&j, &s, &e) < 0 || !jlit(&j, ':'))
                goto bad;
            what = "bad value";
            if (key_is(s, e, "leaderId")) {
                if (jint(&j, -1, INT32_MAX, &v) < 0)
                    goto bad;
                qs->leader_id = (int32_t)v;
                seen |= 1;
            } else if (key_is(s, e, "leaderEpoch")) {
                if (jint(&j, -1, INT32_MAX, &v) < 0)
                    goto bad;
                qs->leader_epoch = (int32_t)v;
                seen |= 2;
            } else if (key_is(s, e, "votedId")) {
                if (jint(&j, -1, INT32_MAX, &v) < 0)
                    goto bad;
                qs->voted_id = (int32_t)v;
                seen |= 4;
            } else if (key_is(s, e, "appliedOffset")) {
                if (jint(&j, -1, INT64_MAX, &v) < 0)
                    goto bad;
                qs->applied_offset = v;
            } else if (key_is(s, e, "data_version")) {
                if (jint(&j, 0, 1, &v) < 0) {
                    what = "unsupported data_version";
                    goto bad;
                }
                qs->data_version = (int)v;
                seen |= 8;
            } else if (key_is(s, e, "currentVoters")) {
                if (read_voters(&j, qs) < 0)
                    goto bad;
            } else if (jskip(&j) < 0) { /* clusterId, votedDirectoryId, newer keys */
                goto bad;
            }
        } while (jlit(&j, ','));
        what = "malformed JSON";
        if (!jlit(&j, '}'))
            goto bad;
    }
    jws(&j);
    if (j.p != j.end) {
        what = "trailing bytes after the JSON object";
        goto bad;
    }
    if ((seen & 15) != 15) {
        what = "leaderId, leaderEpoch, votedId or data_version missing";
        goto bad;
    }
    free(buf);
    return 1;
bad:
    snprintf(err, errsz,
             "%s is corrupt (%s at byte %td); the node's Raft epoch and vote are unknown",
             path, what, j.p - buf);
    free(buf);
    return -1;
}

int kraft_qstate_write(const char *path, const kraft_qstate_t *qs, char *err, size_t errsz)
{
    char buf[256 + KRAFT_MAX_VOTERS * 24];
    int n = snprintf(buf, sizeof buf,
                     "{\"clusterId\":\"\",\"leaderId\":%" PRId32 ",\"leaderEpoch\":%" PRId32
                     ",\"votedId\":%" PRId32 ",\"appliedOffset\":%" PRId64 ",\"currentVoters\":[",
                     qs->leader_id, qs->leader_epoch, qs->voted_id, qs->applied_offset);
    for (size_t i = 0; i < qs->nvoters && i < KRAFT_MAX_VOTERS; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%s{\"voterId\":%" PRId32 "}",
                      i ? "," : "", qs->voters[i]);
    n += snprintf(buf + n, sizeof buf - (size_t)n, "],\"data_version\":0}");
    return kraft_write_file_atomic(path, buf, (size_t)n, err, errsz);
}

/* ---- meta.properties ------------------------------------------------------------ */

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* A random version-4 UUID in Kafka's text form: base64url, no padding.
 * Like Kafka, ids starting with '-' are avoided (they read as options). */
int kraft_new_cluster_id(char out[KRAFT_CLUSTER_ID_LEN + 1], char *err, size_t errsz)
{
    uint8_t u[16];
    do {
        size_t got = 0;
        while (got < sizeof u) {
            ssize_t r = getrandom(u + got, sizeof u - got, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                snprintf(err, errsz, "getrandom: %s", strerror(errno));
                return -1;
            }
            got += (size_t)r;
        }
        u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
        u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
        size_t o = 0;
        for (size_t i = 0; i < 16; i += 3) {
            uint32_t v = (uint32_t)u[i] << 16;
            if (i + 1 < 16)
                v |= (uint32_t)u[i + 1] << 8;
            if (i + 2 < 16)
                v |= u[i + 2];
            out[o++] = b64url[(v >> 18) & 63];
            out[o++] = b64url[(v >> 12) & 63];
            if (i + 1 < 16)
                out[o++] = b64url[(v >> 6) & 63];
            if (i + 2 < 16)
                out[o++] = b64url[v & 63];
        }
        out[o] = '\0';
    } while (out[0] == '-');
    return 0;
}

int kraft_valid_cluster_id(const char *s, size_t len)
{
    if (len != KRAFT_CLUSTER_ID_LEN)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!memchr(b64url, s[i], 64))
            return 0;
    return 1;
}

int kraft_meta_props_write(const char *dir, int32_t node_id, const char *cluster_id, char *err,
                           size_t errsz)
{
    char path[4096], text[160];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, KRAFT_META_PROPERTIES) >= sizeof path) {
        snprintf(err, errsz, "metadata.log.dir is too long");
        return -1;
    }
    int n = snprintf(text, sizeof text,
                     "#\n# written by odradek's kraft module\nversion=1\ncluster.id=%s\n"
                     "node.id=%" PRId32 "\n",
                     cluster_id, node_id);
    return kraft_write_file_atomic(path, text, (size_t)n, err, errsz);
}

int kraft_meta_props_load(const char *dir, int32_t node_id,
                          char cluster_id[KRAFT_CLUSTER_ID_LEN + 1], int *created, char *err,
                          size_t errsz)
{
    char path[4096];
    int missing;
    *created = 0;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, KRAFT_META_PROPERTIES) >= sizeof path) {
        snprintf(err, errsz, "metadata.log.dir is too long");
        return -1;
    }
    char *buf = slurp(path, &missing, err, errsz);
    if (!buf && !missing)
        return -1;
    if (!buf) {
        if (kraft_new_cluster_id(cluster_id, err, errsz) < 0 ||
            kraft_meta_props_write(dir, node_id, cluster_id, err, errsz) < 0)
            return -1;
        *created = 1;
        return 0;
    }
    int64_t version = -1, nid = -1;
    int have_cluster = 0;
    for (char *line = buf, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *e = line + strlen(line);
        while (e > line && isspace((unsigned char)e[-1]))
            *--e = '\0';
        while (isspace((unsigned char)*line))
            line++;
        if (!*line || *line == '#' || *line == '!')
            continue;
        char *eq = strchr(line, '=');
        if (!eq) {
            snprintf(err, errsz, "%s: line '%.60s' is not key=value", path, line);
            goto fail;
        }
        char *k = line, *ke = eq, *v = eq + 1;
        while (ke > k && isspace((unsigned char)ke[-1]))
            ke--;
        while (isspace((unsigned char)*v))
            v++;
        *ke = '\0';
        const char *ve = v + strlen(v);
        if (strcmp(k, "version") == 0) {
            if (parse_int(v, ve, 0, INT32_MAX, &version) < 0)
                version = -2;
        } else if (strcmp(k, "node.id") == 0) {
            if (parse_int(v, ve, 0, INT32_MAX, &nid) < 0) {
                snprintf(err, errsz, "%s: bad node.id '%.40s'", path, v);
                goto fail;
            }
        } else if (strcmp(k, "cluster.id") == 0) {
            if (!kraft_valid_cluster_id(v, (size_t)(ve - v))) {
                snprintf(err, errsz, "%s: bad cluster.id '%.40s' (want 22 base64url chars)",
                         path, v);
                goto fail;
            }
            memcpy(cluster_id, v, KRAFT_CLUSTER_ID_LEN + 1);
            have_cluster = 1;
        }
    }
    if (version != 1) {
        snprintf(err, errsz, "%s: version must be 1 (a KRaft node), found %s", path,
                 version == -1 ? "none" : "another");
        goto fail;
    }
    if (!have_cluster || nid < 0) {
        snprintf(err, errsz, "%s: cluster.id or node.id missing", path);
        goto fail;
    }
    if (nid != node_id) {
        snprintf(err, errsz,
                 "%s belongs to node.id=%" PRId64 " but this broker has node.id=%" PRId32
                 "; refusing to take over another node's metadata (fix node.id or the directory)",
                 path, nid, node_id);
        goto fail;
    }
    free(buf);
    return 0;
fail:
    free(buf);
    return -1;
}
