//! The scenario file format: what an attack does and what must hold afterwards.
//!
//! Every struct denies unknown keys, so a misspelt key is an error with a
//! position instead of a silently ignored line. Expectations are measured on
//! the mock server's ledger, never on the proxy's own opinion.

use serde::{Deserialize, Serialize};

use super::duration::Duration;
use crate::mcp::stdio::LineEnds;

/// Risk categories are the mock servers' own (read, write, execute, financial, destructive, credential).
pub use crate::mock::Risk;
/// What a scenario's requests reach: tools (default), resources or prompts.
pub use crate::mock::Surface;
/// Field roles are the mock servers' own (destination, credential, amount, content).
pub use crate::mock::roles::Role;

/// The attack family a scenario belongs to (groups JUnit suites and reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttackClass {
    BulkWrites,
    RunawayExecution,
    ReadRetryLoop,
    MalformedArguments,
    TypeConfusion,
    OversizedPayload,
    InjectionStrings,
    WindowEdge,
    SpendCap,
    SpendSplit,
    NegativeAmount,
    ConcurrencyRace,
    SessionReset,
    IdentitySwitch,
    ToolNameVariant,
    DestructiveCall,
    HiddenTool,
    UnlistedTool,
    RetryStorm,
    RollbackAbuse,
    RugPull,
    WireTypeError,
    WireCaseVariantKeys,
    WireBatch,
    WireFraming,
    ReplicaSpread,
    ResourceSideDoor,
    PromptSideDoor,
    ForeignDestination,
    CredentialChange,
    DefinitionChange,
    DataFlow,
    StoreFailure,
    PolicyReload,
    ProxyRestart,
    UpstreamFailure,
    MissingKey,
}

impl AttackClass {
    pub fn as_str(self) -> &'static str {
        match self {
            AttackClass::BulkWrites => "bulk-writes",
            AttackClass::RunawayExecution => "runaway-execution",
            AttackClass::ReadRetryLoop => "read-retry-loop",
            AttackClass::MalformedArguments => "malformed-arguments",
            AttackClass::TypeConfusion => "type-confusion",
            AttackClass::OversizedPayload => "oversized-payload",
            AttackClass::InjectionStrings => "injection-strings",
            AttackClass::WindowEdge => "window-edge",
            AttackClass::SpendCap => "spend-cap",
            AttackClass::SpendSplit => "spend-split",
            AttackClass::NegativeAmount => "negative-amount",
            AttackClass::ConcurrencyRace => "concurrency-race",
            AttackClass::SessionReset => "session-reset",
            AttackClass::IdentitySwitch => "identity-switch",
            AttackClass::ToolNameVariant => "tool-name-variant",
            AttackClass::DestructiveCall => "destructive-call",
            AttackClass::HiddenTool => "hidden-tool",
            AttackClass::UnlistedTool => "unlisted-tool",
            AttackClass::RetryStorm => "retry-storm",
            AttackClass::RollbackAbuse => "rollback-abuse",
            AttackClass::RugPull => "rug-pull",
            AttackClass::WireTypeError => "wire-type-error",
            AttackClass::WireCaseVariantKeys => "wire-case-variant-keys",
            AttackClass::WireBatch => "wire-batch",
            AttackClass::WireFraming => "wire-framing",
            AttackClass::ReplicaSpread => "replica-spread",
            AttackClass::DefinitionChange => "definition-change",
            AttackClass::DataFlow => "data-flow",
            AttackClass::ResourceSideDoor => "resource-side-door",
            AttackClass::PromptSideDoor => "prompt-side-door",
            AttackClass::ForeignDestination => "foreign-destination",
            AttackClass::CredentialChange => "credential-change",
            AttackClass::StoreFailure => "store-failure",
            AttackClass::PolicyReload => "policy-reload",
            AttackClass::ProxyRestart => "proxy-restart",
            AttackClass::UpstreamFailure => "upstream-failure",
            AttackClass::MissingKey => "missing-key",
        }
    }
}

