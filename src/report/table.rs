//! The terminal report, findings first: a header and the summary line, the
//! failing outcomes grouped by scenario (policy findings, then where in the
//! policy to fix them, then proxy findings, then errors), not-applicable
//! outcomes collapsed into a count with their reasons grouped, and how to
//! reproduce. `-v` lists every outcome and each finding's shortest trace;
//! `-q` prints only the summary line.
//!
//! The default view is at most [`BUDGET`] lines whatever the size of the run:
//! one row per scenario × tool when that fits, else one row per scenario (its
//! first tool, `+N` more), else each section shows what fits of its share and
//! says how many more `-v` lists. Nothing is dropped without a count.
//!
//! Layout is computed on plain text and wrapped to the given width; colour is
//! painted on afterwards, so escape codes never count towards a column.

use std::collections::BTreeMap;

use super::{summary_line, verdict_label, Report};
use crate::harden::suggest::Suggestions;
use crate::verify::{Finding, Outcome, Verdict};
use crate::wording::{self, wrap};

/// Trace lines shown per finding (with `-v`) before eliding.
const TRACE_LINES: usize = 8;

/// Lines the default view takes at most, for any run (issue 12: the seed
/// policy's report under 60 lines; the database and the servers grow).
pub const BUDGET: usize = 58;

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
        (Verdict::NotApplicable, _) | (Verdict::Unsupported, _) => Paint::Dim,
        (Verdict::NotExercised, _) => Paint::Yellow,
    }
}

/// Writes `prefix` + `text` wrapped at the width, continuation lines indented by `indent`.
fn push_wrapped(out: &mut String, st: &Style, prefix: &str, text: &str, indent: usize, paint: Option<Paint>) {
    push_wrapped_max(out, st, prefix, text, indent, paint, usize::MAX);
}

/// [`push_wrapped`] in at most `max` lines, the last one ending in `…` when text was cut.
fn push_wrapped_max(out: &mut String, st: &Style, prefix: &str, text: &str, indent: usize, paint: Option<Paint>, max: usize) {
    let mut lines = wrap(text, st.width(), prefix.chars().count(), indent);
    if lines.len() > max {
        lines.truncate(max.max(1));
        let room = st.width().saturating_sub(if lines.len() == 1 { prefix.chars().count() } else { indent });
        let last = lines.last_mut().expect("one line at least");
        *last = with_ellipsis(last, room);
    }
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

/// `text` and `…` within `room` columns, dropping whole words from the end to make room.
fn with_ellipsis(text: &str, room: usize) -> String {
    let mut t = text.trim_end();
    while t.chars().count() + 1 > room {
        match t.rsplit_once(' ') {
            Some((head, _)) if !head.trim().is_empty() => t = head.trim_end(),
            _ => return format!("{}…", t.chars().take(room.saturating_sub(1)).collect::<String>()),
        }
    }
    format!("{}…", t.trim_end_matches([',', ';', ':']))
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
        "gauntlet verify {}: profile {}, seed {}, {} on {}",
        r.policy,
        r.profile,
        r.seed,
        wording::count(r.scenarios, "scenario"),
        r.servers.join(", "),
    );
    if st.verbosity == Verbosity::Verbose || r.requirements != super::BASELINE {
        text.push_str(&format!(", requirements: {}", r.requirements));
    }
    push_wrapped_max(out, st, "", &text, 2, Some(Paint::Bold), 3);
    for line in r.proxy_lines().lines() {
        push_wrapped_max(out, st, "", line, 2, None, 2);
    }
    // Held replica outcomes are not listed: the setup they held under is said here.
    let setups: std::collections::BTreeSet<String> = r.outcomes.iter().filter_map(|o| o.deployment).map(|d| d.assumed()).collect();
    for assumed in setups {
        push_wrapped_max(out, st, "", &format!("replica scenarios: {assumed}"), 2, None, 2);
    }
}

/// The severity and summary lines, then (except with `-q`, which promises
/// the summary only) the coverage line.
fn summary(r: &Report, st: &Style) -> String {
    let paint = if r.summary.policy_findings > 0 || r.summary.errors > 0 {
        Paint::Red
    } else if r.summary.proxy_findings > 0 {
        Paint::Yellow
    } else {
        Paint::Green
    };
    let mut out = String::new();
    if r.summary.policy_findings + r.summary.proxy_findings > 0 {
        push_wrapped_max(&mut out, st, "", &super::severity_line(&r.summary), 2, Some(paint), 2);
    }
    push_wrapped_max(&mut out, st, "", &summary_line(&r.summary), 2, Some(paint), 4);
    if st.verbosity == Verbosity::Quiet {
        return out;
    }
    // As many of the tools on no server as fit in three lines, and how many more.
    let fits = |names: usize| wrap(&r.coverage.line_naming(names), st.width(), 0, 2).len() <= 3;
    let names = (0..=r.coverage.absent.len()).rev().find(|n| fits(*n)).unwrap_or(0);
    push_wrapped_max(&mut out, st, "", &r.coverage.line_naming(names), 2, None, 3);
    out
}

