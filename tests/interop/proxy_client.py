"""Drives one MCP server (a stdio command or a Streamable HTTP URL) with the
Python `mcp` SDK client: makes the given calls in order, then lists the tools, and
prints one JSON object with what came back, for tests/proxy/proxy_peers.rs.

usage: proxy_client.py '{"command": [...]} | {"url": "...", "headers": {...}}' '[["tool", {args}], ...]'
"""
import json
import sys

import anyio
from mcp import Client, StdioServerParameters


async def main(target: dict, calls: list) -> None:
    if "url" in target:
        server = target["url"]
    else:
        command = target["command"]
        server = StdioServerParameters(command=command[0], args=command[1:])
    out = {"tools": [], "calls": []}
    async with Client(server, mode="legacy", read_timeout_seconds=20) as client:
        for name, args in calls:
            result = await client.call_tool(name, args)
            out["calls"].append(
                {
                    "name": name,
                    "isError": bool(result.is_error),
                    "content": [b.model_dump(mode="json", by_alias=True, exclude_none=True) for b in result.content],
                }
            )
        # Listed after the calls: some servers (server-everything) register
        # tools only once initialization is done, and a list sent right after
        # it can race that over HTTP; by now every tool is registered.
        listed = await client.list_tools()
        out["tools"] = [t.name for t in listed.tools]
    print(json.dumps(out))


anyio.run(main, json.loads(sys.argv[1]), json.loads(sys.argv[2]))
