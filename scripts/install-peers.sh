#!/usr/bin/env bash
# Installs the real MCP peers the interop tests talk to, into .peers/ at the
# repository root (git-ignored): a Python venv with the `mcp` SDK, and the
# inspector CLI plus server-everything from npm. Idempotent: a peer already
# present at the pinned version is left alone. Versions are pinned so a test
# failure means our code changed, not a peer.
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
npm_has() {
    local pkg="$1" want="$2" got
    got=$(node -e "try{console.log(require('$PEERS/node_modules/$pkg/package.json').version)}catch(e){}" 2>/dev/null || true)
    [ "$got" = "$want" ]
}
if ! npm_has @modelcontextprotocol/inspector "$INSPECTOR_VERSION" \
    || ! npm_has @modelcontextprotocol/server-everything "$EVERYTHING_VERSION"; then
    [ -f "$PEERS/package.json" ] || echo '{"name":"gauntlet-peers","private":true}' >"$PEERS/package.json"
    # The inspector declares node >=22 but its CLI mode works on Node 20: the
    # EBADENGINE warning is expected and goes to the log.
    npm install --prefix "$PEERS" --no-audit --no-fund --loglevel=error \
        "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" \
        "@modelcontextprotocol/server-everything@$EVERYTHING_VERSION" >"$PEERS/npm.log" 2>&1 \
        || fail "npm could not install the inspector and server-everything (log: .peers/npm.log)" "check that the npm registry is reachable"
fi
[ -x "$PEERS/node_modules/.bin/mcp-inspector" ] || fail "the inspector CLI is missing after install (.peers/node_modules/.bin/mcp-inspector)" "remove .peers/node_modules and rerun this script"

echo "peers ready in .peers: mcp $MCP_PY_VERSION (python), @modelcontextprotocol/inspector $INSPECTOR_VERSION, @modelcontextprotocol/server-everything $EVERYTHING_VERSION" >&2
