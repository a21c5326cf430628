"""A local SMS gateway that keeps every message as a JSON file (the stack's SMS sink).

`POST /sms` with `{"to": "...", "text": "..."}` answers `{"message_id": "..."}`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def read_sms(folder: Path) -> list[dict[str, Any]]:
    """Every message in the sink, oldest first."""
    if not folder.exists():
        return []
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def store(folder: Path, record: dict[str, Any]) -> None:
    """Write one message atomically (tmp, then rename), so readers never see half a file."""
    name = f"{time.time_ns()}-{record['message_id'][:8]}.json"
    tmp = folder / f".{name}.tmp"
    tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    tmp.rename(folder / name)


def handler_for(folder: Path) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to the folder messages are kept in."""

    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1: a client's connection is kept alive between messages (every reply has its length), as a
        # gateway's is; HTTP/1.0 closed it after each, so every text paid a new connection.
        protocol_version = "HTTP/1.1"
        # Each reply leaves in one write (the buffer is flushed after each request), with no Nagle delay:
        # headers and body written apart wait out the client's delayed ACK (~40 ms a text).
        wbufsize = 64 * 1024
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != "/sms":
                return self._reply(404, {"error": "POST /sms"})
            length = int(self.headers.get("content-length") or 0)
            try:
                body = json.loads(self.rfile.read(length))
                to, text = str(body["to"]), str(body["text"])
            except (ValueError, KeyError, TypeError) as exc:
                return self._reply(400, {"error": f"expected JSON with 'to' and 'text': {exc}"})
            message_id = uuid.uuid4().hex
            store(
                folder,
                {"message_id": message_id, "to": to, "text": text, "idempotency_key": body.get("idempotency_key")},
            )
            return self._reply(200, {"message_id": message_id})

        def _reply(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # keep phone numbers out of logs
            return

    return Handler


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # connections waiting to be accepted (5 by default: a burst of clients was refused)


def serve(port: int, folder: Path, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Start the sink in a background thread (tests can call this in-process); stop it with `.shutdown()`."""
    folder.mkdir(parents=True, exist_ok=True)
    server = Server((host, port), handler_for(folder))
    threading.Thread(target=server.serve_forever, name="smssink", daemon=True).start()
    return server


def main() -> None:
    """`python -m certwatch.smssink --port P --dir D`: run until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(description="certwatch local SMS sink")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    server = serve(args.port, args.dir)
    # SIGTERM (from `certwatch down`) becomes KeyboardInterrupt, so the finally block closes the socket.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
