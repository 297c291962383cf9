//! The embedded-vs-real section of a black-box run with `--compare-embedded`.

use crate::verify::blackbox::compare::Difference;

pub fn render(diffs: &[Difference]) -> String {
    if diffs.is_empty() {
        return "\nembedded vs real: 0 differences (every outcome played matches the embedded prediction)\n".into();
    }
    let mut out = format!("\nembedded vs real: {} differences\n", diffs.len());
    for d in diffs {
        out.push_str(&format!("  {} × {} ({})\n", d.scenario, d.tool, d.server));
        for w in &d.what {
            out.push_str(&format!("    {w}\n"));
        }
    }
    out
}
