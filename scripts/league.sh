#!/usr/bin/env bash
# The league table: installs every MCP policy proxy that installs offline
# (PyPI, and crates.io for the Rust mcp-guard; versions pinned as in
# ../shared/reference/peers/, plus IBM ContextForge) into .peers/league/,
# prepares each one's policy from ../shared/reference/peers/ (only the upstream
# command and file paths are rewritten, as gauntlet placeholders), then runs
# the attack database through all of them:
#   bash scripts/league.sh [-o league.md] [--only SCENARIO]... [--proxy NAME]...
set -euo pipefail
cd "$(dirname "$0")/.."
REF=../shared/reference/peers
PEERS=.peers/league
[ -d "$REF" ] || { echo "league: $REF not found (the peers' reference policies live there)" >&2; exit 2; }
mkdir -p "$PEERS/policies"

install() { # DIR PIP-SPEC...
  local dir=$1; shift
  local spec missing=
  for spec in "$@"; do
    "$PEERS/$dir/venv/bin/pip" show -q "${spec%%[=\[]*}" >/dev/null 2>&1 || missing=1
  done
  if [ -n "$missing" ]; then
    python3 -m venv "$PEERS/$dir/venv"
    "$PEERS/$dir/venv/bin/pip" install -q "$@" > "$PEERS/$dir/install.log" 2>&1 || { echo "league: installing $* failed, see $PEERS/$dir/install.log" >&2; return 1; }
  fi
}
install agentbelay agentbelay==0.1.0 &
install bastion-mcp bastion-mcp==1.0.2 &
install mcp-policy-gateway mcp-policy-gateway==0.1.0 &
install clayseal clayseal==0.6.2 &
install bonanza-mcp-guard 'bonanza-mcp-guard[yaml]==0.1.4' &
# IBM ContextForge (about 2-3 minutes). Its rate limiter is a separate plugin
# package; cpex-rate-limiter 0.1.10 and later need mcp>=2, which 1.0.7 refuses,
# so 0.1.9 is the newest that installs beside it.
install contextforge mcp-contextforge-gateway==1.0.7 cpex-rate-limiter==0.1.9 &
# The Rust peer builds from crates.io: about 13 minutes on 2 cores the first
# time. LEAGUE_SKIP_RUST=1 leaves it out (its row then says it could not start).
if [ "${LEAGUE_SKIP_RUST:-}" != 1 ] && [ ! -x "$PEERS/rust-mcp-guard/bin/mcp-guard" ]; then
  mkdir -p "$PEERS/rust-mcp-guard"
  echo "league: building mcp-guard 1.0.0 from crates.io (about 13 minutes the first time)" >&2
  CARGO_TARGET_DIR="$PEERS/rust-mcp-guard/target" cargo install -q --locked mcp-guard@1.0.0 --root "$PEERS/rust-mcp-guard" \
    > "$PEERS/rust-mcp-guard/install.log" 2>&1 || echo "league: building mcp-guard failed, see $PEERS/rust-mcp-guard/install.log" >&2
  rm -rf "$PEERS/rust-mcp-guard/target"
fi &
wait

# Policies: the reference files with their upstream (the hand-run toy server)
# replaced by the run's gauntlet mock, and relative state files put in {state_dir}.
python3 - "$REF" "$PEERS/policies" <<'PY'
import re, sys, pathlib
ref, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
def put(name, text):
    (out / name).write_text(text)
def upstream_args(text):
    text = re.sub(r'command: python3\n(\s*)args: \[[^\]]*\]', r'command: {upstream_command}\n\1args: {upstream_args_json}', text)
    return re.sub(r'command: python3 \./toy_server\.py \S+', 'command: {upstream}', text)
def state_paths(text):
    return re.sub(r'\./([\w.-]+\.(jsonl|json))', r'{state_dir}/\1', text)
put("agentbelay.yaml", (ref / "agentbelay/belay.yaml").read_text())
put("clayseal.yaml", (ref / "clayseal/policy.yaml").read_text())
for peer, src in [("bastion-mcp", "bastion-mcp/bastion.yaml"), ("mcp-policy-gateway", "mcp-policy-gateway/policy.yaml"),
                  ("bonanza-mcp-guard", "bonanza-mcp-guard/mcp-guard.yaml")]:
    put(peer + ".yaml", state_paths(upstream_args((ref / src).read_text())))
# The Rust mcp-guard enforces only in its HTTP front (`run`): it listens on the
# run's {port} and starts the run's mock as its stdio upstream.
toml = (ref / "rust-mcp-guard/mcp-guard.toml").read_text()
toml = re.sub(r'port = \d+', 'port = {port}', toml)
toml = re.sub(r'command = "python3"\nargs = \[[^\]]*\]', 'command = "{upstream_command}"\nargs = {upstream_args_json}', toml)
put("rust-mcp-guard.toml", toml)
PY
cp "$REF/mcp-policy-gateway/run_patched.py" "$PEERS/policies/mcp-policy-gateway-run.py"
# ContextForge: the launcher, and an empty migrated database each run starts
# from (its migrations take half a minute; every run would repeat them).
cp examples/league/contextforge-run.py "$PEERS/policies/contextforge-run.py"
CF="$PEERS/contextforge"
if [ ! -s "$CF/template.db" ] && [ -x "$CF/venv/bin/python" ]; then
  rm -f "$CF"/template.db*
  DATABASE_URL="sqlite:///$(realpath "$CF")/template.db" \
    JWT_SECRET_KEY="$("$CF/venv/bin/python" -c 'import runpy; print(runpy.run_path("examples/league/contextforge-run.py")["SECRET"])')" \
    PLATFORM_ADMIN_EMAIL=admin@example.com PLATFORM_ADMIN_PASSWORD='League-Loopback-2026!' LOG_LEVEL=ERROR \
    "$CF/venv/bin/python" -m mcpgateway.bootstrap_db > "$CF/bootstrap.log" 2>&1 \
    || { rm -f "$CF"/template.db*; echo "league: preparing ContextForge's database failed, see $CF/bootstrap.log" >&2; }
fi

[ "${LEAGUE_PREPARE_ONLY:-}" = 1 ] && exit 0
cargo build --release -q
exec target/release/gauntlet league examples/league/league.yaml --peers "$PEERS" "$@"
