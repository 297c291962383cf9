//! Reports: one [`Report`] value, rendered for people (terminal, Markdown for
//! PR comments, a self-contained HTML page) and machines (JSON, JUnit XML,
//! SARIF, GitHub workflow annotations), plus the diff-friendly verdict
//! snapshot and its direction-aware diff. One file per format.
//!
//! Renderers are pure functions of the report and [`Options`]; deciding and
//! printing happen elsewhere. Output is sorted by scenario, server and tool,
//! so two runs diff cleanly.

pub mod compare;
pub mod github;
pub mod html;
pub mod json;
pub mod junit;
pub mod league;
pub mod markdown;
pub mod markup;
pub mod proof;
pub mod sarif;
pub mod snapshot;
pub mod table;

use std::str::FromStr;

use serde::Serialize;

pub use crate::verify::severity::Severity;
use crate::verify::{Coverage, Finding, Outcome, Summary, Verdict};

/// A report format (`--format`, `-o FORMAT=PATH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Junit,
    Markdown,
    Sarif,
    Github,
    Html,
}

impl Format {
    pub const ALL: [Format; 7] =
        [Format::Table, Format::Json, Format::Junit, Format::Markdown, Format::Sarif, Format::Github, Format::Html];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Markdown => "markdown",
            Format::Sarif => "sarif",
            Format::Github => "github",
            Format::Html => "html",
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| {
            format!("unknown report format `{s}`; one of: {}", Format::ALL.map(Format::as_str).join(", "))
        })
    }
}

/// What renderers need besides the report.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Terminal layout (also used, without colour, for `-o table=PATH`).
    pub style: table::Style,
    /// Proxy findings fail the run (`--fail-on-proxy-findings`).
    pub fail_on_proxy: bool,
    /// The least severe finding that fails the run (`--fail-on`).
    pub fail_on: Severity,
    /// Where the complete report of this run is, for formats that must trim (Markdown).
    pub full_report: Option<String>,
}

impl Options {
    /// Whether this finding fails the run: a policy finding (a proxy finding
    /// with `--fail-on-proxy-findings`) at or above `--fail-on`.
    pub fn fails(&self, o: &Outcome) -> bool {
        let counted = match o.finding {
            Some(Finding::Policy) => true,
            Some(Finding::Proxy) => self.fail_on_proxy,
            None => false,
        };
        counted && o.severity.unwrap_or(Severity::Critical) >= self.fail_on
    }
}

/// `findings by severity: 2 critical, …`: what every summary leads with.
pub fn severity_line(s: &Summary) -> String {
    format!("findings by severity: {}", s.severity.line())
}

/// Renders `report` in `format`.
pub fn render(format: Format, report: &Report, opts: &Options) -> String {
    match format {
        Format::Table => table::render(report, &opts.style),
        Format::Json => json::render(report),
        Format::Junit => junit::render(report, opts),
        Format::Markdown => markdown::render(report, opts),
        Format::Sarif => sarif::render(report, opts),
        Format::Github => github::render(report, opts),
        Format::Html => html::render(report, opts),
    }
}

/// Where a finding points in the policy: its blame's file and line, or the
/// policy file's first line when nothing more precise is known (proxy findings).
pub fn location(r: &Report, o: &Outcome) -> (String, u32) {
    match &o.blame {
        Some(b) => (b.location.file.clone(), b.location.line),
        None => (r.policy.clone(), 1),
    }
}

/// The requirements line of a run with no `gauntlet.yaml`.
pub const BASELINE: &str = "built-in baseline";

/// Everything one `gauntlet verify` run found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool_version: String,
    pub policy: String,
    pub profile: String,
    /// As a string, so JSON consumers never round it.
    pub seed: String,
    pub servers: Vec<String>,
    pub scenarios: usize,
    pub requirements: String,
    pub summary: Summary,
    /// Black-box mode: the proxy command whose behaviour the verdicts describe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// The denominators: what share of the policy these verdicts speak for.
    pub coverage: Coverage,
    pub outcomes: Vec<Outcome>,
    /// Proven patches for the policy findings (`verify --suggest`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestions: Option<crate::harden::suggest::Suggestions>,
}

impl Report {
    pub fn new(
        policy: &str,
        profile: &str,
        seed: u64,
        servers: Vec<String>,
        scenarios: usize,
        requirements: String,
        outcomes: Vec<Outcome>,
    ) -> Report {
        Report {
            schema_version: 1,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            policy: policy.to_string(),
            profile: profile.to_string(),
            seed: seed.to_string(),
            servers,
            scenarios,
            requirements,
            summary: Summary::of(&outcomes),
            proxy: None,
            coverage: Coverage::default(),
            outcomes,
            suggestions: None,
        }
    }

    /// Black-box mode's header lines: which binary, and how it said no.
    pub fn proxy_lines(&self) -> String {
        let Some(cmd) = &self.proxy else { return String::new() };
        let shapes = crate::verify::denial::refusal_shapes(&self.outcomes);
        let seen = if shapes.is_empty() {
            "none seen".to_string()
        } else {
            shapes.iter().map(|(k, n)| format!("{k} (first refusal in {n} outcomes)")).collect::<Vec<_>>().join(", ")
        };
        format!("proxy under test: {cmd} (black box, wall clock)\nrefusal shapes: {seen}\n")
    }

