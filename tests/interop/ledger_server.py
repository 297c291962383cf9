"""A tiny MCP server built on the official Python SDK (`MCPServer`, stdio
transport), for the framing tests in tests/proxy_peers.rs: whatever line
splitting and JSON decoding the SDK does is the SDK's own, not a model of it.

Every tool that runs appends one JSON line to the ledger file, so a test
can tell which calls reached the server and ran.

usage: ledger_server.py LEDGER.jsonl
"""
import json
import sys

from mcp.server.mcpserver import MCPServer

LEDGER = sys.argv[1]
server = MCPServer("ledger-server")


def ran(tool: str, arguments: dict) -> str:
    with open(LEDGER, "a", encoding="utf-8") as ledger:
        ledger.write(json.dumps({"tool": tool, "arguments": arguments}) + "\n")
    return f"{tool} ran"


@server.tool()
def delete_customer(customer: str) -> str:
    """Delete a customer (destructive)."""
    return ran("delete_customer", {"customer": customer})


@server.tool()
def list_customers() -> str:
    """List the customers (read)."""
    return ran("list_customers", {})


server.run("stdio")
