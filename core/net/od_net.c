/* od_net.c - listener parsing, binding and accepting. */
#include "od_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "od_conn.h"
#include "od_core.h"
#include "od_tls.h"

/* Kafka's SecurityProtocol names, by id (OD_SECPROTO_*). */
static const char *const secproto_names[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};

/* controller.listener.names, set once from the settings before any
 * listener is parsed (od_net_set_controller_names). */
static char controller_names[512];

/* Is `name` one of the comma separated names of `list`? */
static int in_list(const char *list, const char *name, size_t len, const char **value)
{
    for (const char *p = list; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ':' && *e != ' ')
            e++;
        const char *v = NULL;
        if (*e == ':')
            v = e + 1;
        if ((size_t)(e - p) == len && len && memcmp(p, name, len) == 0) {
            if (value)
                *value = v;
            return 1;
        }
        p = e;
        while (*p && *p != ',')
            p++;
    }
    return 0;
}

int od_net_set_controller_names(const char *controllers, char *err, size_t errsz)
{
    if (controllers && strlen(controllers) >= sizeof(controller_names)) {
        snprintf(err, errsz, "controller.listener.names is too long");
        return -1;
    }
    snprintf(controller_names, sizeof(controller_names), "%s", controllers ? controllers : "");
    return 0;
}

int od_net_is_controller_listener(const char *name)
{
    return in_list(controller_names, name, strlen(name), NULL);
}

/* The protocol of listener `name` in listener.security.protocol.map
 * ("NAME:PROTOCOL,..."), as Kafka: a name missing from the map is an error.
 * Returns OD_SECPROTO_* or -1 with a reason. */
static int protocol_of(const char *name, const char *map, char *why, size_t whysz)
{
    const char *p = map ? map : "";
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        if (!len)
            break;
        const char *colon = memchr(p, ':', len);
        if (!colon || colon == p) {
            snprintf(why, whysz, "listener.security.protocol.map: '%.*s' is not NAME:PROTOCOL",
                     (int)len, p);
            return -1;
        }
        size_t nl = (size_t)(colon - p), pl = len - nl - 1;
        while (pl && colon[pl] == ' ')
            pl--;
        if (nl == strlen(name) && strncmp(p, name, nl) == 0) {
            for (int i = 0; i < 4; i++)
                if (strlen(secproto_names[i]) == pl && strncmp(colon + 1, secproto_names[i], pl) == 0)
                    return i;
            snprintf(why, whysz, "listener.security.protocol.map: '%.*s' is not a security "
                     "protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)", (int)pl, colon + 1);
            return -1;
        }
        p += len;
    }
    if (od_net_is_controller_listener(name))
        return OD_SECPROTO_PLAINTEXT; /* as Kafka: a controller listener missing from the map */
    snprintf(why, whysz, "no security protocol for listener %s in listener.security.protocol.map",
             name);
    return -1;
}

const char *od_secproto_name(int p) { return p >= 0 && p < 4 ? secproto_names[p] : "?"; }