    pub fn with_coverage(mut self, coverage: Coverage) -> Report {
        self.coverage = coverage;
        self
    }

    pub fn findings(&self, kind: Finding) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(move |o| o.finding == Some(kind))
    }
}

/// `held`, `BREACHED (policy)`, `BREACHED (proxy)`, `OVER-BLOCKING`, `n/a`, `ERROR`.
pub fn verdict_label(o: &Outcome) -> String {
    match (o.verdict, o.finding) {
        (Verdict::Held, _) => "held".into(),
        (Verdict::Breached, Some(Finding::Proxy)) => "BREACHED (proxy)".into(),
        (Verdict::Breached, _) => "BREACHED (policy)".into(),
        (Verdict::OverBlocking, _) => "OVER-BLOCKING".into(),
        (Verdict::NotApplicable, _) => "n/a".into(),
        (Verdict::NotExercised, _) => "not exercised".into(),
        (Verdict::Unsupported, _) => "unsupported".into(),
        (Verdict::Error, _) => "ERROR".into(),
    }
}

/// Where the policy is to blame and why, in one line (`file:line: reason`, then the denial message).
pub fn blame_line(o: &Outcome) -> Option<String> {
    let b = o.blame.as_ref()?;
    let mut line = format!("{}:{}: {}", b.location.file, b.location.line, b.reason);
    if let Some(d) = &b.denial {
        line.push_str(&format!("; denied with: {d}"));
    }
    Some(line)
}

/// The one-line summary every format ends with.
pub fn summary_line(s: &Summary) -> String {
    use crate::wording::count;
    // Named only when there are some: a run without argument conditions reads as before.
    let unexercised = if s.not_exercised > 0 { format!(", {} not exercised", s.not_exercised) } else { String::new() };
    format!(
        "{}: {} held, {} breached, {} over-blocking, {} not applicable{unexercised}{}, {}; {}, {}",
        count(s.total, "outcome"),
        s.held,
        s.breached,
        s.over_blocking,
        s.not_applicable,
        // Named only when it happened: this proxy could not take part (never "not applicable").
        if s.unsupported > 0 { format!(", {} unsupported", s.unsupported) } else { String::new() },
        count(s.errors, "error"),
        count(s.policy_findings, "policy finding"),
        count(s.proxy_findings, "proxy finding")
    )
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    pub use crate::verify::fixtures::outcome;

    pub fn report() -> Report {
        Report::new(
            "examples/p.yaml",
            "intercept",
            1,
            vec!["aksjah".into()],
            3,
            "built-in baseline".into(),
            vec![
                outcome("bulk-write-burst", "Post <Customers> & co", Verdict::Held, None, 30),
                outcome("malformed-arguments", "Post <Customers> & co", Verdict::Breached, Some(Finding::Policy), 60),
                outcome("wire-type-error", "Delete", Verdict::Breached, Some(Finding::Proxy), 1),
                outcome("spend-split", "-", Verdict::NotApplicable, None, 0),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::outcome;
    use super::*;

    /// `unsupported` (this proxy cannot take part) is its own verdict in every
    /// format, never folded into not applicable (issue 24).
    #[test]
    fn every_format_keeps_unsupported_apart_from_not_applicable() {
        let note = |o: Outcome, n: &str| Outcome { note: Some(n.into()), ..o };
        let outcomes = vec![
            outcome("bulk-write-burst", "create", Verdict::Held, None, 3),
            note(outcome("spend-split", "create", Verdict::NotApplicable, None, 0), "NA-REASON"),
            note(outcome("store-outage", "create", Verdict::Unsupported, None, 0), "UNSUPPORTED-REASON"),
        ];
        let r = Report::new("examples/p.yaml", "intercept", 1, vec!["aksjah".into()], 3, "built-in baseline".into(), outcomes);
        assert_eq!((r.summary.not_applicable, r.summary.unsupported), (1, 1));
        let opts = Options::default();
        for format in Format::ALL {
            let text = render(format, &r, &opts);
            // Each format says both, apart: in its summary or on the outcome's own line.
            let counted = text.contains("1 not applicable") && text.contains("1 unsupported");
            let json_counted = text.contains("\"not_applicable\": 1") && text.contains("\"unsupported\": 1");
            let worded = text.contains("not applicable: NA-REASON") && text.contains("unsupported (this proxy cannot take part): UNSUPPORTED-REASON");
            assert!(counted || json_counted || worded, "{format:?}: {text}");
            // Wherever a format words the reasons, the unsupported one is never called not applicable.
            for line in text.lines().filter(|l| l.contains("UNSUPPORTED-REASON")) {
                assert!(!line.to_lowercase().contains("not applicable"), "{format:?} calls unsupported not applicable: {line}");
            }
            if matches!(format, Format::Junit | Format::Markdown | Format::Html | Format::Table | Format::Json) {
                assert!(text.contains("UNSUPPORTED-REASON") && text.contains("NA-REASON"), "{format:?} lists both reasons: {text}");
            }
        }
    }
}
