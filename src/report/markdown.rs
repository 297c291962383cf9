//! Markdown for PR comments, always under GitHub's 65,536-character comment
//! limit: the summary and a per-server count table first, then one row per
//! finding, then the proven suggestions of `--suggest`, then the details (traces, reproduce commands) and the held and
//! not-applicable outcomes in `<details>` blocks. Whatever does not fit is
//! left out in that order of priority, and the comment says so and where the
//! full report is.

use std::collections::BTreeMap;

use super::{summary_line, verdict_label, Options, Report};
use crate::harden::suggest::{self, Suggestions};
use crate::verify::{Finding, Outcome, Verdict};

/// GitHub refuses comments longer than this many characters.
pub const GITHUB_LIMIT: usize = 65_536;

/// What this renderer aims for: the limit minus room for the trimming note.
const BUDGET: usize = GITHUB_LIMIT - 2_000;

/// Trace lines per finding in the details.
const TRACE_LINES: usize = 8;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Inline code that survives backticks inside the text.
pub(super) fn code(s: &str) -> String {
    let fence = if s.contains('`') { "``" } else { "`" };
    let pad = if s.starts_with('`') || s.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{}{pad}{fence}", s.replace('\n', " "))
}

/// A document that refuses text past the budget and counts what it refused.
struct Doc {
    text: String,
    /// Characters in `text` (GitHub counts characters, not bytes).
    chars: usize,
    budget: usize,
    dropped: usize,
}

impl Doc {
    /// Appends `s` whatever the budget (headers and closing tags).
    fn force(&mut self, s: &str) {
        self.text.push_str(s);
        self.chars += s.chars().count();
    }

    /// Appends `s` if it fits in the budget (minus `reserve` for closing tags).
    fn push(&mut self, s: &str, reserve: usize) -> bool {
        let n = s.chars().count();
        if self.chars + n + reserve <= self.budget {
            self.force(s);
            true
        } else {
            self.dropped += 1;
            false
        }
    }
}

fn per_server(r: &Report) -> String {
    let mut rows: BTreeMap<&str, [usize; 7]> = BTreeMap::new();
    for o in &r.outcomes {
        let c = rows.entry(o.server.as_str()).or_default();
        let i = match (o.verdict, o.finding) {
            (Verdict::Held, _) => 0,
            (Verdict::Breached, Some(Finding::Proxy)) => 2,
            (Verdict::Breached, _) => 1,
            (Verdict::OverBlocking, _) => 3,
            (Verdict::NotApplicable, _) | (Verdict::NotExercised, _) => 4,
            (Verdict::Error, _) => 5,
            (Verdict::Unsupported, _) => 6,
        };
        c[i] += 1;
    }
    // The unsupported column only when this proxy could not take part somewhere.
    let unsupported = rows.values().any(|c| c[6] > 0);
    let mut t = String::from("| server | held | breached (policy) | breached (proxy) | over-blocking | not applicable | errors |");
    t.push_str(if unsupported { " unsupported |\n|---|---:|---:|---:|---:|---:|---:|---:|\n" } else { "\n|---|---:|---:|---:|---:|---:|---:|\n" });
    for (server, c) in rows {
        let name = if server == "-" { "(no tool targeted)".to_string() } else { code(server) };
        t.push_str(&format!("| {name} | {} | {} | {} | {} | {} | {} |", c[0], c[1], c[2], c[3], c[4], c[5]));
        t.push_str(&if unsupported { format!(" {} |\n", c[6]) } else { "\n".to_string() });
    }
    t
}

fn finding_row(o: &Outcome) -> String {
    let what = match o.verdict {
        Verdict::Breached => format!("{} (bound {})", o.observed, o.bound),
        _ => o.note.as_deref().unwrap_or_default().to_string(),
    };
    format!(
        "| {} | {} | {} | {} | {}/{} | {} |\n",
        o.severity.map_or("", |s| s.as_str()),
        code(&o.scenario),
        code(&format!("{}:{}", o.server, o.tool)),
        verdict_label(o),
        o.reached,
        o.attempted,
        cell(&what)
    )
}

