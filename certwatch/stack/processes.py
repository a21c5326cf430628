"""Detached processes of the local stack: free ports, spawn, liveness (pid and start time), terminate."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


class StackError(RuntimeError):
    """Something in the local stack did not start; the message says what and where to look."""


def free_port() -> int:
    """A port nothing listens on right now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def reusable_port(port: int | None) -> int:
    """The remembered port if it is still free (stable URLs across `up`s), otherwise a new one."""
    return port if port and not port_open(port) else free_port()


def wait_for_port(port: int, what: str, log: Path | None, pid: int | None = None, timeout: float = 30.0) -> None:
    """Wait until `port` accepts connections; fail early, with the log's tail, if the process died."""
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if pid is not None and not alive(pid):
            raise StackError(f"{what} exited before opening port {port}{tail(log)}")
        if time.monotonic() > deadline:
            raise StackError(f"{what} did not open port {port} within {timeout:.0f}s{tail(log)}")
        time.sleep(0.1)


def tail(log: Path | None, lines: int = 20) -> str:
    """The log's last lines, as the end of an error message ("" when there is no log)."""
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return f"; last lines of {log}:\n" + "\n".join(text)


def spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start a detached process (own session, so `down` can stop its whole group); returns its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    return process.pid


def started_at(pid: int) -> str | None:
    """The process's start time in clock ticks since boot: with the pid, it names one process for good."""
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    return None


def alive(pid: int | None, started: str | None = None) -> bool:
    """Whether `pid` runs (zombies reaped) and, when `started` is given, is still the process we started."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            return False
    # After a reboot the pid may belong to someone else's process, which `down` must never signal.
    return started is None or started_at(pid) == started


def terminate(pid: int | None, timeout: float = 10.0, started: str | None = None) -> None:
    """SIGTERM the process group, wait, then SIGKILL what is left."""
    if pid is None or not alive(pid, started):
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not alive(pid):
            return


@dataclass
class ProcessHandle:
    """A detached process started by the stack."""

    pid: int
    port: int

    def stop(self) -> None:
        """Stop it and its process group."""
        terminate(self.pid)
