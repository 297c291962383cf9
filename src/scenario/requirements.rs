//! What a policy must guarantee, per risk category and per tool, and the
//! `gauntlet.yaml` file that says so for a repository.
//!
//! The built-in baseline follows the catalogue advice (write tools 30 calls
//! per minute, execute tools 10 per calendar minute, destructive tools denied or
//! hidden, charges capped per call and per day, no schema-violating call
//! reaches the server). A `gauntlet.yaml` beside the policy or in a
//! directory above it (up to the repository root), or `--requirements
//! FILE`, overrides any part of it and may list the policies and servers to
//! verify. Rate bounds are sliding windows unless `calendar: true`. The JSON
//! Schema `gauntlet.schema.json` describes the file; a test keeps it in
//! step with these types.
//!
//! Where values may go is said per field (`tools.T.fields.F`: an allowlist,
//! [`Allow`]) or for every field of a role at once (`roles.destination`);
//! [`Requirements::fields_for`] resolves what applies to one tool's fields.
//! Amount caps carry their unit: a plain number is minor units (cents),
//! `{amount, unit: major}` currency units; each is converted to the unit
//! the tool's amount field is written in ([`Money::in_field`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::duration::Duration;
use super::lint::ToolInfo;
use super::model::Risk;
use crate::mock::roles::{schema_at, FieldRole, Kind, Role, Unit};
use crate::mock::Surface;
pub use crate::values::Allow;

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
    /// The unit `amount` is written in (default `minor`: cents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Unit>,
}

impl AmountWindow {
    pub fn money(&self) -> Money {
        Money { amount: self.amount, unit: self.unit.unwrap_or(Unit::Minor) }
    }
}

/// An amount and the unit it is written in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Money {
    pub amount: f64,
    pub unit: Unit,
}

impl Money {
    /// The amount in the unit `field` is written in (a field without an
    /// amount role is read as minor units, as every cap was before units).
    pub fn in_field(&self, field: Option<&FieldRole>) -> f64 {
        let field_major = field.is_some_and(|f| f.unit == Some(Unit::Major));
        let per_minor = field.map_or(1.0, FieldRole::per_minor);
        let v = match (self.unit, field_major) {
            (Unit::Minor, true) => self.amount * per_minor,
            (Unit::Major, false) => self.amount / field.map_or(0.01, |f| 10f64.powi(-(f.decimals.unwrap_or(2) as i32))),
            _ => self.amount,
        };
        // Rounded to the field's places, so 50000 cents is 500 and not 500.00000000000006.
        let places = 10f64.powi(field.map_or(0, FieldRole::places) as i32);
        (v * places).round() / places
    }
}

/// A cap as written: a plain number (minor units), or `{amount, unit}`.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
enum MoneyText {
    Plain(f64),
    Unit(MoneyUnit),
}

#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct MoneyUnit {
    amount: f64,
    unit: Unit,
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        match MoneyText::deserialize(d) {
            Ok(MoneyText::Plain(amount)) => Ok(Money { amount, unit: Unit::Minor }),
            Ok(MoneyText::Unit(m)) => Ok(Money { amount: m.amount, unit: m.unit }),
            Err(_) => Err(serde::de::Error::custom(
                "expected an amount in minor units (`50000`) or `{amount: 500, unit: major}`",
            )),
        }
    }
}

impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self.unit {
            Unit::Minor => s.serialize_f64(self.amount),
            Unit::Major => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("amount", &self.amount)?;
                m.serialize_entry("unit", &self.unit)?;
                m.end()
            }
        }
    }
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
    pub max_amount_per_call: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_amount_per_window: Option<AmountWindow>,
    /// Where values of these fields may go (by field path: `to`, `payee.iban`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Allow>,
    /// Fields no call may carry (`bcc`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forbidden: Vec<String>,
    /// What legitimate use of the tool looks like (benign twins, `harden`'s sizes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<Workload>,
    /// What the agent sees of the tool and what runs on the server must be
    /// its definition in the server file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
    /// At most this many calls of the tool reach the server in one session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_calls_per_session: Option<u64>,
}

/// Legitimate use of a tool, as the user declares it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// At most `count` legitimate calls in any `window`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<WorkloadRate>,
    /// Typical length, in characters, of string fields (field name: length).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sizes: BTreeMap<String, usize>,
    /// The optional fields legitimate calls send (the others are left out).
    /// Unset: the first legitimate call leaves every optional field out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<Vec<String>>,
}

/// A legitimate rate (sliding: legitimate calls are spread evenly).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadRate {
    pub count: u64,
    pub window: Duration,
}

impl Requirement {
    fn over(&self, base: &Requirement) -> Requirement {
        Requirement {
            pinned: self.pinned.or(base.pinned),
            max_calls_per_session: self.max_calls_per_session.or(base.max_calls_per_session),
            rate: self.rate.or(base.rate),
            denied: self.denied.or(base.denied),
            max_amount_per_call: self.max_amount_per_call.or(base.max_amount_per_call),
            max_amount_per_window: self.max_amount_per_window.or(base.max_amount_per_window),
            workload: self.workload.clone().or_else(|| base.workload.clone()),
            fields: base.fields.clone().into_iter().chain(self.fields.clone()).collect(),
            forbidden: base.forbidden.iter().chain(&self.forbidden).cloned().collect::<BTreeSet<_>>().into_iter().collect(),
        }
    }

    /// The per-call cap in the unit of `field`.
    pub fn per_call_in(&self, field: Option<&FieldRole>) -> Option<f64> {
        self.max_amount_per_call.map(|m| m.in_field(field))
    }

    /// The per-window cap in the unit of `field`.
    pub fn per_window_in(&self, field: Option<&FieldRole>) -> Option<f64> {
        self.max_amount_per_window.map(|w| w.money().in_field(field))
    }


    pub fn is_denied(&self) -> bool {
        self.denied == Some(true)
    }
}

