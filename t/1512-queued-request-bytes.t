#!/usr/bin/python3
# queued.max.request.bytes: when requests in flight hold more than the bound
# (here: responses a client does not read), the broker stops reading new
# requests from every socket (backpressure, as Kafka's memory pool does) and
# resumes once the memory drains; nothing is lost or reordered.
import os
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import odtest  # noqa: E402
import tap  # noqa: E402
from odtest import Conn, frame, request_header  # noqa: E402

odtest.watchdog(180)
LIMIT = 64 * 1024
b = odtest.Broker(sets={"queued.max.request.bytes": str(LIMIT), "socket.send.buffer.bytes": "4096"}).start()

# A client with a tiny receive window pipelines ApiVersions and reads nothing.
hog = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
hog.connect((odtest.HOST, b.port))
N = 400
hog.sendall(b"".join(frame(request_header(18, 3, i + 1, flexible=True) + b"\x03od\x021\x00")
                     for i in range(N)))
time.sleep(1.0)

other = Conn(b.port)
other.send_request(18, 0, b"")
try:
    early = other.recv_frame(timeout=1.5)
except socket.timeout:
    early = "timeout"
tap.is_(early, "timeout", "while unread responses hold more than queued.max.request.bytes=%d, a new "
        "request from another client is not read" % LIMIT)

# The hog reads its responses: memory drains and everyone is served.
hog.settimeout(20)
buf = b""
corrs = []
while len(corrs) < N:
    chunk = hog.recv(1 << 16)
    if not chunk:
        break
    buf += chunk
    while len(buf) >= 4:
        n = int.from_bytes(buf[:4], "big")
        if len(buf) < 4 + n:
            break
        corrs.append(int.from_bytes(buf[4:8], "big"))
        buf = buf[4 + n:]
tap.is_(corrs, list(range(1, N + 1)), "the client that held the memory gets all %d answers in order" % N)
fr = other.recv_frame(timeout=10)
tap.ok(fr is not None, "then the other client's request is read and answered")
with Conn(b.port) as c:
    tap.is_(odtest.api_versions(c, 0)["error"], 0, "new connections are served")
hog.close()
other.close()
b.stop()


# ---- one connection holds at most socket.request.max.bytes of requests ------------
def rx_queue(local_port, remote_port):
    """Bytes the broker has not read yet from one of its sockets."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            x = line.split()
            if int(x[1].split(":")[1], 16) == local_port and int(x[2].split(":")[1], 16) == remote_port:
                return int(x[4].split(":")[1], 16)
    return None


MAXB = 64 * 1024
b = odtest.Broker(sets={"socket.request.max.bytes": str(MAXB), "queued.max.requests": "100000",
                        "socket.send.buffer.bytes": "4096"}, name="perconn").start()
hog = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
hog.connect((odtest.HOST, b.port))
N = 8000
hog.sendall(b"".join(frame(request_header(18, 3, i + 1, flexible=True) + b"\x03od\x021\x00")
                     for i in range(N)))
time.sleep(1.5)
left = rx_queue(b.port, hog.getsockname()[1])
tap.ok(left is not None and left > 0, "a client that reads no responses: once they hold more than "
       "socket.request.max.bytes=%d the broker stops reading its socket (%s bytes left unread)" % (MAXB, left))
with Conn(b.port) as c:
    tap.is_(odtest.api_versions(c, 0)["error"], 0, "other clients are served meanwhile")
hog.settimeout(30)
buf, corrs = b"", []
while len(corrs) < N:
    chunk = hog.recv(1 << 16)
    if not chunk:
        break
    buf += chunk
    while len(buf) >= 4:
        n = int.from_bytes(buf[:4], "big")
        if len(buf) < 4 + n:
            break
        corrs.append(int.from_bytes(buf[4:8], "big"))
        buf = buf[4 + n:]
tap.is_(corrs, list(range(1, N + 1)), "reading its responses, it gets all %d, in order" % N)
hog.close()
sys.exit(odtest.finish())
