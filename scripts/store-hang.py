#!/usr/bin/env python3
"""How long calls wait on a hung state store: a counted call, then an
uncounted one, sent back to back through `gauntlet proxy --state-dsn` while
its redis-server is SIGSTOPped; the seconds until each is answered, and how.

    scripts/store-hang.py [--gauntlet BIN] [--rounds N] [-- EXTRA PROXY FLAGS]

BIN defaults to target/debug/gauntlet; run it against another build to
compare. Needs redis-server (scripts/install-peers.sh installs it).
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POLICY = """version: "1"
default: allow
tools:
  list_customers:
    rules:
      - name: counted
        rate_limit: 100/minute
"""
INIT = {"jsonrpc": "2.0", "id": "init", "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(id_, tool):
    return {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": {"name": tool, "arguments": {}}}


def pings(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(7) == b"+PONG\r\n"
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gauntlet", default=os.path.join(ROOT, "target/debug/gauntlet"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("extra", nargs="*", help="more `gauntlet proxy` flags (after --)")
    args = ap.parse_args()

    work = tempfile.mkdtemp()
    policy = os.path.join(work, "policy.yaml")
    with open(policy, "w") as f:
        f.write(POLICY)
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                              "--dir", work], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not pings(port):
        time.sleep(0.02)
    proxy = subprocess.Popen([args.gauntlet, "proxy", "-c", policy, "--no-reload", "--state-dsn", f"redis://127.0.0.1:{port}/0",
                              *args.extra, "--", args.gauntlet, "mock", os.path.join(ROOT, "mock-servers/payments.yaml")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    answers = {}
    arrived = threading.Condition()

    def read():
        for line in proxy.stdout:
            msg = json.loads(line)
            with arrived:
                answers[msg.get("id")] = (time.monotonic(), msg)
                arrived.notify_all()

    threading.Thread(target=read, daemon=True).start()

    def send(msg):
        proxy.stdin.write(json.dumps(msg).encode() + b"\n")
        proxy.stdin.flush()

    def wait(id_, limit=60):
        with arrived:
            arrived.wait_for(lambda: id_ in answers, timeout=limit)
            return answers.get(id_)

    def how(msg):
        if "error" in msg:
            return "error " + msg["error"]["message"]
        text = msg["result"].get("content", [{}])[0].get("text", "")
        return text if msg["result"].get("isError") else "allowed"

    send(INIT)
    wait("init")
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    counted, uncounted = [], []
    try:
        for n in range(args.rounds):
            redis.send_signal(signal.SIGSTOP)
            start = time.monotonic()
            send(call(f"counted-{n}", "list_customers"))
            send(call(f"uncounted-{n}", "delete_customer"))
            for name, seen in (("counted", counted), ("uncounted", uncounted)):
                at, msg = wait(f"{name}-{n}")
                seen.append(at - start)
                print(f"round {n + 1}: {name} call answered after {at - start:.3f} s: {how(msg)}")
            redis.send_signal(signal.SIGCONT)
            time.sleep(3)  # the proxy reconnects and the late decisions settle
    finally:
        redis.send_signal(signal.SIGCONT)
        proxy.stdin.close()
        proxy.wait(timeout=30)
        redis.kill()
    print(f"median over {args.rounds} rounds: counted {statistics.median(counted):.3f} s, uncounted {statistics.median(uncounted):.3f} s")


if __name__ == "__main__":
    sys.exit(main())