/// Failing outcomes grouped by scenario, one finished item per scenario: the
/// scenario named once, then a row per tool with reached/sent, what was observed
/// and the bound; `compact`: one row, its first tool with `+N` for the others.
fn scenario_rows(st: &Style, items: &[&Outcome], r: &Report, compact: bool) -> Vec<String> {
    let prefixes = common_prefixes(r);
    let tool_of = |o: &Outcome| tool_label(o, &prefixes, r.servers.len());
    let mut scenarios: Vec<Vec<&Outcome>> = Vec::new();
    for o in items {
        match scenarios.last_mut() {
            Some(g) if g[0].scenario == o.scenario => g.push(o),
            _ => scenarios.push(vec![o]),
        }
    }
    // (outcome, tool column, first row of its scenario)
    let rows: Vec<Vec<(&Outcome, String, bool)>> = scenarios
        .iter()
        .map(|g| match g.len() {
            n if compact && n > 1 => vec![(g[0], format!("{} +{}", tool_of(g[0]), n - 1), true)],
            _ => g.iter().enumerate().map(|(i, o)| (*o, tool_of(o), i == 0)).collect(),
        })
        .collect();
    let all = || rows.iter().flatten();
    let severity = |o: &Outcome| o.severity.map_or("", |s| if s == crate::verify::severity::Severity::Critical { "crit" } else { s.as_str() });
    let vw = all().map(|(o, _, _)| severity(o).len()).max().unwrap_or(0);
    let sw = all().map(|(o, _, _)| o.scenario.chars().count()).max().unwrap_or(0).min(28);
    let tw = all().map(|(_, t, _)| t.chars().count()).max().unwrap_or(0).min(32);
    let nw = all().map(|(o, _, _)| numbers(o).chars().count()).max().unwrap_or(0);
    rows.iter()
        .map(|g| {
            let mut out = String::new();
            let mut last: Option<&Outcome> = None;
            for (o, tool, first) in g {
                // Names longer than their column are cut, so a row never starts past the width.
                let name = cut(&o.scenario, sw);
                let scenario = if *first { name.clone() } else { String::new() };
                let tool = cut(tool, tw);
                let sev = if vw == 0 { String::new() } else { format!("{:<vw$}  ", severity(o)) };
                let lead = format!("  {sev}{scenario:<sw$}  {tool:<tw$}  {:>nw$}  ", numbers(o));
                // Tool names in the text drop the prefix too; a bound repeated within a scenario is said once.
                let short = |t: &str| prefixes.get(&o.server).map_or(t.to_string(), |p| t.replace(&format!("`{p}"), "`"));
                let what = match o.verdict {
                    Verdict::Breached if last.is_some_and(|l| l.bound == o.bound) => short(&o.observed),
                    Verdict::Breached => format!("{} (bound {})", short(&o.observed), short(&o.bound)),
                    _ => o.note.as_deref().unwrap_or_default().to_string(),
                };
                last = Some(o);
                let indent = (lead.chars().count()).min(st.width() / 2);
                // A compact row stays one line.
                let max = if compact { 1 } else { usize::MAX };
                let mut lines = wrap(&what, st.width(), lead.chars().count(), indent);
                if lines.len() > max {
                    // Without the bound rather than cut inside it (the full rows and -v say it).
                    let room = st.width().saturating_sub(lead.chars().count());
                    let observed = short(&o.observed);
                    let fits = o.verdict == Verdict::Breached && observed.chars().count() <= room;
                    lines = vec![if fits { observed } else { with_ellipsis(&lines[0], room) }];
                }
                let mut lines = lines.into_iter();
                let first_line = lines.next().unwrap_or_default();
                // Only the scenario name is painted: the numbers stay readable on any background.
                let painted = lead.replacen(&name, &st.paint(&name, verdict_paint(o)), usize::from(*first));
                out.push_str(format!("{painted}{first_line}").trim_end());
                out.push('\n');
                for l in lines {
                    out.push_str(&format!("{}{l}\n", " ".repeat(indent)));
                }
            }
            out
        })
        .collect()
}

/// Over-blocking outcomes, one row per tool and cause (the refusing rule, or
/// the note when none is blamed): one rule refusing a tool's legitimate calls
/// is one problem however many scenarios' twins ran into it. Each row says
/// how many legitimate calls reached the server, which rule refused the rest,
/// and in which scenarios; at most `max` lines each.
fn over_blocking_rows(st: &Style, items: &[&Outcome], r: &Report, max: usize) -> Vec<String> {
    let prefixes = common_prefixes(r);
    let cause = |o: &Outcome| match &o.blame {
        Some(b) => {
            let place = if b.location.file == r.policy { format!("line {}", b.location.line) } else { format!("{}:{}", b.location.file, b.location.line) };
            match &b.rule {
                Some(rule) => format!("refused by rule `{rule}` ({place})"),
                None => format!("refused at {place}"),
            }
        }
        None => o.note.as_deref().unwrap_or("refused").to_string(),
    };
    let mut groups: Vec<(String, String, Vec<&Outcome>)> = Vec::new();
    for o in items {
        let (tool, why) = (tool_label(o, &prefixes, r.servers.len()), cause(o));
        match groups.iter_mut().find(|(t, w, _)| *t == tool && *w == why) {
            Some((_, _, os)) => os.push(o),
            None => groups.push((tool, why, vec![o])),
        }
    }
    let severity = |os: &[&Outcome]| os.iter().filter_map(|o| o.severity).max().map_or("", |s| s.as_str());
    let legit = |os: &[&Outcome]| {
        let twins = os.iter().filter_map(|o| o.twin.as_ref());
        twins.fold((0, 0), |(reached, sent), t| (reached + t.reached, sent + t.attempted))
    };
    let vw = groups.iter().map(|(_, _, os)| severity(os).len()).max().unwrap_or(0);
    let tw = groups.iter().map(|(t, _, _)| t.chars().count()).max().unwrap_or(0).min(32);
    let nw = groups.iter().map(|(_, _, os)| format!("{}/{}", legit(os).0, legit(os).1).len()).max().unwrap_or(0);
    groups
        .iter()
        .map(|(tool, why, os)| {
            let (reached, sent) = legit(os);
            let sev = if vw == 0 { String::new() } else { format!("{:<vw$}  ", severity(os)) };
            let (name, numbers) = (cut(tool, tw), format!("{reached}/{sent}"));
            let lead = format!("  {sev}{name:<tw$}  {numbers:>nw$}  ");
            let pad = " ".repeat(tw.saturating_sub(name.chars().count()));
            let painted = format!("  {sev}{}{pad}  {numbers:>nw$}  ", st.paint(&name, Paint::Magenta));
            let scenarios = os.iter().map(|o| o.scenario.as_str()).collect::<Vec<_>>().join(", ");
            // The refusing rule first: a one-line row keeps it.
            let text = format!(
                "{why}: {reached} of {sent} legitimate calls reached the server, in {}: {scenarios}",
                wording::count(os.len(), "scenario")
            );
            let mut row = String::new();
            push_wrapped_max(&mut row, st, &lead, &text, lead.chars().count().min(st.width() / 2), None, max);
            row.replacen(&lead, &painted, 1)
        })
        .collect()
}

