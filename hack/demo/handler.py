#!/usr/bin/env python3
"""STAND-IN for the payments service's handler in the demo's migration, on
the host: the stand-in Dapr sidecars (hack/demo/dapr.sh) of both the API
(payments-api) and the worker (payments-worker) deliver to it, until daprd
runs on the node. Answers every event POST with 200 {"status":"SUCCESS"}
after DELAY_MS (a stand-in for real work) and keeps a ledger per route of the
events' data.seq, so the demo can prove that nothing was lost:
  GET /stats?route=/payments {"handled": N, "distinct": D, "maxSeq": S, "longestGapSeconds": G}
Usage: handler.py PORT DELAY_MS"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORT, DELAY = int(sys.argv[1]), float(sys.argv[2]) / 1000.0
routes = {}  # route -> {"handled", "seqs", "last", "gap"}
lock = threading.Lock()


def seq_of(body: bytes):
    try:
        data = json.loads(body).get("data")
        return data.get("seq") if isinstance(data, dict) else None
    except (ValueError, AttributeError):
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        time.sleep(DELAY)
        seq, now = seq_of(body), time.monotonic()
        with lock:
            r = routes.setdefault(self.path, {"handled": 0, "seqs": set(), "last": None, "gap": 0.0})
            r["handled"] += 1
            if seq is not None:
                r["seqs"].add(seq)
            if r["last"] is not None:
                r["gap"] = max(r["gap"], now - r["last"])
            r["last"] = now
        self._reply(b'{"status":"SUCCESS"}')

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        with lock:
            r = routes.get(parse_qs(url.query).get("route", [""])[0])
            out = {"handled": 0, "distinct": 0, "maxSeq": -1, "longestGapSeconds": 0.0}
            if r:
                out = {"handled": r["handled"], "distinct": len(r["seqs"]),
                       "maxSeq": max(r["seqs"], default=-1), "longestGapSeconds": round(r["gap"], 2)}
        self._reply(json.dumps(out).encode())

    def log_message(self, *args) -> None:
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
