#!/usr/bin/env python3
"""fakeprimary.py -- a primary that misbehaves, for the replica's fault tests (test_replica.c).

Usage: fakeprimary.py PORT
GET /_replication answers 409 {"reason": "diverged"}, so the replica asks for a snapshot.
GET /_replication/snapshot answers, in turn: bytes whose SHA-256 is not the announced one; a
body cut short of the announced size; bytes whose size and SHA-256 are right but that are no
LMDB store. Each request is logged on stderr ("snapshot N: <kind>")."""
import hashlib
import http.server
import json
import sys

KINDS = ["corrupt", "truncated", "not a store"]


class Handler(http.server.BaseHTTPRequestHandler):
    snapshots = 0

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/_replication/snapshot"):
            self.snapshot()
        elif self.path.startswith("/_replication"):
            body = json.dumps({"error": "a snapshot is needed", "reason": "diverged"}).encode()
            self.send_response(409)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def snapshot(self):
        kind = KINDS[Handler.snapshots % len(KINDS)]
        Handler.snapshots += 1
        sys.stderr.write("snapshot %d: %s\n" % (Handler.snapshots, kind))
        sys.stderr.flush()
        data = bytes(range(256)) * 256
        sha = hashlib.sha256(data).hexdigest()
        size = len(data)
        if kind == "corrupt":
            sha = hashlib.sha256(b"something else").hexdigest()
        elif kind == "truncated":
            size = 2 * len(data)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("X-Snapshot-Head", "999")
        self.send_header("X-Snapshot-Size", str(size))
        self.send_header("X-Snapshot-Sha256", sha)
        self.send_header("Content-Length", str(size))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        self.close_connection = True


if __name__ == "__main__":
    server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.serve_forever()