/// Who can stop the attack: the policy author, or only the proxy implementation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    /// A breach means the policy could have stopped it (a missing limit, a loose condition).
    #[default]
    Policy,
    /// A breach means no policy can stop it on this proxy (Intercept's wire gaps).
    Proxy,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    pub class: AttackClass,
    #[serde(default)]
    pub layer: Layer,
    /// Catalogue ids (`bulk-write`, `window-edge-burst`, …).
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default)]
    pub description: String,
    pub targets: Targets,
    pub agent: Behaviour,
    /// Per-run changes to the mock server (how a lenient or failing upstream behaves).
    #[serde(default)]
    pub upstream: Option<Upstream>,
    /// The legitimate workload that must still pass, so blocking everything is over-blocking.
    #[serde(default)]
    pub twin: Option<Twin>,
    /// What fails under the agent, and when: the gate itself (state store,
    /// policy file, the proxy process, the upstream, a key attribute).
    #[serde(default)]
    pub faults: Vec<Fault>,
    pub expect: Expect,
}

/// One fault on the run's schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub kind: FaultKind,
    /// Offset from the start of the run.
    #[serde(default)]
    pub at: Duration,
    /// How long it lasts (faults that are an interval: `store-*`,
    /// `upstream-stall`, `missing-*`); instant faults take none.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub lasting: Option<Duration>,
}

/// What fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// Every state-store operation errors (Redis down, a locked SQLite file).
    StoreError,
    /// State-store operations hang (Redis SIGSTOPped): the proxy's own timeout decides.
    StoreHang,
    /// The policy file is rewritten to deny the target outright.
    PolicyTightened,
    /// The policy file is rewritten as text that does not load.
    PolicyBroken,
    /// The policy file is rewritten in two writes a second apart; the first
    /// (left open) stops right after the target's `rules:` key: it names the
    /// target with no rules.
    PolicyHalfWritten,
    /// The proxy is killed and started again; the agent reconnects.
    ProxyRestart,
    /// The upstream answers nothing until the interval ends.
    UpstreamStall,
    /// The upstream exits.
    UpstreamDie,
    /// Calls arrive without an identity (the attribute a per-identity quota is keyed on).
    MissingIdentity,
    /// Calls arrive without a session (the attribute a per-session quota is keyed on).
    MissingSession,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::StoreError => "store-error",
            FaultKind::StoreHang => "store-hang",
            FaultKind::PolicyTightened => "policy-tightened",
            FaultKind::PolicyBroken => "policy-broken",
            FaultKind::PolicyHalfWritten => "policy-half-written",
            FaultKind::ProxyRestart => "proxy-restart",
            FaultKind::UpstreamStall => "upstream-stall",
            FaultKind::UpstreamDie => "upstream-die",
            FaultKind::MissingIdentity => "missing-identity",
            FaultKind::MissingSession => "missing-session",
        }
    }

    /// Whether the fault lasts an interval (`for:`) rather than happening once.
    pub fn is_interval(self) -> bool {
        matches!(
            self,
            FaultKind::StoreError | FaultKind::StoreHang | FaultKind::UpstreamStall | FaultKind::MissingIdentity | FaultKind::MissingSession
        )
    }

    /// While it lasts, in words (`while the state store was down`).
    pub fn while_words(self) -> &'static str {
        match self {
            FaultKind::StoreError => "while the state store failed",
            FaultKind::StoreHang => "while the state store hung",
            FaultKind::PolicyTightened => "after the policy denying it was written",
            FaultKind::PolicyBroken => "after the policy file was broken",
            FaultKind::PolicyHalfWritten => "while the policy file was half written",
            FaultKind::ProxyRestart => "after the proxy restarted",
            FaultKind::UpstreamStall => "while the upstream stalled",
            FaultKind::UpstreamDie => "after the upstream died",
            FaultKind::MissingIdentity => "while calls carried no identity",
            FaultKind::MissingSession => "while calls carried no session",
        }
    }
}

