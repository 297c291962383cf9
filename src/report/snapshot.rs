//! Verdict snapshots: a stable, line-per-outcome text file, and a
//! direction-aware diff between an accepted snapshot and a new run.
//!
//! One line per scenario × tool, sorted: `scenario | server | tool | verdict |
//! reached R of A | bound`. Lines starting with `#` are comments. The diff
//! says which outcomes got WEAKER (more got through) and which got STRONGER,
//! the way a reviewer needs to read a policy change. The header records the
//! profile and seed: verdicts from another profile or seed are not compared,
//! and the mismatch is said as such.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Report;
use crate::verify::{Finding, Outcome, Verdict};

/// One snapshot line, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub verdict: String,
    pub reached: usize,
    pub attempted: usize,
    pub bound: String,
}

type Key = (String, String, String);

fn verdict_word(o: &Outcome) -> String {
    match (o.verdict, o.finding) {
        (Verdict::Breached, Some(Finding::Proxy)) => "breached (proxy)".into(),
        (Verdict::Breached, _) => "breached (policy)".into(),
        (v, _) => v.as_str().into(),
    }
}

fn clean(s: &str) -> String {
    s.replace(" | ", " ¦ ").replace('\n', " ")
}

/// The snapshot text of a report.
pub fn render(r: &Report) -> String {
    let mut out = format!(
        "# gauntlet verdicts: policy {}, profile {}, seed {}, servers {}\n# {}\n# scenario | server | tool | verdict | reached R of A | bound\n",
        r.policy,
        r.profile,
        r.seed,
        r.servers.join(","),
        r.coverage.line()
    );
    for o in &r.outcomes {
        let bound = match o.verdict {
            Verdict::NotApplicable | Verdict::NotExercised | Verdict::Unsupported | Verdict::Error => o.note.clone().unwrap_or_default(),
            _ => o.bound.clone(),
        };
        let _ = writeln!(
            out,
            "{} | {} | {} | {} | reached {} of {} | {}",
            clean(&o.scenario),
            clean(&o.server),
            clean(&o.tool),
            verdict_word(o),
            o.reached,
            o.attempted,
            clean(&bound)
        );
    }
    out
}

/// What a snapshot was taken with, from its header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub profile: String,
    pub seed: String,
}

impl Header {
    pub fn of(r: &Report) -> Header {
        Header { profile: r.profile.clone(), seed: r.seed.clone() }
    }

    /// Reads `profile P, seed S` from the first line (`None` for a header without them).
    pub fn parse(text: &str) -> Option<Header> {
        let first = text.lines().next()?.strip_prefix("# gauntlet verdicts: ")?;
        let field = |name: &str| {
            first.split(", ").find_map(|part| part.strip_prefix(name).map(str::to_string)).filter(|v| !v.is_empty())
        };
        Some(Header { profile: field("profile ")?, seed: field("seed ")? })
    }
}

/// How an accepted snapshot and a run differ in what they were run with, in words.
pub fn mismatch(accepted: &Header, now: &Header) -> Option<String> {
    let mut parts = Vec::new();
    if accepted.seed != now.seed {
        parts.push(format!("seed {} (this run: seed {})", accepted.seed, now.seed));
    }
    if accepted.profile != now.profile {
        parts.push(format!("profile {} (this run: profile {})", accepted.profile, now.profile));
    }
    (!parts.is_empty()).then(|| parts.join(" and "))
}

/// The line that opens the policy a snapshot keeps, at its end; each line of
/// the policy follows after [`POLICY_LINE`]. Comments to [`parse`], so older
/// readers skip them.
const POLICY_OPENS: &str = "# the policy these verdicts were accepted with (`gauntlet verify --snapshot` diffs the next run's policy against it):";
const POLICY_LINE: &str = "#> ";