int od_listeners_parse(const char *text, const char *protocol_map, od_listen_spec_t *out,
                       size_t max, char *err, size_t errsz)
{
    size_t n = 0;
    const char *p = text;
    while (p && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[400];
        if (len >= sizeof(item)) {
            snprintf(err, errsz, "listener '%.40s...' is too long", p);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = 0;
        while (len && item[len - 1] == ' ')
            item[--len] = 0;
        p = end ? end + 1 : NULL;
        if (n == max) {
            snprintf(err, errsz, "more than %zu listeners", max);
            return -1;
        }
        od_listen_spec_t *s = &out[n];
        memset(s, 0, sizeof(*s));
        char *sep = strstr(item, "://");
        if (!sep || sep == item || (size_t)(sep - item) >= sizeof(s->name)) {
            snprintf(err, errsz, "listener '%s' is not NAME://host:port", item);
            return -1;
        }
        memcpy(s->name, item, (size_t)(sep - item));
        char *hp = sep + 3;
        char *colon;
        if (*hp == '[') {
            char *rb = strchr(hp, ']');
            if (!rb || rb[1] != ':') {
                snprintf(err, errsz, "listener '%s': bad IPv6 address", item);
                return -1;
            }
            *rb = 0;
            snprintf(s->host, sizeof(s->host), "%s", hp + 1);
            colon = rb + 1;
        } else {
            colon = strrchr(hp, ':');
            if (!colon) {
                snprintf(err, errsz, "listener '%s' has no port", item);
                return -1;
            }
            *colon = 0;
            snprintf(s->host, sizeof(s->host), "%s", hp);
        }
        char *pe;
        long port = strtol(colon + 1, &pe, 10);
        if (*pe || colon[1] == 0 || port < 0 || port > 65535) {
            snprintf(err, errsz, "listener '%s': port '%s' is not 0-65535", item, colon + 1);
            return -1;
        }
        s->port = (int)port;
        char why[300];
        int proto = protocol_of(s->name, protocol_map, why, sizeof(why));
        if (proto < 0) {
            snprintf(err, errsz, "listener '%s': %s", item, why);
            return -1;
        }
        s->security_protocol = (int16_t)proto;
        s->controller = od_net_is_controller_listener(s->name);
        for (size_t i = 0; i < n; i++)
            if (strcmp(out[i].name, s->name) == 0) {
                snprintf(err, errsz, "listener name %s is used twice", s->name);
                return -1;
            }
        n++;
    }
    if (n == 0) {
        snprintf(err, errsz, "no listener given");
        return -1;
    }
    return (int)n;
}

/* ---- connection limits (Kafka's max.connections, max.connections.per.ip,
 * max.connections.per.ip.overrides) ---- */

/* The keys have no static targets: od_listeners_open reads them into the
 * broker's od_net_state_t (read_int, parse_overrides). */
static const od_conf_def_t net_defs[] = {
    {"max.connections", OD_CONF_INT, "2147483647", 0, INT32_MAX, NULL,
     "connections the broker holds in all; at the limit it stops accepting until one closes",
     NULL, 0},
    {"max.connections.per.ip", OD_CONF_INT, "2147483647", 0, INT32_MAX, NULL,
     "connections from one IP address; a connection beyond it is closed at once", NULL, 0},
    {"max.connections.per.ip.overrides", OD_CONF_STRING, "", 0, 0, NULL,
     "per-IP exceptions to max.connections.per.ip: ip:count,ip:count (addresses, not names)",
     NULL, 0},
    {"listener.security.protocol.map", OD_CONF_STRING,
     "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL", 0, 0, NULL,
     "security protocol of each listener name: NAME:PROTOCOL,... (PLAINTEXT, SSL, "
     "SASL_PLAINTEXT, SASL_SSL); a controller listener missing here is PLAINTEXT", NULL, 0},
    {"queued.max.request.bytes", OD_CONF_INT, "-1", -1, INT64_MAX, NULL,
     "bytes of requests in flight (frames being read or queued, decoded data, unsent responses) "
     "beyond which the broker stops reading new requests from sockets (-1: no bound)",
     NULL, OD_CONF_F_SIZE},
};
#define NET_DEF_MAX_CONNECTIONS 0
#define NET_DEF_MAX_PER_IP 1
#define NET_DEF_OVERRIDES 2
#define NET_DEF_PROTOCOL_MAP 3
#define NET_DEF_QUEUED_BYTES 4

int od_net_register_config(od_core_t *core, char *err, size_t errsz)
{
    if (od_config_register(&core->config, net_defs, sizeof(net_defs) / sizeof(net_defs[0]), "core",
                           err, errsz) < 0)
        return -1;
    return od_tls_register_config(core, err, errsz);
}

const char *od_net_protocol_map(const od_core_t *core)
{
    return od_config_get(&core->config, net_defs[NET_DEF_PROTOCOL_MAP].name);
}

/* The effective (already validated) value of an integer key. */
static int read_int(const od_core_t *core, int def, int64_t *out, char *err, size_t errsz)
{
    const od_conf_def_t *d = &net_defs[def];
    return od_conf_parse(d, od_config_get(&core->config, d->name), out, err, errsz);
}

struct od_ip_override {
    char host[INET6_ADDRSTRLEN];
    int64_t limit;
};
typedef struct od_ip_override ip_override_t;

struct od_ip_count {
    struct od_ip_count *next;
    int64_t n;
    char host[64];
};
typedef struct od_ip_count ip_count_t;

static size_t ip_hash(const char *h)
{
    uint32_t x = 2166136261u;
    for (; *h; h++)
        x = (x ^ (uint8_t)*h) * 16777619u;
    return x % OD_NET_IP_BUCKETS;
}

static ip_count_t **ip_find(od_net_state_t *ns, const char *host)
{
    ip_count_t **pp = &ns->ip_table[ip_hash(host)];
    while (*pp && strcmp((*pp)->host, host) != 0)
        pp = &(*pp)->next;
    return pp;
}

static int64_t ip_limit(const od_net_state_t *ns, const char *host)
{
    for (size_t i = 0; i < ns->noverrides; i++)
        if (strcmp(ns->overrides[i].host, host) == 0)
            return ns->overrides[i].limit;
    return ns->max_per_ip;
}

/* "ip:count,ip:count"; an IPv6 address may be written bare or in []. */
static int parse_overrides(od_net_state_t *ns, const char *text, char *why, size_t whysz)
{
    free(ns->overrides);
    ns->overrides = NULL;
    ns->noverrides = 0;
    const char *p = text ? text : "";
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, ",");
        char item[128];
        if (len >= sizeof(item)) {
            snprintf(why, whysz, "entry '%.40s...' is too long", p);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = 0;
        p += len;
        while (len && item[len - 1] == ' ')
            item[--len] = 0;
        char *colon = strrchr(item, ':');
        char *end = NULL;
        long long n = colon ? strtoll(colon + 1, &end, 10) : -1;
        if (!colon || colon == item || !colon[1] || *end || n < 0 || n > INT32_MAX) {
            snprintf(why, whysz, "entry '%s' is not ip:count with count in [0, %d]", item, INT32_MAX);
            return -1;
        }
        *colon = 0;
        char *host = item;
        if (host[0] == '[' && colon[-1] == ']') {
            host++;
            colon[-1] = 0;
        }
        unsigned char addr[sizeof(struct in6_addr)];
        char canon[INET6_ADDRSTRLEN];
        int fam = strchr(host, ':') ? AF_INET6 : AF_INET;
        if (inet_pton(fam, host, addr) != 1 || !inet_ntop(fam, addr, canon, sizeof(canon))) {
            snprintf(why, whysz, "'%s' is not an IP address (host names are not resolved)", host);
            return -1;
        }
        ip_override_t *no = realloc(ns->overrides, (ns->noverrides + 1) * sizeof(*no));
        if (!no) {
            snprintf(why, whysz, "out of memory");
            return -1;
        }
        ns->overrides = no;
        ip_override_t *o = &ns->overrides[ns->noverrides];
        snprintf(o->host, sizeof(o->host), "%s", canon);
        o->limit = n;
        ns->noverrides++;
    }
    return 0;
}