/// Policy findings by the policy location to blame, each location once, with the
/// findings it explains; at most `max` lines each.
fn blame_items(st: &Style, r: &Report, items: &[&Outcome], max: usize) -> Vec<String> {
    let prefixes = common_prefixes(r);
    let mut by_place: Vec<((&str, u32), String, Vec<&Outcome>)> = Vec::new();
    for o in items {
        let Some(b) = &o.blame else { continue };
        let mut why = b.reason.clone();
        if let Some(d) = &b.denial {
            why.push_str(&format!("; denied with: {d}"));
        }
        let place = (b.location.file.as_str(), b.location.line);
        match by_place.iter_mut().find(|(p, w, _)| *p == place && *w == why) {
            Some((_, _, os)) => os.push(o),
            None => by_place.push((place, why, vec![o])),
        }
    }
    // The places behind the most findings first (what does not fit is the least of it), then in file order.
    by_place.sort_by(|a, b| b.2.len().cmp(&a.2.len()).then(a.0.cmp(&b.0)));
    let shorten = |why: &str| prefixes.values().fold(why.to_string(), |w, p| w.replace(&format!("`{p}"), "`"));
    let whys: Vec<((&str, u32), String)> = by_place.iter().map(|(place, why, _)| (*place, shorten(why))).collect();
    by_place
        .into_iter()
        .map(|((file, line), why, os)| {
            // `a, b × Tool; c × Other`, tool names as the rows show them.
            let mut by_tool: Vec<(String, Vec<&str>)> = Vec::new();
            for o in &os {
                let t = tool_label(o, &prefixes, r.servers.len());
                match by_tool.iter_mut().find(|(x, _)| *x == t) {
                    Some((_, ss)) => ss.push(&o.scenario),
                    None => by_tool.push((t, vec![&o.scenario])),
                }
            }
            let findings = by_tool.iter().map(|(t, ss)| format!("{} × {t}", ss.join(", "))).collect::<Vec<_>>().join("; ");
            let why = shorten(&why);
            let place = if file == r.policy { format!("  line {line}: ") } else { format!("  {file}:{line}: ") };
            let mut item = String::new();
            if max > 1 {
                push_wrapped_max(&mut item, st, &place, &format!("{why} ({findings})"), 4, None, max);
            } else {
                // One line: as much of the reason as fits, and how many findings it explains.
                let count = format!(" ({})", wording::count(os.len(), "finding"));
                let room = st.width().saturating_sub(place.chars().count() + count.chars().count());
                let here: Vec<&str> = whys.iter().filter(|(p, _)| *p == (file, line)).map(|(_, w)| w.as_str()).collect();
                let why = if why.chars().count() <= room { why } else { distinct_cut(&why, &here, room) };
                item = format!("{place}{why}{count}\n");
            }
            item
        })
        .collect()
}

/// `why` cut to `room` columns so that it still reads apart from every other
/// reason in `others` that starts the same way: the head up to its first
/// colon, `…`, and the words from where it parts from the nearest other.
fn distinct_cut(why: &str, others: &[&str], room: usize) -> String {
    let plain = with_ellipsis(why, room);
    let words: Vec<&str> = why.split(' ').collect();
    let shown = plain.split(' ').count();
    let shared_words = |other: &&str| words.iter().zip(other.split(' ')).take_while(|(a, b)| **a == *b).count();
    // Another reason that reads the same up to where this one is cut.
    let Some(parts_at) = others.iter().filter(|o| **o != why).map(shared_words).filter(|n| *n + 1 >= shown).max() else { return plain };
    let head_end = words.iter().position(|w| w.ends_with(':')).filter(|h| h + 1 < parts_at).map_or(2.min(parts_at), |h| h + 1);
    let tail_from = parts_at.saturating_sub(1).max(head_end);
    let text = format!("{} … {}", words[..head_end].join(" "), words[tail_from..].join(" "));
    if text.chars().count() <= room {
        text
    } else {
        with_ellipsis(&text, room)
    }
}

fn numbers(o: &Outcome) -> String {
    match o.verdict {
        Verdict::NotApplicable | Verdict::Unsupported | Verdict::Error => "-".into(),
        _ => format!("{}/{}", o.reached, o.attempted),
    }
}

