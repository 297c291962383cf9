//! The terminal report: a verdict table, then each finding with its numbers,
//! shortest trace and reproduce command, then the summary line.

use super::{summary_line, verdict_label, Report};
use crate::verify::{Finding, Verdict};

/// Trace lines shown per finding before eliding.
const TRACE_LINES: usize = 8;

pub fn render(r: &Report) -> String {
    let mut out = format!(
        "gauntlet verify {} (profile {}, seed {}, {} scenarios, servers: {}, requirements: {})\n\n",
        r.policy,
        r.profile,
        r.seed,
        r.scenarios,
        r.servers.join(", "),
        r.requirements
    );
    let headers = ["SCENARIO", "TOOL", "VERDICT", "REACHED/SENT", "BOUND"];
    let rows: Vec<[String; 5]> = r
        .outcomes
        .iter()
        .map(|o| {
            let numbers = if matches!(o.verdict, Verdict::NotApplicable | Verdict::Error) {
                "-".to_string()
            } else {
                format!("{}/{}", o.reached, o.attempted)
            };
            let bound = match o.verdict {
                Verdict::NotApplicable | Verdict::Error => o.note.clone().unwrap_or_default(),
                _ => o.bound.clone(),
            };
            [o.scenario.clone(), o.tool.clone(), verdict_label(o), numbers, bound]
        })
        .collect();
    let mut widths = headers.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()).take(4) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i < 4 {
                l.push_str(&format!("{c:<w$}  ", w = widths[i]));
            } else {
                l.push_str(c);
            }
        }
        l.trim_end().to_string() + "\n"
    };
    out.push_str(&line(headers));
    for row in &rows {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
    let findings: Vec<_> = r
        .outcomes
        .iter()
        .filter(|o| matches!(o.verdict, Verdict::Breached | Verdict::OverBlocking | Verdict::Error))
        .collect();
    if !findings.is_empty() {
        out.push_str("\nFindings\n");
    }
    for o in findings {
        out.push_str(&format!("\n{} {} × {} ({})\n", verdict_label(o), o.scenario, o.tool, o.title));
        if o.verdict == Verdict::Breached {
            out.push_str(&format!("  expected: {}   observed: {}\n", o.bound, o.observed));
        }
        if let Some(n) = &o.note {
            out.push_str(&format!("  note: {n}\n"));
        }
        if let Some(b) = super::blame_line(o) {
            out.push_str(&format!("  blame: {b}\n"));
        }
        if !o.trace.is_empty() {
            out.push_str(&format!("  shortest trace ({} of {} messages):\n", o.trace.len(), o.trace_from));
            for t in o.trace.iter().take(TRACE_LINES) {
                out.push_str(&format!("    {t}\n"));
            }
            if o.trace.len() > TRACE_LINES {
                out.push_str(&format!("    … {} more\n", o.trace.len() - TRACE_LINES));
            }
        }
        if let Some(cmd) = &o.reproduce {
            out.push_str(&format!("  reproduce: {cmd}\n"));
        }
    }
    let proxy: Vec<_> = r.findings(Finding::Proxy).collect();
    if !proxy.is_empty() {
        out.push_str(&format!(
            "\nProxy findings (no policy can stop these on this proxy; they do not fail the run unless --fail-on-proxy-findings): {}\n",
            proxy.iter().map(|o| format!("{} × {}", o.scenario, o.tool)).collect::<Vec<_>>().join(", ")
        ));
    }
    out.push_str(&format!("\n{}\n", summary_line(&r.summary)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists_every_outcome_and_details_findings() {
        let text = render(&super::super::fixtures::report());
        assert!(text.contains("bulk-write-burst     Post <Customers> & co  held"), "{text}");
        assert!(text.contains("BREACHED (policy) malformed-arguments × Post <Customers> & co"), "{text}");
        assert!(text.contains("reproduce: gauntlet verify p.yaml --only malformed-arguments --seed 1"));
        assert!(text.contains("Proxy findings"));
        assert!(text.trim_end().ends_with("1 policy findings, 1 proxy findings"));
    }
}
