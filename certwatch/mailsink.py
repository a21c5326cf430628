"""A local SMTP server that keeps every message it receives as an .eml file (the stack's mail sink)."""

from __future__ import annotations

import argparse
import email
import email.policy
import re
import signal
import sys
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class MaildirHandler:
    """aiosmtpd handler: one file per message, written atomically (tmp, then rename)."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        maildir.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Store the message as received; readers never see a half-written file."""
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.maildir / f".{name}.tmp"
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.rename(self.maildir / name)
        return "250 Message accepted for delivery"


def read_mail(maildir: Path) -> list[EmailMessage]:
    """Every message in the sink, oldest first."""
    if not maildir.exists():
        return []
    messages = []
    for path in sorted(maildir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)  # the default policy always builds EmailMessage
        messages.append(message)
    return messages


def serve(port: int, maildir: Path, host: str = "127.0.0.1") -> Controller:
    """Start the sink in a background thread (tests can call this in-process); stop it with `.stop()`."""
    controller = Controller(MaildirHandler(maildir), hostname=host, port=port)
    controller.start()
    return controller


def main() -> None:
    """`python -m certwatch.mailsink --port P --maildir D`: run until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(description="certwatch local SMTP sink")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, required=True)
    args = parser.parse_args()
    controller = serve(args.port, args.maildir)
    # SIGTERM (from `certwatch down`) becomes KeyboardInterrupt, so the finally block closes the socket.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()


PAGE_LINK = re.compile(r"https?://\S+/o/[A-Za-z0-9._-]+")


def first_page_link(maildir: Path) -> str | None:
    """The signed link to the organisation's page that the first alert in the sink carries (`certwatch run`)."""
    for message in read_mail(maildir):
        body = message.get_body(("plain",))
        found = PAGE_LINK.search(body.get_content()) if body is not None else None
        if found:
            return found.group(0)
    return None
