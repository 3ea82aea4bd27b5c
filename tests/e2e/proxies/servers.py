"""Real servers for the end-to-end tests and the certificate benchmark: gunicorn serving
Keystile, and nginx, Apache, HAProxy or Caddy in front of it running a configuration from
``keystile proxy-config``.

Every process runs in the foreground in a session (process group) of its own, writes its
output to a log file in its own directory, is waited for by polling until it answers (never
by sleeping a fixed time), and is stopped with its whole group on exit, start-up failures
included. Nothing here picks a fixed port: each server gets a free loopback port.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from app.deploy import FILE_NAMES

ROOT = Path(__file__).resolve().parents[3]
#: Debian's binaries, also when /usr/sbin is not on PATH.
BINARIES = {"nginx": "/usr/sbin/nginx", "apache": "/usr/sbin/apache2",
            "haproxy": "/usr/sbin/haproxy", "caddy": "/usr/bin/caddy"}
START_TIMEOUT = 30.0


def binary(proxy: str) -> str | None:
    """The proxy's executable, or None when it is not installed."""
    path = BINARIES[proxy]
    return shutil.which(Path(path).name) or (path if os.access(path, os.X_OK) else None)


def foreground_command(proxy: str, config: Path, prefix: Path) -> tuple[list[str], dict[str, str]]:
    """How to run a rendered configuration in the foreground: argv and extra environment."""
    exe = binary(proxy) or BINARIES[proxy]
    if proxy == "nginx":
        return [exe, "-c", str(config), "-p", f"{prefix}/", "-g", "daemon off;"], {}
    if proxy == "apache":
        return [exe, "-f", str(config), "-DFOREGROUND"], {}
    if proxy == "haproxy":
        return [exe, "-f", str(config), "-db"], {}
    # Caddy keeps autosave.json and its PKI state under $HOME/XDG dirs: keep them in prefix.
    home = str(prefix)
    return ([exe, "run", "--config", str(config), "--adapter", "caddyfile"],
            {"HOME": home, "XDG_CONFIG_HOME": home, "XDG_DATA_HOME": home})


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


class Server:
    """A process started in a session of its own, writing to ``log``, and stopped with its
    whole process group by ``stop()`` or at the end of a ``with`` block.

    Starting returns at once, so the caller can do other work (seed a database) while the
    process boots; ``wait()`` then polls ``probe`` until it answers.
    """

    def __init__(self, cmd: list[str], *, what: str, log: Path, probe: Callable[[], bool],
                 env: dict[str, str] | None = None) -> None:
        self.what, self.log, self.probe = what, log, probe
        with log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                         env={**os.environ, **(env or {})},
                                         start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait(self) -> Server:
        """Block until ``probe()`` says yes.

        Raises:
            RuntimeError: the process exited or did not answer in time (it is stopped
                first); the message carries the end of its log.
        """
        deadline = time.monotonic() + START_TIMEOUT
        while not self.probe():
            problem = None
            if self.proc.poll() is not None:
                problem = f"exited with {self.proc.returncode}"
            elif time.monotonic() > deadline:
                problem = f"did not answer within {START_TIMEOUT:.0f}s"
            if problem:
                self.stop()
                raise RuntimeError(f"{self.what} {problem}:\n{_tail(self.log)}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """SIGTERM to the process started here (a master stops its own workers), then
        SIGKILL to whatever is left of its process group."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def answers(port: int, *, tls: ssl.SSLContext | None = None, host: str = "localhost") -> bool:
    """True once ``GET /healthz`` on loopback ``port`` returns 200 (through to Keystile)."""
    conn: http.client.HTTPConnection
    if tls is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    else:
        conn = http.client.HTTPSConnection(host, port, timeout=2, context=tls)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def keystile(env: dict[str, str], directory: Path, *, port: int, workers: int = 1,
             threads: int = 4) -> Server:
    """Start gunicorn serving ``app:create_app()`` with the ``KEYSTILE_*`` settings in
    ``env`` on loopback ``port``; it is ready when ``/healthz`` answers 200."""
    cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
           "--workers", str(workers), "--threads", str(threads), "--no-control-socket",
           "--worker-tmp-dir", str(directory), "--log-level", "warning", "app:create_app()"]
    return Server(cmd, what="gunicorn", log=directory / "gunicorn.log", env=env,
                  probe=lambda: answers(port))


def proxy(name: str, config_text: str, *, port: int, prefix: Path,
          trust: ssl.SSLContext) -> Server:
    """Start ``name`` with ``config_text``, rendered for ``--listen 127.0.0.1:PORT`` and
    ``--prefix PREFIX``; it is ready when it proxies ``/healthz`` through to Keystile."""
    prefix.mkdir(parents=True, exist_ok=True)
    config = prefix / FILE_NAMES[name]
    config.write_text(config_text)
    cmd, env = foreground_command(name, config, prefix)
    return Server(cmd, what=name, log=prefix / "stdout.log", env=env,
                  probe=lambda: answers(port, tls=trust))
