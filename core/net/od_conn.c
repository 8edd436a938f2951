/* od_conn.c - connection I/O. */
#include "od_conn.h"
#include "od_envelope.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "od_core.h"
#include "od_dispatch.h"
#include "od_ext.h"
#include "od_metrics.h"
#include "od_net.h"
#include "od_tls.h"
#include "od_sasl.h"

#define OD_RBUF_MIN (64 * 1024)
#define OD_IOV_MAX 64
#define OD_FLUSH_MAX_CALLS 256
#define OD_FLUSH_MAX_BYTES (8u << 20)

static void on_event(void *arg, int fd, uint32_t ev);
static void resume_reading(void *arg);

/* ---- memory in flight (queued.max.request.bytes) ----
 * Counted: frames being read (from the moment their size is known, their
 * whole announced size, as Kafka's memory pool does), and for each request
 * in flight its frame copy, decoded data and unsent response bytes. Over
 * the bound, connections stop reading new frames; a frame already begun is
 * read to its end, so what is counted can always drain. The totals are the
 * broker's (core->net: inflight, mem_waiters, mem_timer). */

size_t od_conn_inflight_bytes(const od_core_t *core) { return core->net ? core->net->inflight : 0; }

static int mem_over(const od_net_state_t *ns)
{
    return ns->queued_max_request_bytes > 0 &&
           ns->inflight >= (size_t)ns->queued_max_request_bytes;
}

static void mem_unwait(od_conn_t *c)
{
    if (!c->mem_waiting)
        return;
    if (c->mem_prev)
        c->mem_prev->mem_next = c->mem_next;
    else
        c->core->net->mem_waiters = c->mem_next;
    if (c->mem_next)
        c->mem_next->mem_prev = c->mem_prev;
    c->mem_prev = c->mem_next = NULL;
    c->mem_waiting = 0;
}

static void update_watch(od_conn_t *c);

static void mem_resume(void *arg)
{
    od_net_state_t *ns = ((od_core_t *)arg)->net;
    ns->mem_timer = 0;
    while (ns->mem_waiters && !mem_over(ns)) {
        od_conn_t *c = ns->mem_waiters;
        mem_unwait(c);
        update_watch(c);
        if (!c->resume_timer)
            c->resume_timer = od_loop_timer(c->core->loop, 0, resume_reading, c);
    }
}

/* Move *slot to now in core's totals (c: the connection, NULL once the
 * request is orphaned); a drop below the bound wakes waiters. */
static void charge(od_core_t *core, od_conn_t *c, size_t *slot, size_t now, int on_conn)
{
    od_net_state_t *ns = core->net;
    ns->inflight = ns->inflight - *slot + now;
    if (c && on_conn)
        c->req_bytes = c->req_bytes - *slot + now;
    int dropped = now < *slot;
    *slot = now;
    if (dropped && ns->mem_waiters && !ns->mem_timer && !mem_over(ns)) {
        ns->mem_timer = od_loop_timer(core->loop, 0, mem_resume, core);
        if (ns->mem_timer < 0) { /* no timer: wake them now (never inside a flush of theirs) */
            ns->mem_timer = 0;
            for (od_conn_t *w = ns->mem_waiters; w; w = w->mem_next)
                w->mem_waiting = 0;
            while (ns->mem_waiters) {
                od_conn_t *w = ns->mem_waiters;
                ns->mem_waiters = w->mem_next;
                w->mem_prev = w->mem_next = NULL;
                update_watch(w);
            }
        }
    }
}

static void charge_read(od_conn_t *c)
{
    size_t now = c->rlen >= 4 && c->rneed > c->rlen ? c->rneed : c->rlen;
    charge(c->core, c, &c->rcharged, now, 0);
}

void od_req_account(od_req_t *r)
{
    size_t n = r->arena.used_total + (r->frame_copy ? r->frame_len : 0);
    for (size_t i = 0; i < r->resp.nsegs; i++)
        if (r->resp.segs[i].kind == OD_SEG_OWNED)
            n += r->resp.segs[i].len;
    charge(r->core, r->conn, &r->charged, n, 1);
}

