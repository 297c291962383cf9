#!/usr/bin/env bash
# Re-records the real MCP servers bundled in mock-servers/ from their pinned
# npm packages, with `gauntlet mock record` run exactly as a user would run it
# (`npx -y PACKAGE@VERSION`). npx runs inside .peers/, so it resolves the tree
# locked in scripts/peers/package-lock.json rather than whatever the registry
# serves today. Run it after changing a pin here and in scripts/peers/ (then
# re-lock); `cargo test --test verify mock_servers::` checks each file against the
# package installed in .peers/ and fails on any difference.
# Servers that need an API key get a dummy one: listing tools needs no account.
set -euo pipefail
cd "$(dirname "$0")/.."

GAUNTLET="${GAUNTLET:-$PWD/target/debug/gauntlet}"
[ -x "$GAUNTLET" ] || cargo build --quiet
bash scripts/install-peers.sh
OUT="$PWD/mock-servers"

record() {
    local name="$1" package="$2"
    shift 2
    # npx may first download the package: give it time.
    (cd .peers && "$GAUNTLET" mock record -o "$OUT/$name.yaml" --timeout 180 --package "$package" -- "$@")
}

record everything @modelcontextprotocol/server-everything@2026.8.31 \
    npx -y @modelcontextprotocol/server-everything@2026.8.31
record filesystem @modelcontextprotocol/server-filesystem@2026.8.31 \
    npx -y @modelcontextprotocol/server-filesystem@2026.8.31 /tmp
record memory @modelcontextprotocol/server-memory@2026.8.31 \
    npx -y @modelcontextprotocol/server-memory@2026.8.31
record sequential-thinking @modelcontextprotocol/server-sequential-thinking@2026.8.31 \
    npx -y @modelcontextprotocol/server-sequential-thinking@2026.8.31
record github @modelcontextprotocol/server-github@2025.4.8 \
    env GITHUB_PERSONAL_ACCESS_TOKEN=dummy npx -y @modelcontextprotocol/server-github@2025.4.8
record slack @modelcontextprotocol/server-slack@2025.4.25 \
    env SLACK_BOT_TOKEN=dummy SLACK_TEAM_ID=T00000000 npx -y @modelcontextprotocol/server-slack@2025.4.25
record postgres @modelcontextprotocol/server-postgres@0.6.2 \
    npx -y @modelcontextprotocol/server-postgres@0.6.2 postgresql://localhost/db
record brave-search @brave/brave-search-mcp-server@2.1.4 \
    env BRAVE_API_KEY=dummy npx -y @brave/brave-search-mcp-server@2.1.4
record notion @notionhq/notion-mcp-server@2.5.2 \
    env NOTION_TOKEN=dummy npx -y @notionhq/notion-mcp-server@2.5.2
record playwright @playwright/mcp@0.0.83 \
    env PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx -y @playwright/mcp@0.0.83