/// `text` with `policy` kept at its end, replacing any policy kept before.
pub fn with_policy(text: &str, policy: &str) -> String {
    let mut out: String = text.lines().take_while(|l| *l != POLICY_OPENS).map(|l| format!("{l}\n")).collect();
    out.push_str(POLICY_OPENS);
    out.push('\n');
    for line in policy.lines() {
        out.push_str(POLICY_LINE);
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The policy a snapshot kept (see [`with_policy`]); `None` for a snapshot
/// accepted without one (by hand, or by a gauntlet from before it kept them).
pub fn kept_policy(text: &str) -> Option<String> {
    let mut lines = text.lines().skip_while(|l| *l != POLICY_OPENS);
    lines.next()?;
    Some(lines.map_while(|l| l.strip_prefix(POLICY_LINE).or((l == "#>").then_some(""))).map(|l| format!("{l}\n")).collect())
}

/// Keeps only the entries of these scenarios (what an `--only` run can compare).
pub fn restrict(map: &mut BTreeMap<Key, Entry>, scenarios: &[String]) {
    if !scenarios.is_empty() {
        map.retain(|k, _| scenarios.contains(&k.0));
    }
}

/// The snapshot text of an `--only` run accepted into an existing snapshot:
/// the other scenarios' lines kept, this run's scenarios replaced.
pub fn merge(accepted: &str, current: &str, scenarios: &[String]) -> Result<String, String> {
    let mut map = parse(accepted)?;
    map.retain(|k, _| !scenarios.contains(&k.0));
    map.extend(parse(current)?);
    let mut out: String = current.lines().take_while(|l| l.starts_with('#')).map(|l| format!("{l}\n")).collect();
    for ((scenario, server, tool), e) in map {
        let _ = writeln!(out, "{scenario} | {server} | {tool} | {} | reached {} of {} | {}", e.verdict, e.reached, e.attempted, e.bound);
    }
    Ok(out)
}

/// Parses snapshot text; errors name the line.
pub fn parse(text: &str) -> Result<BTreeMap<Key, Entry>, String> {
    let mut map = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.splitn(6, " | ").collect();
        let numbers = parts.get(4).and_then(|p| p.strip_prefix("reached ")).and_then(|p| p.split_once(" of "));
        let (Some((r, a)), 6) = (numbers, parts.len()) else {
            return Err(format!("line {}: expected `scenario | server | tool | verdict | reached R of A | bound`", i + 1));
        };
        let (Ok(reached), Ok(attempted)) = (r.parse(), a.parse()) else {
            return Err(format!("line {}: `{}` is not `reached R of A`", i + 1, parts[4]));
        };
        map.insert(
            (parts[0].to_string(), parts[1].to_string(), parts[2].to_string()),
            Entry { verdict: parts[3].to_string(), reached, attempted, bound: parts[5].to_string() },
        );
    }
    Ok(map)
}

/// How one outcome moved between the accepted snapshot and this run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Direction {
    /// More got through.
    Weaker,
    /// Less got through.
    Stronger,
    /// Something else changed (the bound, over-blocking, applicability).
    Changed,
    New,
    Removed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub direction: Direction,
    pub key: (String, String, String),
    pub before: Option<Entry>,
    pub after: Option<Entry>,
}

fn breached(e: &Entry) -> bool {
    e.verdict.starts_with("breached")
}

/// The outcome was judged on what reached the server (held, breached,
/// over-blocking), rather than left unjudged with a reason.
fn judged(e: &Entry) -> bool {
    e.verdict == "held" || e.verdict == "over-blocking" || breached(e)
}

fn direction(before: &Entry, after: &Entry) -> Option<Direction> {
    if before == after {
        return None;
    }
    // Judged on one side only: what reached says nothing of strength (a held
    // fault scenario that a loosened limit leaves not applicable is no stronger).
    if judged(before) != judged(after) {
        return Some(Direction::Changed);
    }
    Some(match (breached(before), breached(after)) {
        (false, true) => Direction::Weaker,
        (true, false) => Direction::Stronger,
        _ if after.reached > before.reached => Direction::Weaker,
        _ if after.reached < before.reached => Direction::Stronger,
        _ => Direction::Changed,
    })
}

/// Every difference between `accepted` and `current`, weakest first.
pub fn diff(accepted: &BTreeMap<Key, Entry>, current: &BTreeMap<Key, Entry>) -> Vec<Change> {
    let mut changes = Vec::new();
    for (k, after) in current {
        match accepted.get(k) {
            None => changes.push(Change { direction: Direction::New, key: k.clone(), before: None, after: Some(after.clone()) }),
            Some(before) => {
                if let Some(d) = direction(before, after) {
                    changes.push(Change { direction: d, key: k.clone(), before: Some(before.clone()), after: Some(after.clone()) });
                }
            }
        }
    }
    for (k, before) in accepted {
        if !current.contains_key(k) {
            changes.push(Change { direction: Direction::Removed, key: k.clone(), before: Some(before.clone()), after: None });
        }
    }
    changes.sort_by(|a, b| (&a.direction, &a.key).cmp(&(&b.direction, &b.key)));
    changes
}

fn show(e: &Option<Entry>) -> String {
    match e {
        Some(e) => format!("{}, reached {} of {} ({})", e.verdict, e.reached, e.attempted, e.bound),
        None => "-".into(),
    }
}

