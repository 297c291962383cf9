//! GitHub Actions workflow commands (`--format github`): one
//! `::error file=…,line=…,title=…::message` annotation per policy line to
//! blame (over-blocking apart from breaches), listing the findings it
//! explains, so they show on the pull
//! request's diff. GitHub shows only ten annotations of each kind per step:
//! the lines behind the most findings come first, and what does not fit is
//! named in the closing `::notice` (the summary, led by the counts per
//! severity). A finding that fails the run (`--fail-on`,
//! `--fail-on-proxy-findings`) is an error, one that does not a warning;
//! each title names the worst severity at its line. Pairs that could not
//! run are errors.

use super::sarif::message;
use super::{location, severity_line, summary_line, Options, Report};
use crate::verify::{Finding, Outcome, Verdict};
use crate::wording;

/// Escapes a workflow command's message (`%`, CR, LF).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a workflow command's property value (also `:` and `,`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Annotations of one kind GitHub shows per step.
pub const SHOWN_PER_STEP: usize = 10;

/// One annotation: a command at a place, and the findings it speaks for.
struct Annotation<'a> {
    command: &'static str,
    file: String,
    line: u32,
    outcomes: Vec<&'a Outcome>,
}

impl Annotation<'_> {
    fn title(&self) -> String {
        let n = self.outcomes.len();
        let what = match self.outcomes[0] {
            o if o.verdict == Verdict::Error => wording::noun_for(n, "pair that could not run"),
            o if o.verdict == Verdict::OverBlocking => "over-blocking".to_string(),
            o if o.finding == Some(Finding::Proxy) => wording::noun_for(n, "proxy finding"),
            _ => wording::noun_for(n, "finding"),
        };
        match self.outcomes.iter().filter_map(|o| o.severity).max() {
            Some(worst) => format!("gauntlet: {n} {what} at line {} ({worst})", self.line),
            None => format!("gauntlet: {n} {what} at line {}", self.line),
        }
    }

    /// Each distinct blame reason once, then every finding on its own line, then one reproduce command.
    fn text(&self) -> String {
        let mut lines: Vec<String> = Vec::new();
        for o in &self.outcomes {
            if let Some(reason) = o.blame.as_ref().map(|b| b.reason.clone()) {
                if !lines.contains(&reason) {
                    lines.push(reason);
                }
            }
        }
        for o in &self.outcomes {
            lines.push(if o.verdict == Verdict::Error {
                format!("{} × {} could not be run: {}", o.scenario, o.tool, o.note.as_deref().unwrap_or(""))
            } else {
                format!("- {}", message(o))
            });
        }
        if let Some(cmd) = self.outcomes.iter().find_map(|o| o.reproduce.as_deref()) {
            lines.push(format!("reproduce one: {cmd}"));
        }
        lines.join("\n")
    }
}