fn detail(o: &Outcome) -> String {
    let mut d = format!("#### {} {} × {}\n\n{}\n\n", verdict_label(o), code(&o.scenario), code(&o.tool), cell(&o.title));
    if o.verdict == Verdict::Breached {
        d.push_str(&format!("Expected {}, observed {}.\n\n", cell(&o.bound), cell(&o.observed)));
    }
    if let Some(n) = &o.note {
        d.push_str(&format!("{}\n\n", cell(n)));
    }
    if let Some(b) = super::blame_line(o) {
        d.push_str(&format!("Blame: {}\n\n", cell(&b)));
    }
    if !o.trace.is_empty() {
        d.push_str(&format!("Shortest trace ({} of {} messages):\n\n```\n", o.trace.len(), o.trace_from));
        for t in o.trace.iter().take(TRACE_LINES) {
            d.push_str(&t.to_string().replace("```", "'''"));
            d.push('\n');
        }
        if o.trace.len() > TRACE_LINES {
            d.push_str(&format!("… {} more\n", o.trace.len() - TRACE_LINES));
        }
        d.push_str("```\n\n");
    }
    if let Some(cmd) = &o.reproduce {
        d.push_str(&format!("Reproduce: {}\n\n", code(cmd)));
    }
    d
}

/// A fenced block whose fence no line of `body` can close.
pub(super) fn fenced(lang: &str, body: &str) -> String {
    let mut fence = "```".to_string();
    while body.contains(&fence) {
        fence.push('`');
    }
    format!("{fence}{lang}\n{}{}{fence}\n", body, if body.ends_with('\n') { "" } else { "\n" })
}

/// `--suggest`: the proof line first, then each patch (as a collapsed
/// diff), then what no suggestion closes. Returns how many patches did not fit.
fn suggestions(doc: &mut Doc, s: &Suggestions) -> usize {
    doc.push("#### Suggestions\n\n", 0);
    if s.created > 0 {
        doc.push(
            &format!("None shown: the edits gauntlet could derive still create {} finding(s) when applied together.\n\n", s.created),
            0,
        );
    }
    if let Some(checked) = s.checked() {
        doc.force(&format!("{}\n\n", cell(&checked)));
    }
    const CLOSE: &str = "</details>\n\n";
    let mut left = 0;
    for (i, item) in s.items.iter().enumerate() {
        let mut title = format!("[{}] {}", i + 1, item.what);
        if !item.closes.is_empty() {
            title.push_str(&format!(" — closes {}", suggest::grouped(&item.closes)));
        }
        let block = format!("<details><summary>{}</summary>\n\n{}\n{CLOSE}", cell(&title), fenced("diff", &item.diff));
        if !doc.push(&block, 0) {
            left += 1;
        }
    }
    if let Some(check) = &s.intercept_check {
        doc.push(&format!("{}\n\n", cell(&suggest::inexpressible_heading(s, check))), 0);
        for (i, x) in s.inexpressible.iter().enumerate() {
            let mut title = format!("[{}] {}", s.items.len() + i + 1, x.what);
            if !x.closes.is_empty() {
                title.push_str(&format!(" — would close {}", suggest::grouped(&x.closes)));
            }
            let block = format!("<details><summary>{}</summary>\n\n{}\n\n{}\n{CLOSE}", cell(&title), cell(&x.why), fenced("diff", &x.intercept));
            if !doc.push(&block, 0) {
                left += 1;
            }
        }
        doc.force(&format!("{}\n\n", cell(&suggest::intercept_line(s, check))));
    }
    for (head, list) in [("Not closed by any suggestion", &s.open), ("Proxy findings (no policy can close them)", &s.proxy)] {
        if list.is_empty() {
            continue;
        }
        doc.push(&format!("{head}:\n\n"), 0);
        for o in list {
            doc.push(&format!("- {}: {}\n", code(&o.finding), cell(&o.why)), 0);
        }
        doc.push("\n", 0);
    }
    left
}

pub fn render(r: &Report, opts: &Options) -> String {
    render_within(r, opts, BUDGET)
}