/// Per-run overrides of what the agent talks to: the mock server a scenario
/// runs against, and how many proxy replicas stand in front of it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// Proxy replicas in front of the one server, as behind a load balancer:
    /// each agent session goes to the next replica in turn (default 1).
    #[serde(default)]
    pub replicas: Option<u32>,
    /// How the replicas keep counters; unset, the run's `verify --state` decides.
    #[serde(default)]
    pub state: Option<StateSetup>,
    /// Tool lookup ignores case and surrounding whitespace.
    #[serde(default)]
    pub lenient_names: Option<bool>,
    /// The server is reached through a federating gateway that also resolves
    /// each tool under its namespaced name (`SERVER-TOOL`, see
    /// [`NameVariant::Namespaced`]): one tool, two names.
    #[serde(default)]
    pub gateway_names: Option<bool>,
    /// Unknown `params` members are ignored (Python SDK) instead of rejected.
    #[serde(default)]
    pub ignore_unknown_params: Option<bool>,
    /// Where the server's stdio reader ends a line (`universal`: also at a
    /// bare `\r`, as the Python SDK's stdio server reads).
    #[serde(default)]
    pub line_ends: Option<LineEnds>,
    /// Every Nth call of the target tool fails with a JSON-RPC error (after the server saw it).
    #[serde(default)]
    pub fail_every: Option<u64>,
    /// The target tool answers after this many milliseconds.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// After this many calls the server adds a tool named `rug_pull_adds` (`{{name}}` = the target).
    #[serde(default)]
    pub rug_pull_after: Option<u64>,
    #[serde(default)]
    pub rug_pull_adds: Option<String>,
    /// Changes of the target tool's definition, each on its own schedule and
    /// each made to the definition in the server file.
    #[serde(default)]
    pub changes: Vec<DefinitionChange>,
    /// A second server in play, a copy of the target's server whose tool of
    /// the target's name is defined as this says (a schedule is not allowed):
    /// steps with `via: shadow` talk to it.
    #[serde(default)]
    pub shadow: Option<DefinitionChange>,
}

/// A change of the target tool's definition and when it happens (one of
/// `after_calls`, `after_lists`, `at`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefinitionChange {
    /// After this many calls that found a tool (all sessions together).
    #[serde(default)]
    pub after_calls: Option<u64>,
    /// After this many `tools/list` answers.
    #[serde(default)]
    pub after_lists: Option<u64>,
    /// This long after the server's first message.
    #[serde(default)]
    pub at: Option<Duration>,
    /// Announce it with `notifications/tools/list_changed` (default true).
    #[serde(default)]
    pub notify: Option<bool>,
    /// The new description; `{{description}}` stands for the filed one.
    #[serde(default)]
    pub description: Option<String>,
    /// Arguments the new definition adds: name → JSON Schema.
    #[serde(default)]
    pub add_arguments: serde_json::Map<String, serde_json::Value>,
    /// Every bound of the input schema dropped (lengths, sizes, patterns,
    /// enums, formats, maxima) and undeclared arguments allowed.
    #[serde(default)]
    pub loosen: bool,
    /// Annotations the new definition sets (`destructiveHint: false`).
    #[serde(default)]
    pub annotations: serde_json::Map<String, serde_json::Value>,
    /// The tool leaves the list instead.
    #[serde(default)]
    pub remove: bool,
}

impl DefinitionChange {
    /// How many triggers it names.
    pub fn triggers(&self) -> usize {
        [self.after_calls.is_some(), self.after_lists.is_some(), self.at.is_some()].iter().filter(|t| **t).count()
    }

    /// Whether it changes anything at all.
    pub fn changes_something(&self) -> bool {
        self.remove || self.loosen || self.description.is_some() || !self.add_arguments.is_empty() || !self.annotations.is_empty()
    }
}

