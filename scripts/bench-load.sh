#!/usr/bin/env bash
# Policy loading time, as `gauntlet validate` pays it, on two generated
# policies: 64,000 tools (one rate-limited rule each) and one of about
# 7 MiB (under the 8 MiB input limit). Several rounds; prints each file's
# median, min and max CPU seconds (user + system: steadier than wall time
# on a shared machine; the wall median beside it), and with BASELINE
# (another gauntlet binary) the same for it in the same rounds, and the
# ratio of medians.
#   scripts/bench-load.sh [GAUNTLET] [BASELINE] [ROUNDS]
# Use release builds (`cargo build --release`); a BASELINE that takes more
# than 120 s on a file is stopped and reported as "> 120 s".
set -euo pipefail
bin="${1:-target/release/gauntlet}"
base="${2:-}"
rounds="${3:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$work" <<'PY'
import sys
d = sys.argv[1]
def policy(path, n, pad):
    with open(path, "w") as f:
        f.write('version: "1"\ndefault: deny\ntools:\n')
        for i in range(n):
            f.write(f'  tool_{i}:\n    rules:\n      - name: "limit {i}{pad}"\n        rate_limit: 5/hour\n')
policy(f"{d}/64000-tools.yaml", 64000, "")
policy(f"{d}/7-mib.yaml", 64000, " " + "x" * 35)
PY
python3 - "$bin" "$base" "$rounds" "$work" <<'PY'
import os, resource, statistics, subprocess, sys, time
bin_, base, rounds, d = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def cpu():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime
def once(b, f):
    t, c = time.perf_counter(), cpu()
    try:
        r = subprocess.run([b, "validate", f], capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None
    if r.returncode != 0:
        sys.exit(f"{b} validate {f} exited {r.returncode}: {r.stdout[:200]!r}")
    return (cpu() - c, time.perf_counter() - t)
for name in ("64000-tools.yaml", "7-mib.yaml"):
    f = f"{d}/{name}"
    size = os.path.getsize(f)
    sides = [("this build", bin_)] + ([("baseline", base)] if base else [])
    times = {s: [] for s, _ in sides}
    for _ in range(rounds):
        for s, b in sides:
            times[s].append(once(b, f))
    med = {}
    for s, _ in sides:
        ts = times[s]
        if any(t is None for t in ts):
            print(f"{name} ({size} bytes) {s}: > 120 s")
            med[s] = None
            continue
        cs = [t[0] for t in ts]
        med[s] = statistics.median(cs)
        wall = statistics.median(t[1] for t in ts)
        print(f"{name} ({size} bytes) {s}: median {med[s]:.3f} CPU s (min {min(cs):.3f}, max {max(cs):.3f}, {rounds} rounds; wall median {wall:.3f} s)")
    if base and med.get("baseline") and med.get("this build"):
        print(f"{name}: baseline / this build = {med['baseline'] / med['this build']:.1f}x")
PY
