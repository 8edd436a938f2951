/* od_req_wait.c - requests answered after their proposals (od_req_wait.h). */
#include "od_req_wait.h"

#include <string.h>

#include "od_core.h"

static void maybe_answer(od_req_wait_t *w)
{
    if (!w->started || w->outstanding > 0)
        return;
    if (w->r->conn)
        w->encode(w->r, w->resp);
    od_req_done(w->r);
}

void od_req_wait_add(od_req_wait_t *w)
{
    w->outstanding++;
}

void od_req_wait_done(od_req_wait_t *w)
{
    w->outstanding--;
    maybe_answer(w);
}

void od_req_wait_issued(od_req_wait_t *w)
{
    w->started = 1;
    maybe_answer(w);
}

od_str_t od_req_msg(od_req_t *r, const char *msg)
{
    char *m = msg ? od_arena_strndup(&r->arena, msg, strlen(msg)) : NULL;
    return m ? od_str_c(m) : (od_str_t){NULL, -1};
}
