"""The stack's local stand-ins for the outside world: the mail and SMS sinks and the feed server.

Each is one of this package's small Python servers (certwatch.mailsink, .smssink, .feedserver) run as a
detached process, keeping its files in a folder of the data directory.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from certwatch.stack.processes import ProcessHandle, reusable_port, spawn, wait_for_port


@dataclass
class SinkHandle(ProcessHandle):
    """A local sink (mail, SMS, feeds) and the folder it keeps its files in."""

    maildir: Path


def _start_python_sink(module: str, what: str, port: int, folder: Path, log: Path, folder_flag: str) -> SinkHandle:
    argv = [sys.executable, "-m", module, "--port", str(port), folder_flag, str(folder)]
    pid = spawn(argv, log)
    wait_for_port(port, what, log, pid)
    return SinkHandle(pid, port, folder)


def start_mail_sink(data_dir: Path, port: int | None = None) -> SinkHandle:
    """Start the SMTP sink; each message lands in `<data>/mail/` as an .eml file."""
    log = data_dir / "logs" / "mailsink.log"
    return _start_python_sink(
        "certwatch.mailsink", "the mail sink", reusable_port(port), data_dir / "mail", log, "--maildir"
    )


def start_sms_sink(data_dir: Path, port: int | None = None) -> SinkHandle:
    """Start the SMS sink; each message lands in `<data>/sms/` as a .json file."""
    log = data_dir / "logs" / "smssink.log"
    return _start_python_sink("certwatch.smssink", "the SMS sink", reusable_port(port), data_dir / "sms", log, "--dir")


def start_feed_server(data_dir: Path, port: int | None = None) -> SinkHandle:
    """The local publisher of project-made feed files, and the feeds file that points at it."""
    from certwatch.feedserver import feeds_toml, publish

    port = reusable_port(port)
    folder = data_dir / "feeds"
    publish(folder)
    log = data_dir / "logs" / "feedserver.log"
    handle = _start_python_sink("certwatch.feedserver", "the feed server", port, folder, log, "--dir")
    (data_dir / "feeds.toml").write_text(feeds_toml(f"http://127.0.0.1:{port}"))
    return handle
