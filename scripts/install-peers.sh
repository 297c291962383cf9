#!/usr/bin/env bash
# Installs the real MCP peers the interop tests talk to, into .peers/ at the
# repository root (git-ignored): a Python venv with the `mcp` SDK, and the
# inspector CLI plus the real servers recorded in mock-servers/ and the
# official SARIF 2.1.0 JSON Schema from npm; Debian's redis-server
# (system-wide) for the shared-state tests, headless Chromium, and Debian's
# libfaketime for the tests of `verify --clock-rate`.
# Idempotent: a peer already present at the pinned version is left alone.
# Versions are pinned so a test failure means our code changed, not a peer.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Python peers: the `mcp` SDK and the real servers recorded as test data
# (tests/data/servers/; the live `gauntlet proxy` checks run them behind the
# proxy). scripts/peers/requirements.lock pins every package of the tree, as
# package-lock.json does for npm: pinned top-level versions alone let a
# transitive dependency move between two CI runs. Re-lock with
# `pip freeze > scripts/peers/requirements.lock` in a venv where the new pins
# were installed.
PY_LOCK="$PWD/scripts/peers/requirements.lock"
MCP_PY_VERSION="$(sed -n 's/^mcp==//p' "$PY_LOCK")"

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

# --- Python peers -----------------------------------------------------------
if ! command -v python3 >/dev/null || ! python3 -c "import venv, ensurepip" 2>/dev/null; then
    apt_install python3 python3-venv || true
fi
command -v python3 >/dev/null || fail "python3 is not on PATH" "install Python 3.10+ (apt-get install python3 python3-venv)"
if ! cmp -s "$PY_LOCK" "$PEERS/requirements.lock" || [ ! -x "$PEERS/venv/bin/python" ]; then
    if [ ! -x "$PEERS/venv/bin/python" ]; then
        python3 -m venv "$PEERS/venv" >"$PEERS/venv.log" 2>&1 \
            || fail "could not create the venv at .peers/venv (log: .peers/venv.log)" "install python3-venv (apt-get install python3-venv)"
    fi
    rm -f "$PEERS/requirements.lock"
    # A registry can drop a connection or answer 5xx for a moment: three
    # tries, and the log's end is printed if all fail so a CI record shows why.
    : >"$PEERS/pip.log"
    for wait in 5 20 0; do
        if "$PEERS/venv/bin/pip" install --quiet --disable-pip-version-check -r "$PY_LOCK" >>"$PEERS/pip.log" 2>&1; then
            cp "$PY_LOCK" "$PEERS/requirements.lock"
            break
        fi
        [ "$wait" = 0 ] && break
        echo "install-peers: pip failed; trying again in ${wait}s (log: .peers/pip.log)" >&2
        sleep "$wait"
    done
    if [ ! -f "$PEERS/requirements.lock" ]; then
        tail -n 25 "$PEERS/pip.log" | sed 's/^/  pip: /' >&2
        fail "pip could not install the locked Python peers from scripts/peers/requirements.lock (log: .peers/pip.log)" "check that PyPI is reachable"
    fi
fi

# --- npm peers --------------------------------------------------------------
command -v npm >/dev/null || apt_install nodejs npm || true
command -v npm >/dev/null || fail "npm is not on PATH" "install Node.js 20+ with npm"
# The inspector CLI and the real servers bundled as recorded mocks
# (mock-servers/*.yaml name the same package@version in `recorded.package`; a
# test re-records each and fails on any difference). scripts/peers/ holds
# their package.json and its package-lock.json, and `npm ci` installs exactly
# that tree: a pinned top-level version alone let a transitive dependency move
# and change a recorded schema. Re-lock with
# `npm install --package-lock-only --prefix scripts/peers` when a pin changes,
# then re-record (scripts/record-mocks.sh).
LOCK_DIR="$PWD/scripts/peers"
if ! cmp -s "$LOCK_DIR/package-lock.json" "$PEERS/package-lock.json" \
    || [ ! -d "$PEERS/node_modules" ] || [ ! -f "$PEERS/.npm-ci-done" ]; then
    cp "$LOCK_DIR/package.json" "$LOCK_DIR/package-lock.json" "$PEERS/"
    rm -f "$PEERS/.npm-ci-done"
    # The inspector declares node >=22 but its CLI mode works on Node 20: the
    # EBADENGINE warning is expected and goes to the log. Playwright's and
    # Puppeteer's browsers are not needed to list their tools, so their
    # downloads are skipped.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1 npm ci --prefix "$PEERS" --no-audit --no-fund --loglevel=error \
        >"$PEERS/npm.log" 2>&1 \
        || fail "npm could not install the locked peers from scripts/peers/package-lock.json (log: .peers/npm.log)" "check that the npm registry is reachable"
    touch "$PEERS/.npm-ci-done"
fi
# The official SARIF 2.1.0 JSON Schema, as Microsoft (the SARIF SDK's authors)
# ship it in their validator package @microsoft/jest-sarif (locked with the
# rest): tests validate gauntlet's SARIF against that file, never run its code.
[ -f "$PEERS/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json" ] \
    || fail "the SARIF 2.1.0 schema is missing after install (.peers/node_modules/@microsoft/jest-sarif/lib/schemas/)" "remove .peers/node_modules and rerun this script"
[ -x "$PEERS/node_modules/.bin/mcp-inspector" ] || fail "the inspector CLI is missing after install (.peers/node_modules/.bin/mcp-inspector)" "remove .peers/node_modules and rerun this script"

# --- redis-server (tests of `gauntlet proxy --state-dsn`) --------------------
# The tests start their own server on a free loopback port; the package's
# system service is not used.
command -v redis-server >/dev/null || apt_install redis-server || true
command -v redis-server >/dev/null || fail "redis-server is not on PATH" "install Debian's redis-server package (apt-get install redis-server)"

# --- libfaketime (`verify --clock-rate`: a proxy on a faster clock) ----------
# Debian's package, pinned: the tests preload it into `gauntlet proxy`.
LIBFAKETIME_VERSION="0.9.10-2.1"
if [ "$(dpkg-query -W -f='${Version}' libfaketime 2>/dev/null || true)" != "$LIBFAKETIME_VERSION" ]; then
    apt_install "libfaketime=$LIBFAKETIME_VERSION" || true
fi
[ "$(dpkg-query -W -f='${Version}' libfaketime 2>/dev/null || true)" = "$LIBFAKETIME_VERSION" ] \
    || fail "libfaketime $LIBFAKETIME_VERSION is not installed" "install it from Debian's packages: apt-get update && apt-get install -y libfaketime=$LIBFAKETIME_VERSION"

# --- headless Chromium (renders the HTML report in a real browser) ----------
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    apt_install chromium || true
fi
command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
    || fail "chromium is not on PATH" "install it from Debian's packages: apt-get update && apt-get install -y chromium"

echo "peers ready in .peers: mcp $MCP_PY_VERSION (python), the npm tree locked in scripts/peers/package-lock.json (with the SARIF schema); $(redis-server --version | cut -d' ' -f1-3); chromium on PATH; libfaketime $LIBFAKETIME_VERSION" >&2
