//! The layers point one way: a test that reads every path into the crate
//! (`use crate::…`, grouped or not, and inline `crate::…` paths) in `src/`
//! and fails on any import the table below does not allow.
//!
//! To add a module, add one row: the module and the modules it builds on
//! directly. A module may use what its row names, what those rows name, and
//! so on down, plus every base module; nothing else. A module missing from
//! the table fails the test, so each new one is placed on purpose.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Under everything: small modules that import nothing above them.
/// Each names the base modules it uses itself.
const BASE: &[(&str, &[&str])] = &[
    ("caller", &[]),
    ("clock", &[]),
    ("gofmt", &[]),
    ("invocation", &[]),
    ("limits", &[]),
    ("profile", &[]),
    ("wording", &[]),
    ("values", &[]),
    ("yaml", &["clock", "limits"]),
];

/// Above the base, bottom to top: each module and what it builds on directly.
const LAYERS: &[(&str, &[&str])] = &[
    // The decisions and the wire, side by side: neither needs the other.
    ("policy", &[]),
    ("engine", &["policy"]),
    ("mcp", &[]),
    ("mock", &["mcp", "values"]),
    ("proxy", &["engine", "mcp"]),
    // The attacks and the agents that play them.
    ("scenario", &["proxy", "mock"]),
    ("agent", &["scenario"]),
    // Verdicts, proven fixes, reports.
    ("verify", &["agent"]),
    ("harden", &["verify"]),
    ("prove", &["verify"]),
    ("report", &["harden", "prove"]),
    // Tools beside the flow.
    ("conformance", &["proxy"]),
    ("fuzz", &["proxy", "scenario"]),
    // The command line dispatches to everything.
    ("cli", &["report", "conformance", "fuzz"]),
];

/// Crate-level files that are not modules of the flow.
const ROOTS: &[&str] = &["lib", "main", "layering"];

/// Every module `module` may import: its own, the base, and what its rows reach.
fn allowed(module: &str) -> Option<BTreeSet<&'static str>> {
    let rows: BTreeMap<&str, &[&str]> = BASE.iter().chain(LAYERS).copied().collect();
    let base: BTreeSet<&str> = BASE.iter().map(|(m, _)| *m).collect();
    let (&name, _) = rows.get_key_value(module)?;
    let mut reach = BTreeSet::from([name]);
    let mut todo = vec![name];
    while let Some(m) = todo.pop() {
        for &dep in rows.get(m).copied().unwrap_or_default() {
            if reach.insert(dep) {
                todo.push(dep);
            }
        }
    }
    if !base.contains(name) {
        reach.extend(base.iter().copied());
    }
    Some(reach)
}

/// `text` with comments, string and char literals blanked (newlines kept, so lines still count).
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    let blank = |out: &mut String, s: &[u8]| {
        for &c in s {
            out.push(if c == b'\n' { '\n' } else { ' ' });
        }
    };
    while i < b.len() {
        let rest = &b[i..];
        let end = if rest.starts_with(b"//") {
            i + rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len())
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            let mut j = i;
            while j < b.len() {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            j
        } else if (rest.starts_with(b"r\"") || rest.starts_with(b"r#") || rest.starts_with(b"br\"") || rest.starts_with(b"br#"))
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'))
        {
            let start = i + usize::from(rest[0] == b'b') + 1;
            let hashes = b[start..].iter().take_while(|&&c| c == b'#').count();
            let open = start + hashes;
            if b.get(open) != Some(&b'"') {
                out.push(b[i] as char);
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            let body = &b[open + 1..];
            open + 1 + body.windows(close.len()).position(|w| w == close.as_slice()).map_or(body.len(), |p| p + close.len())
        } else if rest[0] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            j + 1
        } else if rest[0] == b'\'' && (rest.get(1) == Some(&b'\\') || rest.get(2) == Some(&b'\'')) {
            // A char literal (a lifetime has no closing quote right after one character).
            let mut j = i + 1;
            while j < b.len() && b[j] != b'\'' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            j + 1
        } else {
            // Copy one whole UTF-8 character.
            let len = text[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&text[i..i + len]);
            i += len;
            continue;
        };
        let end = end.min(b.len());
        blank(&mut out, &b[i..end]);
        i = end;
    }
    out
}

