/* od_transport.h - the byte stream under a connection: plaintext sockets,
 * or TLS (od_tls.c). od_conn.c reads and writes only through these ops, so
 * framing, ordering and memory accounting do not know about TLS.
 *
 * Every op returns what read(2)/writev(2)/sendfile(2) would: bytes moved,
 * 0 for end of stream (read), or -1 with errno (EAGAIN: try again after the
 * next event; anything else closes the connection). A TLS transport hides
 * its handshake behind read: until it is done, read returns -1/EAGAIN. */
#ifndef OD_TRANSPORT_H
#define OD_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct od_conn;

typedef struct od_transport {
    const char *name;
    ssize_t (*read)(struct od_conn *c, void *buf, size_t len);
    ssize_t (*writev)(struct od_conn *c, const struct iovec *iov, int niov);
    ssize_t (*sendfile)(struct od_conn *c, int fd, off_t *off, size_t len);
    /* Loop events the transport needs besides what the connection asks
     * for (OD_LOOP_WRITE while a TLS read or handshake waits to write). */
    uint32_t (*wants)(const struct od_conn *c);
    /* Bytes already decrypted and buffered: readable without a socket
     * event, so the reader must come back for them. */
    int (*pending)(const struct od_conn *c);
    /* The socket is about to close: say goodbye, free the state. */
    void (*close)(struct od_conn *c);
} od_transport_t;

extern const od_transport_t od_transport_plain;

#endif