fn render_within(r: &Report, opts: &Options, budget: usize) -> String {
    let mark = if r.outcomes.iter().any(|o| opts.fails(o)) || r.summary.errors > 0 { "❌" } else { "✅" };
    let head = format!(
        "### {mark} gauntlet verify {}\n\nProfile {}, seed {}, {} scenarios, servers {}.\n\n**{}**\\\n{}\n\n{}\n\n{}\n",
        code(&r.policy),
        code(&r.profile),
        code(&r.seed),
        r.scenarios,
        r.servers.iter().map(|s| code(s)).collect::<Vec<_>>().join(", "),
        super::severity_line(&r.summary),
        summary_line(&r.summary),
        r.coverage.line().replace('\n', " "),
        per_server(r)
    );
    let mut doc = Doc { text: String::new(), chars: 0, budget, dropped: 0 };
    doc.force(&head);
    let mut findings: Vec<&Outcome> =
        r.outcomes.iter().filter(|o| o.finding.is_some() || o.verdict == Verdict::Error).collect();
    findings.sort_by(|a, b| b.severity.cmp(&a.severity));
    let mut left_out = Vec::new();
    if !findings.is_empty() {
        doc.push("#### Findings, worst first\n\n| severity | scenario | tool | verdict | reached/sent | observed (bound) |\n|---|---|---|---|---:|---|\n", 0);
        let rows = findings.iter().filter(|o| !doc.push(&finding_row(o), 0)).count();
        if rows > 0 {
            left_out.push(format!("{rows} of {} finding rows", findings.len()));
        }
        doc.push("\n", 0);
        if let Some(s) = &r.suggestions {
            let left = suggestions(&mut doc, s);
            if left > 0 {
                left_out.push(format!("{left} of {} suggested patches", s.items.len() + s.inexpressible.len()));
            }
        }
        const CLOSE: &str = "</details>\n\n";
        let summary = format!("<details><summary>Details: blame, traces and reproduce commands ({})</summary>\n\n", findings.len());
        let details = if doc.push(&summary, CLOSE.len()) {
            let n = findings.iter().filter(|o| !doc.push(&detail(o), CLOSE.len())).count();
            doc.force(CLOSE);
            n
        } else {
            findings.len()
        };
        if details > 0 {
            left_out.push(format!("{details} of {} findings' details", findings.len()));
        }
    }
    let held: Vec<&Outcome> = r.outcomes.iter().filter(|o| o.verdict == Verdict::Held).collect();
    let na: Vec<&Outcome> = r.outcomes.iter().filter(|o| matches!(o.verdict, Verdict::NotApplicable | Verdict::NotExercised | Verdict::Unsupported)).collect();
    let unsupported = na.iter().filter(|o| o.verdict == Verdict::Unsupported).count();
    const CLOSE: &str = "</details>\n";
    let before = doc.dropped;
    if !(held.is_empty() && na.is_empty())
        && doc.push(&format!("<details><summary>Held ({}) and not applicable ({}){}</summary>\n\n", held.len(), na.len() - unsupported, match unsupported {
            0 => String::new(),
            n => format!(", unsupported ({n})"),
        }), CLOSE.len())
    {
        if !held.is_empty() {
            doc.push("| scenario | tool | reached/sent | bound |\n|---|---|---:|---|\n", CLOSE.len());
            for o in &held {
                let row = format!("| {} | {} | {}/{} | {} |\n", code(&o.scenario), code(&format!("{}:{}", o.server, o.tool)), o.reached, o.attempted, cell(&o.bound));
                doc.push(&row, CLOSE.len());
            }
            doc.push("\n", CLOSE.len());
        }
        let mut reasons: BTreeMap<(Verdict, &str), usize> = BTreeMap::new();
        for o in &na {
            *reasons.entry((o.verdict, o.note.as_deref().unwrap_or("no reason recorded"))).or_default() += 1;
        }
        for ((verdict, reason), n) in reasons {
            // Unsupported (this proxy cannot take part) is never worded as not applicable.
            let what = match verdict {
                Verdict::Unsupported => "unsupported ",
                _ if reason.starts_with("not exercised") => "",
                _ => "not applicable ",
            };
            doc.push(&format!("- {what}×{n}: {}\n", cell(reason)), CLOSE.len());
        }
        doc.force("\n");
        doc.force(CLOSE);
    }
    if doc.dropped > before {
        left_out.push("some held and not-applicable rows".to_string());
    }
    if !left_out.is_empty() {
        let full = opts.full_report.as_deref().unwrap_or("the JSON report (`--format json`)");
        doc.force(&format!(
            "\n> Trimmed to fit a GitHub comment ({GITHUB_LIMIT} characters at most): {} left out. The full report: {full}.\n",
            left_out.join(", ")
        ));
    }
    doc.text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{outcome, report};

    #[test]
    fn summary_first_then_findings_then_details() {
        let mut r = report();
        r.outcomes[0].tool = "a|b".into();
        let md = render(&r, &Options::default());
        assert!(md.starts_with("### ❌ gauntlet verify `examples/p.yaml`"), "{md}");
        let table = md.find("| server | held |").unwrap();
        let findings = md.find("#### Findings").unwrap();
        let details = md.find("<details><summary>Details").unwrap();
        assert!(table < findings && findings < details, "{md}");
        assert!(md.contains("| `malformed-arguments` | `aksjah:Post <Customers> & co` | BREACHED (policy) | 60/200 |"), "{md}");
        assert!(md.contains("| `bulk-write-burst` | `aksjah:a\\|b` | 30/200 |") || md.contains("`aksjah:a|b`"), "{md}");
        assert!(md.contains("- not applicable ×1:"), "{md}");
        assert!(!md.contains("Trimmed"), "{md}");
        assert_eq!(md.matches("<details>").count(), md.matches("</details>").count());
    }

    fn suggested(n: usize) -> Suggestions {
        use crate::harden::patch::Edit;
        use crate::harden::suggest::{Open, Suggestion};
        use crate::verify::Summary;
        let item = |i: usize| Suggestion {
            edit: Edit::DefaultDeny,
            what: format!("set `default: deny` ({i})"),
            diff: format!("--- a/p.yaml\n+++ b/p.yaml\n@@ -1,1 +1,1 @@\n-default: allow # ```\n+default: deny {}\n", "x".repeat(200)),
            closes: vec!["rug-pull × a".into(), "unlisted-tool × a".into()],
        };
        Suggestions {
            dialect: "intercept".into(),
            items: (0..n).map(item).collect(),
            combined: String::new(),
            inexpressible: Vec::new(),
            intercept_check: None,
            open: vec![Open { finding: "spend-split × charge".into(), why: "no calendar spend counter".into() }],
            proxy: vec![Open { finding: "wire-batch × a".into(), why: "no policy can close it".into() }],
            before: Summary { policy_findings: 3, ..Summary::default() },
            after: Summary::default(),
            created: 0,
            runs: 2,
            scenarios: 36,
            tools: 5,
        }
    }

    #[test]
    fn suggestions_come_after_the_findings_as_fenced_diffs() {
        let mut r = report();
        r.suggestions = Some(suggested(2));
        let md = render(&r, &Options::default());
        let (findings, sugg, details) =
            (md.find("#### Findings").unwrap(), md.find("#### Suggestions").unwrap(), md.find("<details><summary>Details").unwrap());
        assert!(findings < sugg && sugg < details, "{md}");
        assert!(md.contains("Checked: all 2 suggestions applied together to a copy, 36 scenarios × 5 tools re-run (2 runs): 3 → 0 policy findings"), "{md}");
        assert!(md.contains("<details><summary>[1] set `default: deny` (0) — closes rug-pull, unlisted-tool × a</summary>"), "{md}");
        // The diff holds a ``` of its own, so its fence is longer.
        assert!(md.contains("````diff\n--- a/p.yaml\n+++ b/p.yaml\n"), "{md}");
        assert!(md.contains("- `spend-split × charge`: no calendar spend counter"), "{md}");
        assert!(md.contains("Proxy findings (no policy can close them):\n\n- `wire-batch × a`"), "{md}");
        assert_eq!(md.matches("<details>").count(), md.matches("</details>").count());

        // Too many to fit: the rest is counted, the proof line stays.
        r.suggestions = Some(suggested(400));
        let md = render(&r, &Options::default());
        assert!(md.chars().count() < GITHUB_LIMIT);
        assert!(md.contains("Checked: all 400 suggestions"), "the proof line is always there");
        assert!(md.contains("of 400 suggested patches left out") || md.contains("of 400 suggested patches,"), "{}", &md[md.len() - 400..]);
        assert_eq!(md.matches("<details>").count(), md.matches("</details>").count());
    }

    #[test]
    fn a_huge_run_stays_under_the_limit_and_says_where_the_rest_is() {
        let mut r = report();
        for i in 0..3000 {
            let mut o = outcome(&format!("scenario-{i}"), "WizCommerce Open API_PostCustomers", Verdict::Breached, Some(Finding::Policy), 60);
            o.trace = vec![o.trace[0].clone(); 40];
            o.note = Some("n".repeat(300).into());
            r.outcomes.push(o);
        }
        let opts = Options { full_report: Some("`r.json`".into()), ..Options::default() };
        let md = render(&r, &opts);
        assert!(md.chars().count() < GITHUB_LIMIT, "{}", md.chars().count());
        assert!(md.contains("Trimmed to fit a GitHub comment"), "{}", &md[md.len() - 300..]);
        assert!(md.trim_end().ends_with("The full report: `r.json`."));
        assert_eq!(md.matches("<details>").count(), md.matches("</details>").count());
        assert!(md.contains("| server | held |"), "the summary always comes first");
    }
}