static void on_accept(void *arg, int fd, uint32_t events);

/* Accepting is on unless the listener backs off or the broker is full;
 * a broker's (not controller) listeners start once the image has caught
 * up with the cluster (core->caught_up): the connections made before wait
 * in the kernel's backlog. */
static void listener_watch(od_core_t *core, od_listener_t *l)
{
    int want = l->fd >= 0 && !l->backoff_timer && !core->net->full_paused && !core->stopping &&
               (l->spec.controller || core->caught_up);
    if (want && !l->watching) {
        if (od_loop_watch(core->loop, l->fd, OD_LOOP_READ, on_accept, l) == 0)
            l->watching = 1;
    } else if (!want && l->watching) {
        od_loop_unwatch(core->loop, l->fd);
        l->watching = 0;
    }
}

static void set_full(od_core_t *core, int full)
{
    od_net_state_t *ns = core->net;
    if (ns->full_paused == full)
        return;
    ns->full_paused = full;
    if (full)
        od_logf(OD_LOG_WARN, "%zu connections open (max.connections=%lld): not accepting until one "
                "closes", core->nconns, (long long)ns->max_connections);
    for (size_t i = 0; i < core->nlisteners; i++)
        listener_watch(core, &core->listeners[i]);
}

void od_net_listeners_rewatch(od_core_t *core)
{
    if (!core->net)
        return;
    for (size_t i = 0; i < core->nlisteners; i++)
        listener_watch(core, &core->listeners[i]);
}

