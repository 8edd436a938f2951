"""proxy.py - a loopback TCP proxy for fault injection in the tests.

    p = proxy.Proxy(target_port).start()   # listens on p.port (127.0.0.1)
    p.block()     # drops every connection through it and refuses new ones
                  # (they are accepted and closed at once): a network cut
    p.unblock()   # lets connections through again
    p.stop()

One thread accepts, one thread per connection pumps both directions with
select(). Shared by the cluster tests (control plane and data plane).
"""
import select
import socket
import threading

HOST = "127.0.0.1"


class Proxy:
    def __init__(self, target_port, target_host=HOST):
        self.target = (target_host, target_port)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((HOST, 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.blocked = False
        self.stopping = False
        self.lock = threading.Lock()
        self.pairs = []
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return self

    def _accept(self):
        while not self.stopping:
            try:
                r, _, _ = select.select([self.lsock], [], [], 0.2)
                if not r:
                    continue
                c, _ = self.lsock.accept()
            except OSError:
                return
            if self.blocked or self.stopping:
                c.close()
                continue
            try:
                u = socket.create_connection(self.target, timeout=2)
            except OSError:
                c.close()
                continue
            for s in (c, u):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.pairs.append((c, u))
            threading.Thread(target=self._pump, args=(c, u), daemon=True).start()

    def _pump(self, a, b):
        socks = [a, b]
        try:
            while not self.stopping and not self.blocked:
                r, _, _ = select.select(socks, [], [], 0.2)
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except OSError:
            pass
        finally:
            self._close(a, b)

    def _close(self, a, b):
        for s in (a, b):
            try:
                s.close()
            except OSError:
                pass
        with self.lock:
            if (a, b) in self.pairs:
                self.pairs.remove((a, b))

    def block(self):
        self.blocked = True
        with self.lock:
            pairs = list(self.pairs)
        for a, b in pairs:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def unblock(self):
        self.blocked = False

    def stop(self):
        self.stopping = True
        self.block()
        try:
            self.lsock.close()
        except OSError:
            pass
