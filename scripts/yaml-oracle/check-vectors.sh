#!/usr/bin/env bash
# Labels YAML load outcomes with yaml.v3 itself (v3.0.1, Intercept's
# version): builds the oracle in src/ (Debian's golang-go and
# golang-gopkg-yaml.v3-dev, installed here if missing), then loads every
# policy of conformance/loader-vectors.yaml with it and fails on any vector
# whose load outcome differs (a load_error text, or a policy that should load).
#   scripts/yaml-oracle/check-vectors.sh            # the loader vectors
#   scripts/yaml-oracle/oracle FILE…                # one JSON line per file
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if ! command -v go >/dev/null || [ ! -d /usr/share/gocode/src/gopkg.in/yaml.v3 ]; then
  apt-get install -y golang-go golang-gopkg-yaml.v3-dev >/dev/null
fi
GOPATH="$here:/usr/share/gocode" GO111MODULE=off go build -o "$here/oracle" oracle
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$root/conformance/loader-vectors.yaml" "$work" <<'PY'
import json, sys, yaml
vectors = yaml.safe_load(open(sys.argv[1]))["vectors"]
for i, v in enumerate(vectors):
    open(f"{sys.argv[2]}/{i:04}.yaml", "wb").write(v["policy"].encode())
    json.dump(v, open(f"{sys.argv[2]}/{i:04}.json", "w"))
PY
"$here/oracle" "$work"/*.yaml | python3 -c '
import json, sys
bad = 0
for line in sys.stdin:
    r = json.loads(line)
    v = json.load(open(r["file"][:-5] + ".json"))
    got, want = r.get("error"), v.get("load_error")
    ok = got == want if want else (got is None or v["kind"] == "invalid_policy" and "errors" in v)
    if not ok:
        bad += 1
        print("DIFFERS %s: yaml.v3 says %r, the vector %r" % (v["id"], got, want))
print(f"{bad} of the vectors differ from yaml.v3")
sys.exit(1 if bad else 0)
'