static void update_watch(od_conn_t *c)
{
    uint32_t ev = 0;
    if (!c->read_paused && !c->mem_waiting)
        ev |= OD_LOOP_READ;
    if (c->write_blocked)
        ev |= OD_LOOP_WRITE;
    ev |= c->xport->wants(c);
    od_loop_watch(c->core->loop, c->fd, ev, on_event, c);
}

od_conn_t *od_conn_new(od_core_t *core, int fd, const char *peer, const char *host,
                       struct od_listener *l)
{
    od_conn_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->core = core;
    c->listener = l;
    c->fd = fd;
    c->xport = &od_transport_plain;
    c->id = ++core->next_conn_id;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    snprintf(c->host, sizeof(c->host), "%s", host);
    c->last_active_ms = od_mono_ms();
    c->client.struct_size = sizeof(c->client);
    c->client.conn_id = c->id;
    c->client.listener = l ? l->spec.name : "";
    c->client.security_protocol = l ? l->spec.security_protocol : OD_SECPROTO_PLAINTEXT;
    c->client.peer = c->peer;
    c->client.host = c->host;
    c->client.principal = "User:ANONYMOUS";
    if (l && l->tls && od_tls_conn_start(c, l->tls) < 0) {
        free(c);
        return NULL;
    }
    if (od_loop_watch(core->loop, fd, OD_LOOP_READ, on_event, c) < 0) {
        c->xport->close(c);
        free(c);
        return NULL;
    }
    c->next = core->conns;
    if (core->conns)
        core->conns->prev = c;
    core->conns = c;
    core->nconns++;
    od_logf(OD_LOG_DEBUG, "connection %llu from %s", (unsigned long long)c->id, c->peer);
    if (od_event_wanted(core, OD_EVENT_CONN_OPENED)) {
        char reason[256] = "";
        od_ev_conn_t ev = {sizeof(ev), &c->client, NULL, reason, sizeof(reason)};
        const char *who;
        if (od_event_fire(core, OD_EVENT_CONN_OPENED, &ev, &who) == OD_DENY) {
            reason[sizeof(reason) - 1] = 0;
            od_logf(OD_LOG_INFO, "connection %llu from %s on %s denied by module %s: %s",
                    (unsigned long long)c->id, c->peer, c->client.listener, who,
                    reason[0] ? reason : "no reason given");
            /* Still a connection to the caller: closed, freed on the next turn. */
            od_conn_close(c, "denied when opened");
        }
    }
    return c;
}

int od_conn_set_principal(od_conn_t *c, const char *principal, const char *mechanism,
                          int64_t expiry_ms)
{
    char *p = strdup(principal ? principal : "User:ANONYMOUS");
    char *m = mechanism ? strdup(mechanism) : NULL;
    if (!p || (mechanism && !m)) {
        free(p);
        free(m);
        return OD_ERR_NOMEM;
    }
    free(c->principal);
    free(c->sasl_mechanism);
    c->principal = p;
    c->sasl_mechanism = m;
    c->client.principal = p;
    c->client.sasl_mechanism = m;
    c->client.session_expiry_ms = expiry_ms > 0 ? expiry_ms : 0;
    return OD_OK;
}

void od_conn_set_client_id(od_conn_t *c, const char *id, int len)
{
    if (len < 0 || !id) {
        c->client.client_id = NULL;
        return;
    }
    /* Clients send the same id on every request: copy only a change. */
    if (c->client_id && c->client_id_len == (size_t)len &&
        memcmp(c->client_id, id, (size_t)len) == 0) {
        c->client.client_id = c->client_id;
        return;
    }
    char *n = malloc((size_t)len + 1);
    if (!n) {
        c->client.client_id = NULL; /* stale would be worse than none */
        return;
    }
    memcpy(n, id, (size_t)len);
    n[len] = 0;
    free(c->client_id);
    c->client_id = n;
    c->client_id_len = (size_t)len;
    c->client.client_id = n;
}

void od_req_free(od_req_t *r)
{
    charge(r->core, r->conn, &r->charged, 0, 1);
    od_wbuf_free(&r->resp);
    od_arena_free(&r->arena);
    free(r->frame_copy);
    free(r->envelope);
    free(r);
}

