//! JUnit XML (Jenkins flavour, verifier-ux §7.2): one `<testsuite>` per attack
//! class, one `<testcase>` per scenario × tool. Breaches and over-blocking are
//! `<failure>`s; proxy findings are failures only with
//! `--fail-on-proxy-findings`, otherwise `<skipped>` with the finding in the
//! message; not-applicable pairs are `<skipped>`; errors are `<error>`.

use std::collections::BTreeMap;

use super::markup::escape;
use super::{Options, Report};
use crate::verify::{Finding, Outcome, Verdict};

enum Kind {
    Pass,
    Failure,
    Skipped,
    Error,
}

fn kind(o: &Outcome, opts: &Options) -> Kind {
    match (o.verdict, o.finding) {
        (Verdict::Held, _) => Kind::Pass,
        (Verdict::Breached | Verdict::OverBlocking, Some(_)) if !opts.fails(o) => Kind::Skipped,
        (Verdict::Breached, _) | (Verdict::OverBlocking, _) => Kind::Failure,
        (Verdict::NotApplicable, _) | (Verdict::NotExercised, _) | (Verdict::Unsupported, _) => Kind::Skipped,
        (Verdict::Error, _) => Kind::Error,
    }
}

fn body(o: &Outcome) -> String {
    let mut b = String::new();
    if let Some(n) = &o.note {
        b.push_str(n);
        b.push('\n');
    }
    for t in &o.trace {
        b.push_str(&t.to_string());
        b.push('\n');
    }
    if let Some(cmd) = &o.reproduce {
        b.push_str(&format!("reproduce: {cmd}\n"));
    }
    escape(&b)
}

pub fn render(r: &Report, opts: &Options) -> String {
    let mut suites: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
    for o in &r.outcomes {
        suites.entry(o.class.as_str()).or_default().push(o);
    }
    let count = |os: &[&Outcome], k: fn(&Kind) -> bool| os.iter().filter(|o| k(&kind(o, opts))).count();
    let all: Vec<&Outcome> = r.outcomes.iter().collect();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"gauntlet-verify\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"0\">\n",
        all.len(),
        count(&all, |k| matches!(k, Kind::Failure)),
        count(&all, |k| matches!(k, Kind::Error)),
        count(&all, |k| matches!(k, Kind::Skipped)),
    ));
    for (class, os) in suites {
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" disabled=\"0\" time=\"0\">\n",
            escape(class),
            os.len(),
            count(&os, |k| matches!(k, Kind::Failure)),
            count(&os, |k| matches!(k, Kind::Error)),
            count(&os, |k| matches!(k, Kind::Skipped)),
        ));
        out.push_str(&format!(
            "    <properties>\n      <property name=\"policy\" value=\"{}\"/>\n      <property name=\"profile\" value=\"{}\"/>\n      <property name=\"seed\" value=\"{}\"/>\n      <property name=\"coverage\" value=\"{}\"/>\n    </properties>\n",
            escape(&r.policy),
            escape(&r.profile),
            escape(&r.seed),
            escape(&r.coverage.line())
        ));
        for o in os {
            let open = format!(
                "    <testcase classname=\"{}.{}\" name=\"{} {}\" file=\"{}\" time=\"0\"",
                escape(class),
                escape(&o.server),
                escape(&o.scenario),
                escape(&o.tool),
                escape(&r.policy)
            );
            let message = match &o.note {
                Some(n) => format!("expected {}, observed {}: {n}", o.bound, o.observed),
                None => format!("expected {}, observed {}", o.bound, o.observed),
            };
            match kind(o, opts) {
                Kind::Pass => out.push_str(&format!("{open}/>\n")),
                Kind::Failure => {
                    let ty = if o.verdict == Verdict::OverBlocking {
                        "over-blocking".to_string()
                    } else {
                        format!("{}-finding", if o.finding == Some(Finding::Proxy) { "proxy" } else { "policy" })
                    };
                    let msg = if o.verdict == Verdict::OverBlocking { o.note.as_deref().unwrap_or_default().to_string() } else { message };
                    let msg = match o.severity {
                        Some(s) => format!("[{s}] {msg}"),
                        None => msg,
                    };
                    out.push_str(&format!(
                        "{open}>\n      <failure type=\"{ty}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                        escape(&msg),
                        body(o)
                    ));
                }
                Kind::Skipped => {
                    let msg = if o.finding == Some(Finding::Proxy) && o.verdict == Verdict::Breached {
                        format!("proxy finding (not failing): {message}")
                    } else if let Some(s) = o.severity.filter(|_| o.finding.is_some()) {
                        format!("{s} finding below --fail-on (not failing): {message}")
                    } else if o.verdict == Verdict::Unsupported {
                        format!("unsupported (this proxy cannot take part): {}", o.note.clone().unwrap_or_default())
                    } else {
                        format!("not applicable: {}", o.note.clone().unwrap_or_default())
                    };
                    out.push_str(&format!("{open}>\n      <skipped message=\"{}\"/>\n    </testcase>\n", escape(&msg)));
                }
                Kind::Error => out.push_str(&format!(
                    "{open}>\n      <error type=\"could-not-run\" message=\"{}\"/>\n    </testcase>\n",
                    escape(o.note.as_deref().unwrap_or(""))
                )),
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_text_is_escaped() {
        let r = super::super::fixtures::report();
        let xml = render(&r, &Options::default());
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"gauntlet-verify\" tests=\"4\" failures=\"1\" errors=\"0\" skipped=\"2\""), "{xml}");
        assert!(xml.contains("name=\"bulk-write-burst Post &lt;Customers&gt; &amp; co\""));
        assert!(xml.contains("<failure type=\"policy-finding\""));
        assert!(xml.contains("<skipped message=\"proxy finding (not failing)"));
        let strict = render(&r, &Options { fail_on_proxy: true, ..Options::default() });
        assert!(strict.contains("failures=\"2\""));
        assert!(strict.contains("<failure type=\"proxy-finding\""));
        // A control character in a trace is replaced, not emitted (XML 1.0 cannot hold it).
        let mut r = r;
        r.outcomes[1].note = Some("bad \u{1b} byte".into());
        assert!(render(&r, &Options::default()).contains("bad \u{FFFD} byte"));
    }
}