/// The top-level modules each `crate::` path in `code` names, with its line.
fn imports(code: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let b = code.as_bytes();
    let ident = |at: usize| -> String { code[at..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect() };
    for (at, _) in code.match_indices("crate::") {
        if at > 0 && (b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_') {
            continue;
        }
        let line = code[..at].matches('\n').count() + 1;
        let after = at + "crate::".len();
        let rest = code[after..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::X, b::{Y, Z}}`: the first segment of each top-level item.
            let mut depth = 0;
            let mut item_start = true;
            for (k, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        let name: String = group[k..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        let item_line = line + group[..k].matches('\n').count();
                        found.push((item_line, name));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.push((line, ident(code.len() - rest.len())));
        }
    }
    found
}

/// The top-level module a file under `src/` belongs to.
fn module_of(rel: &Path) -> String {
    let first = rel.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned()).unwrap_or_default();
    first.strip_suffix(".rs").map(str::to_string).unwrap_or(first)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every import against the table, one line each (`src/file.rs:line: …`).
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let rel = path.strip_prefix(src).unwrap_or(&path);
        let module = module_of(rel);
        if ROOTS.contains(&module.as_str()) {
            continue;
        }
        let Some(may) = allowed(&module) else {
            out.push(format!("src/{}: module `{module}` is not in the layer table of src/layering.rs: add its row", rel.display()));
            continue;
        };
        let text = std::fs::read_to_string(&path).expect("source files are UTF-8");
        for (line, target) in imports(&code_only(&text)) {
            if target == "self" || target == "super" || may.contains(target.as_str()) {
                continue;
            }
            out.push(format!("src/{}:{line}: `{module}` imports `crate::{target}`, which is not below it in the layer table", rel.display()));
        }
    }
    out
}

#[test]
fn every_import_points_down_the_layers() {
    let bad = violations(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(bad.is_empty(), "imports against the layering:\n{}", bad.join("\n"));
}

#[test]
fn every_module_of_the_crate_has_a_row() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for line in code_only(&lib).lines() {
        if let Some(name) = line.trim().strip_prefix("pub mod ").and_then(|m| m.strip_suffix(';')) {
            assert!(allowed(name).is_some(), "`{name}` has no row in the layer table");
        }
    }
}

#[test]
fn the_scanner_sees_grouped_and_inline_paths_and_skips_comments_and_strings() {
    let code = code_only(
        "use crate::mcp::Reply;\nuse crate::{engine::X,\n  policy::{a, b}};\n// crate::report::no\nlet s = \"crate::verify\";\nlet r = r#\"crate::cli\"#;\nlet c = '\"'; crate::mock::f();\nfn f<'a>(x: &'a str) { crate::agent::g() }\n",
    );
    let got: Vec<(usize, String)> = imports(&code);
    let want: Vec<(usize, String)> =
        [(1, "mcp"), (2, "engine"), (3, "policy"), (7, "mock"), (8, "agent")].iter().map(|(l, m)| (*l, m.to_string())).collect();
    assert_eq!(got, want);
}

#[test]
fn the_table_refuses_what_the_layering_forbids() {
    let may = |from: &str, to: &str| allowed(from).unwrap().contains(to);
    assert!(!may("mcp", "engine") && !may("engine", "mcp"), "the wire and the decisions stand side by side");
    assert!(!may("gofmt", "policy") && may("policy", "gofmt"));
    assert!(!may("proxy", "mock") && may("proxy", "mcp") && may("proxy", "policy"));
    assert!(!may("verify", "report") && may("report", "verify"));
    assert!(!may("mock", "engine") && may("scenario", "mock"));
    assert!(may("cli", "yaml") && may("cli", "report"));
}
