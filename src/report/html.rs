//! The HTML report (`--format html`): one self-contained file, no scripts,
//! no network. The summary; a attack-class × tool coverage matrix coloured by
//! verdict; every finding with its blame, its proven suggestion (with
//! `--suggest`; otherwise how to get one), reproduce command and shortest
//! trace; and for each held or breached outcome an inline SVG
//! timeline of calls sent vs calls that reached the server over virtual
//! time, with the rate bound drawn as its densest sliding window, so a
//! window-edge burst or a refunded quota shows at a glance. The plotted times
//! are the verify run's own ledger observations ([`Timeline`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::markup::escape as esc;
use super::{location, summary_line, verdict_label, Options, Report};
use crate::verify::{Finding, Outcome, Timeline, Verdict};

/// The CSS class of a verdict (colours in [`STYLE`]).
fn class_of(o: &Outcome) -> &'static str {
    match (o.verdict, o.finding) {
        (Verdict::Held, _) => "held",
        (Verdict::Breached, Some(Finding::Proxy)) => "proxy",
        (Verdict::Breached, _) => "policy",
        (Verdict::OverBlocking, _) => "overblocking",
        (Verdict::NotApplicable, _) | (Verdict::NotExercised, _) => "na",
        (Verdict::Unsupported, _) => "unsupported",
        (Verdict::Error, _) => "error",
    }
}