/// Outcomes of one verdict (not applicable, not exercised, unsupported), each distinct reason once with its count, most frequent first; at most `max` lines each
/// (in one line, reasons that start alike keep the words where they part).
/// The compact form (`max` 1) keeps the [`COMPACT_REASONS`] most frequent
/// reasons and counts the rest in one line: findings come before reasons for
/// what was not judged when lines are short.
fn reason_items(st: &Style, r: &Report, verdict: Verdict, max: usize) -> Vec<String> {
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for o in r.outcomes.iter().filter(|o| o.verdict == verdict) {
        *reasons.entry(o.note.as_deref().unwrap_or("no reason recorded")).or_default() += 1;
    }
    let mut by_count: Vec<(&str, usize)> = reasons.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let cw = by_count.iter().map(|(_, n)| n.to_string().len()).max().unwrap_or(1);
    let all: Vec<&str> = by_count.iter().map(|(reason, _)| *reason).collect();
    let rest: Vec<(&str, usize)> = match max == 1 && by_count.len() > COMPACT_REASONS {
        true => by_count.split_off(COMPACT_REASONS - 1),
        false => Vec::new(),
    };
    let mut items: Vec<String> = by_count
        .iter()
        .map(|(reason, n)| {
            let prefix = format!("  {n:>cw$}× ");
            let mut item = String::new();
            let room = st.width().saturating_sub(prefix.chars().count());
            if max == 1 && reason.chars().count() > room {
                // One line: cut so that it still reads apart from the reasons that start alike.
                item = format!("{prefix}{}\n", distinct_cut(reason, &all, room));
            } else {
                push_wrapped_max(&mut item, st, &prefix, reason, prefix.chars().count(), None, max);
            }
            item
        })
        .collect();
    if !rest.is_empty() {
        let outcomes: usize = rest.iter().map(|(_, n)| n).sum();
        items.push(format!("  {outcomes:>cw$}× for {} other reasons\n", rest.len()));
    }
    items
}

/// How many reason lines a compact reasons section shows (the last may count the rest).
const COMPACT_REASONS: usize = 6;

/// One part of the default view: its title and its items (finished lines), in
/// full and in a compact form.
struct Section {
    title: String,
    detailed: Vec<String>,
    compact: Vec<String>,
    /// What an item is, for `… N more` when not all fit.
    noun: &'static str,
}

fn line_count(items: &[String]) -> usize {
    items.iter().map(|i| i.lines().count()).sum()
}

