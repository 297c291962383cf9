//! The terminal report, findings first: a header and the summary line, the
//! failing outcomes grouped by scenario (policy findings, then proxy
//! findings, then errors), not-applicable outcomes collapsed into a count with
//! their reasons grouped, and how to reproduce. `-v` lists every outcome and
//! each finding's shortest trace; `-q` prints only the summary line.
//!
//! Layout is computed on plain text and wrapped to the given width; colour is
//! painted on afterwards, so escape codes never count towards a column.

use std::collections::BTreeMap;

use super::{summary_line, verdict_label, Report};
use crate::verify::{Finding, Outcome, Verdict};

/// Trace lines shown per finding (with `-v`) before eliding.
const TRACE_LINES: usize = 8;

/// How much the terminal report says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// The summary line only (`-q`).
    Quiet,
    /// Findings first, not-applicable outcomes collapsed.
    #[default]
    Normal,
    /// Every outcome and every finding's trace (`-v`).
    Verbose,
}

/// Terminal settings: how much, how wide, whether in colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub verbosity: Verbosity,
    pub width: usize,
    pub color: bool,
}

impl Default for Style {
    /// What a file or a pipe gets: normal verbosity, 100 columns, no colour.
    fn default() -> Style {
        Style { verbosity: Verbosity::Normal, width: 100, color: false }
    }
}

#[derive(Clone, Copy)]
enum Paint {
    Bold,
    Red,
    Yellow,
    Green,
    Magenta,
    Dim,
}