/// Worse verdicts win a matrix cell.
fn severity(o: &Outcome) -> u8 {
    match class_of(o) {
        "policy" => 6,
        "error" => 5,
        "overblocking" => 4,
        "proxy" => 3,
        "held" => 2,
        _ => 1,
    }
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1100px;padding:24px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #dde;padding-bottom:4px}
h3{font-size:15px;margin:0 0 6px}code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
pre{background:#f5f6f8;padding:8px;overflow-x:auto;white-space:pre}
.meta{color:#556}.summary{font-weight:600;margin:10px 0}
.counts span{display:inline-block;margin:0 6px 6px 0;padding:3px 10px;border-radius:12px;font-weight:600}
.held{background:#d8f3dc;color:#14532d}.policy{background:#fdd8d8;color:#8a1111}.proxy{background:#ffe8c2;color:#7a4b00}
.overblocking{background:#ead9fb;color:#4c1d95}.na{background:#eef0f3;color:#667}.unsupported{background:#fdf3d7;color:#6b5200}.error{background:#f5c2c7;color:#5c0a12}
.counts .zero{background:#f4f5f7;color:#8a8f98;font-weight:400}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #dde;padding:3px 6px;text-align:left;vertical-align:top}
table.matrix td{text-align:center;min-width:64px;font-size:12px}table.matrix th.tool{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:500;font-size:12px}
.card{border:1px solid #dde;border-left:5px solid #c33;border-radius:4px;padding:10px 14px;margin:12px 0}
.card.c-proxy{border-left-color:#e69500}.card.c-overblocking{border-left-color:#7c3aed}.card.c-held{border-left-color:#2f9e44}
.card h3 .v{padding:1px 8px;border-radius:10px;margin-right:6px}
svg.timeline{display:block;margin:8px 0;background:#fcfcfd;border:1px solid #e4e6ea}
.legend{font-size:12px;color:#556}
.suggestion{margin:8px 0}.suggestion p{margin:0 0 4px}pre.diff{background:#f6f8fa;border:1px solid #e4e6ea}
pre.diff .add{color:#14532d;background:#e6ffec}pre.diff .del{color:#8a1111;background:#ffebe9}
pre.diff .hunk{color:#5b6b8c}pre.diff .file{color:#556;font-weight:600}
.checked{font-size:12px;color:#2b5d34}.suggest-hint,.suggestion.none{font-size:13px;color:#556}
";

/// Densest window: the start time and count of the most calls in any `[t, t + len)`.
fn densest(times: &[i64], len: i64) -> (i64, usize) {
    let mut best = (times.first().copied().unwrap_or(0), 0);
    let mut j = 0;
    for i in 0..times.len() {
        while times[i] - times[j] >= len {
            j += 1;
        }
        if i - j + 1 > best.1 {
            best = (times[j], i - j + 1);
        }
    }
    best
}

/// A readable virtual-time label.
fn time_label(ns: i64) -> String {
    let s = ns as f64 / 1e9;
    if s >= 3600.0 {
        format!("{:.1}h", s / 3600.0)
    } else if s >= 120.0 {
        format!("{:.0}m", s / 60.0)
    } else {
        format!("{s:.0}s")
    }
}

/// A cumulative step line through sorted times.
fn steps(times: &[i64], x: &dyn Fn(i64) -> f64, y: &dyn Fn(usize) -> f64, end: i64) -> String {
    let mut pts = format!("{:.1},{:.1}", x(0), y(0));
    for (i, t) in times.iter().enumerate() {
        let _ = write!(pts, " {:.1},{:.1} {:.1},{:.1}", x(*t), y(i), x(*t), y(i + 1));
    }
    let _ = write!(pts, " {:.1},{:.1}", x(end), y(times.len()));
    pts
}

/// One outcome's timeline as inline SVG.
pub fn plot(o: &Outcome, t: &Timeline) -> String {
    const W: f64 = 680.0;
    const H: f64 = 220.0;
    const L: f64 = 48.0;
    const R: f64 = 16.0;
    const T: f64 = 14.0;
    const B: f64 = 30.0;
    let mut sent = t.sent.clone();
    sent.sort_unstable();
    let mut reached = t.reached.clone();
    reached.sort_unstable();
    let last = sent.last().copied().unwrap_or(0).max(reached.last().copied().unwrap_or(0));
    let end = (last + last / 20).max(t.bound.map_or(1_000_000_000, |b| b.window)).max(1);
    let top = sent.len().max(reached.len()).max(t.bound.map_or(1, |b| b.count as usize)).max(1);
    let x = |ns: i64| L + (W - L - R) * ns as f64 / end as f64;
    let y = |n: usize| H - B - (H - T - B) * n as f64 / top as f64;
    let colour = if o.verdict == Verdict::Breached { "#c92a2a" } else { "#2f9e44" };
    let mut s = format!(
        "<svg class=\"timeline\" data-outcome=\"{}\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(&key(o))
    );
    let _ = write!(
        s,
        "<title>{}: {} calls sent, {} reached the server over {}</title>",
        esc(&format!("{} × {}", o.scenario, o.tool)),
        sent.len(),
        reached.len(),
        time_label(last)
    );
    // The bound as its densest sliding window: a band one window wide where the most calls
    // reached the server, with the ceiling the bound allows inside it.
    if let Some(b) = t.bound {
        let (start, n) = densest(&reached, b.window.max(1));
        let before = reached.iter().filter(|r| **r < start).count();
        let ceiling = before + b.count as usize;
        let (x0, x1) = (x(start), x(start + b.window).min(W - R));
        let over = n as u64 > b.count;
        let _ = write!(
            s,
            "<rect class=\"window\" x=\"{x0:.1}\" y=\"{T}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\" fill-opacity=\"0.14\"/>",
            (x1 - x0).max(1.5),
            H - T - B,
            if over { "#c92a2a" } else { "#1c7ed6" }
        );
        let _ = write!(
            s,
            "<line class=\"bound\" x1=\"{x0:.1}\" y1=\"{:.1}\" x2=\"{x1:.1}\" y2=\"{:.1}\" stroke=\"#1c7ed6\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>",
            y(ceiling.min(top)),
            y(ceiling.min(top))
        );
        let label = format!(
            "densest {} window: {n} reached, bound {}{}",
            time_label(b.window),
            b.count,
            if b.sliding { " (sliding)" } else { " (calendar)" }
        );
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#1c4e80\">{}</text>",
            W - R - 6.0,
            T + 12.0,
            esc(&label)
        );
    }
    // Axes and ticks.
    let _ = write!(s, "<line x1=\"{L}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#889\"/>", H - B, W - R, H - B);
    let _ = write!(s, "<line x1=\"{L}\" y1=\"{T}\" x2=\"{L}\" y2=\"{:.1}\" stroke=\"#889\"/>", H - B);
    for i in 0..=4 {
        let ns = end * i / 4;
        let _ = write!(s, "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#556\">{}</text>", x(ns), H - B + 14.0, time_label(ns));
        let n = top * i as usize / 4;
        let _ = write!(s, "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\" fill=\"#556\">{n}</text>", L - 4.0, y(n) + 3.0);
    }
    let _ = write!(s, "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\" fill=\"#556\">virtual time</text>", W - R, H - 2.0);
    let _ = write!(
        s,
        "<text class=\"y-label\" x=\"12\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#556\" transform=\"rotate(-90 12 {:.1})\">calls (running total)</text>",
        (T + H - B) / 2.0,
        (T + H - B) / 2.0
    );
    // Reached first, sent dashed on top: where every call reached, both lines still show.
    let _ = write!(
        s,
        "<polyline class=\"reached\" points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2.5\"/>",
        steps(&reached, &x, &y, end)
    );
    let _ = write!(
        s,
        "<polyline class=\"sent\" points=\"{}\" fill=\"none\" stroke=\"#5f6b7a\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>",
        steps(&sent, &x, &y, end)
    );
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#5f6b7a\">sent {} (dashed)</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{colour}\">reached {}</text>",
        L + 6.0,
        T + 12.0,
        sent.len(),
        L + 6.0,
        T + 26.0,
        reached.len()
    );
    s.push_str("</svg>");
    s
}

/// The stable key of an outcome (`scenario|server|tool`, its `data-key`).
fn key(o: &Outcome) -> String {
    format!("{}|{}|{}", o.scenario, o.server, o.tool)
}

fn anchor(o: &Outcome) -> String {
    let k: String = key(o).chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    format!("o-{k}")
}

fn matrix(r: &Report, out: &mut String) {
    let tools: BTreeSet<(&str, &str)> =
        r.outcomes.iter().filter(|o| o.tool != "-").map(|o| (o.server.as_str(), o.tool.as_str())).collect();
    let mut cells: BTreeMap<(&str, (&str, &str)), Vec<&Outcome>> = BTreeMap::new();
    let mut classes: BTreeSet<&str> = BTreeSet::new();
    for o in &r.outcomes {
        classes.insert(&o.class);
        if o.tool != "-" {
            cells.entry((o.class.as_str(), (o.server.as_str(), o.tool.as_str()))).or_default().push(o);
        }
    }
    out.push_str("<h2 id=\"coverage\">Coverage: attack class × tool</h2>\n<p class=\"legend\">Each cell is the worst verdict of that class's scenarios on that tool: <span class=\"policy\">policy finding</span> <span class=\"proxy\">proxy finding</span> <span class=\"overblocking\">over-blocking</span> <span class=\"error\">error</span> <span class=\"held\">held</span> <span class=\"na\">not applicable</span> <span class=\"unsupported\">unsupported</span>; empty: no scenario of the class targets the tool. Column names drop their server's common prefix (hover for the full name).</p>\n<table class=\"matrix\"><tr><th>class</th>");
    let prefixes = super::table::common_prefixes(r);
    for (server, tool) in &tools {
        let short = prefixes.get(*server).and_then(|p| tool.strip_prefix(p.as_str())).unwrap_or(tool);
        let _ = write!(out, "<th class=\"tool\" title=\"{}\">{}</th>", esc(&format!("{server}: {tool}")), esc(short));
    }
    out.push_str("</tr>\n");
    for class in classes {
        let _ = write!(out, "<tr><th>{}</th>", esc(class));
        for t in &tools {
            match cells.get(&(class, *t)) {
                Some(os) => {
                    let worst = os.iter().max_by_key(|o| severity(o)).copied().unwrap_or(os[0]);
                    let held = os.iter().filter(|o| o.verdict == Verdict::Held).count();
                    let bad = os.iter().filter(|o| o.finding.is_some()).count();
                    let text = if bad > 0 { format!("✗ {bad}") } else if held > 0 { format!("✓ {held}") } else { "n/a".into() };
                    let tip = os.iter().map(|o| format!("{}: {}", o.scenario, verdict_label(o))).collect::<Vec<_>>().join("\n");
                    let _ = write!(out, "<td class=\"{}\" title=\"{}\">{text}</td>", class_of(worst), esc(&tip));
                }
                None => out.push_str("<td></td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn card(r: &Report, o: &Outcome, out: &mut String) {
    let _ = write!(
        out,
        "<div class=\"card outcome c-{}\" id=\"{}\" data-key=\"{}\" data-verdict=\"{}\"><h3><span class=\"v {}\">{}</span>{} × {}</h3><div class=\"meta\">{} · server {}</div>",
        class_of(o),
        anchor(o),
        esc(&key(o)),
        esc(o.verdict.as_str()),
        class_of(o),
        esc(&verdict_label(o)),
        esc(&o.scenario),
        esc(&o.tool),
        esc(&o.title),
        esc(&o.server)
    );
    if o.verdict == Verdict::Breached {
        let _ = write!(out, "<p>Expected <b>{}</b>, observed <b>{}</b>: {} of {} calls reached the server.</p>", esc(&o.bound), esc(&o.observed), o.reached, o.attempted);
    } else if o.verdict == Verdict::Held {
        let _ = write!(out, "<p>Held: {} of {} calls reached the server; bound {}, observed {}.</p>", o.reached, o.attempted, esc(&o.bound), esc(&o.observed));
    }
    if let Some(n) = &o.note {
        let _ = write!(out, "<p>{}</p>", esc(n));
    }
    if o.finding.is_some() {
        let (file, line) = location(r, o);
        let why = o.blame.as_ref().map_or("no policy line to blame: no policy can stop this on this proxy".to_string(), |b| b.reason.clone());
        let _ = write!(out, "<p class=\"blame\">Blame: <code>{}:{line}</code> — {}</p>", esc(&file), esc(&why));
        if let Some(d) = o.blame.as_ref().and_then(|b| b.denial.as_deref()) {
            let _ = write!(out, "<p>Denied with: <q>{}</q></p>", esc(d));
        }
        suggestion(r, o, out);
    }
    if let Some(t) = o.timeline.as_ref().filter(|_| matches!(o.verdict, Verdict::Held | Verdict::Breached)) {
        out.push_str(&plot(o, t));
    }
    if let Some(cmd) = &o.reproduce {
        let _ = write!(out, "<p>Reproduce: <code class=\"reproduce\">{}</code></p>", esc(cmd));
    }
    if !o.trace.is_empty() {
        let _ = write!(out, "<details><summary>Shortest trace ({} of {} messages)</summary><pre>", o.trace.len(), o.trace_from);
        for t in &o.trace {
            out.push_str(&esc(&t.to_string()));
            out.push('\n');
        }
        out.push_str("</pre></details>");
    }
    out.push_str("</div>\n");
}

/// A unified diff, escaped, one `<span>` per line so added and removed lines are coloured.
fn diff(d: &str) -> String {
    let mut out = String::from("<pre class=\"diff\">");
    for line in d.lines() {
        let class = if line.starts_with("+++") || line.starts_with("---") {
            "file"
        } else if line.starts_with("@@") {
            "hunk"
        } else if line.starts_with('+') {
            "add"
        } else if line.starts_with('-') {
            "del"
        } else {
            "ctx"
        };
        let _ = writeln!(out, "<span class=\"{class}\">{}</span>", esc(line));
    }
    out.push_str("</pre>");
    out
}

/// A finding's proven suggestion (`verify --suggest`) and what it was checked against;
/// why none closes it; or, without `--suggest`, how to get one.
fn suggestion(r: &Report, o: &Outcome, out: &mut String) {
    let Some(s) = &r.suggestions else {
        if o.finding == Some(Finding::Policy) {
            let cmd = o.reproduce.as_ref().map_or("gauntlet verify POLICY --suggest".to_string(), |c| format!("{c} --suggest"));
            let _ = write!(out, "<p class=\"suggest-hint\">Suggestion: run <code>{}</code> for a patch of this policy, proven by a re-run.</p>", esc(&cmd));
        }
        return;
    };
    let mine: Vec<_> = s.closing(o).collect();
    if mine.is_empty() {
        let why = match s.why_open(o) {
            Some(why) => why,
            // Proven by the final re-run: every proxy finding still open there has a note.
            None if o.finding == Some(Finding::Proxy) => "none is aimed at it (no policy can stop it on this proxy), yet with all suggestions applied the re-run no longer shows it as a finding".to_string(),
            None if s.created > 0 => format!("the edits gauntlet could derive still create {} finding(s) when applied together, so none is shown", s.created),
            None => "no suggestion closes it".to_string(),
        };
        let _ = write!(out, "<p class=\"suggestion none\">No suggestion: {}</p>", esc(&why));
        return;
    }
    for item in mine {
        let _ = write!(out, "<div class=\"suggestion\"><p>Suggestion: <b>{}</b></p>{}</div>", esc(&item.what), diff(&item.diff));
    }
    if let Some(checked) = s.checked() {
        let _ = write!(out, "<p class=\"checked\">{}</p>", esc(&checked));
    }
}

/// The summary's counts as badges: each in its verdict's colour when there is
/// one to see, grey when it is zero (no finding is not an alarm).
fn counts(s: &crate::verify::Summary) -> String {
    use crate::wording::count;
    let badges = [
        ("policy", count(s.policy_findings, "policy finding"), s.policy_findings),
        ("proxy", count(s.proxy_findings, "proxy finding"), s.proxy_findings),
        ("overblocking", format!("{} over-blocking", s.over_blocking), s.over_blocking),
        ("held", format!("{} held", s.held), s.held),
        ("na", format!("{} not applicable", s.not_applicable), s.not_applicable),
        ("error", count(s.errors, "error"), s.errors),
    ];
    let mut out = String::from("<div class=\"counts\">");
    for (class, text, n) in badges {
        let _ = write!(out, "<span class=\"{}\">{}</span>", if n == 0 { "zero" } else { class }, esc(&text));
    }
    out.push_str("</div>");
    out
}

pub fn render(r: &Report, _opts: &Options) -> String {
    let s = &r.summary;
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>gauntlet verify {}</title><style>{STYLE}</style></head><body>\n",
        esc(&r.policy)
    );
    let _ = write!(
        out,
        "<h1>gauntlet verify <code>{}</code></h1><div class=\"meta\">profile {} · seed {} · {} scenarios · servers {} · requirements: {} · gauntlet {}</div>\n<p class=\"summary\" id=\"summary\">{}<br>{}</p>\n{}\n",
        esc(&r.policy),
        esc(&r.profile),
        esc(&r.seed),
        r.scenarios,
        esc(&r.servers.join(", ")),
        esc(&r.requirements),
        esc(&r.tool_version),
        esc(&super::severity_line(s)),
        esc(&summary_line(s)),
        counts(s)
    );
    matrix(r, &mut out);
    type Pick = fn(&Outcome) -> bool;
    let groups: [(&str, &str, Pick); 6] = [
        ("findings", "Findings", |o| o.finding.is_some()),
        ("errors", "Could not run", |o| o.verdict == Verdict::Error),
        ("held", "Held", |o| o.verdict == Verdict::Held),
        ("not-exercised", "Not exercised", |o| o.verdict == Verdict::NotExercised),
        ("not-applicable", "Not applicable", |o| o.verdict == Verdict::NotApplicable),
        ("unsupported", "Unsupported: this proxy cannot take part", |o| o.verdict == Verdict::Unsupported),
    ];
    for (id, title, pick) in groups {
        let items: Vec<&Outcome> = r.outcomes.iter().filter(|o| pick(o)).collect();
        if items.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<h2 id=\"{id}\">{title} ({})</h2>", items.len());
        if let Some(s) = r.suggestions.as_ref().filter(|s| id == "findings" && !s.combined.is_empty()) {
            let _ = writeln!(
                out,
                "<details class=\"combined\"><summary>All {} suggestions as one patch</summary>{}<p class=\"checked\">{}</p></details>",
                s.items.len(),
                diff(&s.combined),
                esc(&s.checked().unwrap_or_default())
            );
        }
        if id == "not-applicable" {
            out.push_str("<table><tr><th>scenario</th><th>server</th><th>tool</th><th>why</th></tr>\n");
            for o in items {
                let _ = writeln!(
                    out,
                    "<tr class=\"outcome na\" id=\"{}\" data-key=\"{}\" data-verdict=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    anchor(o),
                    esc(&key(o)),
                    esc(o.verdict.as_str()),
                    esc(&o.scenario),
                    esc(&o.server),
                    esc(&o.tool),
                    esc(o.note.as_deref().unwrap_or(""))
                );
            }
            out.push_str("</table>\n");
        } else {
            for o in items {
                card(r, o, &mut out);
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_is_present_and_held_or_breached_ones_are_plotted() {
        let r = super::super::fixtures::report();
        let html = render(&r, &Options::default());
        for o in &r.outcomes {
            assert!(html.contains(&format!("id=\"{}\"", anchor(o))), "{} missing", key(o));
        }
        let plotted = r.outcomes.iter().filter(|o| matches!(o.verdict, Verdict::Held | Verdict::Breached)).count();
        assert_eq!(html.matches("<svg class=\"timeline\"").count(), plotted);
        assert!(html.contains("Post &lt;Customers&gt; &amp; co"), "names are escaped");
        assert!(html.contains("Blame: <code>examples/p.yaml:7</code>"), "policy findings carry their blame");
        // Self-contained: no scripts, no external stylesheets, images or fonts.
        for banned in ["<script", "<link", "src=", "href=\"http", "url("] {
            assert!(!html.contains(banned), "{banned}");
        }
    }

    #[test]
    fn findings_carry_their_proven_suggestion_or_how_to_get_one() {
        use crate::harden::patch::Edit;
        use crate::harden::suggest::{Open, Suggestion, Suggestions};
        let mut r = super::super::fixtures::report();
        let html = render(&r, &Options::default());
        assert!(html.contains("Suggestion: run <code>gauntlet verify p.yaml --only malformed-arguments --seed 1 --suggest</code>"), "{html}");
        assert!(!html.contains("<pre class=\"diff\">"));
        let d = "--- a/examples/p.yaml\n+++ b/examples/p.yaml\n@@ -7,2 +7,3 @@\n   t:\n-    rate_limit: 100/hour\n+    rate_limit: 15/minute\n+    note: \"<b> & 'q'\"\n";
        let summary = r.summary.clone();
        r.suggestions = Some(Suggestions {
            dialect: "intercept".into(),
            inexpressible: vec![],
            intercept_check: None,
            items: vec![Suggestion {
                edit: Edit::Hide("x".into(), Default::default()),
                what: "tighten rule `limit`".into(),
                diff: d.into(),
                closes: vec!["malformed-arguments × Post <Customers> & co".into()],
            }],
            combined: d.into(),
            open: vec![],
            proxy: vec![Open { finding: "wire-type-error × Delete".into(), why: "no policy can close it: below the rules".into() }],
            before: summary.clone(),
            after: summary,
            created: 0,
            runs: 2,
            scenarios: 3,
            tools: 2,
        });
        let html = render(&r, &Options::default());
        let card = |key: &str| {
            let start = html.find(&format!("data-key=\"{key}\"")).unwrap();
            html[start..start + html[start..].find("</div>\n").unwrap()].to_string()
        };
        let policy = card("malformed-arguments|aksjah|Post &lt;Customers&gt; &amp; co");
        assert!(policy.contains("Suggestion: <b>tighten rule `limit`</b>"), "{policy}");
        assert!(policy.contains("<span class=\"del\">-    rate_limit: 100/hour</span>"), "{policy}");
        assert!(policy.contains("<span class=\"add\">+    note: &quot;&lt;b&gt; &amp; &#39;q&#39;&quot;</span>"), "escaped: {policy}");
        assert!(policy.contains("<p class=\"checked\">Checked: the suggestion applied to a copy, 3 scenarios × 2 tools re-run (2 runs)"), "{policy}");
        let proxy = card("wire-type-error|aksjah|Delete");
        assert!(proxy.contains("No suggestion: no policy can close it: below the rules"), "{proxy}");
        assert!(html.contains("<summary>All 1 suggestions as one patch</summary>"));
    }

    #[test]
    fn the_window_is_drawn_where_most_calls_reached() {
        // 60 calls reached in the second half of the run: the densest 60 s window starts there.
        let times: Vec<i64> = (0..60).map(|i| 100_000_000_000 + i * 100_000_000).collect();
        assert_eq!(densest(&times, 60_000_000_000), (100_000_000_000, 60));
        let r = super::super::fixtures::report();
        let svg = plot(&r.outcomes[1], r.outcomes[1].timeline.as_ref().unwrap());
        assert!(svg.contains("class=\"window\""), "{svg}");
        assert!(svg.contains("densest 60s window: 60 reached, bound 30 (sliding)"), "{svg}");
        assert!(svg.contains("class=\"reached\"") && svg.contains("class=\"sent\""));
    }

    #[test]
    fn zero_counts_are_grey_the_sent_line_shows_over_an_equal_reached_one_and_the_y_axis_is_named() {
        let mut r = super::super::fixtures::report();
        r.summary.policy_findings = 0;
        r.summary.errors = 1;
        let html = render(&r, &Options::default());
        assert!(html.contains("<span class=\"zero\">0 policy findings</span>"), "{html}");
        assert!(html.contains("<span class=\"error\">1 error</span>"), "{html}");
        assert!(!html.contains("<span class=\"policy\">0"), "{html}");
        // Every call reached (30 of 30): the sent line is drawn last, dashed, so it is not hidden.
        let mut o = r.outcomes[0].clone();
        let t = o.timeline.as_mut().unwrap();
        t.sent.truncate(30);
        let svg = plot(&o, o.timeline.as_ref().unwrap());
        let (reached, sent) = (svg.find("class=\"reached\"").unwrap(), svg.find("class=\"sent\"").unwrap());
        assert!(reached < sent, "{svg}");
        assert!(svg[sent..].split("/>").next().unwrap().contains("stroke-dasharray"), "{svg}");
        assert!(svg.contains(">calls (running total)</text>"), "{svg}");
    }
}
