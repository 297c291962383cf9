//! GitHub Actions workflow commands (`--format github`): one
//! `::error file=…,line=…,title=…::message` annotation per finding, at the
//! policy file and line its blame names, so findings show on the pull
//! request's diff. Proxy findings are warnings unless
//! `--fail-on-proxy-findings`; pairs that could not run are errors; the
//! summary line closes as a notice.

use super::sarif::message;
use super::{location, summary_line, Options, Report};
use crate::verify::{Finding, Verdict};

/// Escapes a workflow command's message (`%`, CR, LF).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a workflow command's property value (also `:` and `,`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn render(r: &Report, opts: &Options) -> String {
    let mut out = String::new();
    for o in &r.outcomes {
        let command = match (o.verdict, o.finding) {
            (Verdict::Error, _) => "error",
            (_, Some(Finding::Proxy)) if !opts.fail_on_proxy => "warning",
            (_, Some(_)) => "error",
            _ => continue,
        };
        let (file, line) = location(r, o);
        let text = if o.verdict == Verdict::Error {
            format!("{} × {} could not be run: {}", o.scenario, o.tool, o.note.as_deref().unwrap_or(""))
        } else {
            match &o.reproduce {
                Some(cmd) => format!("{}\nreproduce: {cmd}", message(o)),
                None => message(o),
            }
        };
        out.push_str(&format!(
            "::{command} file={},line={line},title={}::{}\n",
            escape_property(&file),
            escape_property(&format!("gauntlet: {} × {}", o.scenario, o.tool)),
            escape_data(&text)
        ));
    }
    out.push_str(&format!("::notice title=gauntlet verify::{}\n", escape_data(&summary_line(&r.summary))));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_annotation_per_finding_with_escaped_properties() {
        let r = super::super::fixtures::report();
        let text = render(&r, &Options::default());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("::error file=examples/p.yaml,line="), "{text}");
        assert!(lines[0].contains(",title=gauntlet%3A malformed-arguments × Post <Customers> & co::BREACHED (policy)"), "{text}");
        assert!(lines[0].contains("%0Areproduce: gauntlet verify p.yaml --only malformed-arguments --seed 1"), "{text}");
        assert!(lines[1].starts_with("::warning file=examples/p.yaml,"), "{text}");
        assert!(lines[2].starts_with("::notice title=gauntlet verify::4 outcomes:"), "{text}");
        let strict = render(&r, &Options { fail_on_proxy: true, ..Options::default() });
        assert_eq!(strict.matches("::error ").count(), 2);
        assert_eq!(escape_property("a,b:c%\n"), "a%2Cb%3Ac%25%0A");
    }
}