impl Style {
    fn paint(&self, text: &str, p: Paint) -> String {
        if !self.color || text.is_empty() {
            return text.to_string();
        }
        let code = match p {
            Paint::Bold => "1",
            Paint::Red => "1;31",
            Paint::Yellow => "33",
            Paint::Green => "32",
            Paint::Magenta => "35",
            Paint::Dim => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    fn width(&self) -> usize {
        self.width.max(40)
    }

}

fn verdict_paint(o: &Outcome) -> Paint {
    match (o.verdict, o.finding) {
        (Verdict::Held, _) => Paint::Green,
        (Verdict::Breached, Some(Finding::Proxy)) => Paint::Yellow,
        (Verdict::Breached, _) | (Verdict::Error, _) => Paint::Red,
        (Verdict::OverBlocking, _) => Paint::Magenta,
        (Verdict::NotApplicable, _) => Paint::Dim,
    }
}

/// Greedy word wrap: the first line starts after `first` columns already used,
/// later lines are indented by `indent`. Words longer than a line are split.
pub fn wrap(text: &str, width: usize, first: usize, indent: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = first;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let sep = usize::from(!line.is_empty());
            if used + sep + word.len() <= width {
                if sep == 1 {
                    line.push(' ');
                }
                line.extend(word.iter());
                used += sep + word.len();
                break;
            }
            let room = width.saturating_sub(used);
            if !line.is_empty() || (used > indent && room < word.len().min(8)) {
                // Start a fresh line (possibly leaving the first one to its prefix).
                lines.push(std::mem::take(&mut line));
                used = indent;
                continue;
            }
            // A word longer than a whole line: cut it.
            let cut = room.max(8).min(word.len());
            line.extend(word[..cut].iter());
            lines.push(std::mem::take(&mut line));
            word.drain(..cut);
            used = indent;
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Writes `prefix` + `text` wrapped at the width, continuation lines indented by `indent`.
fn push_wrapped(out: &mut String, st: &Style, prefix: &str, text: &str, indent: usize, paint: Option<Paint>) {
    let lines = wrap(text, st.width(), prefix.chars().count(), indent);
    for (i, l) in lines.iter().enumerate() {
        let lead = if i == 0 { prefix.to_string() } else { " ".repeat(indent) };
        let body = match paint {
            Some(p) => st.paint(l, p),
            None => l.clone(),
        };
        let line = format!("{lead}{body}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// The longest prefix, ending at a separator, shared by every tool of each
/// server (when a server has two or more tools), so the compact view can show
/// `PostOrders` for `WizCommerce Open API_PostOrders` and say so once.
pub(super) fn common_prefixes(r: &Report) -> BTreeMap<String, String> {
    let mut tools: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for o in r.outcomes.iter().filter(|o| o.tool != "-") {
        let v = tools.entry(o.server.as_str()).or_default();
        if !v.contains(&o.tool.as_str()) {
            v.push(&o.tool);
        }
    }
    let mut out = BTreeMap::new();
    for (server, names) in tools {
        if names.len() < 2 {
            continue;
        }
        let first = names[0];
        let mut len = first.len();
        for n in &names[1..] {
            len = first.bytes().zip(n.bytes()).take(len).take_while(|(a, b)| a == b).count();
        }
        let shared = &first[..len];
        if let Some(end) = shared.rfind(['_', ' ', '.', '/', ':', '-']) {
            if end + 1 >= 4 {
                out.insert(server.to_string(), shared[..=end].to_string());
            }
        }
    }
    out
}

/// A tool as the compact view shows it: its server first when several are in play.
fn tool_label(o: &Outcome, prefixes: &BTreeMap<String, String>, servers: usize) -> String {
    let short = prefixes.get(&o.server).and_then(|p| o.tool.strip_prefix(p.as_str())).unwrap_or(&o.tool);
    if servers > 1 && o.tool != "-" {
        format!("{}:{short}", o.server)
    } else {
        short.to_string()
    }
}

fn header(r: &Report, st: &Style, out: &mut String) {
    let mut text = format!(
        "gauntlet verify {}: profile {}, seed {}, {} scenarios on {}",
        r.policy,
        r.profile,
        r.seed,
        r.scenarios,
        r.servers.join(", "),
    );
    if st.verbosity == Verbosity::Verbose || r.requirements != super::BASELINE {
        text.push_str(&format!(", requirements: {}", r.requirements));
    }
    push_wrapped(out, st, "", &text, 2, Some(Paint::Bold));
    for line in r.proxy_lines().lines() {
        push_wrapped(out, st, "", line, 2, None);
    }
    // Held replica outcomes are not listed: the setup they held under is said here.
    let setups: std::collections::BTreeSet<String> = r.outcomes.iter().filter_map(|o| o.deployment).map(|d| d.assumed()).collect();
    for assumed in setups {
        push_wrapped(out, st, "", &format!("replica scenarios: {assumed}"), 2, None);
    }
}

fn summary(r: &Report, st: &Style) -> String {
    let paint = if r.summary.policy_findings > 0 || r.summary.errors > 0 {
        Paint::Red
    } else if r.summary.proxy_findings > 0 {
        Paint::Yellow
    } else {
        Paint::Green
    };
    let mut out = String::new();
    push_wrapped(&mut out, st, "", &summary_line(&r.summary), 2, Some(paint));
    push_wrapped(&mut out, st, "", &r.coverage.line(), 2, None);
    out
}

/// One group of failing outcomes, grouped by scenario: the scenario named once,
/// then one row per tool with reached/sent, what was observed and the bound.
fn group(out: &mut String, st: &Style, title: &str, paint: Paint, items: &[&Outcome], r: &Report) {
    if items.is_empty() {
        return;
    }
    out.push('\n');
    push_wrapped(out, st, "", title, 2, Some(paint));
    let prefixes = common_prefixes(r);
    let tool_of = |o: &Outcome| tool_label(o, &prefixes, r.servers.len());
    let sw = items.iter().map(|o| o.scenario.chars().count()).max().unwrap_or(0).min(28);
    let tw = items.iter().map(|o| tool_of(o).chars().count()).max().unwrap_or(0).min(32);
    let nw = items.iter().map(|o| numbers(o).chars().count()).max().unwrap_or(0);
    let mut last: Option<&Outcome> = None;
    for o in items {
        let same_scenario = last.is_some_and(|l| l.scenario == o.scenario);
        let scenario = if same_scenario { String::new() } else { o.scenario.clone() };
        let lead = format!("  {scenario:<sw$}  {:<tw$}  {:>nw$}  ", tool_of(o), numbers(o));
        // Tool names in the text drop the prefix too; a bound repeated within a scenario is said once.
        let short = |t: &str| prefixes.get(&o.server).map_or(t.to_string(), |p| t.replace(&format!("`{p}"), "`"));
        let what = match o.verdict {
            Verdict::Breached if same_scenario && last.is_some_and(|l| l.bound == o.bound) => short(&o.observed),
            Verdict::Breached => format!("{} (bound {})", short(&o.observed), short(&o.bound)),
            _ => o.note.clone().unwrap_or_default(),
        };
        last = Some(o);
        let indent = (lead.chars().count()).min(st.width() / 2);
        let mut lines = wrap(&what, st.width(), lead.chars().count(), indent).into_iter();
        let first = lines.next().unwrap_or_default();
        // Only the scenario name is painted: the numbers stay readable on any background.
        let painted = lead.replacen(&o.scenario, &st.paint(&o.scenario, verdict_paint(o)), usize::from(!scenario.is_empty()));
        out.push_str(format!("{painted}{first}").trim_end());
        out.push('\n');
        for l in lines {
            out.push_str(&format!("{}{l}\n", " ".repeat(indent)));
        }
    }
}

/// Policy findings by the policy location to blame, each location once, in file order.
fn blame_section(out: &mut String, st: &Style, items: &[&Outcome]) {
    let mut by_place: Vec<((&str, u32), String, Vec<String>)> = Vec::new();
    for o in items {
        let (Some(b), Some(text)) = (&o.blame, super::blame_line(o)) else { continue };
        let finding = format!("{} × {}", o.scenario, o.tool);
        match by_place.iter_mut().find(|(_, t, _)| *t == text) {
            Some((_, _, fs)) => fs.push(finding),
            None => by_place.push(((b.location.file.as_str(), b.location.line), text, vec![finding])),
        }
    }
    if by_place.is_empty() {
        return;
    }
    out.push('\n');
    push_wrapped(out, st, "", "Where in the policy:", 2, None);
    by_place.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, place, findings) in by_place {
        push_wrapped(out, st, "  ", &format!("{place} ({})", findings.join(", ")), 4, None);
    }
}

fn numbers(o: &Outcome) -> String {
    match o.verdict {
        Verdict::NotApplicable | Verdict::Error => "-".into(),
        _ => format!("{}/{}", o.reached, o.attempted),
    }
}

/// Not-applicable outcomes as a count with each distinct reason once.
fn not_applicable(out: &mut String, st: &Style, r: &Report) {
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for o in r.outcomes.iter().filter(|o| o.verdict == Verdict::NotApplicable) {
        *reasons.entry(o.note.as_deref().unwrap_or("no reason recorded")).or_default() += 1;
    }
    if reasons.is_empty() {
        return;
    }
    let mut by_count: Vec<(&str, usize)> = reasons.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    out.push('\n');
    let title = format!("Not applicable: {} (never counted as held; -v lists each)", r.summary.not_applicable);
    push_wrapped(out, st, "", &title, 2, Some(Paint::Dim));
    let cw = by_count.iter().map(|(_, n)| n.to_string().len()).max().unwrap_or(1);
    for (reason, n) in by_count {
        let prefix = format!("  {n:>cw$}× ");
        push_wrapped(out, st, &prefix, reason, prefix.chars().count(), None);
    }
}

/// Every outcome, one row each (`-v`).
fn full_table(out: &mut String, st: &Style, r: &Report) {
    let headers = ["SCENARIO", "TOOL", "VERDICT", "REACHED/SENT"];
    let rows: Vec<[String; 5]> = r
        .outcomes
        .iter()
        .map(|o| {
            let tool = if r.servers.len() > 1 && o.tool != "-" { format!("{}:{}", o.server, o.tool) } else { o.tool.clone() };
            let rest = match o.verdict {
                Verdict::NotApplicable | Verdict::Error => o.note.clone().unwrap_or_default(),
                _ => o.bound.clone(),
            };
            [o.scenario.clone(), tool, verdict_label(o), numbers(o), rest]
        })
        .collect();
    let mut widths = headers.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    out.push('\n');
    let head = format!("{:<a$}  {:<b$}  {:<c$}  {:<d$}  BOUND / WHY", headers[0], headers[1], headers[2], headers[3], a = widths[0], b = widths[1], c = widths[2], d = widths[3]);
    out.push_str(&st.paint(&head, Paint::Bold));
    out.push('\n');
    for (row, o) in rows.iter().zip(&r.outcomes) {
        let lead = format!("{:<a$}  {:<b$}  ", row[0], row[1], a = widths[0], b = widths[1]);
        let verdict = st.paint(&format!("{:<c$}", row[2], c = widths[2]), verdict_paint(o));
        let lead2 = format!("  {:<d$}  ", row[3], d = widths[3]);
        let used = lead.chars().count() + widths[2] + lead2.chars().count();
        let indent = used.min(st.width() / 2);
        let mut lines = wrap(&row[4], st.width(), used, indent).into_iter();
        out.push_str(&format!("{lead}{verdict}{lead2}{}\n", lines.next().unwrap_or_default()).replace(" \n", "\n"));
        for l in lines {
            out.push_str(&format!("{}{l}\n", " ".repeat(indent)));
        }
    }
}

/// Each finding with its numbers, note, shortest trace and reproduce command (`-v`).
fn details(out: &mut String, st: &Style, r: &Report) {
    let findings = r.outcomes.iter().filter(|o| matches!(o.verdict, Verdict::Breached | Verdict::OverBlocking | Verdict::Error));
    for o in findings {
        out.push('\n');
        let title = format!("{} {} × {} ({})", verdict_label(o), o.scenario, o.tool, o.title);
        push_wrapped(out, st, "", &title, 2, Some(verdict_paint(o)));
        if o.verdict == Verdict::Breached {
            push_wrapped(out, st, "  ", &format!("expected: {}   observed: {}", o.bound, o.observed), 4, None);
        }
        if let Some(n) = &o.note {
            push_wrapped(out, st, "  note: ", n, 4, None);
        }
        if let Some(b) = super::blame_line(o) {
            out.push_str(&format!("  blame: {b}\n"));
        }
        if !o.trace.is_empty() {
            push_wrapped(out, st, "  ", &format!("shortest trace ({} of {} messages):", o.trace.len(), o.trace_from), 4, None);
            for t in o.trace.iter().take(TRACE_LINES) {
                out.push_str(&format!("    {}\n", cut(&t.to_string(), st.width().saturating_sub(4))));
            }
            if o.trace.len() > TRACE_LINES {
                out.push_str(&format!("    … {} more\n", o.trace.len() - TRACE_LINES));
            }
        }
        if let Some(cmd) = &o.reproduce {
            push_wrapped(out, st, "  reproduce: ", cmd, 4, None);
        }
    }
}

/// A line cut to `max` characters with an ellipsis (trace lines are one message each).
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

pub fn render(r: &Report, st: &Style) -> String {
    let mut out = String::new();
    if st.verbosity == Verbosity::Quiet {
        // One line, unwrapped, for scripts that grep it.
        return summary(r, &Style { width: usize::MAX, ..*st });
    }
    header(r, st, &mut out);
    out.push_str(&summary(r, st));
    let prefixes = common_prefixes(r);
    if st.verbosity == Verbosity::Normal && !prefixes.is_empty() {
        let legend = prefixes.iter().map(|(s, p)| format!("`{p}` ({s})")).collect::<Vec<_>>().join(", ");
        push_wrapped(&mut out, st, "", &format!("Tool names below drop their server's common prefix: {legend}."), 2, Some(Paint::Dim));
    }
    if st.verbosity == Verbosity::Verbose {
        full_table(&mut out, st, r);
    }
    let pick = |f: &dyn Fn(&Outcome) -> bool| r.outcomes.iter().filter(|o| f(o)).collect::<Vec<_>>();
    if st.verbosity == Verbosity::Normal {
        let policy = pick(&|o| o.finding == Some(Finding::Policy));
        let proxy = pick(&|o| o.finding == Some(Finding::Proxy));
        let errors = pick(&|o| o.verdict == Verdict::Error);
        let policy_title = format!("Policy findings ({}): the policy could have stopped these", policy.len());
        group(&mut out, st, &policy_title, Paint::Red, &policy, r);
        blame_section(&mut out, st, &policy);
        let proxy_title = format!(
            "Proxy findings ({}): no policy can stop these on this proxy (fail only with --fail-on-proxy-findings)",
            proxy.len()
        );
        group(&mut out, st, &proxy_title, Paint::Yellow, &proxy, r);
        group(&mut out, st, &format!("Could not run ({})", errors.len()), Paint::Red, &errors, r);
        not_applicable(&mut out, st, r);
    } else {
        details(&mut out, st, r);
    }
    let reproducible = r.outcomes.iter().filter_map(|o| o.reproduce.as_deref()).next();
    if let Some(cmd) = reproducible {
        out.push('\n');
        let generic = match cmd.rsplit_once(" --only ") {
            Some((head, tail)) => {
                let seed = tail.split_once(' ').map(|(_, s)| s).unwrap_or("");
                format!("{head} --only SCENARIO {seed}")
            }
            None => cmd.to_string(),
        };
        let hint = if st.verbosity == Verbosity::Verbose { "" } else { "  (-v: all outcomes, traces)" };
        push_wrapped(&mut out, st, "Reproduce: ", &format!("{generic}{hint}"), 2, None);
    }
    if let Some(s) = &r.suggestions {
        out.push_str(&crate::harden::suggest::render(s));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(v: Verbosity) -> Style {
        Style { verbosity: v, ..Style::default() }
    }

    #[test]
    fn compact_view_puts_findings_first_and_collapses_not_applicable() {
        let text = render(&super::super::fixtures::report(), &plain(Verbosity::Normal));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].starts_with("4 outcomes: 1 held, 2 breached"), "{text}");
        let policy = text.find("Policy findings").unwrap();
        let proxy = text.find("Proxy findings").unwrap();
        let na = text.find("Not applicable: 1").unwrap();
        assert!(policy < proxy && proxy < na, "{text}");
        assert!(text.contains("  malformed-arguments  Post <Customers> & co  60/200  60 in 1m (bound ≤30 reached per 1m sliding)"), "{text}");
        // Held outcomes are counted in the summary, not listed.
        assert!(!text.contains("bulk-write-burst"), "{text}");
        assert!(text.contains("Reproduce: gauntlet verify p.yaml --only SCENARIO --seed 1"), "{text}");
        assert!(!text.contains('\x1b'));
        assert!(lines.iter().all(|l| l.chars().count() <= 100), "{text}");
    }

    #[test]
    fn verbose_lists_every_outcome_with_traces_and_quiet_only_the_summary_and_coverage() {
        let r = super::super::fixtures::report();
        let v = render(&r, &plain(Verbosity::Verbose));
        assert!(v.contains("bulk-write-burst     Post <Customers> & co  held"), "{v}");
        assert!(v.contains("BREACHED (policy) malformed-arguments × Post <Customers> & co"), "{v}");
        assert!(v.contains("shortest trace (1 of 200 messages):"), "{v}");
        let q = render(&r, &plain(Verbosity::Quiet));
        assert_eq!(q.lines().count(), 2, "{q}");
        assert!(q.starts_with("4 outcomes:"));
        assert!(q.lines().nth(1).is_some_and(|l| l.starts_with("coverage: ")), "{q}");
    }

    #[test]
    fn colour_is_painted_after_layout() {
        let r = super::super::fixtures::report();
        let coloured = render(&r, &Style { color: true, ..Style::default() });
        assert!(coloured.contains("\x1b[1;31mmalformed-arguments\x1b[0m"), "{coloured}");
        let strip = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
        assert_eq!(strip.replace_all(&coloured, ""), render(&r, &Style::default()));
    }

    #[test]
    fn wrapping_respects_the_width_and_cuts_long_words() {
        let lines = wrap("aaa bbb ccc ddd", 9, 2, 4);
        assert_eq!(lines, vec!["aaa bbb", "ccc", "ddd"]);
        let long = wrap(&"x".repeat(30), 12, 0, 2);
        assert!(long.iter().all(|l| l.chars().count() <= 12), "{long:?}");
        assert_eq!(long.concat(), "x".repeat(30));
    }

    #[test]
    fn common_prefix_ends_at_a_separator() {
        let mut r = super::super::fixtures::report();
        r.outcomes[0].tool = "Acme API_PostOrders".into();
        r.outcomes[1].tool = "Acme API_PostCustomers".into();
        let p = common_prefixes(&r);
        assert_eq!(p.get("aksjah").map(String::as_str), None, "Delete shares nothing: {p:?}");
        r.outcomes[2].tool = "Acme API_Delete".into();
        assert_eq!(common_prefixes(&r).get("aksjah").map(String::as_str), Some("Acme API_"));
    }
}
