"""Shared benchmark plumbing: a gunicorn server on a free loopback port, a fixed-duration
load loop, latency percentiles and the server's CPU time read from /proc."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.pki import Pki

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


def process_tree_cpu_seconds(pid: int) -> float:
    """utime+stime of ``pid`` and its children still alive (gunicorn master and workers)."""
    total = 0.0
    pids = [pid]
    with contextlib.suppress(FileNotFoundError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    for p in pids:
        with contextlib.suppress(FileNotFoundError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str],
    *,
    workers: int = 1,
    app: str = "app:create_app()",
    root: Path = ROOT,
    worker_class: str = "sync",
) -> Iterator[tuple[int, int]]:
    """Serve ``app`` (Keystile by default, from the source tree ``root``) under gunicorn,
    ``workers`` workers of ``worker_class`` with one thread each; yields (port, master pid)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--threads",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
            "--no-control-socket",
            "--log-level",
            "warning",
            "--worker-tmp-dir",
            tmp,
            app,
        ]
        proc = subprocess.Popen(cmd, cwd=root, env={**os.environ, **env})
        try:
            wait_for_port(port, proc)
            yield port, proc.pid
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Run:
    label: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else 0.0
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q) - 1] * 1000

    @property
    def cpu_ms_per_op(self) -> float:
        return self.cpu_seconds * 1000 / max(1, len(self.latencies))

    @classmethod
    def merged(cls, label: str, parts: Sequence[Run]) -> Run:
        """One run made of alternating slices."""
        run = cls(label, sum(p.seconds for p in parts))
        for part in parts:
            run.latencies += part.latencies
            run.failures += part.failures
            run.cpu_seconds += part.cpu_seconds
        return run

    def line(self) -> str:
        return (
            f"{self.label:<28} {self.rate:8.1f}/s  p50 {self.pct(50):7.2f} ms  "
            f"p95 {self.pct(95):7.2f} ms  p99 {self.pct(99):7.2f} ms  "
            f"failures {self.failures}  server CPU {self.cpu_ms_per_op:6.2f} ms/op"
        )


def load(
    label: str,
    op: Callable[[int], bool],
    *,
    duration: float,
    clients: int,
    server_pid: int | None = None,
    server_pids: Sequence[int] = (),
) -> Run:
    """Run ``op`` from ``clients`` threads for ``duration`` seconds (bounded, stops itself);
    the CPU time of the server process trees (``server_pid`` and ``server_pids``) is kept."""
    pids = [*server_pids, *([server_pid] if server_pid else [])]

    def cpu() -> float:
        return sum(process_tree_cpu_seconds(pid) for pid in pids)

    run = Run(label, duration)
    lock = threading.Lock()
    stop = time.monotonic() + duration
    cpu0 = cpu()

    def worker(n: int) -> None:
        i = 0
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                ok = op(n * 1_000_000 + i)
            except Exception as exc:  # noqa: BLE001 - a failure is counted, not fatal
                ok = False
                print(f"  {label}: {exc!r}", file=sys.stderr)
            dt = time.perf_counter() - t0
            with lock:
                if ok:
                    run.latencies.append(dt)
                else:
                    run.failures += 1
            i += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    t_start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.seconds = time.monotonic() - t_start
    if pids:
        run.cpu_seconds = cpu() - cpu0
    return run


def interleaved(
    ops: dict[str, Callable[[int], bool]],
    *,
    duration: float,
    rounds: int,
    clients: int,
    server_pids: Sequence[int],
) -> list[Run]:
    """Each op for ``duration`` seconds in all, in ``rounds`` alternating slices, so that
    a floor and the operation measured against it see the same background load on a
    shared machine (whose speed drifts by a third over a day)."""
    slices: dict[str, list[Run]] = {label: [] for label in ops}
    for _ in range(rounds):
        for label, op in ops.items():
            slices[label].append(
                load(
                    label, op, duration=duration / rounds, clients=clients, server_pids=server_pids
                )
            )
    return [Run.merged(label, parts) for label, parts in slices.items()]


def server_tls(pki: Pki, directory: Path) -> tuple[Path, Path]:
    """A server certificate for ``localhost`` from ``pki``'s CA, and its key, as PEM files in
    ``directory`` (the proxy's TLS in the benches that put nginx in front)."""
    from cryptography.hazmat.primitives import serialization

    from app.services import ca

    cert, key = ca.issue_server_certificate(pki.ca.as_authority(), hostnames=["localhost"])
    tls_cert, tls_key = directory / "server.crt", directory / "server.key"
    tls_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tls_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return tls_cert, tls_key