/// Where proxy replicas keep their counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum StateSetup {
    /// Each replica its own store (Intercept's default: SQLite in its own `--state-dir`).
    #[default]
    Local,
    /// One store for all (Redis at one `--state-dsn`, or one `--state-dir` on one host).
    Shared,
}

impl StateSetup {
    pub fn as_str(self) -> &'static str {
        match self {
            StateSetup::Local => "local",
            StateSetup::Shared => "shared",
        }
    }
}

/// Which tools of the servers in play a scenario runs against (all given filters must match).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// `resource` or `prompt`: the scenario reads resources (by URI) or gets
    /// prompts instead of calling tools, and its other filters apply to those.
    #[serde(default)]
    pub surface: Surface,
    /// Exact tool names.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Risk categories (any of).
    #[serde(default)]
    pub risk: Vec<Risk>,
    /// Only tools whose well-formed call the policy refuses (probed through the proxy).
    #[serde(default)]
    pub blocked_by_policy: bool,
    /// Only tools in the policy's `hide` list.
    #[serde(default)]
    pub hidden_by_policy: bool,
    /// Only tools the policy does not name at all.
    #[serde(default)]
    pub unlisted_by_policy: bool,
    /// Only tools with a field of one of these roles (any of).
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Besides the tools the filters above select, every tool a flow in the
    /// requirements refuses or limits once open, whatever its risk (a fetch
    /// its flow names with `open_world: true`).
    #[serde(default)]
    pub flow_egress: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    #[serde(default)]
    pub steps: Vec<Step>,
    #[serde(default)]
    pub random: Option<RandomBehaviour>,
    /// `false`: sessions open without a `tools/list` even where a verdict
    /// reads one (a call sent before any list: nothing for a proxy to cache).
    #[serde(default)]
    pub list_on_open: Option<bool>,
}

/// What to send: a proper `tools/call` (default), a `tools/list`, or a raw JSON-RPC template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Offset of the first call from the start of the run (the run starts on a UTC day boundary).
    #[serde(default)]
    pub at: Duration,
    #[serde(default = "one")]
    pub calls: u32,
    /// Spread the calls evenly over this duration (0 = all at `at`).
    #[serde(default)]
    pub over: Duration,
    /// Send all calls at the same instant without letting delayed replies arrive in between.
    #[serde(default)]
    pub concurrent: bool,
    #[serde(default)]
    pub args: Generator,
    /// Argument values set after generation; strings `$per_call`, `$per_window` (optionally
    /// `*F`, `+N`, `-N`) are replaced by the requirement's amount caps.
    #[serde(default)]
    pub set: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub name_variant: NameVariant,
    #[serde(default)]
    pub session: Rotation,
    #[serde(default)]
    pub identity: Rotation,
    /// Call this tool name instead of the target (`{{name}}` = the target's name).
    #[serde(default)]
    pub tool: Option<String>,
    /// Send `tools/list` instead of a call.
    #[serde(default)]
    pub list: bool,
    /// Send the legitimate call with only its destination changed: one call
    /// per attack value of this family and destination field (`calls` times each).
    #[serde(default)]
    pub destination: Option<DestinationAttack>,
    /// `shadow`: talk to the scenario's second server (`upstream.shadow`) instead.
    #[serde(default)]
    pub via: Via,
    /// A raw JSON-RPC line; `{{id}}`, `{{name}}`, `{{decoy}}` (JSON string bodies) and `{{args}}` are filled in.
    /// Several lines are several messages written back to back, sharing one `{{id}}` (id-reuse tricks).
    #[serde(default)]
    pub raw: Option<String>,
}

fn one() -> u32 {
    1
}

impl Default for Step {
    fn default() -> Self {
        Step {
            at: Duration::default(),
            calls: 1,
            over: Duration::default(),
            concurrent: false,
            args: Generator::default(),
            set: serde_json::Map::new(),
            name_variant: NameVariant::default(),
            tool: None,
            session: Rotation::default(),
            identity: Rotation::default(),
            list: false,
            destination: None,
            via: Via::default(),
            raw: None,
        }
    }
}

