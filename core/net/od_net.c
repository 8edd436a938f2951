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

static int16_t protocol_of(const char *name)
{
    /* listener.security.protocol.map arrives with TLS/SASL; until then a
     * listener's name is its protocol and only PLAINTEXT exists. */
    if (strcmp(name, "PLAINTEXT") == 0)
        return 0;
    return -1;
}

int od_listeners_parse(const char *text, od_listen_spec_t *out, size_t max, char *err,
                       size_t errsz)
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
        s->security_protocol = protocol_of(s->name);
        if (s->security_protocol < 0) {
            snprintf(err, errsz,
                     "listener '%s': security protocol %s is not supported yet (only PLAINTEXT)",
                     item, s->name);
            return -1;
        }
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

static void on_accept(void *arg, int fd, uint32_t events)
{
    od_listener_t *l = arg;
    od_core_t *core = l->core;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int c = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                od_logf(OD_LOG_WARN, "listener %s: accept: %s", l->spec.name, strerror(errno));
            return;
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
        if (!od_conn_new(core, c, peer, l))
            close(c);
    }
}

int od_listeners_open(od_core_t *core, char *err, size_t errsz)
{
    od_listen_spec_t specs[8];
    int n = od_listeners_parse(core->conf.listeners, specs, 8, err, errsz);
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
        if (od_loop_watch(core->loop, fd, OD_LOOP_READ, on_accept, l) < 0) {
            snprintf(err, errsz, "listener %s: cannot watch socket", specs[i].name);
            return -1;
        }
        od_logf(OD_LOG_INFO, "listening on %s://%s:%d", l->spec.name,
                l->spec.host[0] ? l->spec.host : "*", l->bound_port);
    }
    return 0;
}

void od_listeners_close(od_core_t *core)
{
    for (size_t i = 0; i < core->nlisteners; i++) {
        if (core->listeners[i].fd >= 0) {
            od_loop_unwatch(core->loop, core->listeners[i].fd);
            close(core->listeners[i].fd);
            core->listeners[i].fd = -1;
        }
    }
    free(core->listeners);
    core->listeners = NULL;
    core->nlisteners = 0;
}

int od_listeners_advertised(od_core_t *core, od_endpoint_t *out, size_t max, size_t *n, char *err,
                            size_t errsz)
{
    od_listen_spec_t specs[8];
    const char *text = core->conf.advertised_listeners && *core->conf.advertised_listeners
                           ? core->conf.advertised_listeners
                           : core->conf.listeners;
    int k = od_listeners_parse(text, specs, max < 8 ? max : 8, err, errsz);
    if (k < 0)
        return -1;
    *n = 0;
    for (int i = 0; i < k; i++) {
        char host[256];
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
        out[i].name = strdup(specs[i].name);
        out[i].host = strdup(host);
        out[i].port = port;
        out[i].security_protocol = specs[i].security_protocol;
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
