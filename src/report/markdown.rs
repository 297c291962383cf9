//! Markdown for PR comments: a summary line, a verdict table, findings in a
//! collapsible block.

use super::{summary_line, verdict_label, Report};
use crate::verify::Verdict;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn render(r: &Report) -> String {
    let mut out = format!(
        "### gauntlet verify `{}`\n\nProfile `{}`, seed `{}`, servers {}.\n\n**{}**\n\n",
        r.policy,
        r.profile,
        r.seed,
        r.servers.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "),
        summary_line(&r.summary)
    );
    out.push_str("| scenario | tool | verdict | reached/sent | bound |\n|---|---|---|---|---|\n");
    for o in &r.outcomes {
        let numbers = if o.verdict == Verdict::NotApplicable { "-".into() } else { format!("{}/{}", o.reached, o.attempted) };
        let bound = if o.verdict == Verdict::NotApplicable { o.note.clone().unwrap_or_default() } else { o.bound.clone() };
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} |\n",
            cell(&o.scenario),
            cell(&o.tool),
            verdict_label(o),
            numbers,
            cell(&bound)
        ));
    }
    let findings: Vec<_> = r.outcomes.iter().filter(|o| o.finding.is_some()).collect();
    if !findings.is_empty() {
        out.push_str("\n<details><summary>Findings</summary>\n\n");
        for o in findings {
            out.push_str(&format!("#### {} `{}` × `{}`\n\n", verdict_label(o), o.scenario, o.tool));
            if o.verdict == Verdict::Breached {
                out.push_str(&format!("expected {}, observed {}\n\n", cell(&o.bound), cell(&o.observed)));
            }
            if let Some(n) = &o.note {
                out.push_str(&format!("{}\n\n", cell(n)));
            }
            if let Some(b) = super::blame_line(o) {
                out.push_str(&format!("Blame: {}\n\n", cell(&b)));
            }
            if !o.trace.is_empty() {
                out.push_str("```\n");
                for t in o.trace.iter().take(8) {
                    out.push_str(t);
                    out.push('\n');
                }
                out.push_str("```\n\n");
            }
            if let Some(cmd) = &o.reproduce {
                out.push_str(&format!("Reproduce: `{cmd}`\n\n"));
            }
        }
        out.push_str("</details>\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes_pipes_and_lists_findings() {
        let mut r = super::super::fixtures::report();
        r.outcomes[0].tool = "a|b".into();
        let md = render(&r);
        assert!(md.contains("| `bulk-write-burst` | `a\\|b` | held | 30/200 |"), "{md}");
        assert!(md.contains("#### BREACHED (proxy) `wire-type-error` × `Delete`"));
        assert!(md.contains("<details><summary>Findings</summary>"));
    }
}