/// Which destination attack values a step sends in place of the legitimate destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DestinationAttack {
    /// Well-formed values elsewhere, typo-squats and homoglyphs of the allowed one.
    OffList,
    /// Spellings parsers and regexes disagree on (user-info, `#`, backslashes, IPv4 forms, `..`).
    Confusion,
    /// The allowed value kept, a foreign one added: one more list element, or an optional field (`cc`, `bcc`).
    Smuggled,
}

impl DestinationAttack {
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationAttack::OffList => "off-list",
            DestinationAttack::Confusion => "confusion",
            DestinationAttack::Smuggled => "smuggled",
        }
    }
}

/// Which server a step's session talks to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// The server under test.
    #[default]
    Server,
    /// The scenario's second server (`upstream.shadow`).
    Shadow,
}

/// Seeded random behaviour: argument generators from the tool's `inputSchema`, random timing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomBehaviour {
    pub calls: u32,
    #[serde(default)]
    pub at: Duration,
    #[serde(default)]
    pub over: Duration,
    #[serde(default = "all_generators")]
    pub generators: Vec<Generator>,
    /// Interleave calls over this many sessions (and identities when `identities` is set).
    #[serde(default = "one")]
    pub sessions: u32,
    #[serde(default = "one")]
    pub identities: u32,
    #[serde(default)]
    pub name_variants: Vec<NameVariant>,
}

fn all_generators() -> Vec<Generator> {
    vec![
        Generator::Valid,
        Generator::Boundary,
        Generator::TypeConfused,
        Generator::Missing,
        Generator::Extra,
        Generator::Oversized,
        Generator::Injection,
    ]
}

/// How call arguments are generated from the tool's `inputSchema`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Generator {
    /// Schema-valid arguments.
    #[default]
    Valid,
    /// Valid, at the edges: minimum/maximum numbers, shortest/longest strings.
    Boundary,
    /// One property replaced by a value of another JSON type.
    TypeConfused,
    /// One required property removed.
    Missing,
    /// One property the schema does not declare.
    Extra,
    /// One string property made 64 KiB long.
    Oversized,
    /// One string property set to an injection string (traversal, SQL, shell, markup).
    Injection,
    /// No arguments at all (`{}`) before `set`.
    Empty,
}

impl Generator {
    pub fn as_str(self) -> &'static str {
        match self {
            Generator::Valid => "valid",
            Generator::Boundary => "boundary",
            Generator::TypeConfused => "type-confused",
            Generator::Missing => "missing",
            Generator::Extra => "extra",
            Generator::Oversized => "oversized",
            Generator::Injection => "injection",
            Generator::Empty => "empty",
        }
    }
}

/// How the tool name is spelt on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NameVariant {
    #[default]
    Exact,
    Upper,
    Lower,
    TrailingSpace,
    LeadingSpace,
    ZeroWidth,
    Hyphen,
    Homoglyph,
    /// A URI with its first path letter percent-encoded (`%65tc`).
    PercentEncoded,
    /// A URI with a `./` segment before its last one.
    DotSegment,
    /// The tool's second name: where the proxy lists the upstream's names,
    /// the name a federating gateway gives it (`SERVER-TOOL`, slugged:
    /// `toy-create-item`); where the proxy lists its own names for the
    /// upstream's tools (a gateway as the proxy), the upstream's own name.
    Namespaced,
}

/// Whether a step keeps the current session/identity or moves to fresh ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rotation {
    /// Keep the one in use.
    #[default]
    Same,
    /// Start a fresh one for this step (a reconnect, a new grant).
    New,
    /// A fresh one for every call.
    EachCall,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Twin {
    /// Run the twin against other tools than the attack (e.g. an allowed tool beside a blocked one).
    #[serde(default)]
    pub targets: Option<Targets>,
    pub steps: Vec<Step>,
}

