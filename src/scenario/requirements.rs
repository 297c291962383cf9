//! What a policy must guarantee, per risk category and per tool.
//!
//! The built-in baseline follows the catalogue advice (write tools 30 calls
//! per minute, execute tools 10 per minute, destructive tools denied or
//! hidden, charges capped per call and per day, no schema-violating call
//! reaches the server). A `gauntlet.yaml` next to the policy overrides any
//! part of it. Rate bounds are sliding windows unless `calendar: true`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::duration::Duration;
use super::model::Risk;

/// At most `count` calls in any window of `window` (or per calendar window when `calendar`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateBound {
    pub count: u64,
    pub window: Duration,
    #[serde(default)]
    pub calendar: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountWindow {
    pub amount: f64,
    pub window: Duration,
}

/// One requirement as written; unset fields inherit (tool → risk category → baseline).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateBound>,
    /// The tool must be denied or hidden: no call may reach it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_amount_per_call: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_amount_per_window: Option<AmountWindow>,
}

impl Requirement {
    fn over(&self, base: &Requirement) -> Requirement {
        Requirement {
            rate: self.rate.or(base.rate),
            denied: self.denied.or(base.denied),
            max_amount_per_call: self.max_amount_per_call.or(base.max_amount_per_call),
            max_amount_per_window: self.max_amount_per_window.or(base.max_amount_per_window),
        }
    }

    pub fn is_denied(&self) -> bool {
        self.denied == Some(true)
    }
}

/// The `gauntlet.yaml` file: `risk:` and `tools:` sections plus the schema switch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    #[serde(default)]
    pub risk: BTreeMap<Risk, Requirement>,
    #[serde(default)]
    pub tools: BTreeMap<String, Requirement>,
    /// No call whose arguments violate the tool's inputSchema may reach the server.
    #[serde(default = "yes")]
    pub schema_validation: bool,
    /// No call whose `arguments`, serialized, exceed this many bytes may reach the server.
    #[serde(default = "default_max_argument_bytes")]
    pub max_argument_bytes: u64,
}

fn yes() -> bool {
    true
}

/// 64 KiB: far more than any catalogued tool's legitimate arguments.
pub const DEFAULT_MAX_ARGUMENT_BYTES: u64 = 64 * 1024;

fn default_max_argument_bytes() -> u64 {
    DEFAULT_MAX_ARGUMENT_BYTES
}

impl Requirements {
    pub fn baseline() -> Requirements {
        let minute = Duration::from_secs(60);
        let mut risk = BTreeMap::new();
        risk.insert(
            Risk::Write,
            Requirement { rate: Some(RateBound { count: 30, window: minute, calendar: false }), ..Default::default() },
        );
        risk.insert(
            Risk::Execute,
            Requirement { rate: Some(RateBound { count: 10, window: minute, calendar: false }), ..Default::default() },
        );
        risk.insert(Risk::Destructive, Requirement { denied: Some(true), ..Default::default() });
        risk.insert(
            Risk::Financial,
            Requirement {
                rate: Some(RateBound { count: 10, window: minute, calendar: false }),
                max_amount_per_call: Some(50_000.0),
                max_amount_per_window: Some(AmountWindow { amount: 200_000.0, window: Duration::from_secs(86_400) }),
                ..Default::default()
            },
        );
        Requirements { risk, tools: BTreeMap::new(), schema_validation: true, max_argument_bytes: DEFAULT_MAX_ARGUMENT_BYTES }
    }

    /// The baseline with `gauntlet.yaml` from the policy's directory laid over it, if present.
    pub fn for_policy(policy: &Path) -> Result<(Requirements, Option<PathBuf>), String> {
        let dir = policy.parent().unwrap_or(Path::new("."));
        let file = dir.join("gauntlet.yaml");
        if !file.is_file() {
            return Ok((Requirements::baseline(), None));
        }
        let text = crate::limits::read_to_string(&file).map_err(|e| match e {
            crate::limits::ReadError::Limit(l) => format!("{}:{}:{}: {l}\n  help: {}", file.display(), l.line, l.column, l.help()),
            crate::limits::ReadError::Io(e) => format!("{}: cannot read: {e}", file.display()),
        })?;
        let over = Requirements::parse(&text).map_err(|e| format!("{}:{e}", file.display()))?;
        Ok((Requirements::baseline().overlaid(over), Some(file)))
    }

    /// Parses a `gauntlet.yaml`; errors read `line:column: message`.
    pub fn parse(text: &str) -> Result<Requirements, String> {
        crate::limits::check(text).map_err(|l| format!("{}:{}: {l}\n  help: {}", l.line, l.column, l.help()))?;
        serde_yaml::from_str(text).map_err(|e| {
            let (l, c) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
            let msg = e.to_string();
            let msg = msg.rsplit_once(" at line ").map(|(m, _)| m.to_string()).unwrap_or(msg);
            format!("{l}:{c}: {msg}")
        })
    }

    fn overlaid(mut self, over: Requirements) -> Requirements {
        for (risk, req) in over.risk {
            let base = self.risk.remove(&risk).unwrap_or_default();
            self.risk.insert(risk, req.over(&base));
        }
        self.tools.extend(over.tools);
        self.schema_validation = over.schema_validation;
        self.max_argument_bytes = over.max_argument_bytes;
        self
    }

    /// The requirement for one tool: its own entry over its risk category's.
    pub fn for_tool(&self, tool: &str, risk: Risk) -> Requirement {
        let by_risk = self.risk.get(&risk).cloned().unwrap_or_default();
        match self.tools.get(tool) {
            Some(own) => own.over(&by_risk),
            None => by_risk,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_follows_the_catalogue_advice() {
        let r = Requirements::baseline();
        let w = r.for_tool("create_issue", Risk::Write);
        assert_eq!(w.rate, Some(RateBound { count: 30, window: Duration::from_secs(60), calendar: false }));
        assert_eq!(r.for_tool("run_build", Risk::Execute).rate.map(|b| b.count), Some(10));
        assert!(r.for_tool("delete_repo", Risk::Destructive).is_denied());
        assert_eq!(r.for_tool("search", Risk::Read), Requirement::default());
        assert!(r.schema_validation);
        assert_eq!(r.max_argument_bytes, 65536);
    }

    #[test]
    fn gauntlet_yaml_overrides_per_tool_and_per_risk() {
        let over = Requirements::parse(
            "risk:\n  write: {rate: {count: 5, window: 1m, calendar: true}}\ntools:\n  create_charge: {max_amount_per_call: 100}\n",
        )
        .unwrap();
        let r = Requirements::baseline().overlaid(over);
        assert_eq!(r.for_tool("x", Risk::Write).rate.map(|b| (b.count, b.calendar)), Some((5, true)));
        let charge = r.for_tool("create_charge", Risk::Financial);
        assert_eq!(charge.max_amount_per_call, Some(100.0));
        assert_eq!(charge.max_amount_per_window.map(|w| w.amount), Some(200_000.0));
    }

    #[test]
    fn unknown_keys_in_gauntlet_yaml_are_positioned_errors() {
        let e = Requirements::parse("risk:\n  write: {rat: 1}\n").unwrap_err();
        assert!(e.starts_with("2:"), "{e}");
        assert!(e.contains("unknown field `rat`"), "{e}");
    }
}
