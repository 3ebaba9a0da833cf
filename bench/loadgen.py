"""A small HTTP load client: N connections (one process each), keep-alive when the server allows it,
fixed duration, every latency recorded; p50/p95/p99 and requests per second.

wrk is not part of the project's install; this client is plain Python so `make bench` runs anywhere. It
speaks just enough HTTP/1.1 (Content-Length bodies) over a raw socket to cost little CPU per request,
and it reconnects when the server closes the connection (gunicorn's sync workers close after each
response). The client shares the machine with the server: its cost is the same for the baseline and the
measured endpoint, which is why the benchmarks report ratios measured in the same run.
"""

import multiprocessing
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

# A request factory gets (connection index, request number on that connection) and returns the bytes
# to send, or None when it has nothing left to send (the pool of problems is used up).
Factory = Callable[[int, int], bytes | None]


@dataclass
class Result:
    requests: int
    ok: int
    errors: int
    statuses: dict
    seconds: float
    latencies: list  # seconds, of the successful requests

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """The p-th percentile latency in milliseconds (nearest rank)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank] * 1000

    def summary(self) -> dict:
        return {"rate": round(self.rate, 1), "ok": self.ok, "errors": self.errors, "statuses": self.statuses,
                "p50_ms": round(self.percentile(50), 2), "p95_ms": round(self.percentile(95), 2),
                "p99_ms": round(self.percentile(99), 2)}


def request_bytes(method: str, path: str, headers: dict | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """One HTTP/1.1 connection that reopens itself when the server closes it."""

    def __init__(self, port: int):
        self.port, self.sock, self.buffer = port, None, b""

    def _open(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send one request; the status and body of its response."""
        for attempt in (1, 2):
            if self.sock is None:
                self._open()
            try:
                self.sock.sendall(raw)
                return self._response()
            except (ConnectionError, EOFError):
                self.close()  # the server closed a kept-alive connection under us: reopen once
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _read_more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buffer += chunk

    def _response(self) -> tuple[int, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._read_more()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
        length = int(headers.get(b"content-length", b"0"))
        while len(self.buffer) < length:
            self._read_more()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, body


def _worker(port: int, index: int, factory: Factory, duration: float, start_at: float, out):
    conn = Connection(port)
    latencies, statuses, sent = [], {}, 0
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = time.perf_counter() + duration
    while time.perf_counter() < deadline:
        raw = factory(index, sent)
        if raw is None:
            break
        began = time.perf_counter()
        try:
            status, _ = conn.request(raw)
        except OSError:
            status = 599
            conn.close()
        elapsed = time.perf_counter() - began
        sent += 1
        statuses[status] = statuses.get(status, 0) + 1
        if status < 400:
            latencies.append(elapsed)
    conn.close()
    out.put((sent, statuses, latencies))


def run(*, port: int, factory: Factory, connections: int = 8, duration: float = 10.0) -> Result:
    """Drive `connections` connections for `duration` seconds; every worker starts at the same instant."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 0.3
    workers = [ctx.Process(target=_worker, args=(port, i, factory, duration, start_at, out))
               for i in range(connections)]
    for worker in workers:
        worker.start()
    parts = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    statuses: dict = {}
    for _, part, _ in parts:
        for status, count in part.items():
            statuses[status] = statuses.get(status, 0) + count
    latencies = [latency for _, _, part in parts for latency in part]
    sent = sum(part[0] for part in parts)
    return Result(requests=sent, ok=len(latencies), errors=sent - len(latencies), statuses=statuses,
                  seconds=duration, latencies=latencies)
