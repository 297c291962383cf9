"""A real MCP client (the Python `mcp` SDK) driving a gauntlet mock server.

Usage: py_client.py stdio|http TARGET MODE TOOL ARGS_JSON
  stdio: TARGET is a JSON list, the server command line
  http:  TARGET is the server URL (http://127.0.0.1:PORT/mcp)
  MODE:  auto | legacy  (auto probes server/discover first, as the SDK does by default)
Prints one JSON object: negotiated version, listed tools with their input
schemas, and the call's result.
"""
import json
import sys

import anyio
from mcp import Client, StdioServerParameters


async def main(transport: str, target: str, mode: str, tool: str, args_json: str) -> None:
    if transport == "stdio":
        cmd = json.loads(target)
        server = StdioServerParameters(command=cmd[0], args=cmd[1:])
    else:
        server = target
    async with Client(server, mode=mode, read_timeout_seconds=20) as c:
        listed = await c.list_tools()
        result = await c.call_tool(tool, json.loads(args_json))
        out = {
            "protocol_version": c.protocol_version,
            "server_name": c.server_info.name if c.server_info else None,
            "tools": [
                {"name": t.name, "inputSchema": t.input_schema, "description": t.description}
                for t in listed.tools
            ],
            "call": {
                "is_error": bool(result.is_error),
                "text": [getattr(b, "text", None) for b in result.content],
            },
        }
    print(json.dumps(out))


if __name__ == "__main__":
    anyio.run(main, *sys.argv[1:6])