/// The `gauntlet.yaml` file: what to verify (`policies:`, `servers:`), the
/// `risk:` and `tools:` requirements, and the schema and size switches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    /// The policies `gauntlet verify` checks when given none, relative to the file.
    #[serde(default)]
    pub policies: Vec<PathBuf>,
    /// The servers to verify against when `--server` is not given: files
    /// relative to the file, or bundled server names.
    #[serde(default)]
    pub servers: Vec<PathBuf>,
    #[serde(default)]
    pub risk: BTreeMap<Risk, Requirement>,
    #[serde(default)]
    pub tools: BTreeMap<String, Requirement>,
    /// Requirements on every field of a role, for every tool at once.
    #[serde(default, skip_serializing_if = "RoleRequirements::is_empty")]
    pub roles: RoleRequirements,
    /// No call whose arguments violate the tool's inputSchema may reach the server.
    #[serde(default = "yes")]
    pub schema_validation: bool,
    /// No call whose `arguments`, serialized, exceed this many bytes may reach the server.
    #[serde(default = "default_max_argument_bytes")]
    pub max_argument_bytes: u64,
    /// Pin every tool (`true`), or those of the servers named: what the agent
    /// sees and what runs must be the server file's definitions.
    #[serde(default, skip_serializing_if = "Pinned::is_none")]
    pub pinned: Pinned,
    /// What may leave once private data was read (see [`Flow`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<Flow>,
    /// What may reach `resources/read`, judged on the URI the server read.
    #[serde(default, skip_serializing_if = "SurfaceRequirement::is_empty")]
    pub resources: SurfaceRequirement,
    /// What may reach `prompts/get`, judged on the prompt the server got.
    #[serde(default, skip_serializing_if = "SurfaceRequirement::is_empty")]
    pub prompts: SurfaceRequirement,
    /// Where a file (not the baseline) set amount caps: `risk.financial`, `tools.send_money`.
    #[serde(skip)]
    pub declared_caps: BTreeSet<String>,
    /// What a governed call (one a rate or spend requirement covers) must
    /// meet while the proxy cannot enforce (state store down, policy
    /// unreadable): refused (`closed`, the default) or let through (`open`).
    #[serde(default, skip_serializing_if = "FaultMode::is_closed")]
    pub fault_mode: FaultMode,
}

/// See [`Requirements::fault_mode`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultMode {
    #[default]
    Closed,
    Open,
}

impl FaultMode {
    fn is_closed(&self) -> bool {
        *self == FaultMode::Closed
    }
}

/// A flow rule: once a call of a source tool reached the server, no call of
/// the refused tools may reach it, and calls of the limited tools only with
/// every destination allowed, for the rest of the session (or `within` a
/// window), counted per session or across an identity's sessions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "FlowFile")]
pub struct Flow {
    pub after: FlowSources,
    #[serde(default, skip_serializing_if = "FlowTargets::is_empty")]
    pub refuse: FlowTargets,
    /// Egress that may still go after the read, to allowed destinations only:
    /// each destination field's allowlist (`tools.T.fields`, `roles.destination`).
    #[serde(default, skip_serializing_if = "FlowTargets::is_empty")]
    pub limit: FlowTargets,
    /// How long the read counts (unset: the rest of the session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Duration>,
    #[serde(default)]
    pub scope: FlowScope,
}

/// A flow as written, before the check that it governs some egress.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowFile {
    after: FlowSources,
    #[serde(default)]
    refuse: FlowTargets,
    #[serde(default)]
    limit: FlowTargets,
    #[serde(default)]
    within: Option<Duration>,
    #[serde(default)]
    scope: FlowScope,
}

impl TryFrom<FlowFile> for Flow {
    type Error = String;

    fn try_from(f: FlowFile) -> Result<Flow, String> {
        if f.refuse.is_empty() && f.limit.is_empty() {
            return Err("a flow governs no egress: give it `refuse: {risk: [...]}` (nothing leaves after the read) or `limit: {risk: [...]}` (only to allowed destinations); `open_world: true` names the tools that reach the outside world".into());
        }
        Ok(Flow { after: f.after, refuse: f.refuse, limit: f.limit, within: f.within, scope: f.scope })
    }
}

/// The calls that open a flow: of tools marked `private`, and of those named.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowSources {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
}

/// The egress a flow refuses: tools of these risk classes, those named, and
/// with `open_world`, those that reach the outside world whatever their class.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowTargets {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risk: Vec<Risk>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    /// Every tool its server marks `openWorldHint: true`: a read such as a
    /// fetch carries data out in its arguments (`fetch(url=…?d=SECRET)`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open_world: bool,
}

impl FlowTargets {
    pub fn is_empty(&self) -> bool {
        self.risk.is_empty() && self.tools.is_empty() && !self.open_world
    }

    fn names(&self, tool: &crate::scenario::lint::ToolInfo) -> bool {
        self.risk.contains(&tool.risk) || self.tools.contains(&tool.name) || (self.open_world && tool.reaches_outside())
    }
}

/// What a flow does to a tool's calls once open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Egress {
    /// None may reach the server.
    Refused,
    /// Only with every destination on its allowlist.
    Limited,
}

/// Where a read counts: in its own session, or in every session of its identity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowScope {
    #[default]
    Session,
    Identity,
}

impl Flow {
    /// Whether a call of `tool` opens this flow.
    pub fn opened_by(&self, tool: &crate::scenario::lint::ToolInfo) -> bool {
        (self.after.private && tool.private) || self.after.tools.contains(&tool.name)
    }

    /// Whether calls of `tool` are refused once the flow is open (never a source's own calls).
    pub fn refuses(&self, tool: &crate::scenario::lint::ToolInfo) -> bool {
        !self.opened_by(tool) && self.refuse.names(tool)
    }

