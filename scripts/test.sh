#!/usr/bin/env bash
# The project's one test command (README and .ci/run call exactly this):
# install the MCP peers the interop tests talk to (Python `mcp` SDK from
# PyPI, the inspector CLI and server-everything from npm, into .peers/), then
# run the whole Rust test suite with those peers required, not optional.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-peers.sh
export GAUNTLET_REQUIRE_PEERS=1
cargo test --all-targets "$@"
