#!/usr/bin/env python3
"""How many mutated policies gauntlet loads exactly as yaml.v3 does.

    scripts/yaml-oracle/agree.py GAUNTLET [--count N] [--seed S]

Writes N policies (seeded; the seed is printed) mutated at the edges where
readers differ — anchors with odd names, merge keys, tags (!!binary too),
directives, tabs, BOMs, line ends, control characters, flow lists closed at
column 0 — loads each with yaml.v3 (the oracle beside this script, built by
check-vectors.sh) and with `GAUNTLET validate`, and counts the files whose
load outcome agrees: both load, or both refuse with the same
`parsing config file: …` text (what `intercept validate` prints)."""
import argparse, json, os, random, subprocess, sys, tempfile

BASES = [
    'version: "1"\ndefault: deny\nhide: [secret]\ntools:\n  t:\n    rules:\n      - name: cap\n        rate_limit: 5/hour\n  pay:\n    rules:\n      - name: max\n        conditions:\n          - path: args.amount\n            op: lte\n            value: 100\n  delete_customer:\n    rules:\n      - name: block\n        action: deny\n',
    'version: "1"\nx: &deny {rules: [{name: n, action: deny}]}\ntools:\n  a: {<<: *deny}\n  b:\n    rules:\n      - name: "spend"\n        conditions:\n          - {path: state.b.s, op: lte, value: 1000}\n        state: {counter: s, window: day, increment_from: args.amount}\n',
]
ANCHORS = ["a", "a.b", "a/b", "a:b", "a-b_1", "ä", "a[b", "a,b", "1"]
TAGS = ["!!str ", "!!binary ", "!!map#x ", "!foo ", "!!int ", "! ", "!<tag:yaml.org,2002:str> ", "!!seq "]
DIRECTIVES = ["%YAML 1.1\n---\n", "%YAML 1.2\n---\n", "%FOO bar\n---\n", "%TAG !e! tag:e,2000:\n---\n", "---\n", "--- !!map\n"]
CONTROLS = ["\0", "\x01", "\x7f", "\u0085", "\u0086", "\ufffe", "\u00a0", "\u2028", "\t"]

def mutate(text, rng):
    for _ in range(rng.randint(1, 3)):
        lines = text.split("\n")
        i = rng.randrange(len(lines))
        op = rng.randrange(10)
        line = lines[i]
        if op == 0 and ": " in line:
            a = rng.choice(ANCHORS)
            lines[i] = line.replace(": ", f": &{a} ", 1)
            lines.append(f"y{rng.randrange(99)}: *{a}")
        elif op == 1 and ": " in line:
            lines[i] = line.replace(": ", ": " + rng.choice(TAGS), 1)
        elif op == 2:
            text = rng.choice(DIRECTIVES) + "\n".join(lines)
            continue
        elif op == 3 and " " in line:
            k = rng.choice([j for j, c in enumerate(line) if c == " "])
            lines[i] = line[:k] + "\t" + line[k + 1:]
        elif op == 4:
            lines.insert(i, rng.choice(["\t", " \t", "\t# c", ""]))
        elif op == 5:
            text = "\ufeff" + "\n".join(lines)
            continue
        elif op == 6:
            return (rng.choice(["\r\n", "\r"])).join(lines)
        elif op == 7 and line:
            k = rng.randrange(len(line) + 1)
            lines[i] = line[:k] + rng.choice(CONTROLS) + line[k:]
        elif op == 8:
            lines.append(rng.choice(["hide: [\n  a\n]", "hide: [\ta,\tb ]", "hide:\n  -\ta", "version: !!binary MQ==", "description: \"a\n\tb\""]))
        elif op == 9 and ": " in line:
            lines[i] = line.replace(": ", ":\t", 1)
        text = "\n".join(lines)
    return text

def intercept_line(stdout):
    """The load error `validate` printed (Intercept's stdout), or None."""
    return stdout[len("Error: "):].rstrip("\n") if stdout.startswith("Error: parsing config file:") else None

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gauntlet")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", help="write the files here (kept) instead of a temporary directory")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    print(f"seed: {seed}")
    rng = random.Random(seed)
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        d = args.keep or tmp
        os.makedirs(d, exist_ok=True)
        files = []
        for n in range(args.count):
            path = os.path.join(d, f"{n:05}.yaml")
            with open(path, "wb") as f:
                f.write(mutate(rng.choice(BASES), rng).encode("utf-8"))
            files.append(path)
        oracle = {}
        for k in range(0, len(files), 500):
            out = subprocess.run([os.path.join(here, "oracle")] + files[k:k + 500], capture_output=True, text=True, check=True).stdout
            for line in out.splitlines():
                r = json.loads(line)
                oracle[r["file"]] = r.get("error")
        agree, differ = 0, []
        for path in files:
            out = subprocess.run([args.gauntlet, "validate", "--dialect", "intercept", path], capture_output=True).stdout.decode("utf-8", "replace")
            mine = intercept_line(out)
            if mine == oracle[path]:
                agree += 1
            else:
                differ.append((path, oracle[path], mine))
        if args.keep:
            with open(os.path.join(d, "differ.txt"), "w") as f:
                f.writelines(f"{os.path.basename(p)}\t{t!r}\t{m!r}\n" for p, t, m in differ)
        for path, theirs, mine in differ[:8]:
            print(f"differs {os.path.basename(path)}: yaml.v3 {theirs!r}, gauntlet {mine!r}\n  {open(path, 'rb').read()[:200]!r}")
        print(f"{agree} of {len(files)} load outcomes agree with yaml.v3 ({len(differ)} differ)")

if __name__ == "__main__":
    main()