/// The sections' bodies in at most `room` lines: every item in full when that fits;
/// else the biggest sections compact, one by one, until it fits; else every
/// section compact, each showing the items that fit its share (the lines handed
/// out one at a time, so short sections show whole) and a `… N more` line.
fn fit(sections: &[Section], room: usize) -> Vec<String> {
    let mut compact = vec![false; sections.len()];
    fn chosen(s: &Section, compact: bool) -> &[String] {
        if compact {
            &s.compact
        } else {
            &s.detailed
        }
    }
    let total = |compact: &[bool]| sections.iter().zip(compact).map(|(s, c)| line_count(chosen(s, *c))).sum::<usize>();
    while total(&compact) > room {
        let Some(i) = (0..sections.len()).filter(|i| !compact[*i]).max_by_key(|i| line_count(&sections[*i].detailed)) else { break };
        compact[i] = true;
    }
    let need: Vec<usize> = sections.iter().zip(&compact).map(|(s, c)| line_count(chosen(s, *c))).collect();
    let mut share = need.clone();
    if need.iter().sum::<usize>() > room {
        share = vec![0; sections.len()];
        let mut left = room;
        while left > 0 {
            let before = left;
            for i in 0..share.len() {
                if share[i] < need[i] && left > 0 {
                    share[i] += 1;
                    left -= 1;
                }
            }
            if left == before {
                break;
            }
        }
    }
    sections
        .iter()
        .zip(&compact)
        .zip(share.iter().zip(&need))
        .map(|((s, c), (share, need))| {
            let items = chosen(s, *c);
            if share >= need {
                return items.concat();
            }
            // One line of the share says what did not fit.
            let mut body = String::new();
            let mut used = 0;
            let mut shown = 0;
            for item in items {
                let n = item.lines().count();
                if used + n + 1 > *share {
                    break;
                }
                body.push_str(item);
                used += n;
                shown += 1;
            }
            body.push_str(&format!("  … {} more {} (-v lists each)\n", items.len() - shown, s.noun));
            body
        })
        .collect()
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
                Verdict::NotApplicable | Verdict::NotExercised | Verdict::Unsupported | Verdict::Error => o.note.as_deref().unwrap_or_default().to_string(),
                _ => o.bound.to_string(),
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

/// Findings grouped by scenario, the scenarios with the worst finding first.
fn worst_first(mut items: Vec<&Outcome>) -> Vec<&Outcome> {
    let mut worst: std::collections::BTreeMap<&str, Option<crate::verify::severity::Severity>> = Default::default();
    for o in &items {
        let w = worst.entry(o.scenario.as_str()).or_insert(None);
        *w = (*w).max(o.severity);
    }
    items.sort_by(|a, b| {
        worst[b.scenario.as_str()].cmp(&worst[a.scenario.as_str()]).then(a.scenario.cmp(&b.scenario)).then(b.severity.cmp(&a.severity))
    });
    items
}

/// The titled sections of the default view, empty ones left out.
fn sections(r: &Report, st: &Style) -> Vec<(Section, Paint)> {
    let pick = |f: &dyn Fn(&Outcome) -> bool| worst_first(r.outcomes.iter().filter(|o| f(o)).collect::<Vec<_>>());
    // Low-severity findings (malformed arguments reaching read tools) are folded: -v lists them.
    let low = |o: &Outcome| o.severity == Some(crate::verify::severity::Severity::Low);
    let policy = pick(&|o| o.finding == Some(Finding::Policy) && !low(o));
    let folded = r.outcomes.iter().filter(|o| o.finding == Some(Finding::Policy) && low(o)).count();
    // Over-blocking gets rows of its own: folded into a scenario's breach
    // row (`+N` tools) it would be hidden in the default view.
    let breaches = pick(&|o| o.finding == Some(Finding::Policy) && o.verdict != Verdict::OverBlocking && !low(o));
    let over = pick(&|o| o.verdict == Verdict::OverBlocking);
    let over_rows = over_blocking_rows(st, &over, r, 3);
    let proxy = pick(&|o| o.finding == Some(Finding::Proxy));
    let errors = pick(&|o| o.verdict == Verdict::Error);
    let scenarios = |os: &[&Outcome]| os.iter().map(|o| &o.scenario).collect::<std::collections::BTreeSet<_>>().len();
    let rows = |title: String, os: &[&Outcome]| Section {
        title,
        detailed: scenario_rows(st, os, r, false),
        compact: scenario_rows(st, os, r, true),
        noun: "scenarios",
    };
    let places = blame_items(st, r, &policy, 3);
    let files: std::collections::BTreeSet<&str> = policy.iter().filter_map(|o| o.blame.as_ref()).map(|b| b.location.file.as_str()).collect();
    let in_file = if files.len() == 1 && files.contains(r.policy.as_str()) { r.policy.as_str() } else { "the policy" };
    let mut out = vec![
        (
            rows(
                format!(
                    "Policy findings ({} in {}{}), worst first: the policy could have stopped these",
                    breaches.len(),
                    wording::count(scenarios(&breaches), "scenario"),
                    if folded > 0 { format!("; {} of low severity folded, -v lists them", folded) } else { String::new() }
                ),
                &breaches,
            ),
            Paint::Red,
        ),
        (
            Section {
                title: format!(
                    "Over-blocking ({}{}): the policy refused legitimate calls",
                    over.len(),
                    if over_rows.len() < over.len() { ", by tool and refusing rule; -v lists each" } else { "" }
                ),
                detailed: over_rows,
                compact: over_blocking_rows(st, &over, r, 1),
                noun: "tools",
            },
            Paint::Magenta,
        ),
        (
            Section {
                title: format!("Where in {in_file} ({}):", wording::count(places.len(), "place")),
                compact: blame_items(st, r, &policy, 1),
                detailed: places,
                noun: "places",
            },
            Paint::Bold,
        ),
        (
            rows(
                format!("Proxy findings ({}): no policy can stop these on this proxy (fail only with --fail-on-proxy-findings)", proxy.len()),
                &proxy,
            ),
            Paint::Yellow,
        ),
        (rows(format!("Could not run ({})", errors.len()), &errors), Paint::Red),
        (
            Section {
                title: format!("Not applicable: {} (never counted as held; -v lists each)", r.summary.not_applicable),
                detailed: reason_items(st, r, Verdict::NotApplicable, 2),
                compact: reason_items(st, r, Verdict::NotApplicable, 1),
                noun: "reasons",
            },
            Paint::Dim,
        ),
        (
            Section {
                title: format!("Unsupported: {} (this proxy cannot take part; never counted as held)", r.summary.unsupported),
                detailed: reason_items(st, r, Verdict::Unsupported, 2),
                compact: reason_items(st, r, Verdict::Unsupported, 1),
                noun: "reasons",
            },
            Paint::Dim,
        ),
    ];
    if r.summary.not_exercised > 0 {
        let section = Section {
            title: format!(
                "Not exercised: {} (the policy's conditions refused every call, so the limit was never reached; never counted as held)",
                r.summary.not_exercised
            ),
            detailed: reason_items(st, r, Verdict::NotExercised, 2),
            compact: reason_items(st, r, Verdict::NotExercised, 1),
            noun: "reasons",
        };
        // Before the not applicable and unsupported sections, the last two.
        out.insert(out.len() - 2, (section, Paint::Yellow));
    }
    out.retain(|(s, _)| !s.detailed.is_empty());
    out
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
        push_wrapped_max(&mut out, st, "", &format!("Tool names below drop their server's common prefix: {legend}."), 2, Some(Paint::Dim), 2);
    }
    let mut tail = String::new();
    if let Some(cmd) = r.outcomes.iter().filter_map(|o| o.reproduce.as_deref()).next() {
        tail.push('\n');
        let generic = match cmd.rsplit_once(" --only ") {
            Some((head, tail)) => {
                let seed = tail.split_once(' ').map(|(_, s)| s).unwrap_or("");
                format!("{head} --only SCENARIO {seed}")
            }
            None => cmd.to_string(),
        };
        let hint = if st.verbosity == Verbosity::Verbose { "" } else { "  (-v: all outcomes, traces)" };
        push_wrapped_max(&mut tail, st, "Reproduce: ", &format!("{generic}{hint}"), 2, None, 3);
    }
    if st.verbosity == Verbosity::Verbose {
        full_table(&mut out, st, r);
        details(&mut out, st, r);
    } else {
        let sections = sections(r, st);
        let mut titles = Vec::new();
        for (s, paint) in &sections {
            let mut t = String::from("\n");
            push_wrapped_max(&mut t, st, "", &s.title, 2, Some(*paint), 2);
            titles.push(t);
        }
        let fixed = out.lines().count() + tail.lines().count() + titles.iter().map(|t| t.lines().count()).sum::<usize>();
        let only: Vec<Section> = sections.into_iter().map(|(s, _)| s).collect();
        for (title, body) in titles.iter().zip(fit(&only, BUDGET.saturating_sub(fixed))) {
            out.push_str(title);
            out.push_str(&body);
        }
    }
    out.push_str(&tail);
    if let Some(s) = &r.suggestions {
        suggestions(&mut out, st, s);
    }
    out
}

