//! The league table in Markdown: per proxy, held / breached / error per
//! attack class, added latency and notes.

use std::collections::BTreeSet;

use crate::verify::blackbox::league::{Row, Tally};

fn played(t: &Tally) -> bool {
    t.held + t.breached + t.over_blocking + t.errors > 0
}

pub fn render(rows: &[Row], date: &str, server: &str, budget: &str) -> String {
    let classes: BTreeSet<String> = rows
        .iter()
        .filter_map(|r| r.classes.as_ref().ok())
        .flat_map(|c| c.iter().filter(|(_, t)| played(t)).map(|(k, _)| k.clone()))
        .collect();
    let mut out = format!(
        "League run {date}: the attack database through each proxy in front of the `{server}` mock, \
         each with a policy stating the same intent (time budget {budget} per scenario × tool). \
         Cells are held / breached / error outcomes (over-blocking is in the notes); `cannot` marks an attack class the proxy has no way to express; \
         `–` means nothing was played within the budget.\n\n"
    );
    out.push_str("| proxy | version |");
    for c in &classes {
        out.push_str(&format!(" {c} |"));
    }
    out.push_str(" added latency | refusal shape | notes |\n|---|---|");
    out.push_str(&"---|".repeat(classes.len() + 3));
    out.push('\n');
    for r in rows {
        out.push_str(&format!("| {} | {} |", r.entry.name, r.entry.version));
        match &r.classes {
            Ok(tallies) => {
                for c in &classes {
                    let cell = match (r.entry.cannot.get(c), tallies.get(c)) {
                        (Some(_), _) => "cannot".to_string(),
                        (None, Some(t)) if played(t) => format!("{} / {} / {}", t.held, t.breached, t.errors),
                        _ => "–".to_string(),
                    };
                    out.push_str(&format!(" {cell} |"));
                }
            }
            Err(_) => out.push_str(&" did not run |".repeat(classes.len())),
        }
        let latency = r
            .latency
            .map(|(through, direct)| format!("{:+.2} ms", (through.as_secs_f64() - direct.as_secs_f64()) * 1e3))
            .unwrap_or("–".into());
        let shapes = if r.refusal_shapes.is_empty() { "–".to_string() } else { r.refusal_shapes.join(", ") };
        let mut notes: Vec<String> = r.entry.notes.iter().cloned().collect();
        notes.extend(r.entry.cannot.iter().map(|(c, why)| format!("cannot {c}: {why}")));
        match &r.classes {
            Err(e) => notes.push(format!("did not run: {e}")),
            Ok(t) => {
                let over: usize = t.values().map(|t| t.over_blocking).sum();
                if over > 0 {
                    notes.push(format!("over-blocking in {over} outcomes (a benign twin was refused)"));
                }
            }
        }
        notes.push(format!("run took {:.0}s", r.wall.as_secs_f64()));
        out.push_str(&format!(" {latency} | {shapes} | {} |\n", notes.join("; ").replace('|', "\\|")));
    }
    out
}