    /// What the open flow does to calls of `tool`; refusing wins over limiting.
    pub fn egress(&self, tool: &crate::scenario::lint::ToolInfo) -> Option<Egress> {
        if self.refuses(tool) {
            Some(Egress::Refused)
        } else if !self.opened_by(tool) && self.limit.names(tool) {
            Some(Egress::Limited)
        } else {
            None
        }
    }
}

/// Which servers' tools are pinned: all, none, or those named.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Pinned {
    All(bool),
    Servers(Vec<String>),
    #[default]
    #[serde(skip)]
    None,
}

impl Pinned {
    fn is_none(&self) -> bool {
        matches!(self, Pinned::None | Pinned::All(false))
    }

    /// Whether the tools of `server` are pinned.
    pub fn covers(&self, server: &str) -> bool {
        match self {
            Pinned::All(all) => *all,
            Pinned::Servers(names) => names.iter().any(|n| n == server),
            Pinned::None => false,
        }
    }
}

/// What may reach one of the surfaces beside tools (resources, prompts).
/// Patterns match the whole URI or prompt name; `*` stands for any text.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurfaceRequirement {
    /// No read or get of a matching item may reach the server.
    #[serde(default)]
    pub denied: Vec<String>,
    /// Matching items must never be listed, and never reach the server.
    #[serde(default)]
    pub hidden: Vec<String>,
    /// At most this many reads (or gets) of any one item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateBound>,
}

impl SurfaceRequirement {
    pub fn is_empty(&self) -> bool {
        self.denied.is_empty() && self.hidden.is_empty() && self.rate.is_none()
    }

    /// Whether the item must never be listed.
    pub fn hides(&self, item: &str) -> bool {
        self.hidden.iter().any(|p| glob(p, item))
    }

    /// What it asks of one item, as a tool requirement would say it.
    pub fn for_item(&self, item: &str) -> Requirement {
        let denied = self.hides(item) || self.denied.iter().any(|p| glob(p, item));
        Requirement { rate: self.rate, denied: denied.then_some(true), ..Default::default() }
    }
}

/// Whether `text` matches `pattern` whole, `*` standing for any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let Some((head, rest)) = pattern.split_once('*') else { return pattern == text };
    let Some(mut left) = text.strip_prefix(head) else { return false };
    let parts: Vec<&str> = rest.split('*').collect();
    let (last, middle) = parts.split_last().expect("split yields at least one part");
    for part in middle {
        match left.find(part) {
            Some(i) => left = &left[i + part.len()..],
            None => return false,
        }
    }
    left.len() >= last.len() && left.ends_with(last)
}

/// `roles:` in gauntlet.yaml: allowlists for every field of a role.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRequirements {
    /// Where every destination field of every tool may point (each key applies to the fields it can read: `domains` to e-mail, `hosts` to URLs, `roots` to paths).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Allow>,
}

impl RoleRequirements {
    fn is_empty(&self) -> bool {
        self.destination.is_none()
    }
}

/// What a requirement says of one field of one tool.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldRule {
    pub path: String,
    pub kind: Kind,
    pub allow: Allow,
    /// Where it was said (`tools.send_email.fields.to`, `roles.destination`).
    pub source: String,
}

fn yes() -> bool {
    true
}

/// The requirements file's name.
pub const FILE_NAME: &str = "gauntlet.yaml";