const od_client_t *od_req_client(const od_req_t *r)
{
    if (r->client)
        return r->client;
    return r->conn ? &r->conn->client : NULL;
}

/* Closed connections wait on core->closed_conns until the next loop turn
 * frees them; shutdown frees whatever is still waiting. */
static void conn_free_later(void *arg)
{
    od_conn_t *c = arg;
    od_core_t *core = c->core;
    if (c->prev)
        c->prev->next = c->next;
    else if (core->closed_conns == c)
        core->closed_conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->rbuf);
    free(c->principal);
    free(c->sasl_mechanism);
    free(c->client_id);
    free(c);
}

void od_conn_free_closed(od_core_t *core)
{
    while (core->closed_conns)
        conn_free_later(core->closed_conns);
}

/* Closing releases the socket and the queue at once but frees the struct
 * on the next loop turn, so callers up the stack may still look at
 * c->closing. */
void od_conn_close(od_conn_t *c, const char *why)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (why)
        od_logf(OD_LOG_DEBUG, "connection %llu from %s closed: %s", (unsigned long long)c->id,
                c->peer, why);
    od_core_t *core = c->core;
    if (od_event_wanted(core, OD_EVENT_CONN_CLOSED)) {
        char reason[8];
        od_ev_conn_t ev = {sizeof(ev), &c->client, why ? why : "closed", reason, sizeof(reason)};
        od_event_fire(core, OD_EVENT_CONN_CLOSED, &ev, NULL);
    }
    od_loop_unwatch(core->loop, c->fd);
    c->xport->close(c);
    close(c->fd);
    c->fd = -1;
    mem_unwait(c);
    charge(core, c, &c->rcharged, 0, 0);
    od_sasl_conn_closed(c);
    od_req_t *r = c->q_head;
    while (r) {
        od_req_t *n = r->next;
        r->conn = NULL; /* its bytes stay counted in the total until freed */
        r->next = NULL;
        if (r->ready)
            od_req_free(r);
        else if (r->cancel)
            r->cancel(r); /* a waiting request: its handler frees it now */
        /* else a handler still owns it and frees it when it answers */
        r = n;
    }
    c->q_head = c->q_tail = NULL;
    c->nq = 0;
    if (c->resume_timer)
        od_loop_cancel(core->loop, c->resume_timer);
    if (c->prev)
        c->prev->next = c->next;
    else
        core->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    core->nconns--;
    od_net_conn_gone(core, c);
    c->prev = NULL;
    c->next = core->closed_conns;
    if (c->next)
        c->next->prev = c;
    core->closed_conns = c;
    if (core->stopping && !c->in_read) {
        conn_free_later(c); /* shutdown: nothing up the stack uses c */
        return;
    }
    if (od_loop_timer(core->loop, 0, conn_free_later, c) < 0)
        od_logf(OD_LOG_WARN, "connection %llu: freed at shutdown (no timer)", (unsigned long long)c->id);
}

od_req_t *od_req_new(od_conn_t *c)
{
    od_req_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->conn = c;
    r->core = c->core;
    /* Array counts can make decoded data many times larger than the wire
     * bytes; one request may use at most what one frame may be. */
    od_arena_init(&r->arena, (size_t)c->core->conf.socket_request_max_bytes);
    od_wbuf_init(&r->resp);
    r->received_ms = od_mono_ms();
    if (c->q_tail)
        c->q_tail->next = r;
    else
        c->q_head = r;
    c->q_tail = r;
    c->nq++;
    return r;
}

int od_req_keep_frame(od_req_t *r, const uint8_t *frame, size_t len)
{
    if (r->frame_copy)
        return 0;
    r->frame_copy = malloc(len ? len : 1);
    if (!r->frame_copy)
        return -1;
    memcpy(r->frame_copy, frame, len);
    /* Re-point the body slice at the copy. */
    size_t off = (size_t)(r->body.p - frame), left = od_slice_left(&r->body);
    od_slice_init(&r->body, r->frame_copy + off, left);
    return 0;
}