pub fn render(r: &Report, opts: &Options) -> String {
    let mut groups: Vec<Annotation> = Vec::new();
    for o in &r.outcomes {
        let command = match (o.verdict, o.finding) {
            (Verdict::Error, _) => "error",
            (_, Some(_)) if opts.fails(o) => "error",
            (_, Some(_)) => "warning",
            _ => continue,
        };
        let (file, line) = location(r, o);
        // Over-blocking is annotated apart from the breaches blamed on the same line.
        let over = |g: &Annotation| (g.outcomes[0].verdict == Verdict::OverBlocking) == (o.verdict == Verdict::OverBlocking);
        match groups.iter_mut().find(|g| g.command == command && g.file == file && g.line == line && over(g)) {
            Some(g) => g.outcomes.push(o),
            None => groups.push(Annotation { command, file, line, outcomes: vec![o] }),
        }
    }
    // The worst lines, then those behind the most findings, first: those are what GitHub shows.
    let worst = |g: &Annotation| g.outcomes.iter().filter_map(|o| o.severity).max();
    groups.sort_by(|a, b| {
        a.command.cmp(b.command).then(worst(b).cmp(&worst(a))).then(b.outcomes.len().cmp(&a.outcomes.len())).then(a.line.cmp(&b.line))
    });
    let mut out = String::new();
    let mut left_out: Vec<String> = Vec::new();
    for command in ["error", "warning"] {
        let of_kind: Vec<&Annotation> = groups.iter().filter(|g| g.command == command).collect();
        for g in of_kind.iter().take(SHOWN_PER_STEP) {
            out.push_str(&format!(
                "::{} file={},line={},title={}::{}\n",
                g.command,
                escape_property(&g.file),
                g.line,
                escape_property(&g.title()),
                escape_data(&g.text())
            ));
        }
        let rest = &of_kind[of_kind.len().min(SHOWN_PER_STEP)..];
        if !rest.is_empty() {
            let lines = rest.iter().map(|g| format!("{}:{}", g.file, g.line)).collect::<Vec<_>>().join(", ");
            let findings: usize = rest.iter().map(|g| g.outcomes.len()).sum();
            left_out.push(format!(
                "{} not annotated (GitHub shows {SHOWN_PER_STEP} per step): at {}",
                wording::count(findings, &format!("more {command}")),
                lines
            ));
        }
    }
    let mut notice = format!("{}\n{}", severity_line(&r.summary), summary_line(&r.summary));
    for l in left_out {
        notice.push_str(&format!("\n{l}"));
    }
    out.push_str(&format!("::notice title=gauntlet verify::{}\n", escape_data(&notice)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::verify::fixtures::outcome;

    #[test]
    fn one_annotation_per_blamed_line_with_escaped_properties() {
        let r = super::super::fixtures::report();
        let text = render(&r, &Options::default());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("::error file=examples/p.yaml,line=7,title=gauntlet%3A 1 finding at line 7 (high)::the rate limit is too loose%0A- BREACHED (policy): malformed-arguments × Post <Customers> & co"), "{text}");
        assert!(lines[0].contains("%0Areproduce one: gauntlet verify p.yaml --only malformed-arguments --seed 1"), "{text}");
        assert!(lines[1].starts_with("::warning file=examples/p.yaml,line=1,title=gauntlet%3A 1 proxy finding at line 1 (high)::"), "{text}");
        assert!(lines[2].starts_with("::notice title=gauntlet verify::findings by severity: 0 critical, 2 high, 0 medium, 0 low%0A4 outcomes:"), "{text}");
        let strict = render(&r, &Options { fail_on_proxy: true, ..Options::default() });
        assert_eq!(strict.matches("::error ").count(), 2);
        // Below `--fail-on`, a finding is annotated but does not fail: a warning.
        let critical_only = render(&r, &Options { fail_on: crate::verify::severity::Severity::Critical, ..Options::default() });
        assert_eq!((critical_only.matches("::error ").count(), critical_only.matches("::warning ").count()), (0, 2), "{critical_only}");
        assert_eq!(escape_property("a,b:c%\n"), "a%2Cb%3Ac%25%0A");
    }

    #[test]
    fn fifty_findings_on_twelve_lines_are_ten_annotations_and_a_notice_naming_the_rest() {
        let mut r = super::super::fixtures::report();
        r.outcomes = (0..50)
            .map(|i| {
                let mut o = outcome(&format!("scenario-{i:02}"), "t", Verdict::Breached, Some(Finding::Policy), 40);
                // Line 3 explains most findings; lines 4..=14 one or a few each.
                let line = if i < 30 { 3 } else { 4 + (i % 11) as u32 };
                o.blame.as_mut().unwrap().location.line = line;
                o
            })
            .collect();
        let text = render(&r, &Options::default());
        let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("::error ")).collect();
        assert_eq!(errors.len(), SHOWN_PER_STEP, "{text}");
        assert!(errors[0].contains("line=3,title=gauntlet%3A 30 findings at line 3 (high)::"), "{}", errors[0]);
        assert_eq!(errors[0].matches("%0A- BREACHED").count(), 30);
        let notice = text.lines().last().unwrap();
        assert!(notice.starts_with("::notice "), "{text}");
        assert!(notice.contains("%0A2 more errors not annotated (GitHub shows 10 per step): at examples/p.yaml:"), "{notice}");
    }
}
