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
        .flat_map(|c| c.iter().filter(|(_, t)| played(t) || t.unsupported > 0).map(|(k, _)| k.clone()))
        .collect();
    let mut out = format!(
        "League run {date}: the attack database through each proxy in front of the `{server}` mock, \
         each with a policy stating the same intent (time budget {budget} per scenario × tool). \
         Cells are held / breached / error outcomes (over-blocking is in the notes); `cannot` marks an attack class the proxy has no way to express; \
         `unsupported` that gauntlet cannot do this fault to this proxy; `–` means nothing was played within the budget. \
         \"When the gate fails\" names what each fault scenario found the proxy doing.\n\n"
    );
    out.push_str("| proxy | version |");
    for c in &classes {
        out.push_str(&format!(" {c} |"));
    }
    out.push_str(" added latency | refusal shape | when the gate fails | notes |\n|---|---|");
    out.push_str(&"---|".repeat(classes.len() + 4));
    out.push('\n');
    for r in rows {
        out.push_str(&format!("| {} | {} |", r.entry.name, r.entry.version));
        match &r.classes {
            Ok(tallies) => {
                for c in &classes {
                    let cell = match (r.entry.cannot.get(c), tallies.get(c)) {
                        (Some(_), _) => "cannot".to_string(),
                        (None, Some(t)) if played(t) => format!("{} / {} / {}", t.held, t.breached, t.errors),
                        (None, Some(t)) if t.unsupported > 0 => "unsupported".to_string(),
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
        let faults = if r.faults.is_empty() {
            "–".to_string()
        } else {
            r.faults.iter().map(|(s, what)| format!("{s}: {}", what.iter().copied().collect::<Vec<_>>().join(" / "))).collect::<Vec<_>>().join("; ")
        };
        out.push_str(&format!(" {latency} | {shapes} | {faults} | {} |\n", notes.join("; ").replace('|', "\\|")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::blackbox::league::Entry;
    use std::collections::BTreeMap;
    use std::time::Duration;

    #[test]
    fn unsupported_classes_and_gate_failures_are_shown_apart_from_unplayed_ones() {
        let entry: Entry = serde_yaml::from_str("{name: p, version: '1', command: x}").unwrap();
        let classes = BTreeMap::from([
            ("bulk-writes".to_string(), Tally { held: 1, ..Tally::default() }),
            ("store-failure".to_string(), Tally { unsupported: 2, ..Tally::default() }),
            ("proxy-restart".to_string(), Tally { breached: 1, ..Tally::default() }),
            ("window-edge".to_string(), Tally { not_applicable: 1, ..Tally::default() }),
        ]);
        let faults = BTreeMap::from([
            ("proxy-restart".to_string(), ["fails open"].into()),
            ("store-outage".to_string(), ["unsupported"].into()),
        ]);
        let row = Row { entry, classes: Ok(classes), latency: None, refusal_shapes: vec![], faults, wall: Duration::from_secs(3) };
        let table = render(&[row], "2026-12-07", "toy", "2m");
        let header = table.lines().find(|l| l.starts_with("| proxy")).unwrap();
        // window-edge was never played by anyone: no column.
        assert_eq!(header, "| proxy | version | bulk-writes | proxy-restart | store-failure | added latency | refusal shape | when the gate fails | notes |");
        let line = table.lines().last().unwrap();
        assert!(line.starts_with("| p | 1 | 1 / 0 / 0 | 0 / 1 / 0 | unsupported | – | – | proxy-restart: fails open; store-outage: unsupported |"), "{line}");
        assert_eq!(line.matches('|').count(), header.matches('|').count());
    }
}