void od_req_done(od_req_t *r)
{
    od_metrics_api_done(r);
    if (r->envelope && od_envelope_finish(r) < 0) {
        od_req_drop(r);
        return;
    }
    uint32_t len = (uint32_t)(r->resp.total - r->len_pos - 4);
    uint8_t be[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    od_wbuf_patch(&r->resp, r->len_pos, be, 4);
    r->ready = 1;
    r->cancel = NULL;
    r->wait = NULL;
    /* Decoded request data is no longer needed once the response exists. */
    od_arena_free(&r->arena);
    free(r->frame_copy);
    r->frame_copy = NULL;
    od_req_account(r);
    if (!r->conn) {
        od_req_free(r);
        return;
    }
    if (r->conn->q_head == r && !r->conn->in_read)
        od_conn_flush(r->conn);
}

static void pop_head(od_conn_t *c)
{
    od_req_t *r = c->q_head;
    c->q_head = r->next;
    if (!c->q_head)
        c->q_tail = NULL;
    c->nq--;
    c->seg_idx = 0;
    od_req_free(r);
}

/* Write ready responses: runs of memory segments go out with writev, file
 * ranges with sendfile. */
void od_conn_flush(od_conn_t *c)
{
    if (c->closing)
        return;
    /* A response of many small file ranges (a fetch of many partitions)
     * costs a system call per range; after a budget, wait for the next
     * writable event so other connections are served in between. */
    int calls = 0;
    size_t sent = 0;
    for (;;) {
        if (calls >= OD_FLUSH_MAX_CALLS || sent >= OD_FLUSH_MAX_BYTES) {
            if (!c->write_blocked) {
                c->write_blocked = 1;
                update_watch(c);
            }
            return;
        }
        od_req_t *r = c->q_head;
        if (!r || !r->ready)
            break;
        if (r->resp.err) {
            od_conn_close(c, "out of memory building a response");
            return;
        }
        struct iovec iov[OD_IOV_MAX];
        int niov = 0;
        /* Collect memory segments across consecutive ready responses. */
        od_req_t *q = r;
        size_t si = c->seg_idx;
        while (q && q->ready && niov < OD_IOV_MAX) {
            int stop = 0;
            for (; si < q->resp.nsegs && niov < OD_IOV_MAX; si++) {
                od_seg_t *s = &q->resp.segs[si];
                if (s->kind == OD_SEG_FILEREF) {
                    stop = 1;
                    break;
                }
                const uint8_t *base = s->kind == OD_SEG_OWNED ? s->data : s->ref.mem;
                size_t len = s->kind == OD_SEG_OWNED ? s->len : s->ref.len;
                if (len > s->sent) {
                    iov[niov].iov_base = (void *)(base + s->sent);
                    iov[niov].iov_len = len - s->sent;
                    niov++;
                }
            }
            if (stop || si < q->resp.nsegs)
                break;
            q = q->next;
            si = 0;
        }
        ssize_t w;
        if (niov > 0) {
            w = c->xport->writev(c, iov, niov);
        } else {
            /* The next unsent segment is a file range (or the head is done). */
            od_seg_t *s = NULL;
            while (c->seg_idx < r->resp.nsegs) {
                od_seg_t *t = &r->resp.segs[c->seg_idx];
                size_t len = t->kind == OD_SEG_OWNED ? t->len : t->ref.len;
                if (t->sent < len) {
                    s = t;
                    break;
                }
                c->seg_idx++;
            }
            if (!s) {
                pop_head(c);
                continue;
            }
            off_t off = s->ref.file_off + (off_t)s->sent;
            w = c->xport->sendfile(c, s->ref.fd, &off, s->ref.len - s->sent);
            if (w == 0) {
                od_conn_close(c, "log file shorter than expected (truncated?)");
                return;
            }
        }
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!c->write_blocked) {
                    c->write_blocked = 1;
                    update_watch(c);
                }
                return;
            }
            if (errno == EINTR)
                continue;
            od_conn_close(c, strerror(errno));
            return;
        }
        od_metrics_net_out((size_t)w);
        calls++;
        sent += (size_t)w;
        /* Account the written bytes segment by segment, popping finished
         * responses. */
        size_t left = (size_t)w;
        while (left > 0 && c->q_head) {
            od_req_t *h = c->q_head;
            od_seg_t *s = &h->resp.segs[c->seg_idx];
            size_t len = s->kind == OD_SEG_OWNED ? s->len : s->ref.len;
            size_t take = len - s->sent < left ? len - s->sent : left;
            s->sent += take;
            left -= take;
            if (s->sent == len) {
                c->seg_idx++;
                /* Skip empty segments. */
                while (c->seg_idx < h->resp.nsegs) {
                    od_seg_t *t = &h->resp.segs[c->seg_idx];
                    size_t tl = t->kind == OD_SEG_OWNED ? t->len : t->ref.len;
                    if (tl > t->sent)
                        break;
                    c->seg_idx++;
                }
                if (c->seg_idx >= h->resp.nsegs)
                    pop_head(c);
            }
        }
        while (c->q_head && c->q_head->ready && c->seg_idx >= c->q_head->resp.nsegs)
            pop_head(c);
    }
    if (c->close_after_flush && !c->q_head) {
        od_conn_close(c, c->close_after_flush);
        return;
    }
    if (c->write_blocked) {
        c->write_blocked = 0;
        update_watch(c);
    }
    if (c->read_paused && c->nq < (size_t)c->core->conf.queued_max_requests &&
        c->req_bytes <= (size_t)c->core->conf.socket_request_max_bytes &&
        !od_sasl_holds_reading(c)) {
        c->read_paused = 0;
        update_watch(c);
        if (!c->resume_timer)
            c->resume_timer = od_loop_timer(c->core->loop, 0, resume_reading, c);
    }
}

