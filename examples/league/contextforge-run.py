"""Starts IBM ContextForge for one league run, in front of the run's mock.

ContextForge federates an upstream MCP server only through its admin API:
the server is registered as a gateway once the process is up, and a virtual
server chooses which of its tools an agent may reach. So this launcher starts
the gateway on a private port, registers `--upstream` there, creates the
virtual server (fixed id, only the `--expose` tools), and only then opens
`--port`, relaying bytes to the private one: the agent's first `initialize`
never meets a half-configured gateway. Killing this process's group ends the
gateway too; a restart in the same state dir keeps the database (and, with a
Redis backend, the rate limiter's counters) and skips what is registered.

Run with ContextForge's own venv python (scripts/league.sh installs it).
"""

import argparse
import asyncio
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

# A throwaway key for a gateway that only ever listens on loopback during a
# league run; the league file's bearer token is signed with it (minted with
# ContextForge's `python -m mcpgateway.utils.create_jwt_token`).
SECRET = "gauntlet-league-loopback-only-9f3c2a7e5b1d4c8a6e0f2b9d7c5a3e1f"
ADMIN = "admin@example.com"
SERVER_ID = "0a7e5c1d2b3f4a5e8c9d0e1f2a3b4c5d"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    # The gateway must not outlive this launcher (a SIGKILL of it alone would leak it).
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def call(base, method, path, token, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", "Bearer " + token)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, json.loads(r.read() or b"null")


def wait_healthy(base, gateway, deadline):
    while time.monotonic() < deadline:
        if gateway.poll() is not None:
            sys.exit(f"contextforge-run: the gateway exited ({gateway.returncode}) before it was healthy")
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    sys.exit("contextforge-run: the gateway was not healthy in time")


def configure(base, token, name, upstream, expose):
    try:
        status, _ = call(base, "GET", f"/servers/{SERVER_ID}", token)
        if status == 200:
            return  # a restart over the same database
    except urllib.error.HTTPError as e:
        if e.code != 404:
            raise
    call(base, "POST", "/gateways", token, {"name": name, "url": upstream, "transport": "STREAMABLEHTTP"})
    _, tools = call(base, "GET", "/tools?limit=0", token)
    tools = tools["items"] if isinstance(tools, dict) else tools
    by_name = {t["originalName"]: t["id"] for t in tools}
    missing = [t for t in expose if t not in by_name]
    if missing:
        sys.exit(f"contextforge-run: the upstream does not offer {missing} (it offers {sorted(by_name)})")
    server = {"id": SERVER_ID, "name": "league", "associated_tools": [by_name[t] for t in expose]}
    call(base, "POST", "/servers", token, {"server": server})


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def relay(port, private):
    async def one(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", private)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(one, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True, help="where the agent connects")
    ap.add_argument("--upstream", required=True, help="the mock's Streamable HTTP URL")
    ap.add_argument("--name", default="toy", help="the upstream's gateway name (ContextForge lists its tools as NAME-TOOL)")
    ap.add_argument("--expose", required=True, help="comma-separated upstream tools the virtual server offers")
    ap.add_argument("--plugins", required=True, help="ContextForge's plugin config (the rate limiter)")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--template-db", help="a migrated empty database to start from (saves the migrations)")
    ap.add_argument("--token", required=True, help="the admin bearer token (signed with SECRET)")
    args = ap.parse_args()

    db = os.path.join(args.state_dir, "contextforge.db")
    if not os.path.exists(db) and args.template_db and os.path.exists(args.template_db):
        shutil.copyfile(args.template_db, db)
    private = free_port()
    env = dict(
        os.environ,
        DATABASE_URL="sqlite:///" + os.path.abspath(db),
        JWT_SECRET_KEY=SECRET,
        PLATFORM_ADMIN_EMAIL=ADMIN,
        PLATFORM_ADMIN_PASSWORD="League-Loopback-2026!",
        MCPGATEWAY_ADMIN_API_ENABLED="true",
        MCPGATEWAY_UI_ENABLED="false",
        SSRF_ALLOW_LOCALHOST="true",
        PLUGINS_ENABLED="true",
        PLUGINS_CONFIG_FILE=os.path.abspath(args.plugins),
        CACHE_TYPE="memory",
        LOG_LEVEL="ERROR",
    )
    gateway = subprocess.Popen(
        [sys.executable, "-m", "mcpgateway.cli", "--host", "127.0.0.1", "--port", str(private)],
        env=env,
        stdout=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    signal.signal(signal.SIGTERM, lambda *_: (gateway.terminate(), sys.exit(0)))
    base = f"http://127.0.0.1:{private}"
    wait_healthy(base, gateway, time.monotonic() + 180)
    configure(base, args.token, args.name, args.upstream, [t for t in args.expose.split(",") if t])
    asyncio.run(relay(args.port, private))


if __name__ == "__main__":
    main()
