#!/usr/bin/env bash
# Installs the real MCP peers the interop tests talk to, into .peers/ at the
# repository root (git-ignored): a Python venv with the `mcp` SDK, and the
# inspector CLI plus the real servers recorded in mock-servers/ from npm;
# and Debian's redis-server (system-wide) for the shared-state tests.
# Idempotent: a peer already present at the pinned version is left alone.
# Versions are pinned so a test failure means our code changed, not a peer.
set -euo pipefail
cd "$(dirname "$0")/.."

MCP_PY_VERSION="2.3.0"
INSPECTOR_VERSION="2.12.0"
EVERYTHING_VERSION="2026.8.31"

PEERS="$PWD/.peers"
mkdir -p "$PEERS"

fail() {
    echo "install-peers: $1" >&2
    echo "  help: $2" >&2
    exit 1
}

# A fresh Debian machine may lack the language runtimes themselves: install
# them from Debian's packages when we can (root, or sudo without a password).
apt_install() {
    command -v apt-get >/dev/null || return 1
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        sudo -n true 2>/dev/null || return 1
        sudo="sudo -n"
    fi
    echo "install-peers: installing $* from Debian's packages" >&2
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"; } >"$PEERS/apt.log" 2>&1
}

# --- Python mcp SDK -------------------------------------------------------
if ! command -v python3 >/dev/null || ! python3 -c "import venv, ensurepip" 2>/dev/null; then
    apt_install python3 python3-venv || true
fi
command -v python3 >/dev/null || fail "python3 is not on PATH" "install Python 3.10+ (apt-get install python3 python3-venv)"
if ! "$PEERS/venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mcp') != '$MCP_PY_VERSION')" 2>/dev/null; then
    if [ ! -x "$PEERS/venv/bin/python" ]; then
        python3 -m venv "$PEERS/venv" >"$PEERS/venv.log" 2>&1 \
            || fail "could not create the venv at .peers/venv (log: .peers/venv.log)" "install python3-venv (apt-get install python3-venv)"
    fi
    "$PEERS/venv/bin/pip" install --quiet --disable-pip-version-check "mcp==$MCP_PY_VERSION" >"$PEERS/pip.log" 2>&1 \
        || fail "pip could not install mcp==$MCP_PY_VERSION (log: .peers/pip.log)" "check that PyPI is reachable"
fi

# --- npm peers --------------------------------------------------------------
command -v npm >/dev/null || apt_install nodejs npm || true
command -v npm >/dev/null || fail "npm is not on PATH" "install Node.js 20+ with npm"
# The real servers bundled as recorded mocks (mock-servers/*.yaml name the same
# package@version in `recorded.package`; a test re-records each and fails on
# any difference). Keep this list and those files in step.
RECORDED_NPM=(
    "@modelcontextprotocol/server-everything@$EVERYTHING_VERSION"
    "@modelcontextprotocol/server-filesystem@2026.8.31"
    "@modelcontextprotocol/server-memory@2026.8.31"
    "@modelcontextprotocol/server-sequential-thinking@2026.8.31"
    "@modelcontextprotocol/server-github@2025.4.8"
    "@modelcontextprotocol/server-slack@2025.4.25"
    "@modelcontextprotocol/server-postgres@0.6.2"
    "@brave/brave-search-mcp-server@2.1.4"
    "@notionhq/notion-mcp-server@2.5.2"
    "@playwright/mcp@0.0.83"
)
npm_wanted=("@modelcontextprotocol/inspector@$INSPECTOR_VERSION" "${RECORDED_NPM[@]}")
# One node process checks every pinned version (fast when all are present).
npm_missing=$(node -e '
const [peers, ...specs] = process.argv.slice(1);
let missing = 0;
for (const spec of specs) {
  const at = spec.lastIndexOf("@");
  try {
    if (require(peers + "/node_modules/" + spec.slice(0, at) + "/package.json").version !== spec.slice(at + 1)) missing = 1;
  } catch (e) { missing = 1; }
}
console.log(missing);' "$PEERS" "${npm_wanted[@]}" 2>/dev/null || echo 1)
if [ "$npm_missing" = 1 ]; then
    [ -f "$PEERS/package.json" ] || echo '{"name":"gauntlet-peers","private":true}' >"$PEERS/package.json"
    # The inspector declares node >=22 but its CLI mode works on Node 20: the
    # EBADENGINE warning is expected and goes to the log. Playwright's browsers
    # are not needed to list its tools, so their download is skipped.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$PEERS" --no-audit --no-fund --loglevel=error \
        "${npm_wanted[@]}" >"$PEERS/npm.log" 2>&1 \
        || fail "npm could not install the inspector and the recorded servers (log: .peers/npm.log)" "check that the npm registry is reachable"
fi
[ -x "$PEERS/node_modules/.bin/mcp-inspector" ] || fail "the inspector CLI is missing after install (.peers/node_modules/.bin/mcp-inspector)" "remove .peers/node_modules and rerun this script"

# --- redis-server (tests of `gauntlet proxy --state-dsn`) --------------------
# The tests start their own server on a free loopback port; the package's
# system service is not used.
command -v redis-server >/dev/null || apt_install redis-server || true
command -v redis-server >/dev/null || fail "redis-server is not on PATH" "install Debian's redis-server package (apt-get install redis-server)"

# --- headless Chromium (renders the HTML report in a real browser) ----------
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    apt_install chromium || true
fi
command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
    || fail "chromium is not on PATH" "install it from Debian's packages: apt-get update && apt-get install -y chromium"

echo "peers ready in .peers: mcp $MCP_PY_VERSION (python), @modelcontextprotocol/inspector $INSPECTOR_VERSION, ${#RECORDED_NPM[@]} recorded servers (${RECORDED_NPM[*]}); $(redis-server --version | cut -d' ' -f1-3); chromium on PATH" >&2