/* Dispatch every complete frame in the read buffer, unless the connection
 * has too many requests in flight. Returns -1 if the connection closed. */
static int process_buffer(od_conn_t *c)
{
    od_core_t *core = c->core;
    size_t pos = 0;
    c->in_read = 1;
    while (!c->closing && !c->read_paused && c->rlen - pos >= 4) {
        const uint8_t *p = c->rbuf + pos;
        int32_t size = (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                                 (uint32_t)p[2] << 8 | p[3]);
        int64_t max_frame = od_sasl_max_frame(c);
        if (size < 0 || (int64_t)size > max_frame) {
            od_logf(OD_LOG_WARN,
                    "client %s: request size %d is outside [0, %s=%lld]; closing", c->peer, size,
                    max_frame < core->conf.socket_request_max_bytes
                        ? "sasl.server.max.receive.size before authentication"
                        : "socket.request.max.bytes",
                    (long long)max_frame);
            od_conn_close(c, "bad frame size");
            break;
        }
        if (c->rlen - pos - 4 < (size_t)size) {
            /* Incomplete: remember what it needs; handle_reads grows the
             * buffer as its bytes arrive, never from the announced length
             * alone (a peer announcing 100 MB and sending nothing costs
             * nothing). */
            c->rneed = (size_t)size + 4;
            break;
        }
        c->rneed = 0;
        od_dispatch_frame(c, p + 4, (size_t)size);
        pos += 4 + (size_t)size;
        if ((c->nq >= (size_t)core->conf.queued_max_requests ||
             c->req_bytes > (size_t)core->conf.socket_request_max_bytes ||
             od_sasl_holds_reading(c)) &&
            !c->closing) {
            /* Stop reading until responses drain; frames already buffered
             * wait in rbuf and od_conn_flush resumes them. A connection may
             * hold requests worth one maximal frame, as it could with
             * Kafka, which reads one request at a time per connection. */
            c->read_paused = 1;
            update_watch(c);
        }
    }
    c->in_read = 0;
    if (c->closing)
        return -1;
    if (pos > 0) {
        memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
        c->rlen -= pos;
    }
    if (c->rlen < 4)
        c->rneed = 0;
    /* Shrink a buffer grown for one large request. */
    if (c->rlen == 0 && c->rcap > 4 * OD_RBUF_MIN) {
        free(c->rbuf);
        c->rbuf = NULL;
        c->rcap = 0;
    }
    charge_read(c);
    return 0;
}