/// The readable diff, grouped by direction.
pub fn render_diff(changes: &[Change]) -> String {
    let mut out = String::new();
    let groups = [
        (Direction::Weaker, "WEAKER (more got through)"),
        (Direction::Stronger, "STRONGER (less got through)"),
        (Direction::Changed, "CHANGED"),
        (Direction::New, "NEW"),
        (Direction::Removed, "REMOVED"),
    ];
    for (d, title) in groups {
        let items: Vec<&Change> = changes.iter().filter(|c| c.direction == d).collect();
        if items.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title}:");
        for c in items {
            let _ = writeln!(out, "  {} × {} ({})", c.key.0, c.key.2, c.key.1);
            let _ = writeln!(out, "    was: {}", show(&c.before));
            let _ = writeln!(out, "    now: {}", show(&c.after));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{outcome, report};

    #[test]
    fn render_parse_round_trip() {
        let r = report();
        let text = render(&r);
        let map = parse(&text).unwrap();
        assert_eq!(map.len(), 4);
        let e = &map[&("malformed-arguments".into(), "aksjah".into(), "Post <Customers> & co".into())];
        assert_eq!((e.verdict.as_str(), e.reached, e.attempted), ("breached (policy)", 60, 200));
        assert!(diff(&map, &map).is_empty());
        assert!(parse("a | b | c\n").unwrap_err().starts_with("line 1:"));
    }

    #[test]
    fn a_kept_policy_round_trips_is_replaced_and_is_no_verdict() {
        let text = render(&report());
        assert_eq!(kept_policy(&text), None);
        let policy = "version: \"1\"\n\ntools:\n  # a comment\n  t: {rules: []}\n";
        let kept = with_policy(&text, policy);
        assert_eq!(kept_policy(&kept).as_deref(), Some(policy));
        assert_eq!(parse(&kept).unwrap(), parse(&text).unwrap());
        let again = with_policy(&kept, "version: \"1\"\n");
        assert_eq!(kept_policy(&again).as_deref(), Some("version: \"1\"\n"));
        assert_eq!(again.matches(POLICY_OPENS).count(), 1);
        // An editor trimming the blank line's trailing space changes nothing.
        assert_eq!(kept_policy(&kept.replace("#> \n", "#>\n")).as_deref(), Some(policy));
    }

    #[test]
    fn header_mismatch_only_and_merge() {
        let r = report();
        let text = render(&r);
        let h = Header::parse(&text).unwrap();
        assert_eq!(h, Header { profile: "intercept".into(), seed: "1".into() });
        let other = Header { profile: "strict".into(), seed: "5".into() };
        assert_eq!(mismatch(&h, &other).unwrap(), "seed 1 (this run: seed 5) and profile intercept (this run: profile strict)");
        assert_eq!(mismatch(&h, &h), None);
        let mut map = parse(&text).unwrap();
        restrict(&mut map, &["spend-split".to_string()]);
        assert_eq!(map.len(), 1);
        // Accepting an --only run replaces just that scenario's lines.
        let mut only = report();
        only.outcomes.retain(|o| o.scenario == "spend-split");
        only.outcomes[0].reached = 3;
        let merged = merge(&text, &render(&only), &["spend-split".to_string()]).unwrap();
        let m = parse(&merged).unwrap();
        assert_eq!(m.len(), 4, "{merged}");
        assert_eq!(m[&("spend-split".into(), "aksjah".into(), "-".into())].reached, 3);
        let mut want: Vec<String> = render(&r)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| if l.starts_with("spend-split") { l.replace("reached 0 of", "reached 3 of") } else { l.to_string() })
            .collect();
        want.sort();
        assert_eq!(merged.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>(), want);
    }

    #[test]
    fn loosening_a_limit_is_weaker_and_tightening_stronger() {
        let before = report();
        let mut after = report();
        after.outcomes[0] = outcome("bulk-write-burst", "Post <Customers> & co", Verdict::Breached, Some(Finding::Policy), 60);
        after.outcomes[1] = outcome("malformed-arguments", "Post <Customers> & co", Verdict::Held, None, 0);
        after.outcomes.pop();
        let changes = diff(&parse(&render(&before)).unwrap(), &parse(&render(&after)).unwrap());
        let dirs: Vec<_> = changes.iter().map(|c| (c.direction.clone(), c.key.0.as_str())).collect();
        assert_eq!(
            dirs,
            vec![
                (Direction::Weaker, "bulk-write-burst"),
                (Direction::Stronger, "malformed-arguments"),
                (Direction::Removed, "spend-split")
            ]
        );
        let text = render_diff(&changes);
        assert!(text.starts_with("WEAKER (more got through):\n  bulk-write-burst × Post <Customers> & co (aksjah)\n    was: held, reached 30 of 200"), "{text}");
        assert!(text.contains("    now: breached (policy), reached 60 of 200"));
    }

    #[test]
    fn an_outcome_judged_on_one_side_only_is_changed_not_stronger() {
        let before = report();
        let mut after = report();
        // Held, then not applicable (a fault scenario once the limit it blinded is gone); breached, then not exercised.
        after.outcomes[0] = outcome("bulk-write-burst", "Post <Customers> & co", Verdict::NotApplicable, None, 0);
        after.outcomes[1] = outcome("malformed-arguments", "Post <Customers> & co", Verdict::NotExercised, None, 0);
        let changes = diff(&parse(&render(&before)).unwrap(), &parse(&render(&after)).unwrap());
        let dirs: Vec<_> = changes.iter().map(|c| (c.direction.clone(), c.key.0.as_str())).collect();
        assert_eq!(dirs, vec![(Direction::Changed, "bulk-write-burst"), (Direction::Changed, "malformed-arguments")]);
        assert!(render_diff(&changes).starts_with("CHANGED:\n  bulk-write-burst"), "{}", render_diff(&changes));
    }
}