void od_net_conn_gone(od_core_t *core, od_conn_t *c)
{
    od_net_state_t *ns = core->net;
    ip_count_t **pp = ip_find(ns, c->host);
    if (*pp && --(*pp)->n <= 0) {
        ip_count_t *e = *pp;
        *pp = e->next;
        free(e);
    }
    if (ns->full_paused && (int64_t)core->nconns < ns->max_connections)
        set_full(core, 0);
}

#define ACCEPT_BACKOFF_MS 100

static void accept_resume(void *arg)
{
    od_listener_t *l = arg;
    l->backoff_timer = 0;
    listener_watch(l->core, l);
}

/* accept() failed for lack of descriptors or memory: the pending
 * connection stays in the backlog and the listener stays readable, so
 * retrying at once would spin. Stop watching it for a while (as nginx and
 * Kafka do); connections closing meanwhile free descriptors. */
static void accept_backoff(od_core_t *core, od_listener_t *l, int err)
{
    int64_t now = od_mono_ms();
    if (now - core->net->accept_log_ms >= 10000) {
        core->net->accept_log_ms = now;
        od_logf(OD_LOG_WARN, "listener %s: accept: %s (%zu connections open); not accepting for "
                "%d ms", l->spec.name, strerror(err), core->nconns, ACCEPT_BACKOFF_MS);
    }
    int64_t t = od_loop_timer(core->loop, ACCEPT_BACKOFF_MS, accept_resume, l);
    if (t > 0) {
        l->backoff_timer = t;
        listener_watch(core, l);
    }
}

static void refuse(od_net_state_t *ns, const char *host, const char *peer, int64_t limit)
{
    int64_t now = od_mono_ms();
    if (now - ns->refuse_log_ms < 1000) {
        ns->refused_unlogged++;
        return;
    }
    od_logf(OD_LOG_WARN, "refused connection from %s: %s already has max.connections.per.ip=%lld "
            "connections (%lld more refused since the last message)", peer, host,
            (long long)limit, (long long)ns->refused_unlogged);
    ns->refuse_log_ms = now;
    ns->refused_unlogged = 0;
}

static void on_accept(void *arg, int fd, uint32_t events)
{
    od_listener_t *l = arg;
    od_core_t *core = l->core;
    od_net_state_t *ns = core->net;
    for (int i = 0; i < 64; i++) {
        if ((int64_t)core->nconns >= ns->max_connections) {
            set_full(core, 1);
            return;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int c = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            int e = errno;
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM)
                accept_backoff(core, l, e);
            else if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR && e != ECONNABORTED)
                od_logf(OD_LOG_WARN, "listener %s: accept: %s", l->spec.name, strerror(e));
            return;
        }
        char peer[INET6_ADDRSTRLEN + 8] = "?";
        char host[INET6_ADDRSTRLEN] = "?";
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
            snprintf(peer, sizeof(peer), "%s:%d", host, ntohs(a->sin_port));
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
            snprintf(peer, sizeof(peer), "[%s]:%d", host, ntohs(a->sin6_port));
        }
        ip_count_t **pp = ip_find(ns, host);
        int64_t limit = ip_limit(ns, host);
        if ((*pp ? (*pp)->n : 0) >= limit) {
            refuse(ns, host, peer, limit);
            close(c);
            continue;
        }
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (core->conf.socket_send_buffer_bytes > 0) {
            int v = (int)core->conf.socket_send_buffer_bytes;
            setsockopt(c, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
        }
        if (core->conf.socket_receive_buffer_bytes > 0) {
            int v = (int)core->conf.socket_receive_buffer_bytes;
            setsockopt(c, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
        }
        if (!*pp) {
            ip_count_t *e = calloc(1, sizeof(*e));
            if (!e) {
                close(c);
                continue;
            }
            snprintf(e->host, sizeof(e->host), "%s", host);
            *pp = e;
        }
        (*pp)->n++;
        if (!od_conn_new(core, c, peer, host, l)) {
            close(c);
            ip_count_t **q = ip_find(ns, host);
            if (*q && --(*q)->n <= 0) {
                ip_count_t *e = *q;
                *q = e->next;
                free(e);
            }
        }
    }
}

