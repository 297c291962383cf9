//! `gauntlet prove`'s report in every format `verify` has: one line per
//! requirement × tool (proved, refuted with its counterexample and the
//! command that replays it, unknown with the reason), then the policy
//! facts, then what no Intercept policy can bound. Refutations are errors,
//! unknowns and facts warnings, in SARIF and GitHub annotations alike.

use serde_json::{json, Value};

use super::github::{escape_data, escape_property};
use super::markdown::{code, fenced};
use super::markup::escape;
use super::sarif::uri;
use super::Format;
use crate::prove::{Proof, ProofReport, Status};
use crate::wording::count;

/// Renders `r` in `format`.
pub fn render(format: Format, r: &ProofReport) -> String {
    match format {
        Format::Table => table(r),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Junit => junit(r),
        Format::Markdown => markdown(r),
        Format::Sarif => sarif(r),
        Format::Github => github(r),
        Format::Html => html(r),
    }
}

/// The closing line every format carries.
pub fn summary_line(r: &ProofReport) -> String {
    let s = &r.summary;
    format!("{}: {} proved, {} refuted, {} unknown; {}", count(s.total, "requirement"), s.proved, s.refuted, s.unknown, count(s.facts, "policy fact"))
}

fn label(p: &Proof) -> &'static str {
    match p.status {
        Status::Proved => "proved",
        Status::Refuted if p.proxy => "REFUTED (proxy)",
        Status::Refuted => "REFUTED",
        Status::Unknown => "unknown",
    }
}

/// One proof in one line: `aksjah · create_x · rate: ≤30 calls per 1m sliding`.
fn title(p: &Proof) -> String {
    format!("{} · {} · {}: {}", p.server, p.tool, p.requirement, p.statement)
}

/// Past this many bytes a trace line or command is shortened in the terminal view (JSON keeps it whole).
const LONG: usize = 4000;

fn cut(line: &str) -> String {
    if line.len() <= 300 {
        return line.to_string();
    }
    let mut end = 200;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &line[..end], line.len())
}

fn table(r: &ProofReport) -> String {
    let mut out = format!("gauntlet prove {} (profile {}; servers: {}; requirements: {})\n\n", r.policy, r.profile, r.servers.join(", "), r.requirements);
    for p in &r.proofs {
        out.push_str(&format!("{:<8} {}\n", label(p), title(p)));
        if p.status != Status::Proved {
            out.push_str(&format!("         {}:{}: {}\n", p.location.file, p.location.line, p.reason));
        }
        if let Some(c) = &p.counterexample {
            let allowed = c.allowed.iter().filter(|a| **a).count();
            out.push_str(&format!("         counterexample: {} (the engine allowed {allowed})\n", count(c.calls.len(), "call")));
            for call in c.calls.iter().take(3) {
                out.push_str(&format!("           {}\n", cut(&call.line())));
            }
            if c.calls.len() > 3 {
                out.push_str(&format!("           … {} more\n", c.calls.len() - 3));
            }
            match c.replay.len() > LONG {
                false => out.push_str(&format!("         replay: {}\n", c.replay)),
                true => out.push_str(&format!("         replay: a {}-byte command: see `--format json` (`counterexample.replay`)\n", c.replay.len())),
            }
        }
    }
    if !r.facts.is_empty() {
        out.push_str("\npolicy facts:\n");
        for f in &r.facts {
            out.push_str(&format!("  {}:{}: {} ({})\n", f.location.file, f.location.line, f.message, f.kind));
        }
    }
    out.push_str("\nbeyond any Intercept policy (not proved here):\n");
    for b in &r.beyond {
        out.push_str(&format!("  - {b}\n"));
    }
    out.push_str(&format!("\n{}\n", summary_line(r)));
    out
}

