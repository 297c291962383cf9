//! `gauntlet scenario new NAME`: a commented skeleton that lints clean.

/// The schema file the skeleton points the editor at, written beside it.
pub const SCHEMA_FILE: &str = "scenario.schema.json";

/// The skeleton text for a scenario with id `name`, run by `run` (a command line).
pub fn skeleton(name: &str, run: &str) -> String {
    format!(
        r#"# yaml-language-server: $schema={SCHEMA_FILE}
# A gauntlet attack scenario. Run it with:
#   {run}
id: {name}
title: "Describe the attack in one line"
# One of the classes in {SCHEMA_FILE} (bulk-writes, runaway-execution, window-edge, ...).
class: bulk-writes
# policy: a breach is the policy's fault. proxy: no policy can stop it on this proxy.
layer: policy
references: [bulk-write]          # attack catalogue ids
targets:
  risk: [write]                   # and/or `tools: ["exact tool name"]`
agent:
  steps:
    # 100 schema-valid calls spread over one virtual minute.
    - calls: 100
      over: 1m
      args: valid                 # valid | boundary | type-confused | missing | extra | oversized | injection | empty
#  random:                        # seeded: replay with --seed
#    calls: 50
#    over: 2m
#    generators: [valid, type-confused, missing]
twin:
  # The legitimate workload that must still pass.
  steps:
    - calls: 3
      over: 1m
expect:
  # Measured on the server's ledger. `{{}}` takes count and window from the requirements.
  max_reached_per_window: {{}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::lint::{lint_text, ToolInfo};
    use crate::scenario::model::Risk;
    use std::path::Path;

    #[test]
    fn skeleton_parses_and_lints_clean() {
        let text = skeleton("my-attack", "gauntlet verify POLICY --scenarios scenarios --only my-attack");
        let cat = vec![ToolInfo { server: "s".into(), name: "w".into(), risk: Risk::Write, input_schema: serde_json::json!({}).into(), surface: Default::default(), roles: Vec::new(), definition: serde_json::Value::Null, private: false }];
        let problems = lint_text(Path::new("scenarios/my-attack.yaml"), &text, &cat);
        assert!(problems.is_empty(), "{problems:?}");
        let s = crate::scenario::parse(Path::new("my-attack.yaml"), &text).unwrap();
        assert_eq!(s.id, "my-attack");
        assert_eq!(s.agent.steps[0].calls, 100);
        assert!(s.twin.is_some());
    }
}