static void handle_reads(od_conn_t *c)
{
    od_net_state_t *ns = c->core->net;
    for (int rounds = 0; rounds < 16 && !c->closing && !c->read_paused && !c->mem_waiting;
         rounds++) {
        if (mem_over(ns) && !(c->rlen >= 4 && c->rneed > c->rlen)) {
            /* Over queued.max.request.bytes: finish a frame already begun
             * (its size is counted; reads stop at its end), start no new
             * one until the total drops. */
            c->mem_waiting = 1;
            c->mem_prev = NULL;
            c->mem_next = ns->mem_waiters;
            if (ns->mem_waiters)
                ns->mem_waiters->mem_prev = c;
            ns->mem_waiters = c;
            update_watch(c);
            return;
        }
        /* Grow by doubling while bytes arrive, up to what the frame being
         * read needs; a frame that fits already needs no more room. */
        if (c->rcap - c->rlen < 4096 && !(c->rneed && c->rneed <= c->rcap)) {
            size_t ncap = c->rcap ? c->rcap * 2 : OD_RBUF_MIN;
            if (c->rneed > c->rcap && ncap > c->rneed && c->rneed >= OD_RBUF_MIN)
                ncap = c->rneed;
            uint8_t *nb = realloc(c->rbuf, ncap);
            if (!nb) {
                od_conn_close(c, "out of memory");
                return;
            }
            c->rbuf = nb;
            c->rcap = ncap;
        }
        size_t want = c->rcap - c->rlen;
        if (mem_over(ns) && want > c->rneed - c->rlen)
            want = c->rneed - c->rlen;
        ssize_t n = c->xport->read(c, c->rbuf + c->rlen, want);
        if (n == 0) {
            od_conn_close(c, "closed by peer");
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                update_watch(c); /* the transport may want another event now */
                return;
            }
            if (errno == EINTR)
                continue;
            od_conn_close(c, strerror(errno));
            return;
        }
        c->rlen += (size_t)n;
        od_metrics_net_in((size_t)n);
        c->last_active_ms = od_mono_ms();
        if (process_buffer(c) < 0)
            return;
        od_conn_flush(c);
        if (c->closing)
            return;
        if ((size_t)n < 4096 && !c->xport->pending(c))
            return;
    }
    /* Out of rounds with decrypted bytes buffered in the transport: no
     * socket event will announce them, so come back from a timer. */
    if (!c->closing && c->xport->pending(c) && !c->resume_timer)
        c->resume_timer = od_loop_timer(c->core->loop, 0, resume_reading, c);
}

/* Resume a connection whose reading was paused: first the frames already
 * buffered, then the socket. Runs from a timer, so never inside the
 * callers of od_conn_flush. */
static void resume_reading(void *arg)
{
    od_conn_t *c = arg;
    c->resume_timer = 0;
    if (c->closing)
        return;
    if (process_buffer(c) < 0)
        return;
    od_conn_flush(c);
    if (!c->closing && !c->read_paused && !c->mem_waiting)
        handle_reads(c);
}

static void on_event(void *arg, int fd, uint32_t ev)
{
    od_conn_t *c = arg;
    (void)fd;
    if (ev & OD_LOOP_WRITE)
        od_conn_flush(c);
    if (c->closing)
        return;
    /* A TLS handshake or read may wait for the socket to be writable. */
    if ((ev & (OD_LOOP_READ | OD_LOOP_HUP | OD_LOOP_ERROR)) ||
        ((ev & OD_LOOP_WRITE) && (c->xport->wants(c) & OD_LOOP_WRITE)))
        handle_reads(c);
}

void od_conn_reap_idle(od_core_t *core, int64_t now_ms)
{
    int64_t idle = core->conf.connections_max_idle_ms;
    if (idle <= 0)
        return;
    od_conn_t *c = core->conns;
    while (c) {
        od_conn_t *n = c->next;
        if (c->nq == 0 && now_ms - c->last_active_ms > idle)
            od_conn_close(c, "idle longer than connections.max.idle.ms");
        c = n;
    }
}