fn junit(r: &ProofReport) -> String {
    let failures = r.summary.refuted + r.summary.unknown;
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"gauntlet prove\" tests=\"{}\" failures=\"{failures}\">\n  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">\n",
        r.summary.total,
        escape(&r.policy),
        r.summary.total
    );
    for p in &r.proofs {
        out.push_str(&format!("    <testcase classname=\"{}.{}\" name=\"{}\"", escape(&p.server), escape(&p.tool), escape(&format!("{}: {}", p.requirement, p.statement))));
        match p.status {
            Status::Proved => out.push_str("/>\n"),
            s => {
                let mut body = format!("{}:{}: {}", p.location.file, p.location.line, p.reason);
                if let Some(c) = &p.counterexample {
                    body.push_str(&format!("\nreplay: {}", c.replay));
                }
                out.push_str(&format!(">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n", s.as_str(), escape(&p.reason), escape(&body)));
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn markdown(r: &ProofReport) -> String {
    let mut out = format!("### gauntlet prove `{}`\n\n{}\n\n", r.policy, summary_line(r));
    let open: Vec<&Proof> = r.proofs.iter().filter(|p| p.status != Status::Proved).collect();
    if !open.is_empty() {
        out.push_str("| | server | tool | requirement | where | why |\n|---|---|---|---|---|---|\n");
        for p in open {
            let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
            out.push_str(&format!(
                "| {} | {} | `{}` | {}: {} | `{}:{}` | {} |\n",
                label(p),
                cell(&p.server),
                cell(&p.tool),
                p.requirement,
                cell(&p.statement),
                p.location.file,
                p.location.line,
                cell(&p.reason)
            ));
        }
        out.push('\n');
    }
    // Each counterexample's replay command whole, in a block no backtick in it can close
    // (in a table cell its `|` and quotes would need escaping, and a long one would swamp the row).
    let replayed: Vec<(&Proof, &str)> = r.proofs.iter().filter_map(|p| p.counterexample.as_ref().map(|c| (p, c.replay.as_str()))).collect();
    if !replayed.is_empty() {
        out.push_str(&format!("<details><summary>Replay commands ({})</summary>\n\n", replayed.len()));
        for (p, command) in replayed {
            let what = format!("{} · {}: {}", p.server, code(&p.tool), p.statement.replace('\n', " "));
            out.push_str(&format!("{} {what} ({})\n\n{}\n", label(p), p.requirement, fenced("sh", command)));
        }
        out.push_str("</details>\n\n");
    }
    for f in &r.facts {
        out.push_str(&format!("- `{}:{}` {} ({})\n", f.location.file, f.location.line, f.message.replace('\n', " "), f.kind));
    }
    out
}

fn sarif(r: &ProofReport) -> String {
    let kinds = ["denied", "rate", "schema", "size", "amount-per-call", "amount-per-window"];
    let mut rules: Vec<Value> = kinds
        .iter()
        .map(|k| json!({"id": format!("gauntlet/prove/{k}"), "name": k, "shortDescription": {"text": format!("The `{k}` requirement does not provably hold")}}))
        .collect();
    let fact_kinds: Vec<&str> = {
        let mut k: Vec<&str> = r.facts.iter().map(|f| f.kind).collect();
        k.sort_unstable();
        k.dedup();
        k
    };
    rules.extend(fact_kinds.iter().map(|k| json!({"id": format!("gauntlet/fact/{k}"), "name": k, "shortDescription": {"text": format!("Policy fact: {k}")}})));
    let index = |id: &str| rules.iter().position(|r| r["id"] == id).unwrap_or(0);
    let place = |file: &str, line: u32| json!([{"physicalLocation": {"artifactLocation": {"uri": uri(file)}, "region": {"startLine": line}}}]);
    let mut results: Vec<Value> = r
        .proofs
        .iter()
        .filter(|p| p.status != Status::Proved)
        .map(|p| {
            let id = format!("gauntlet/prove/{}", p.requirement);
            let mut props = json!({"server": p.server, "tool": p.tool, "status": p.status});
            if let Some(c) = &p.counterexample {
                props["replay"] = json!(c.replay);
            }
            json!({
                "ruleId": id,
                "ruleIndex": index(&id),
                "level": if p.status == Status::Refuted { "error" } else { "warning" },
                "message": {"text": format!("{} {}: {}", label(p), title(p), p.reason)},
                "locations": place(&p.location.file, p.location.line),
                "properties": props
            })
        })
        .collect();
    results.extend(r.facts.iter().map(|f| {
        let id = format!("gauntlet/fact/{}", f.kind);
        json!({"ruleId": id, "ruleIndex": index(&id), "level": "warning", "message": {"text": f.message}, "locations": place(&f.location.file, f.location.line)})
    }));
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "gauntlet", "version": r.tool_version, "informationUri": "https://github.com/policylayer/intercept", "rules": rules}},
            "invocations": [{"executionSuccessful": true}],
            "results": results,
            "properties": {"policy": r.policy, "profile": r.profile, "servers": r.servers, "summary": r.summary}
        }]
    });
    let mut s = serde_json::to_string_pretty(&log).unwrap_or_default();
    s.push('\n');
    s
}