/// The JSON Schema of `gauntlet.yaml`, as shipped at the repository root.
pub const SCHEMA: &str = include_str!("../../gauntlet.schema.json");

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
        // The catalogue's `max 10 / minute` for execute tools counts per
        // calendar minute, as its hosted limits do: a limit of 10/minute keeps
        // it, about one action every 6 s, the pace of an agent driving a
        // browser one model turn at a time (a sliding bound of 10 halves to
        // 5/minute in calendar windows).
        risk.insert(
            Risk::Execute,
            Requirement { rate: Some(RateBound { count: 10, window: minute, calendar: true }), ..Default::default() },
        );
        risk.insert(Risk::Destructive, Requirement { denied: Some(true), ..Default::default() });
        risk.insert(Risk::Credential, Requirement { denied: Some(true), ..Default::default() });
        risk.insert(
            Risk::Financial,
            Requirement {
                rate: Some(RateBound { count: 10, window: minute, calendar: false }),
                max_amount_per_call: Some(Money { amount: 50_000.0, unit: Unit::Minor }),
                max_amount_per_window: Some(AmountWindow { amount: 200_000.0, window: Duration::from_secs(86_400), unit: None }),
                ..Default::default()
            },
        );
        Requirements {
            policies: Vec::new(),
            servers: Vec::new(),
            risk,
            tools: BTreeMap::new(),
            roles: RoleRequirements::default(),
            schema_validation: true,
            max_argument_bytes: DEFAULT_MAX_ARGUMENT_BYTES,
            pinned: Pinned::None,
            flows: Vec::new(),
            resources: SurfaceRequirement::default(),
            prompts: SurfaceRequirement::default(),
            declared_caps: BTreeSet::new(),
            fault_mode: FaultMode::Closed,
        }
    }

    /// The `gauntlet.yaml` that governs files in `dir`: in `dir` or the
    /// nearest directory above it, stopping at the repository root (the
    /// first directory holding `.git`).
    pub fn find(dir: &Path) -> Option<PathBuf> {
        let start = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let abs = std::path::absolute(start).ok()?;
        for d in abs.ancestors() {
            let file = d.join(FILE_NAME);
            if file.is_file() {
                // Shown as the user would write it: relative to the working directory when below it.
                let cwd = std::env::current_dir().ok();
                let shown = cwd.and_then(|c| file.strip_prefix(&c).ok().map(Path::to_path_buf)).unwrap_or(file);
                return Some(shown);
            }
            if d.join(".git").exists() {
                return None;
            }
        }
        None
    }

    /// The baseline with `file` laid over it.
    pub fn load(file: &Path) -> Result<Requirements, String> {
        let text = crate::yaml::read_file(file).map_err(|e| match e {
            crate::yaml::ReadError::Input(l) => format!("{}:{}:{}: {l}\n  help: {}", file.display(), l.line, l.column, l.help()),
            crate::yaml::ReadError::Io(e) => format!("{}: cannot read the requirements file: {e}", file.display()),
        })?;
        let over = Requirements::parse(&text).map_err(|e| format!("{}:{e}", file.display()))?;
        Ok(Requirements::baseline().overlaid(over))
    }

    /// The requirements for `policy`: `explicit` (`--requirements FILE`) if
    /// given, else the `gauntlet.yaml` [`find`](Self::find) finds from the
    /// policy's directory, else the baseline. Also returns the file used.
    pub fn for_policy(policy: &Path, explicit: Option<&Path>) -> Result<(Requirements, Option<PathBuf>), String> {
        let file = match explicit {
            Some(f) => Some(f.to_path_buf()),
            None => Requirements::find(policy.parent().unwrap_or(Path::new("."))),
        };
        match file {
            Some(f) => Ok((Requirements::load(&f)?, Some(f))),
            None => Ok((Requirements::baseline(), None)),
        }
    }

    /// `servers:` as `--server` arguments: a file relative to `file`'s
    /// directory when there is one, else the name as written (a bundled server).
    pub fn servers_from(&self, file: &Path) -> Vec<PathBuf> {
        let dir = file.parent().unwrap_or(Path::new(""));
        self.servers.iter().map(|s| if dir.join(s).is_file() { dir.join(s) } else { s.clone() }).collect()
    }

    /// `policies:`, relative to `file`'s directory.
    pub fn policies_from(&self, file: &Path) -> Vec<PathBuf> {
        let dir = file.parent().unwrap_or(Path::new(""));
        self.policies.iter().map(|p| dir.join(p)).collect()
    }

    /// The baseline with a `gauntlet.yaml`'s text laid over it (as [`load`](Self::load) reads a file).
    pub fn over_baseline(text: &str) -> Result<Requirements, String> {
        Ok(Requirements::baseline().overlaid(Requirements::parse(text)?))
    }

    /// Parses a `gauntlet.yaml`; errors read `line:column: message`.
    pub fn parse(text: &str) -> Result<Requirements, String> {
        crate::yaml::check(text).map_err(|l| format!("{}:{}: {l}\n  help: {}", l.line, l.column, l.help()))?;
        serde_yaml::from_str(text).map_err(|e| {
            let (l, c) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
            let msg = e.to_string();
            let msg = msg.rsplit_once(" at line ").map(|(m, _)| m.to_string()).unwrap_or(msg);
            format!("{l}:{c}: {msg}")
        })
    }

    fn overlaid(mut self, over: Requirements) -> Requirements {
        self.policies = over.policies;
        self.servers = over.servers;
        for (risk, req) in &over.risk {
            if req.max_amount_per_call.is_some() || req.max_amount_per_window.is_some() {
                self.declared_caps.insert(format!("risk.{risk}"));
            }
        }
        for (tool, req) in &over.tools {
            if req.max_amount_per_call.is_some() || req.max_amount_per_window.is_some() {
                self.declared_caps.insert(format!("tools.{tool}"));
            }
        }
        for (risk, req) in over.risk {
            let base = self.risk.remove(&risk).unwrap_or_default();
            self.risk.insert(risk, req.over(&base));
        }
        self.tools.extend(over.tools);
        self.roles = over.roles;
        self.schema_validation = over.schema_validation;
        self.max_argument_bytes = over.max_argument_bytes;
        self.pinned = over.pinned;
        self.flows = over.flows;
        self.resources = over.resources;
        self.prompts = over.prompts;
        self.fault_mode = over.fault_mode;
        self
    }

    /// The first flow that refuses calls of `tool` once open.
    pub fn flow_refusing(&self, tool: &crate::scenario::lint::ToolInfo) -> Option<&Flow> {
        self.flows.iter().find(|f| tool.surface == Surface::Tool && f.refuses(tool))
    }

    /// The first flow that refuses calls of `tool` once open, else the first that limits them.
    pub fn flow_over(&self, tool: &crate::scenario::lint::ToolInfo) -> Option<(&Flow, Egress)> {
        if tool.surface != Surface::Tool {
            return None;
        }
        let by = |want: Egress| self.flows.iter().find_map(|f| f.egress(tool).filter(|e| *e == want).map(|e| (f, e)));
        by(Egress::Refused).or_else(|| by(Egress::Limited))
    }

    /// Whether a tool's definition is pinned (its own entry, its class, or its server).
    pub fn pins(&self, item: &crate::scenario::lint::ToolInfo) -> bool {
        item.surface == Surface::Tool && (self.for_item(item).pinned == Some(true) || self.pinned.covers(&item.server))
    }

    /// The requirement on one surface.
    pub fn surface(&self, surface: Surface) -> Option<&SurfaceRequirement> {
        match surface {
            Surface::Tool => None,
            Surface::Resource => Some(&self.resources),
            Surface::Prompt => Some(&self.prompts),
        }
    }

    /// The requirement for one item of any surface (a tool by its name and risk class).
    pub fn for_item(&self, item: &crate::scenario::lint::ToolInfo) -> Requirement {
        match self.surface(item.surface) {
            Some(s) => s.for_item(&item.name),
            None => self.for_tool(&item.name, item.risk),
        }
    }

    /// The requirement for one tool: its own entry over its risk category's.
    pub fn for_tool(&self, tool: &str, risk: Risk) -> Requirement {
        let by_risk = self.risk.get(&risk).cloned().unwrap_or_default();
        match self.tools.get(tool) {
            Some(own) => own.over(&by_risk),
            None => by_risk,
        }
    }

    /// Whether a file set the amount caps that apply to `tool` (else they are the baseline's).
    pub fn caps_declared(&self, tool: &str, risk: Risk) -> bool {
        self.declared_caps.contains(&format!("tools.{tool}")) || self.declared_caps.contains(&format!("risk.{risk}"))
    }

    /// What the requirements say of `tool`'s fields: each field named under
    /// `fields`, then each destination field `roles.destination` can read.
    /// A destination field neither names is left out (the verdict then
    /// assumes the legitimate call's own destination).
    pub fn fields_for(&self, tool: &ToolInfo) -> Vec<FieldRule> {
        let req = self.for_tool(&tool.name, tool.risk);
        let mut out = Vec::new();
        for (path, allow) in &req.fields {
            let kind = tool.role_of(path).and_then(|r| r.kind).unwrap_or_else(|| kind_of(allow));
            let source = if self.tools.get(&tool.name).is_some_and(|t| t.fields.contains_key(path)) {
                format!("tools.{}.fields.{path}", tool.name)
            } else {
                format!("risk.{}.fields.{path}", tool.risk)
            };
            out.push(FieldRule { path: path.clone(), kind, allow: allow.clone(), source });
        }
        if let Some(by_role) = &self.roles.destination {
            for (path, role) in &tool.roles {
                let Some(kind) = role.kind.filter(|_| role.role == Role::Destination) else { continue };
                if req.fields.contains_key(path) || !by_role.constrains(kind) {
                    continue;
                }
                let list = schema_at(&tool.input_schema, path).is_some_and(|s| s["type"] == "array") || path.contains("[]");
                let optional = !crate::mock::roles::required(&tool.input_schema, path);
                let allow = Allow { each: list, optional: optional || by_role.optional, ..by_role.clone() };
                out.push(FieldRule { path: path.clone(), kind, allow, source: "roles.destination".into() });
            }
        }
        out
    }

    /// [`Requirements::check_fields`] as one error naming the file (`Err`),
    /// each problem at the line and column of the key it is about, after the
    /// warnings about caps that would be read in the wrong unit (printed on stderr).
    pub fn check_against(&self, catalogue: &[ToolInfo], file: Option<&Path>) -> Result<(), String> {
        for w in self.unit_warnings(catalogue) {
            eprintln!("{}", crate::wording::wrap(&format!("warning: {w}"), 100, 0, 2).join("\n  "));
        }
        let problems = self.field_problems(catalogue);
        if problems.is_empty() {
            return Ok(());
        }
        let name = file.map_or("the requirements".to_string(), |f| f.display().to_string());
        let tree = file.and_then(|f| crate::yaml::read_file(f).ok()).and_then(|t| crate::yaml::parse(&t).ok().flatten());
        let lines: Vec<String> = problems
            .iter()
            .map(|(keys, message)| match tree.as_ref().and_then(|t| position_of(t, keys)) {
                Some((line, column)) => format!("{name}:{line}:{column}: {message}"),
                None => format!("{name}: {message}"),
            })
            .collect();
        Err(format!("{}\n  help: name fields as the servers' inputSchema does; a list field takes `each: true`", lines.join("\n")))
    }

    /// Financial tools whose amount is in currency units but whose caps come
    /// from the baseline (written in cents): the caps are converted, and the
    /// user is told to declare their own. Tools converted alike share one
    /// warning (a banking server's three payment tools, one paragraph).
    pub fn unit_warnings(&self, catalogue: &[ToolInfo]) -> Vec<String> {
        // (amount field, converted caps) → the tools held to them.
        let mut alike: Vec<((String, String), Vec<&str>)> = Vec::new();
        for t in catalogue.iter().filter(|t| t.risk == Risk::Financial && !self.caps_declared(&t.name, t.risk)) {
            let Some((path, role)) = t.fields_with(Role::Amount).find(|(_, r)| r.unit == Some(Unit::Major)) else { continue };
            let req = self.for_tool(&t.name, t.risk);
            let per_call = req.per_call_in(Some(role)).map(|c| format!("{c:.2} per call")).unwrap_or_default();
            let per_window = req.max_amount_per_window.map(|w| format!(", {:.2} per {}", w.money().in_field(Some(role)), w.window)).unwrap_or_default();
            let caps = (path.to_string(), format!("{per_call}{per_window}"));
            match alike.iter_mut().find(|(c, _)| *c == caps) {
                Some((_, names)) => names.push(&t.name),
                None => alike.push((caps, vec![&t.name])),
            }
        }
        alike
            .into_iter()
            .map(|((path, caps), names)| {
                let (what, verb, their) = if names.len() == 1 { ("tool", "takes", "its") } else { ("tools", "take", "their") };
                let listed: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                format!(
                    "financial {what} {} {verb} `{path}` in currency units, and no gauntlet.yaml sets {their} caps: the baseline's (in cents) apply converted, {caps}; declare yours, e.g. `tools: {{{}: {{max_amount_per_call: {{amount: 500, unit: major}}}}}}`",
                    listed.join(", "),
                    names[0]
                )
            })
            .collect()
    }

    /// What the requirements name that `catalogue` does not have, or say of
    /// a field in a way its schema does not allow: one message per problem.
    pub fn check_fields(&self, catalogue: &[ToolInfo]) -> Vec<String> {
        self.field_problems(catalogue).into_iter().map(|(_, message)| message).collect()
    }

    /// [`Requirements::check_fields`], each message with the keys of the
    /// `gauntlet.yaml` node it is about (to place it at a line).
    fn field_problems(&self, catalogue: &[ToolInfo]) -> Vec<(Vec<String>, String)> {
        let mut problems = Vec::new();
        if let Some(d) = &self.roles.destination {
            if let Err(e) = d.check() {
                problems.push((vec!["roles".into(), "destination".into()], format!("roles.destination: {e}")));
            }
        }
        let mut named: Vec<([String; 2], &Requirement, Vec<&ToolInfo>)> = Vec::new();
        for (name, req) in &self.tools {
            named.push((["tools".into(), name.clone()], req, catalogue.iter().filter(|t| &t.name == name).collect()));
        }
        for (risk, req) in &self.risk {
            named.push((["risk".into(), risk.to_string()], req, catalogue.iter().filter(|t| t.risk == *risk).collect()));
        }
        let fields_of = |t: &ToolInfo| t.input_schema["properties"].as_object().map(|m| m.keys().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default();
        for (key, req, tools) in named {
            let at = key.join(".");
            let keys = |rest: &[&str]| key.iter().cloned().chain(rest.iter().map(|s| s.to_string())).collect::<Vec<_>>();
            for (path, allow) in &req.fields {
                if let Err(e) = allow.check() {
                    problems.push((keys(&["fields", path]), format!("{at}.fields.{path}: {e}")));
                }
                for t in &tools {
                    match schema_at(&t.input_schema, path) {
                        None => problems.push((
                            keys(&["fields", path]),
                            format!("{at}.fields.{path}: tool `{}` has no field `{path}` (its fields: {})", t.name, fields_of(t)),
                        )),
                        Some(s) if (s["type"] == "array" || path.contains("[]")) && !allow.each => problems.push((
                            keys(&["fields", path]),
                            format!("{at}.fields.{path}: `{path}` of `{}` is a list: add `each: true` (every element must be allowed)", t.name),
                        )),
                        _ => {}
                    }
                }
            }
            // A workload field no tool here has would be silently ignored: the twin
            // then sends no such size or field, and over-blocking goes unseen.
            let Some(w) = &req.workload else { continue };
            let declared = w.sizes.keys().map(|f| ("sizes", f)).chain(w.optional.iter().flatten().map(|f| ("optional", f)));
            for (part, field) in declared {
                if tools.is_empty() || tools.iter().any(|t| schema_at(&t.input_schema, field).is_some()) {
                    continue;
                }
                let which = match tools.as_slice() {
                    [t] => format!("tool `{}` has no field `{field}` (its fields: {})", t.name, fields_of(t)),
                    _ => format!("no {} tool has a field `{field}`", key[1]),
                };
                problems.push((keys(&["workload", part, field]), format!("{at}.workload.{part}: {which}")));
            }
        }
        problems
    }
}

