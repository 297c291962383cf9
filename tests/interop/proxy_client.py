"""Drives one MCP server (a stdio command or a Streamable HTTP URL) with the
Python `mcp` SDK client: makes the given calls in order, then lists the tools, and
prints one JSON object with what came back, for tests/proxy/proxy_peers.rs.
A "call" named by a surface method (`resources/list`, `resources/read`,
`prompts/list`, `prompts/get`) makes that request instead, with `uri`, `name`
and `arguments` taken from its args; its entry holds the result, or the
JSON-RPC error the SDK raised.

usage: proxy_client.py '{"command": [...]} | {"url": "...", "headers": {...}}' '[["tool", {args}], ...]'
"""
import json
import sys

import anyio
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

SURFACES = {
    "resources/list": lambda c, a: c.list_resources(),
    "resources/read": lambda c, a: c.read_resource(a["uri"]),
    "prompts/list": lambda c, a: c.list_prompts(),
    "prompts/get": lambda c, a: c.get_prompt(a["name"], a.get("arguments")),
}


async def surface(client, name: str, args: dict) -> dict:
    try:
        result = await SURFACES[name](client, args)
    except MCPError as e:
        return {"name": name, "error": {"code": e.code, "message": e.error.message}}
    return {"name": name, "result": result.model_dump(mode="json", by_alias=True, exclude_none=True)}


async def main(target: dict, calls: list) -> None:
    if "url" in target:
        server = target["url"]
    else:
        command = target["command"]
        server = StdioServerParameters(command=command[0], args=command[1:])
    out = {"tools": [], "calls": []}
    async with Client(server, mode="legacy", read_timeout_seconds=20) as client:
        for name, args in calls:
            if name in SURFACES:
                out["calls"].append(await surface(client, name, args))
                continue
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