/// The proven suggestions (`--suggest`): each with its diff, what the proof
/// re-ran, the remedies the dialect cannot write (as Intercept diffs), and
/// what no suggestion closes. Prose wraps at the width; diffs stay as they
/// are, so they still apply.
fn suggestions(out: &mut String, st: &Style, s: &Suggestions) {
    use crate::harden::suggest::{dialect_shown, grouped, inexpressible_heading, intercept_line};
    out.push('\n');
    push_wrapped(out, st, "", "Suggestions", 2, Some(Paint::Bold));
    if s.created > 0 {
        out.push('\n');
        let none = format!("none shown: the edits gauntlet could derive still create {} finding(s) when applied together", s.created);
        push_wrapped(out, st, "  ", &none, 4, None);
    }
    for (i, item) in s.items.iter().enumerate() {
        out.push('\n');
        let mut what = item.what.clone();
        if !item.closes.is_empty() {
            what.push_str(&format!(" — closes {}", grouped(&item.closes)));
        }
        push_wrapped(out, st, &format!("[{}] ", i + 1), &what, 4, None);
        out.push_str(&item.diff);
    }
    if let Some(checked) = s.checked() {
        out.push('\n');
        push_wrapped(out, st, "", &checked, 2, None);
    }
    if let Some(check) = &s.intercept_check {
        out.push('\n');
        push_wrapped(out, st, "", &inexpressible_heading(s, check), 2, None);
        for (i, x) in s.inexpressible.iter().enumerate() {
            out.push('\n');
            let mut what = x.what.clone();
            if !x.closes.is_empty() {
                what.push_str(&format!(" — would close {}", grouped(&x.closes)));
            }
            push_wrapped(out, st, &format!("[{}] ", s.items.len() + i + 1), &what, 4, None);
            push_wrapped(out, st, "  ", &format!("not in {}: {}", dialect_shown(&s.dialect), x.why), 4, None);
            out.push_str(&x.intercept);
        }
        out.push('\n');
        push_wrapped(out, st, "", &intercept_line(s, check), 2, None);
    }
    for (title, list) in [("Not closed by any suggestion:", &s.open), ("Proxy findings:", &s.proxy)] {
        if !list.is_empty() {
            out.push('\n');
            push_wrapped(out, st, "", title, 2, None);
            for o in list.iter() {
                push_wrapped(out, st, "  ", &format!("{}: {}", o.finding, o.why), 4, None);
            }
        }
    }
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
        assert!(lines[1].starts_with("findings by severity: 0 critical, 2 high, 0 medium, 0 low"), "{text}");
        assert!(lines[2].starts_with("4 outcomes: 1 held, 2 breached"), "{text}");
        let policy = text.find("Policy findings").unwrap();
        let proxy = text.find("Proxy findings").unwrap();
        let na = text.find("Not applicable: 1").unwrap();
        assert!(policy < proxy && proxy < na, "{text}");
        assert!(text.contains("  high  malformed-arguments  Post <Customers> & co  60/200  60 in 1m (bound ≤30 reached per 1m\n"), "{text}");
        // Held outcomes are counted in the summary, not listed.
        assert!(!text.contains("bulk-write-burst"), "{text}");
        assert!(text.contains("Reproduce: gauntlet verify p.yaml --only SCENARIO --seed 1"), "{text}");
        assert!(!text.contains('\x1b'));
        assert!(lines.iter().all(|l| l.chars().count() <= 100), "{text}");
    }

    #[test]
    fn compact_reasons_keep_the_most_frequent_and_count_the_rest_in_one_line() {
        let mut r = super::super::fixtures::report();
        let base = r.outcomes[0].clone();
        // Reason i given i+1 times: eight reasons, 36 outcomes.
        r.outcomes = (0..8)
            .flat_map(|i| (0..=i).map(move |_| i))
            .map(|i| Outcome { verdict: Verdict::NotApplicable, note: Some(format!("reason {i}").into()), ..base.clone() })
            .collect();
        let compact = reason_items(&plain(Verbosity::Normal), &r, Verdict::NotApplicable, 1);
        assert_eq!(compact.len(), COMPACT_REASONS, "{compact:?}");
        assert!(compact[0].contains("8× reason 7"), "{compact:?}");
        assert_eq!(compact[COMPACT_REASONS - 1], "  6× for 3 other reasons\n", "reasons 2, 1 and 0: 3 + 2 + 1 outcomes");
        assert_eq!(reason_items(&plain(Verbosity::Normal), &r, Verdict::NotApplicable, 2).len(), 8, "the detailed form keeps every reason");
    }

    #[test]
    fn verbose_lists_every_outcome_with_traces_and_quiet_only_the_summary() {
        let r = super::super::fixtures::report();
        let v = render(&r, &plain(Verbosity::Verbose));
        assert!(v.contains("bulk-write-burst     Post <Customers> & co  held"), "{v}");
        assert!(v.contains("BREACHED (policy) malformed-arguments × Post <Customers> & co"), "{v}");
        assert!(v.contains("shortest trace (1 of 200 messages):"), "{v}");
        let q = render(&r, &plain(Verbosity::Quiet));
        assert_eq!(q.lines().count(), 2, "{q}");
        assert!(q.starts_with("findings by severity: 0 critical, 2 high"));
        assert!(q.lines().nth(1).is_some_and(|l| l.starts_with("4 outcomes:")), "{q}");
        assert!(!q.contains("coverage"), "-q prints only the summary: {q}");
        assert!(render(&r, &plain(Verbosity::Normal)).contains("coverage: "), "the coverage line is still said without -q");
    }

    #[test]
    fn colour_is_painted_after_layout() {
        let r = super::super::fixtures::report();
        let coloured = render(&r, &Style { color: true, ..Style::default() });
        assert!(coloured.contains("\x1b[1;31mmalformed-arguments\x1b[0m"), "{coloured}");
        let strip = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
        assert_eq!(strip.replace_all(&coloured, ""), render(&r, &Style::default()));
    }

    /// A run far bigger than any bundled one: 120 scenarios × 40 tools of policy findings
    /// blamed on 300 places, proxy findings, errors and 50 not-applicable reasons.
    fn huge() -> Report {
        use crate::verify::blame::{Blame, PolicyLocation};
        let mut r = super::super::fixtures::report();
        r.outcomes.clear();
        for s in 0..120 {
            for t in 0..40 {
                let (verdict, finding) = match s % 4 {
                    0 | 1 => (Verdict::Breached, Some(Finding::Policy)),
                    2 => (Verdict::Breached, Some(Finding::Proxy)),
                    _ if t % 2 == 0 => (Verdict::Error, None),
                    _ => (Verdict::NotApplicable, None),
                };
                let mut o = super::super::fixtures::outcome(&format!("scenario-{s:03}"), &format!("tool_number_{t:02}"), verdict, finding, 60);
                o.note = Some(format!("reason {} with a long explanation that wraps over more than one line of the terminal at any width", t % 50).into());
                o.blame = o.blame.map(|b| Box::new(Blame { location: PolicyLocation { file: "examples/p.yaml".into(), line: (s * 40 + t) as u32 % 300 }, ..*b }));
                r.outcomes.push(o);
            }
        }
        r.summary = crate::verify::Summary::of(&r.outcomes);
        r
    }

    #[test]
    fn the_default_view_is_bounded_whatever_the_size_of_the_run() {
        let r = huge();
        let more = regex::Regex::new(r"… (\d+) more (scenarios|places|reasons) \(-v lists each\)").unwrap();
        for width in [40, 80, 100, 160] {
            let text = render(&r, &Style { width, ..Style::default() });
            let lines: Vec<&str> = text.lines().collect();
            assert!(lines.len() <= BUDGET, "{} lines at width {width}:\n{text}", lines.len());
            assert!(lines.iter().all(|l| l.chars().count() <= width), "wider than {width}:\n{text}");
            // Every section is there, and what did not fit is counted, never dropped silently.
            for part in ["Policy findings (2400 in 60 scenarios)", "Where in examples/p.yaml (300 places)", "Proxy findings (1200)", "Could not run (600)", "Not applicable: 600"] {
                assert!(text.contains(part), "{part} at width {width}:\n{text}");
            }
            let hidden: Vec<(usize, String)> = more.captures_iter(&text).map(|c| (c[1].parse().unwrap(), c[2].to_string())).collect();
            let row = regex::Regex::new(r"^  (high  )?scenario-").unwrap();
            let shown = lines.iter().filter(|l| row.is_match(l)).count();
            assert!(width < 80 || text.contains("  scenario-003  00 +19  -  reason 0 with"), "an error row says why:\n{text}");
            let hidden_scenarios: usize = hidden.iter().filter(|(_, n)| n == "scenarios").map(|(k, _)| k).sum();
            assert_eq!(shown + hidden_scenarios, 120, "at width {width}: {hidden:?}\n{text}");
        }
        // -v stays complete.
        let all = render(&r, &Style { verbosity: Verbosity::Verbose, ..Style::default() });
        assert!(all.lines().count() > 4800);
    }

    #[test]
    fn a_run_that_fits_shows_every_row_and_where_to_fix_each() {
        let text = render(&super::super::fixtures::report(), &plain(Verbosity::Normal));
        assert!(text.contains("Where in examples/p.yaml (1 place):\n  line 7: the rate limit is too loose (malformed-arguments × Post <Customers> & co)"), "{text}");
        assert!(!text.contains("more scenarios"), "{text}");
    }

    #[test]
    fn long_tool_and_scenario_names_are_cut_to_their_column() {
        let mut r = super::super::fixtures::report();
        let long_tool = format!("mcp__recorded_server__{}", "very_long_tool_name_".repeat(4));
        r.outcomes[1].tool = long_tool.clone();
        r.outcomes[1].scenario = "a-scenario-id-written-by-someone-who-likes-long-names".into();
        let text = render(&r, &plain(Verbosity::Normal));
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
        assert!(text.contains("a-scenario-id-written-by-so…"), "{text}");
        assert!(text.contains("mcp__recorded_server__very_long…  60/200"), "{text}");
        assert!(!text.contains(&long_tool), "{text}");
    }

    #[test]
    fn reasons_that_start_alike_are_not_cut_into_apparent_duplicates() {
        use crate::verify::blame::{Blame, PolicyLocation};
        let mut r = super::super::fixtures::report();
        let start = "no rule for tool `PostOrders`: `default: allow` forwards it with no";
        let reasons = [
            format!("{start} rate limit, so nothing holds it to ≤30 per 1m sliding; its entry belongs under `tools:`"),
            format!("{start} condition on its arguments; its entry belongs under `tools:`"),
        ];
        r.outcomes.retain(|o| o.finding == Some(Finding::Policy));
        let first = r.outcomes[0].clone();
        r.outcomes = (0..40)
            .map(|i| {
                let mut o = first.clone();
                o.scenario = format!("scenario-{i:02}");
                o.blame = Some(Box::new(Blame { location: PolicyLocation { file: "examples/p.yaml".into(), line: 1 }, rule: None, reason: reasons[i % 2].clone(), denial: None }));
                o
            })
            .collect();
        // Enough places that the section goes one line per place.
        for i in 0..30u32 {
            let mut o = first.clone();
            o.scenario = format!("other-{i:02}");
            o.blame = Some(Box::new(Blame { location: PolicyLocation { file: "examples/p.yaml".into(), line: 10 + i }, rule: None, reason: format!("{} {i}", "filler ".repeat(20)), denial: None }));
            r.outcomes.push(o);
        }
        r.summary = crate::verify::Summary::of(&r.outcomes);
        let text = render(&r, &plain(Verbosity::Normal));
        let line1: Vec<&str> = text.lines().filter(|l| l.starts_with("  line 1: ")).collect();
        assert_eq!(line1.len(), 2, "{text}");
        assert!(line1[0].contains("… no rate limit") && line1[1].contains("… no condition on its arguments"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    }

    #[test]
    fn not_applicable_reasons_that_start_alike_are_not_cut_into_apparent_duplicates() {
        let mut r = super::super::fixtures::report();
        let na = r.outcomes.iter().find(|o| o.verdict == Verdict::NotApplicable).unwrap().clone();
        let head = "`git` resolves names exactly: a variant spelling reaches nothing there (its mock file does not set `lenient_names: true`; `gauntlet mock record` probes the real server)";
        r.outcomes = [80, 90, 65]
            .iter()
            .map(|n| Outcome { note: Some(format!("{head}; on a lenient server this gets through: {n} in 1m (bound ≤30 reached per 1m sliding)").into()), ..na.clone() })
            .collect();
        let lines: Vec<String> = reason_items(&plain(Verbosity::Normal), &r, Verdict::NotApplicable, 1).iter().map(|l| l.trim_end().to_string()).collect();
        assert_eq!(lines.len(), 3, "{lines:#?}");
        for n in [80, 90, 65] {
            let line = lines.iter().find(|l| l.contains(&format!(" … through: {n} in 1m (bound ≤30 reached per 1m sliding)"))).unwrap_or_else(|| panic!("{lines:#?}"));
            assert!(line.starts_with("  1× `git` resolves names exactly: … ") && line.chars().count() <= 100, "{line}");
        }
    }

    #[test]
    fn a_coverage_list_too_long_to_show_says_how_many_it_leaves_out() {
        let mut r = super::super::fixtures::report();
        r.coverage.policy_tools = (0..60).map(|i| format!("gitlab_search_tool_{i:02}")).collect();
        r.coverage.absent = r.coverage.policy_tools.clone();
        let text = render(&r, &plain(Verbosity::Normal));
        let cov: String = text.lines().skip_while(|l| !l.starts_with("coverage:")).take(3).map(str::trim).collect::<Vec<_>>().join(" ");
        let more = regex::Regex::new(r"gitlab_search_tool_\d\d and (\d+) more\)").unwrap();
        let n: usize = more.captures(&cov).unwrap_or_else(|| panic!("{text}"))[1].parse().unwrap();
        let named = cov.matches("gitlab_search_tool_").count();
        assert_eq!(named + n, 60, "{cov}");
        assert!(!cov.contains('…'), "{cov}");
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

    #[test]
    fn suggestion_prose_wraps_at_the_width_and_diffs_stay_whole() {
        use crate::harden::patch::Edit;
        use crate::harden::suggest::{Open, Suggestion};
        let mut r = super::super::fixtures::report();
        let long_line = format!("+    note: \"{}\"", "x".repeat(120));
        let diff = format!("--- a/p.yaml\n+++ b/p.yaml\n@@ -1,1 +1,2 @@\n   t:\n{long_line}\n");
        let closes: Vec<String> = (0..12).map(|i| format!("scenario-number-{i} × WizCommerce Open API_PostCustomers")).collect();
        r.suggestions = Some(Suggestions {
            dialect: "intercept".into(),
            inexpressible: vec![],
            intercept_check: None,
            items: vec![Suggestion { edit: Edit::Hide("x".into(), Default::default()), what: "tighten rule `limit` of a tool with a long name".into(), diff: diff.clone(), closes }],
            combined: diff,
            open: vec![],
            proxy: vec![Open { finding: "wire-type-error × Delete".into(), why: "no policy can close it: ".to_string() + &"below the rules ".repeat(10) }],
            before: r.summary.clone(),
            after: r.summary.clone(),
            created: 0,
            runs: 2,
            scenarios: 3,
            tools: 2,
        });
        let text = render(&r, &Style::default());
        let section = &text[text.find("Suggestions").unwrap()..];
        for line in section.lines().filter(|l| *l != long_line) {
            assert!(line.chars().count() <= 100, "{line}");
        }
        assert!(section.contains(&long_line), "the diff is kept whole so it applies: {section}");
        assert!(section.contains("scenario-number-11"), "{section}");
    }

}