static int is_tls(int protocol)
{
    return protocol == OD_SECPROTO_SSL || protocol == OD_SECPROTO_SASL_SSL;
}

int od_listeners_check_tls(od_core_t *core, char *err, size_t errsz)
{
    od_listen_spec_t specs[8];
    int n = od_listeners_parse(core->conf.listeners, od_net_protocol_map(core), specs, 8, err,
                               errsz);
    for (int i = 0; i < n; i++) {
        if (!is_tls(specs[i].security_protocol))
            continue;
        od_tls_ctx_t *t = od_tls_ctx_new(core, specs[i].name, err, errsz);
        if (!t)
            return -1;
        od_tls_ctx_unref(t);
    }
    return n < 0 ? -1 : 0;
}

int od_listeners_open(od_core_t *core, char *err, size_t errsz)
{
    od_listen_spec_t specs[8];
    char why[256], where[4200];
    int tls_logged = 0;
    od_net_state_t *ns = calloc(1, sizeof(*ns));
    if (!ns) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    od_net_free(core);
    core->net = ns;
    if (read_int(core, NET_DEF_MAX_CONNECTIONS, &ns->max_connections, err, errsz) < 0 ||
        read_int(core, NET_DEF_MAX_PER_IP, &ns->max_per_ip, err, errsz) < 0 ||
        read_int(core, NET_DEF_QUEUED_BYTES, &ns->queued_max_request_bytes, err, errsz) < 0)
        return -1;
    const char *otext = od_config_get(&core->config, net_defs[NET_DEF_OVERRIDES].name);
    if (parse_overrides(ns, otext, why, sizeof(why)) < 0) {
        snprintf(err, errsz, "%s: max.connections.per.ip.overrides: %s",
                 od_config_where(&core->config, "max.connections.per.ip.overrides", where,
                                 sizeof(where)),
                 why);
        return -1;
    }
    int n = od_listeners_parse(core->conf.listeners, od_net_protocol_map(core), specs, 8, err,
                               errsz);
    if (n < 0)
        return -1;
    core->listeners = calloc((size_t)n, sizeof(od_listener_t));
    if (!core->listeners) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        od_listener_t *l = &core->listeners[i];
        l->spec = specs[i];
        l->fd = -1;
        struct addrinfo hints = {0}, *ai = NULL;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        char port[16];
        snprintf(port, sizeof(port), "%d", specs[i].port);
        int gai = getaddrinfo(specs[i].host[0] ? specs[i].host : NULL, port, &hints, &ai);
        if (gai != 0) {
            snprintf(err, errsz, "listener %s: cannot resolve '%s': %s", specs[i].name,
                     specs[i].host, gai_strerror(gai));
            return -1;
        }
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd >= 0)
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 511) < 0) {
            snprintf(err, errsz, "listener %s: cannot listen on %s:%d: %s", specs[i].name,
                     specs[i].host[0] ? specs[i].host : "*", specs[i].port, strerror(errno));
            if (fd >= 0)
                close(fd);
            freeaddrinfo(ai);
            return -1;
        }
        freeaddrinfo(ai);
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        l->bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                       : ((struct sockaddr_in *)&ss)->sin_port);
        l->fd = fd;
        l->core = core;
        core->nlisteners++;
        if (is_tls(l->spec.security_protocol)) {
            l->tls = od_tls_ctx_new(core, l->spec.name, err, errsz);
            if (!l->tls)
                return -1;
            if (!tls_logged++)
                od_tls_log_support();
        }
        listener_watch(core, l);
        if (!l->watching && (l->spec.controller || core->caught_up)) {
            snprintf(err, errsz, "listener %s: cannot watch socket", specs[i].name);
            return -1;
        }
        od_logf(OD_LOG_INFO, "listening on %s://%s:%d", l->spec.name,
                l->spec.host[0] ? l->spec.host : "*", l->bound_port);
    }
    return 0;
}