/// What must hold, measured on the server's ledger. Unset bounds come from the requirements.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// In any window of the given length, at most `count` calls reached the server.
    #[serde(default)]
    pub max_reached_per_window: Option<RateExpect>,
    /// Like `max_reached_per_window`, counting only calls the server executed.
    #[serde(default)]
    pub max_executed_per_window: Option<RateExpect>,
    /// At most this many calls whose arguments violate the tool's inputSchema reached the server.
    #[serde(default)]
    pub schema_violations_reached: Option<u32>,
    /// `true`: no call reached the tool; `requirement`: only where the requirement denies the tool.
    #[serde(default)]
    pub never_reached: Option<Switch>,
    /// The agent saw only the tool's definition in the server file, and no
    /// call ran another (`requirement`: where the requirements pin the tool).
    #[serde(default)]
    pub pinned: Option<Switch>,
    /// Other tool names (`{{name}}` = the target's) no call may reach, e.g. a rug-pulled addition.
    #[serde(default)]
    pub never_reached_tools: Vec<String>,
    /// The tool never appeared in a `tools/list` the agent saw.
    #[serde(default)]
    pub never_listed: Option<Switch>,
    /// No call of the tool reached the server after a call that opens a
    /// flow refusing it (`requirement`: where `flows:` in gauntlet.yaml
    /// refuses the tool); steps call the flow's source as `{{private}}`.
    #[serde(default)]
    pub flow: Option<Switch>,
    /// At most the requirement's `max_calls_per_session` calls of the tool
    /// reached the server in any one session (`requirement`: where one is set).
    #[serde(default)]
    pub calls_per_session: Option<Switch>,
    #[serde(default)]
    pub max_amount_per_call: Option<AmountBound>,
    #[serde(default)]
    pub max_amount_per_window: Option<AmountWindowExpect>,
    /// No call with an amount ≤ 0 or a fractional amount reached the server.
    #[serde(default)]
    pub positive_whole_amounts: Option<bool>,
    /// The argument holding the amount (default `amount`).
    #[serde(default)]
    pub amount_field: Option<String>,
    /// No call whose serialized arguments exceed the requirements' `max_argument_bytes` reached the server.
    #[serde(default)]
    pub arguments_within_size: Option<bool>,
    /// Every destination that reached the server is allowed, as the server
    /// reads it (the requirements' allowlists, or the legitimate call's own
    /// destination where they name none), and no forbidden field reached it.
    #[serde(default)]
    pub destinations_allowed: Option<bool>,
    /// No call of a governed tool reached the server while enforcement was
    /// blind (the `faults:` intervals), unless gauntlet.yaml's `fault_mode` is `open`.
    #[serde(default)]
    pub fail_closed: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateExpect {
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub window: Option<Duration>,
    /// Sliding (any window of that length) unless set to false (calendar windows).
    #[serde(default)]
    pub sliding: Option<bool>,
    /// Tools whose calls count together against this one budget (`{{name}}` = the
    /// target), e.g. `["{{name}}", update_issue]`; default: the target alone.
    #[serde(default)]
    pub tools: Vec<String>,
}

/// `true`, or `requirement` (holds only where the requirements ask for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    True,
    Requirement,
}

impl Serialize for Switch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Switch::True => s.serialize_bool(true),
            Switch::Requirement => s.serialize_str("requirement"),
        }
    }
}

impl<'de> Deserialize<'de> for Switch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(true) => Ok(Switch::True),
            Raw::Text(t) if t == "requirement" => Ok(Switch::Requirement),
            Raw::Bool(false) => Err(serde::de::Error::custom("`false` checks nothing: remove the key instead")),
            Raw::Text(t) => Err(serde::de::Error::custom(format!("expected `true` or `requirement`, got `{t}`"))),
        }
    }
}

/// An amount cap: a number, or `requirement`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AmountBound {
    Value(f64),
    Named(FromRequirement),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FromRequirement {
    Requirement,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountWindowExpect {
    #[serde(default)]
    pub amount: Option<f64>,
    #[serde(default)]
    pub window: Option<Duration>,
}
