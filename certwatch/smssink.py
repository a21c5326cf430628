"""A local SMS gateway that keeps every message as a JSON file (the stack's SMS sink)."""

from __future__ import annotations

import argparse
import json
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def read_sms(folder: Path) -> list[dict[str, object]]:
    if not folder.exists():
        return []
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def handler_for(folder: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            try:
                body = json.loads(self.rfile.read(length))
                to, text = str(body["to"]), str(body["text"])
            except (ValueError, KeyError) as exc:
                return self._reply(400, {"error": f"expected JSON with 'to' and 'text': {exc}"})
            message_id = uuid.uuid4().hex
            record = {
                "message_id": message_id,
                "to": to,
                "text": text,
                "idempotency_key": body.get("idempotency_key"),
            }
            (folder / f"{time.time_ns()}-{message_id[:8]}.json").write_text(json.dumps(record, ensure_ascii=False))
            return self._reply(200, {"message_id": message_id})

        def _reply(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # keep numbers out of logs
            return

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="certwatch local SMS sink")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(args.dir)).serve_forever()


if __name__ == "__main__":
    main()
