"""TEST DOUBLE of a network for integration tests: a TCP proxy that knows
vmig's record framing (16-byte header: u32 type, u32 length, u64 check)
and cuts every connection right before a chosen record, in either
direction. The same idea as tests/unit/cut_proxy.c, for real VMs."""
import socket
import struct
import threading

REC = {"HELLO": 0x01, "PAGES": 0x10, "SYNC": 0x11, "STATE": 0x20, "DIGEST": 0x21,
       "COMPLETE": 0x22, "READY": 0x30, "GO": 0x31, "RESUMED": 0x32, "ALIVE": 0x33}


def _read_full(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


class CutProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<upstream>; when a record
    named `record` flows toward `to` ("dest" or "source"), drops it and
    shuts every connection down."""

    def __init__(self, upstream_port, record, to="dest"):
        self.upstream = upstream_port
        self.type = REC[record]
        self.to = to
        self.fired = threading.Event()
        self.lock = threading.Lock()
        self.socks = []
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def uri(self):
        return f"tcp:127.0.0.1:{self.port}"

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if self.fired.is_set():
                c.close()  # after the cut the link stays down
                continue
            u = socket.create_connection(("127.0.0.1", self.upstream))
            with self.lock:
                self.socks += [c, u]
            threading.Thread(target=self._pump, args=(c, u, "dest"), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, "source"), daemon=True).start()

    def _cut(self):
        self.fired.set()
        with self.lock:
            for s in self.socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _pump(self, src, dst, to):
        try:
            while True:
                hdr = _read_full(src, 16)
                rtype, length = struct.unpack("<II", hdr[:8])
                if rtype == self.type and to == self.to and not self.fired.is_set():
                    self._cut()
                    return
                dst.sendall(hdr)
                while length:
                    chunk = src.recv(min(length, 1 << 20))
                    if not chunk:
                        raise ConnectionError("closed")
                    dst.sendall(chunk)
                    length -= len(chunk)
        except OSError:
            pass
        except ConnectionError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        self.lsock.close()
        self._cut()