fn github(r: &ProofReport) -> String {
    let mut out = String::new();
    for p in r.proofs.iter().filter(|p| p.status != Status::Proved) {
        let level = if p.status == Status::Refuted { "error" } else { "warning" };
        let mut msg = format!("{}: {}", title(p), p.reason);
        if let Some(c) = &p.counterexample {
            msg.push_str(&format!("\nreplay: {}", c.replay));
        }
        out.push_str(&format!(
            "::{level} file={},line={},title={}::{}\n",
            escape_property(&p.location.file),
            p.location.line,
            escape_property(&format!("prove: {} {}", p.requirement, label(p))),
            escape_data(&msg)
        ));
    }
    for f in &r.facts {
        out.push_str(&format!(
            "::warning file={},line={},title={}::{}\n",
            escape_property(&f.location.file),
            f.location.line,
            escape_property(&format!("policy fact: {}", f.kind)),
            escape_data(&f.message)
        ));
    }
    out.push_str(&format!("::notice title=gauntlet prove::{}\n", escape_data(&summary_line(r))));
    out
}

fn html(r: &ProofReport) -> String {
    let mut rows = String::new();
    for p in &r.proofs {
        let replay = p.counterexample.as_ref().map(|c| format!("<br><code>{}</code>", escape(&c.replay))).unwrap_or_default();
        rows.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}: {}</td><td>{}:{}</td><td>{}{replay}</td></tr>\n",
            p.status.as_str(),
            label(p),
            escape(&p.server),
            escape(&p.tool),
            p.requirement,
            escape(&p.statement),
            escape(&p.location.file),
            p.location.line,
            escape(&p.reason)
        ));
    }
    let facts: String = r.facts.iter().map(|f| format!("<li><code>{}:{}</code> {}</li>\n", escape(&f.location.file), f.location.line, escape(&f.message))).collect();
    let beyond: String = r.beyond.iter().map(|b| format!("<li>{}</li>\n", escape(b))).collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>gauntlet prove {policy}</title>\n<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}}.refuted td:first-child{{color:#b00;font-weight:bold}}.unknown td:first-child{{color:#a60}}.proved td:first-child{{color:#070}}code{{word-break:break-all}}</style></head>\n<body><h1>gauntlet prove <code>{policy}</code></h1>\n<p>{summary}</p>\n<table><tr><th></th><th>server</th><th>tool</th><th>requirement</th><th>where</th><th>why</th></tr>\n{rows}</table>\n<h2>Policy facts</h2><ul>{facts}</ul>\n<h2>Beyond any Intercept policy</h2><ul>{beyond}</ul>\n</body></html>\n",
        policy = escape(&r.policy),
        summary = escape(&summary_line(r)),
    )
}
