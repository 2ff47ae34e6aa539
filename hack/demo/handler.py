#!/usr/bin/env python3
"""The demo's handler container: answers every event POST with 200
{"status":"SUCCESS"} after DELAY_MS (a stand-in for real work, so that one
replica has a bounded throughput and the autoscaler has something to do).
GET /count returns how many events it handled. Usage: handler.py PORT DELAY_MS"""
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, DELAY = int(sys.argv[1]), float(sys.argv[2]) / 1000.0
count = 0
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        global count
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        time.sleep(DELAY)
        with lock:
            count += 1
        self._reply(b'{"status":"SUCCESS"}')

    def do_GET(self) -> None:  # noqa: N802
        with lock:
            n = count
        self._reply(str(n).encode())

    def log_message(self, *args) -> None:
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
