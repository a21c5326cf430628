"""The local feed server: serves the project-made feed files over HTTP, the way a publisher would,
with ETag and Last-Modified validators, 304 answers to conditional requests, and Content-Length."""

from __future__ import annotations

import argparse
import hashlib
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

from certwatch.demo import bulletins as synthetic

FEEDS = [
    ("samr-national-spot-check", "spot_check", "spot_check.xlsx", False),
    ("provincial-spot-check-gbk", "spot_check", "spot_check_gbk.csv", False),
    ("samr-food-sampling", "food_spot_check", "food_spot_check.csv", False),
    ("gsxt-serious-illegal", "serious_illegal", "serious_illegal.csv", False),
    ("gsxt-abnormal-snapshot", "abnormal_operation", "abnormal_snapshot.csv", True),
    ("licence-ccc-status", "licence_status", "licence_status.csv", False),
    ("recalls-and-accidents", "accident", "accidents.json", False),
]


def publish(folder: Path) -> None:
    """Write the feed files once (a later `up` keeps them, so validators stay stable)."""
    if not (folder / FEEDS[0][2]).exists():
        synthetic.write_all(folder)


def feeds_toml(base_url: str, schedule: str = "0 2 * * *") -> str:
    """The feeds file for the local stack: every feed nightly at 02:00."""
    blocks = []
    for name, kind, filename, snapshot in FEEDS:
        blocks.append(
            f'[[feed]]\nname = "{name}"\nkind = "{kind}"\nurl = "{base_url}/{filename}"\n'
            f'schedule = "{schedule}"\nsnapshot = {"true" if snapshot else "false"}\n'
        )
    return "\n".join(blocks)


def handler_for(folder: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = (folder / unquote(urlparse(self.path).path).lstrip("/")).resolve()
            if folder.resolve() not in path.parents or not path.is_file():
                self.send_error(404, "no such feed file")
                return
            data = path.read_bytes()
            etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
            modified = path.stat().st_mtime
            if self._fresh(etag, modified):
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", formatdate(modified, usegmt=True))
            self.end_headers()
            self.wfile.write(data)

        def _fresh(self, etag: str, modified: float) -> bool:
            if self.headers.get("If-None-Match"):
                return self.headers["If-None-Match"] == etag
            since = self.headers.get("If-Modified-Since")
            return since is not None and parsedate_to_datetime(since).timestamp() >= int(modified)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="certwatch local feed server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    publish(args.dir)
    ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(args.dir)).serve_forever()


if __name__ == "__main__":
    main()
