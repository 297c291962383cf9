"""An HTTP policy front that refuses the way HTTP-only proxies do: with an
HTTP status instead of a JSON-RPC answer. Used by the black-box tests of
`gauntlet verify --proxy-url`.

    python3 http_refusing_front.py PORT UPSTREAM_URL

Forwards every POST to UPSTREAM_URL (a Streamable HTTP server) with its MCP
headers, except `tools/call`s it refuses: a tool whose name contains
"delete" gets 403 with a JSON body, and every call after the fifth gets 429.
"""

import json
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, UPSTREAM = int(sys.argv[1]), sys.argv[2]
LIMIT = 5
calls = 0
lock = threading.Lock()
FORWARDED = ("content-type", "accept", "mcp-session-id", "mcp-protocol-version", "mcp-method", "mcp-name")


class Front(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        global calls
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            msg = json.loads(body)
        except ValueError:
            msg = {}
        if isinstance(msg, dict) and msg.get("method") == "tools/call":
            name = str((msg.get("params") or {}).get("name", ""))
            if "delete" in name.lower():
                refusal = {"error": f"tool '{name}' is not allowed", "error_id": "test"}
                return self.answer(403, json.dumps(refusal).encode(), [("Content-Type", "application/json")])
            with lock:
                calls += 1
                over = calls > LIMIT
            if over:
                refusal = {"error": "Rate limit exceeded", "retry_after": 60}
                return self.answer(429, json.dumps(refusal).encode(), [("Content-Type", "application/json")])
        headers = {k: v for k, v in self.headers.items() if k.lower() in FORWARDED}
        req = urllib.request.Request(UPSTREAM, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, out, got = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, out, got = e.code, e.read(), e.headers
        relayed = [(k, v) for k, v in got.items() if k.lower() in ("content-type", "mcp-session-id")]
        self.answer(status, out, relayed)


ThreadingHTTPServer(("127.0.0.1", PORT), Front).serve_forever()