/// Where the node at `keys` (mapping keys, then a sequence item's text)
/// starts in a parsed `gauntlet.yaml`: the line and column of its key.
fn position_of(root: &crate::yaml::Node, keys: &[String]) -> Option<(u32, u32)> {
    use crate::yaml::Kind;
    let text = |n: &crate::yaml::Node| match &n.kind {
        Kind::Scalar { text, .. } => Some(text.clone()),
        _ => None,
    };
    let mut node = root;
    let mut at = (root.line, root.column);
    for key in keys {
        node = match &node.kind {
            Kind::Map(entries) => {
                let (k, v) = entries.iter().find(|(k, _)| text(k).as_deref() == Some(key.as_str()))?;
                at = (k.line, k.column);
                v
            }
            Kind::Seq(items) => {
                let item = items.iter().find(|i| text(i).as_deref() == Some(key.as_str()))?;
                at = (item.line, item.column);
                item
            }
            Kind::Scalar { .. } => return None,
        };
    }
    Some(at)
}

/// The kind an allowlist can only mean, for a field with no destination role.
fn kind_of(allow: &Allow) -> Kind {
    if !allow.domains.is_empty() {
        Kind::Email
    } else if !allow.schemes.is_empty() || !allow.ports.is_empty() {
        Kind::Url
    } else if !allow.hosts.is_empty() {
        Kind::Host
    } else if !allow.roots.is_empty() {
        Kind::Path
    } else {
        Kind::Id
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
            "risk:\n  write: {rate: {count: 5, window: 1m, calendar: true}}\n  credential: {denied: true}\ntools:\n  create_charge: {max_amount_per_call: 100}\n",
        )
        .unwrap();
        let r = Requirements::baseline().overlaid(over);
        assert_eq!(r.for_tool("x", Risk::Write).rate.map(|b| (b.count, b.calendar)), Some((5, true)));
        let charge = r.for_tool("create_charge", Risk::Financial);
        assert_eq!(charge.max_amount_per_call.map(|m| m.amount), Some(100.0));
        assert_eq!(charge.max_amount_per_window.map(|w| w.amount), Some(200_000.0));
    }

    #[test]
    fn surface_patterns_match_whole_names_with_stars() {
        assert!(glob("file:///etc/*", "file:///etc/passwd"));
        assert!(glob("file:///etc/*", "file:///etc/ssh/keys"));
        assert!(!glob("file:///etc/*", "file:///etcetera"));
        assert!(glob("*debug*", "a-debug-b") && glob("debug-*", "debug-"));
        assert!(!glob("a*b*c", "a-c-b") && glob("a*b*c", "a-b-c"));
        let r = Requirements::parse("resources: {denied: [\"file:///etc/*\"], hidden: [\"secret://*\"], rate: {count: 5, window: 1m}}\n").unwrap();
        let r = Requirements::baseline().overlaid(r);
        assert!(r.resources.for_item("file:///etc/passwd").is_denied());
        assert!(r.resources.for_item("secret://k").is_denied() && r.resources.hides("secret://k"));
        assert!(!r.resources.for_item("notes://a").is_denied());
        assert_eq!(r.resources.for_item("notes://a").rate.map(|b| b.count), Some(5));
        assert!(r.prompts.is_empty());
    }

    #[test]
    fn caps_carry_their_unit_into_the_fields_unit() {
        let r = Requirements::parse("tools:\n  a: {max_amount_per_call: {amount: 500, unit: major}}\n  b: {max_amount_per_call: 50000}\n").unwrap();
        let major = FieldRole::amount(Unit::Major, 2);
        let minor = FieldRole::amount(Unit::Minor, 2);
        let a = r.tools["a"].max_amount_per_call.unwrap();
        let b = r.tools["b"].max_amount_per_call.unwrap();
        assert_eq!((a.in_field(Some(&major)), a.in_field(Some(&minor)), a.in_field(None)), (500.0, 50_000.0, 50_000.0));
        assert_eq!((b.in_field(Some(&major)), b.in_field(Some(&minor))), (500.0, 50_000.0));
        let yen = FieldRole::amount(Unit::Major, 0);
        assert_eq!(a.in_field(Some(&yen)), 500.0);
        assert_eq!(serde_json::to_value(a).unwrap(), serde_json::json!({"amount": 500.0, "unit": "major"}));
        let full = Requirements::baseline().overlaid(r);
        assert!(full.caps_declared("a", Risk::Financial) && !full.caps_declared("c", Risk::Financial));
    }

    #[test]
    fn unknown_keys_in_gauntlet_yaml_are_positioned_errors() {
        let e = Requirements::parse("risk:\n  write: {rat: 1}\n").unwrap_err();
        assert!(e.starts_with("2:"), "{e}");
        assert!(e.contains("unknown field `rat`"), "{e}");
    }

    fn schema() -> serde_json::Value {
        serde_json::from_str(SCHEMA).unwrap()
    }

    fn schema_keys(node: &serde_json::Value) -> std::collections::BTreeSet<String> {
        node["properties"].as_object().unwrap().keys().cloned().collect()
    }

    fn rust_keys<T: Serialize>(value: &T) -> std::collections::BTreeSet<String> {
        serde_json::to_value(value).unwrap().as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn schema_property_names_match_the_rust_types() {
        let s = schema();
        let rate = RateBound { count: 1, window: Duration::from_secs(1), calendar: true };
        let window = AmountWindow { amount: 1.0, window: Duration::from_secs(1), unit: Some(Unit::Major) };
        let wrate = WorkloadRate { count: 4, window: Duration::from_secs(60) };
        let workload = Workload { rate: Some(wrate), sizes: [("message".to_string(), 1500)].into(), optional: Some(vec!["x".into()]) };
        let every = Requirement {
            rate: Some(rate),
            denied: Some(true),
            max_amount_per_call: Some(Money { amount: 1.0, unit: Unit::Minor }),
            max_amount_per_window: Some(window),
            workload: Some(workload.clone()),
            fields: [("to".to_string(), Allow::default())].into(),
            forbidden: vec!["bcc".into()],
            pinned: Some(true),
            max_calls_per_session: Some(5),
        };
        let mut every_key = Requirements::baseline();
        every_key.resources.denied.push("x".into());
        every_key.pinned = Pinned::All(true);
        every_key.flows.push(Flow {
            after: FlowSources { private: true, tools: vec!["x".into()] },
            refuse: FlowTargets { risk: vec![Risk::Write], tools: vec!["y".into()], open_world: true },
            limit: FlowTargets { risk: vec![Risk::Financial], tools: vec![], open_world: false },
            within: Some(Duration::from_secs(60)),
            scope: FlowScope::Identity,
        });
        every_key.prompts.rate = Some(rate);
        every_key.roles.destination = Some(Allow::default());
        every_key.fault_mode = FaultMode::Open;
        assert_eq!(schema_keys(&s), rust_keys(&every_key));
        assert_eq!(schema_keys(&s["properties"]["roles"]), rust_keys(&every_key.roles));
        let allow = Allow {
            values: vec!["x".into()],
            domains: vec!["x".into()],
            schemes: vec!["x".into()],
            hosts: vec!["x".into()],
            ports: vec![1],
            roots: vec!["/".into()],
            pattern: Some("x".into()),
            each: true,
            optional: true,
        };
        assert_eq!(schema_keys(&s["$defs"]["allow"]), rust_keys(&allow));
        let surface = SurfaceRequirement { denied: vec![], hidden: vec![], rate: Some(rate) };
        assert_eq!(schema_keys(&s["$defs"]["surface"]), rust_keys(&surface));
        let req = &s["$defs"]["requirement"];
        assert_eq!(schema_keys(req), rust_keys(&every));
        assert_eq!(schema_keys(&req["properties"]["rate"]), rust_keys(&rate));
        assert_eq!(schema_keys(&req["properties"]["max_amount_per_window"]), rust_keys(&window));
        assert_eq!(schema_keys(&req["properties"]["workload"]), rust_keys(&workload));
        assert_eq!(schema_keys(&req["properties"]["workload"]["properties"]["rate"]), rust_keys(&wrate));
        let risks: std::collections::BTreeSet<String> =
            s["properties"]["risk"]["propertyNames"]["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        assert_eq!(risks, Risk::ALL.iter().map(|r| r.as_str().to_string()).collect());
    }

    #[test]
    fn schema_and_types_agree_on_valid_and_invalid_files() {
        let validator = jsonschema::validator_for(&schema()).unwrap();
        let valid = "policies: [p.yaml]\nservers: [aksjah]\nrisk:\n  write: {rate: {count: 5, window: 1m, calendar: true}}\ntools:\n  create_charge: {max_amount_per_call: 100, max_amount_per_window: {amount: 500, window: 1d}, denied: false}\n  git_commit: {workload: {rate: {count: 6, window: 1m}, sizes: {message: 1500}, optional: [amend]}}\n  send_money: {max_amount_per_call: {amount: 500, unit: major}, max_amount_per_window: {amount: 2000, unit: major, window: 1d}, fields: {recipient: {values: [DE89370400440532013000]}}}\n  send_email: {fields: {to: {domains: [acme.com], each: true}, cc: {domains: [acme.com], each: true, optional: true}}, forbidden: [bcc]}\nschema_validation: false\nmax_argument_bytes: 1024\nresources: {denied: ['file:///etc/*'], hidden: [], rate: {count: 1, window: 1s}}\nprompts: {hidden: ['debug-*']}\npinned: [workspace]\nflows:\n  - {after: {private: true}, refuse: {risk: [write]}, within: 1h, scope: identity}\n  - {after: {tools: [read_inbox]}, limit: {tools: [send_email]}}\nroles:\n  destination: {domains: [acme.com], schemes: [https], hosts: [api.acme.com], ports: [443], roots: [/srv/share], pattern: 'C[0-9]+'}\n";
        let invalid = [
            "risk:\n  write: {rate: {count: 5, window: 1m, calender: true}}\n",
            "tools:\n  x: {rate_limt: 5}\n",
            "risk:\n  writes: {denied: true}\n",
            "polices: [p.yaml]\n",
            "resources: {deny: ['x']}\n",
            "prompts: {denied: 'x'}\n",
            "roles:\n  credential: {values: [x]}\n",
            "tools:\n  x: {fields: {to: {domain: [acme.com]}}}\n",
            "tools:\n  x: {max_amount_per_call: {amount: 5, unit: cents}}\n",
            "tools:\n  x: {max_amount_per_window: {amount: 5, window: 1d, unit: euros}}\n",
            "pinned: yes\n",
            "flows:\n  - {after: {private: true}, refuse: {risk: [write]}, scope: forever}\n",
            "flows:\n  - {after: private, refuse: {risk: [write]}}\n",
            "flows:\n  - {after: {private: true}, within: 1h}\n",
            "flows:\n  - {after: {private: true}, limit: {risk: [write]}, allow: {domains: [acme.com]}}\n",
        ];
        for (text, ok) in std::iter::once((valid, true)).chain(invalid.iter().map(|t| (*t, false))) {
            let doc: serde_json::Value = serde_yaml::from_str(text).unwrap();
            assert_eq!(validator.is_valid(&doc), ok, "schema on {text}");
            assert_eq!(Requirements::parse(text).is_ok(), ok, "types on {text}");
        }
    }

    #[test]
    fn gauntlet_yaml_is_found_beside_the_policy_or_above_it() {
        let root = tempfile::TempDir::new().unwrap();
        let deep = root.path().join("policies/team");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("p.yaml"), "").unwrap();
        assert_eq!(Requirements::for_policy(&deep.join("p.yaml"), None).unwrap().1, None);
        std::fs::write(root.path().join(FILE_NAME), "tools: {x: {denied: true}}\nservers: [aksjah]\n").unwrap();
        let (r, file) = Requirements::for_policy(&deep.join("p.yaml"), None).unwrap();
        assert_eq!(file.as_deref().map(std::path::absolute).and_then(Result::ok), Some(root.path().join(FILE_NAME)));
        assert!(r.for_tool("x", Risk::Read).is_denied());
        assert_eq!(r.servers_from(&root.path().join(FILE_NAME)), [PathBuf::from("aksjah")]);
        // A nearer file wins; --requirements wins over both.
        std::fs::write(deep.join(FILE_NAME), "{}\n").unwrap();
        let (r, _) = Requirements::for_policy(&deep.join("p.yaml"), None).unwrap();
        assert!(!r.for_tool("x", Risk::Read).is_denied());
        let (r, _) = Requirements::for_policy(&deep.join("p.yaml"), Some(&root.path().join(FILE_NAME))).unwrap();
        assert!(r.for_tool("x", Risk::Read).is_denied());
        // The search stops at the repository root.
        std::fs::remove_file(deep.join(FILE_NAME)).unwrap();
        std::fs::create_dir(root.path().join("policies/.git")).unwrap();
        assert_eq!(Requirements::for_policy(&deep.join("p.yaml"), None).unwrap().1, None);
    }

    #[test]
    fn a_workload_field_the_tool_lacks_is_an_error_at_its_line() {
        let tool = |name: &str, risk: Risk| ToolInfo {
            server: "git".into(),
            name: name.into(),
            risk,
            input_schema: serde_json::json!({"type": "object", "properties": {"repo_path": {"type": "string"}, "message": {"type": "string"}}}).into(),
            surface: Default::default(),
            roles: Vec::new(),
            definition: serde_json::Value::Null,
            private: false,
        };
        let catalogue = [tool("git_commit", Risk::Write), tool("git_log", Risk::Read)];
        let dir = tempfile::TempDir::new().unwrap();
        let file = dir.path().join(FILE_NAME);
        let check = |text: &str| {
            std::fs::write(&file, text).unwrap();
            Requirements::load(&file).unwrap().check_against(&catalogue, Some(&file))
        };
        // Declared as the schema names them: accepted, as is a tool no server in play has.
        assert_eq!(check("tools:\n  git_commit:\n    workload: {sizes: {message: 1500}, optional: [repo_path]}\n  send_email: {workload: {sizes: {body: 9}}}\n"), Ok(()));
        assert_eq!(check("risk:\n  write: {workload: {sizes: {message: 1500}}}\n"), Ok(()));
        // A typo'd size or optional field, or one no tool of the class has: an error at its key.
        let e = check("tools:\n  git_commit:\n    workload:\n      sizes: {mesage: 1500}\n      optional: [repo_path, amend]\n").unwrap_err();
        let at = file.display();
        assert!(e.contains(&format!("{at}:4:15: tools.git_commit.workload.sizes: tool `git_commit` has no field `mesage` (its fields: message, repo_path)")), "{e}");
        assert!(e.contains(&format!("{at}:5:29: tools.git_commit.workload.optional: tool `git_commit` has no field `amend`")), "{e}");
        let e = check("risk:\n  read:\n    workload: {optional: [max_count]}\n").unwrap_err();
        assert!(e.contains(&format!("{at}:3:27: risk.read.workload.optional: tool `git_log` has no field `max_count`")), "{e}");
        // An allowlist's field is placed the same way.
        let e = check("tools:\n  git_commit:\n    fields:\n      to: {domains: [acme.com]}\n").unwrap_err();
        assert!(e.contains(&format!("{at}:4:7: tools.git_commit.fields.to: tool `git_commit` has no field `to`")), "{e}");
    }
}
