/* od_transport.c - the plaintext transport: the socket itself. */
#include "od_transport.h"

#include <sys/sendfile.h>
#include <unistd.h>

#include "od_conn.h"

static ssize_t plain_read(od_conn_t *c, void *buf, size_t len) { return read(c->fd, buf, len); }

static ssize_t plain_writev(od_conn_t *c, const struct iovec *iov, int niov)
{
    return writev(c->fd, iov, niov);
}

static ssize_t plain_sendfile(od_conn_t *c, int fd, off_t *off, size_t len)
{
    return sendfile(c->fd, fd, off, len);
}

static uint32_t plain_wants(const od_conn_t *c)
{
    (void)c;
    return 0;
}

static int plain_pending(const od_conn_t *c)
{
    (void)c;
    return 0;
}

static void plain_close(od_conn_t *c) { (void)c; }

const od_transport_t od_transport_plain = {
    "plaintext", plain_read, plain_writev, plain_sendfile, plain_wants, plain_pending, plain_close,
};