/* The overrides and the per-IP counts (no connection is accepted after the
 * listeners close; those still open find no entry when they go). */
static void clear_tables(od_net_state_t *ns)
{
    free(ns->overrides);
    ns->overrides = NULL;
    ns->noverrides = 0;
    for (size_t i = 0; i < OD_NET_IP_BUCKETS; i++)
        while (ns->ip_table[i]) {
            ip_count_t *e = ns->ip_table[i];
            ns->ip_table[i] = e->next;
            free(e);
        }
}

void od_listeners_close(od_core_t *core)
{
    for (size_t i = 0; i < core->nlisteners; i++) {
        od_listener_t *l = &core->listeners[i];
        if (l->backoff_timer)
            od_loop_cancel(core->loop, l->backoff_timer);
        l->backoff_timer = 0;
        if (l->fd >= 0) {
            if (l->watching)
                od_loop_unwatch(core->loop, l->fd);
            l->watching = 0;
            close(l->fd);
            l->fd = -1;
        }
        od_tls_ctx_unref(l->tls); /* connections made from it hold their own reference */
        l->tls = NULL;
    }
    if (core->net)
        clear_tables(core->net);
    free(core->listeners);
    core->listeners = NULL;
    core->nlisteners = 0;
}

void od_net_free(od_core_t *core)
{
    if (!core->net)
        return;
    clear_tables(core->net);
    free(core->net);
    core->net = NULL;
}

int od_listeners_advertised(od_core_t *core, od_endpoint_t *out, size_t max, size_t *n, char *err,
                            size_t errsz)
{
    od_listen_spec_t specs[8];
    const char *text = core->conf.advertised_listeners && *core->conf.advertised_listeners
                           ? core->conf.advertised_listeners
                           : core->conf.listeners;
    int k = od_listeners_parse(text, od_net_protocol_map(core), specs, max < 8 ? max : 8, err,
                               errsz);
    if (k < 0)
        return -1;
    *n = 0;
    for (int i = 0; i < k; i++) {
        char host[256];
        if (specs[i].controller)
            continue; /* as Kafka: controller listeners are not broker endpoints */
        snprintf(host, sizeof(host), "%s", specs[i].host);
        if (host[0] == 0 || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
            /* Kafka advertises the machine's name for a wildcard listener. */
            if (gethostname(host, sizeof(host)) < 0)
                snprintf(host, sizeof(host), "localhost");
            host[sizeof(host) - 1] = 0;
        }
        int port = specs[i].port;
        for (size_t j = 0; port == 0 && j < core->nlisteners; j++)
            if (strcmp(core->listeners[j].spec.name, specs[i].name) == 0)
                port = core->listeners[j].bound_port;
        out[*n].name = strdup(specs[i].name);
        out[*n].host = strdup(host);
        out[*n].port = port;
        out[*n].security_protocol = specs[i].security_protocol;
        (*n)++;
    }
    return 0;
}

void od_listeners_advertised_free(od_endpoint_t *eps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(eps[i].name);
        free(eps[i].host);
    }
}
