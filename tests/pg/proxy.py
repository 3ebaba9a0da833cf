"""A TCP forwarder on 127.0.0.1 that a test can cut and restore: a database outage without stopping the
shared PostgreSQL server.

`cut()` closes every live connection (both ends, with a reset, as when the server dies) and from then on
refuses new ones (accepted and reset at once: the client sees the connection fail immediately);
`restore()` lets connections through again. `blackhole()` instead accepts new connections and never
answers, as a server behind a dead network link does: that is what a connect timeout is for.
"""

import contextlib
import socket
import struct
import threading

CUT, OPEN, BLACKHOLE = "cut", "open", "blackhole"


def _reset(sock: socket.socket) -> None:
    """End a connection at once: shutdown wakes a thread blocked reading it (close alone would not, on
    Linux) and the peer sees end of stream; SO_LINGER 0 makes the close a reset, nothing left to drain."""
    for step in (lambda: sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)),
                 lambda: sock.shutdown(socket.SHUT_RDWR), sock.close):
        with contextlib.suppress(OSError):
            step()


class Proxy:
    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.listener.settimeout(0.1)  # the accept loop checks for stop() this often
        self.port = self.listener.getsockname()[1]
        self.mode = OPEN
        self.lock = threading.Lock()
        self.live: set[socket.socket] = set()  # every socket of a forwarded connection, both sides
        self.held: list[socket.socket] = []  # blackholed connections, never answered
        self.accepted = self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="pg-proxy", daemon=True)

    def __enter__(self) -> "Proxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.cut()
        self.listener.close()

    def cut(self) -> None:
        """Close every live connection and refuse new ones until restore()."""
        with self.lock:
            self.mode = CUT
            doomed = list(self.live) + self.held
            self.live.clear()
            self.held.clear()
        for sock in doomed:
            _reset(sock)

    def blackhole(self) -> None:
        """Keep live connections, but accept new ones and never answer them (a dead network path)."""
        with self.lock:
            self.mode = BLACKHOLE

    def restore(self) -> None:
        with self.lock:
            self.mode = OPEN
            held, self.held = self.held, []
        for sock in held:
            _reset(sock)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self.lock:
                mode = self.mode
                if mode == BLACKHOLE:
                    self.held.append(client)
                    continue
            if mode == CUT:
                self.refused += 1
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self.lock:
                if self.mode != OPEN:  # cut while we were connecting
                    _reset(client)
                    _reset(server)
                    continue
                self.live.update((client, server))
                self.accepted += 1
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            with self.lock:
                mine = source in self.live
                self.live.discard(source)
                self.live.discard(target)
            if mine:  # an orderly end (the client closed): end the other side too
                for sock in (source, target):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
