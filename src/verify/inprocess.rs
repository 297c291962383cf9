//! The system under test for `gauntlet verify`: the in-process enforcing
//! proxy (engine + proxy core, stdio-child wire mode, in-memory counters) in
//! front of a fresh mock server per run, on the player's virtual clock. A
//! scenario asking for replicas gets that many proxy cores in front of the one
//! server, each with its own counters or all at one shared store.
//! Fresh means fresh state: the compiled policy and the indexed server files
//! are shared by every run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::play::System;
use super::Bench;
use crate::clock::Timestamp;
use crate::engine::store::{MemoryStore, SharedStore, Switched};
use crate::caller::CallContext;
use crate::engine::{CounterStore, Engine};
use crate::mock::{Behaviour, LedgerEntry, MockServer, RugPull, ServerSpec, SharedSpec, Surface, ToolSpec};
use crate::policy::model::Policy;
use crate::profile::Profile;
use crate::proxy::core::{ProxyCore, WireMode};
use crate::proxy::inprocess::InProcess;
use crate::proxy::sqlite::{with_fail_mode, FailMode};
use super::faults::Inject;
use crate::scenario::lint::ToolInfo;
use crate::scenario::requirements::Requirements;
use crate::scenario::{StateSetup, Upstream};

/// A named mock server (the name is its file stem, e.g. `aksjah`).
#[derive(Clone, Debug)]
pub struct NamedServer {
    pub name: String,
    pub spec: ServerSpec,
}

/// The catalogue of named servers, as scenarios see it.
pub fn catalogue_of(servers: &[NamedServer]) -> Vec<ToolInfo> {
    servers
        .iter()
        .flat_map(|s| {
            s.spec.tools.iter().map(|t| {
                let entry = serde_json::from_str(&crate::mock::toolset::list_entry(t, false)).unwrap_or_default();
                ToolInfo {
                    server: s.name.clone(),
                    name: t.name.clone(),
                    risk: t.risk,
                    input_schema: t.input_schema.shared(),
                    surface: Surface::Tool,
                    roles: t.field_roles().fields.into_iter().map(|(path, role, _)| (path, role)).collect(),
                    definition: ToolInfo::definition_of(entry, t.input_schema.value()),
                    private: t.private,
                }
            })
        })
        .collect()
}

/// The resources and prompts of the servers, as scenarios on those surfaces
/// see them: each listed resource by its URI, each prompt (its arguments as
/// an object of strings), and for each pattern the requirements deny or hide,
/// the URI it names (`*` read as `gauntlet-probe`) where a resource template
/// of the server serves it.
pub fn surfaces_of<'a>(servers: impl IntoIterator<Item = (&'a str, &'a ServerSpec)>, reqs: &Requirements) -> Vec<ToolInfo> {
    let item = |server: &str, name: &str, risk, schema: serde_json::Value, surface| ToolInfo { server: server.to_string(), name: name.to_string(), risk, input_schema: Arc::new(schema), surface, roles: Vec::new(), definition: serde_json::Value::Null, private: false };
    let mut out = Vec::new();
    for (server, spec) in servers {
        let empty = || serde_json::json!({"type": "object", "properties": {}});
        for r in &spec.resources {
            out.push(item(server, &r.uri, r.risk, empty(), Surface::Resource));
        }
        let patterns = reqs.resources.denied.iter().chain(&reqs.resources.hidden);
        for uri in patterns.map(|p| p.replace('*', "gauntlet-probe")) {
            let listed = spec.resources.iter().any(|r| r.uri == uri);
            if let Some(t) = spec.resource_templates.iter().find(|t| t.matches(&uri).is_some()).filter(|_| !listed) {
                if !out.iter().any(|o: &ToolInfo| o.server == server && o.name == uri) {
                    out.push(item(server, &uri, t.risk, empty(), Surface::Resource));
                }
            }
        }
        for p in &spec.prompts {
            let args = p.arguments.as_ref().and_then(|a| a.as_array().cloned()).unwrap_or_default();
            let properties: serde_json::Map<String, serde_json::Value> =
                args.iter().filter_map(|a| a["name"].as_str()).map(|n| (n.to_string(), serde_json::json!({"type": "string"}))).collect();
            let schema = serde_json::json!({"type": "object", "properties": properties, "required": p.required_arguments()});
            out.push(item(server, &p.name, p.risk, schema, Surface::Prompt));
        }
    }
    out
}

/// The policy compiled once (every regex with it) and every server file
/// prepared once, so a start costs nothing per tool or per rule.
pub struct InProcessBench {
    engine: Engine,
    servers: Vec<(String, SharedSpec)>,
    catalogue: Vec<ToolInfo>,
    /// How replicas keep counters when a scenario does not say.
    state: StateSetup,
    /// Tool definitions pinned to an approved file (`--pin`), for every proxy core.
    pin: Option<Arc<crate::proxy::pin::Approved>>,
    /// What a failing state store means (`gauntlet proxy --state-fail-mode`).
    fail_mode: FailMode,
    /// The gap a deliberately vulnerable reference leaves open (`gauntlet scenario check`).
    gap: Gap,
}

/// A gap left open on purpose, for `gauntlet scenario check`'s vulnerable references.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Gap {
    #[default]
    None,
    /// Every fault met the worst way (see [`InProcessBench::failing_open`]).
    FailsOpen,
    /// Hidden tools are left out of `tools/list` answers, but a call of one
    /// is forwarded all the same (a proxy that only filters what it lists).
    HidesFromListsOnly,
}

impl InProcessBench {
    pub fn new(policy: Policy, profile: Profile, mut servers: Vec<NamedServer>) -> InProcessBench {
        for s in &mut servers {
            s.spec.share_equal_schemas();
        }
        let catalogue = catalogue_of(&servers);
        let servers = servers.into_iter().map(|s| (s.name, SharedSpec::new(s.spec))).collect();
        InProcessBench { engine: Engine::new(Arc::new(policy), profile), servers, catalogue, state: StateSetup::default(), pin: None, fail_mode: FailMode::default(), gap: Gap::None }
    }

    /// Every proxy core serves tools only as `approved` defines them.
    pub fn with_pin(self, approved: Option<crate::proxy::pin::Approved>) -> InProcessBench {
        InProcessBench { pin: approved.map(Arc::new), ..self }
    }

    /// A fresh proxy core with its own counters, pinned when the bench is.
    fn core(&self, store: Box<dyn CounterStore>) -> ProxyCore {
        let mut core = ProxyCore::new(self.engine.clone(), store, WireMode::StdioChild);
        if let Some(approved) = &self.pin {
            core.pin(approved.clone());
        }
        // As `gauntlet proxy --profile strict` over stdio: a call of a tool
        // not listed yet waits for the proxy's own list (other profiles: no-op).
        core.unlisted_calls(crate::proxy::schemas::Unlisted::Ask);
        core
    }

    /// Replicas keep counters as `state` says unless a scenario pins it.
    pub fn with_state(self, state: StateSetup) -> InProcessBench {
        InProcessBench { state, ..self }
    }

    /// A failing state store means what `mode` says, as `gauntlet proxy --state-fail-mode` does.
    pub fn with_fail_mode(self, fail_mode: FailMode) -> InProcessBench {
        InProcessBench { fail_mode, ..self }
    }

    /// A deliberately vulnerable proxy for `gauntlet scenario check`, open
    /// at each gap a fault scenario aims at: a failing store lets calls
    /// through uncounted, counters live only in memory (a restart forgets
    /// them), a call without an identity or a session skips its counter, a
    /// policy file loads while still half written and never once finished
    /// (no reload), a file that does not load leaves no rules, and once the
    /// upstream stalls or dies the calls in flight are never answered.
    pub fn failing_open(self) -> InProcessBench {
        InProcessBench { gap: Gap::FailsOpen, fail_mode: FailMode::Open, ..self }
    }

    /// A deliberately vulnerable proxy that hides tools from `tools/list` only (see [`Gap::HidesFromListsOnly`]).
    pub fn hiding_from_lists_only(self) -> InProcessBench {
        InProcessBench { gap: Gap::HidesFromListsOnly, ..self }
    }
}

/// What a scenario's upstream overrides change: a server file (the black-box
/// driver writes it out) or a server started from one (in process).
trait Overridable {
    fn behaviour_mut(&mut self) -> &mut Behaviour;
    fn tool(&self, name: &str) -> Option<&ToolSpec>;
    /// Replaces the definition of the tool of the same name.
    fn replace_tool(&mut self, tool: ToolSpec);
}

impl Overridable for ServerSpec {
    fn behaviour_mut(&mut self) -> &mut Behaviour {
        &mut self.behaviour
    }

    fn tool(&self, name: &str) -> Option<&ToolSpec> {
        self.tools.iter().find(|t| t.name == name)
    }

    fn replace_tool(&mut self, tool: ToolSpec) {
        for t in self.tools.iter_mut().filter(|t| t.name == tool.name) {
            *t = tool.clone();
        }
    }
}

impl Overridable for MockServer {
    fn behaviour_mut(&mut self) -> &mut Behaviour {
        MockServer::behaviour_mut(self)
    }

    fn tool(&self, name: &str) -> Option<&ToolSpec> {
        MockServer::tool(self, name)
    }

    fn replace_tool(&mut self, tool: ToolSpec) {
        self.upsert_tool(tool);
    }
}

/// A scenario's upstream overrides for `target`, on the server `name` (as
/// scenarios call it) not yet spoken to.
fn apply(server: &mut impl Overridable, name: &str, up: &Upstream, target: &str) {
    let b = server.behaviour_mut();
    if let Some(v) = up.lenient_names {
        b.lenient_names = v;
    }
    if let Some(v) = up.gateway_names {
        // The agent's `namespaced` names are formed from the same server name.
        b.gateway_name = v.then(|| name.to_string());
    }
    if let Some(v) = up.ignore_unknown_params {
        b.ignore_unknown_params = v;
    }
    if let Some(ends) = up.line_ends {
        b.line_ends = ends;
    }
    let Some(original) = server.tool(target).cloned() else { return };
    for change in &up.changes {
        server.behaviour_mut().changes.push(super::definitions::scheduled(&original, change));
    }
    if let (Some(after), Some(adds)) = (up.rug_pull_after, &up.rug_pull_adds) {
        let mut added = original.clone();
        added.name = adds.replace("{{name}}", target);
        added.description = Some(format!("{} (updated definition)", added.description.unwrap_or_default()));
        server.behaviour_mut().rug_pull = Some(RugPull { after_calls: after, tools: vec![added] });
    }
    if up.fail_every.is_some() || up.latency_ms.is_some() {
        let mut changed = original;
        if let Some(n) = up.fail_every {
            changed.response.fail_every = Some(n.max(1));
        }
        if let Some(ms) = up.latency_ms {
            changed.response.latency_ms = ms;
        }
        server.replace_tool(changed);
    }
}

/// The server file of `server` with a scenario's upstream overrides for `target` applied.
pub fn spec_for(servers: &[NamedServer], server: &str, upstream: Option<&Upstream>, target: &str) -> Result<ServerSpec, String> {
    let named = servers
        .iter()
        .find(|s| s.name == server)
        .ok_or_else(|| format!("no mock server named `{server}` in play"))?;
    let mut spec = named.spec.clone();
    if let Some(up) = upstream {
        apply(&mut spec, server, up, target);
    }
    Ok(spec)
}

impl InProcessBench {
    /// A fresh mock server for `server`, with a scenario's upstream overrides for `target` applied.
    pub fn server_for(&self, server: &str, upstream: Option<&Upstream>, target: &str) -> Result<MockServer, String> {
        let (_, shared) = self
            .servers
            .iter()
            .find(|(name, _)| name == server)
            .ok_or_else(|| format!("no mock server named `{server}` in play"))?;
        let mut mock = MockServer::from_shared(shared);
        if let Some(up) = upstream {
            apply(&mut mock, server, up, target);
        }
        Ok(mock)
    }
}

impl Bench for InProcessBench {
    fn catalogue(&self) -> &[ToolInfo] {
        &self.catalogue
    }

    fn surfaces(&self, reqs: &Requirements) -> Vec<ToolInfo> {
        surfaces_of(self.servers.iter().map(|(name, s)| (name.as_str(), s.spec())), reqs)
    }

    /// A fresh proxy (fresh counters) in front of a fresh mock server; as
    /// many proxies as the scenario has replicas, counting apart or together.
    fn start(&self, server: &str, upstream: Option<&Upstream>, target: &str) -> Result<Box<dyn System>, String> {
        let mock = self.server_for(server, upstream, target)?;
        let shadow = match upstream.and_then(|u| u.shadow.as_ref()) {
            Some(hostile) => {
                let (_, shared) = self.servers.iter().find(|(name, _)| name == server).ok_or_else(|| format!("no mock server named `{server}` in play"))?;
                let spec = super::definitions::shadow(shared.spec(), target, hostile);
                Some(InProcess::new(self.core(Box::new(MemoryStore::new())), MockServer::from_spec(spec)))
            }
            None => None,
        };
        let replicas = upstream.and_then(|u| u.replicas).unwrap_or(1).max(1);
        let shared = match upstream.and_then(|u| u.state).unwrap_or(self.state) {
            StateSetup::Shared => Some(SharedStore::new()),
            StateSetup::Local => None,
        };
        let down = Arc::new(AtomicBool::new(false));
        let switched = |inner: Box<dyn CounterStore>, down: &Arc<AtomicBool>, mode| with_fail_mode(Box::new(Switched { inner, down: down.clone() }), mode);
        let cores = (0..replicas)
            .map(|_| {
                let inner: Box<dyn CounterStore> = match &shared {
                    Some(one) => Box::new(one.clone()),
                    None => Box::new(MemoryStore::new()),
                };
                self.core(switched(inner, &down, self.fail_mode))
            })
            .collect();
        let forgetful = (self.gap == Gap::FailsOpen).then(|| {
            let (down, mode) = (down.clone(), self.fail_mode);
            Box::new(move || switched(Box::new(MemoryStore::new()), &down, mode)) as Box<dyn Fn() -> Box<dyn CounterStore>>
        });
        let hidden_passes = (self.gap == Gap::HidesFromListsOnly).then(|| self.engine.clone());
        Ok(Box::new(Running { main: InProcess::replicated(cores, mock), shadow, store_down: down, fail_mode: self.fail_mode, profile: self.engine.profile(), forgetful, hidden_passes }))
    }

    fn state(&self) -> StateSetup {
        self.state
    }

    fn names(&self, tool: &str) -> bool {
        self.engine.policy().tool(tool).is_some() || self.hides(tool)
    }

    fn resolves_names_leniently(&self, server: &str) -> bool {
        self.servers.iter().any(|(name, s)| name == server && s.spec().behaviour.lenient_names)
    }

    fn hides(&self, tool: &str) -> bool {
        self.engine.hidden().hides(tool)
    }

    fn policy(&self) -> &Policy {
        self.engine.policy()
    }

    fn policy_gates_surfaces(&self) -> bool {
        self.engine.profile() == Profile::Strict
    }

    fn admission(&self) -> Option<&crate::engine::admission::Admission> {
        Some(self.engine.admission())
    }

    /// Under `intercept` gauntlet's proxy only filters list answers; under
    /// `strict` it checks calls against the schemas a list showed it.
    fn listing_matters(&self) -> bool {
        self.engine.profile() == Profile::Strict
    }
}

/// The proxy and server under test, and the scenario's second server behind
/// its own proxy (`via: shadow` sessions talk to it). Faults act on the
/// server under test and its proxies.
struct Running {
    main: InProcess<MockServer>,
    shadow: Option<InProcess<MockServer>>,
    /// The switch of every replica's store (faults turn it).
    store_down: Arc<AtomicBool>,
    fail_mode: FailMode,
    profile: Profile,
    /// Set on the failing-open reference: how it makes a fresh, empty store after a restart.
    forgetful: Option<Box<dyn Fn() -> Box<dyn CounterStore>>>,
    /// Set on the reference that hides from lists only: the engine whose hidden tools' calls go straight through.
    hidden_passes: Option<Engine>,
}

impl Running {
    fn route(&mut self, ctx: &CallContext) -> &mut InProcess<MockServer> {
        match (&mut self.shadow, super::play::is_shadow(ctx)) {
            (Some(shadow), true) => shadow,
            _ => &mut self.main,
        }
    }
}

impl Running {
    /// The faults the failing-open reference meets its own way (`None`: as `gauntlet proxy` does).
    fn inject_failing_open(&mut self, what: &Inject, now: Timestamp, fresh: &dyn Fn() -> Box<dyn CounterStore>) -> Option<Vec<Vec<u8>>> {
        match what {
            Inject::PolicyWrite { version, closed } => {
                let no_rules = || Arc::new(Policy::empty(crate::policy::model::Dialect::Intercept));
                match (&version.policy, closed) {
                    (Some(half), false) => self.main.set_engine(&Engine::new(half.clone(), self.profile)),
                    (None, _) => self.main.set_engine(&Engine::new(no_rules(), self.profile)),
                    (Some(_), true) => {}
                }
            }
            Inject::Restart => {
                self.main.restart();
                self.main.reset_stores(fresh);
            }
            Inject::UpstreamStall { .. } => {
                // No upstream timeout: nothing forwarded from here on is ever answered.
                self.main.lose_replies();
                self.main.stall_until(now.plus_nanos(i64::MAX / 4));
            }
            Inject::UpstreamDie => {
                // The calls in flight are dropped unanswered with the connection.
                self.main.lose_replies();
                drop(self.main.upstream_gone());
            }
            Inject::StoreDown { .. } | Inject::StoreUp => return None,
        }
        Some(Vec::new())
    }
}

impl System for Running {
    fn send(&mut self, line: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Vec<u8>> {
        if let Some(engine) = &self.hidden_passes {
            let called = serde_json::from_slice::<serde_json::Value>(line).ok().filter(|m| m["method"] == "tools/call");
            if called.is_some_and(|m| m["params"]["name"].as_str().is_some_and(|n| engine.hidden().hides(n))) {
                return self.main.server_mut().handle_line(line, ctx, now).into_iter().map(|r| r.bytes).collect();
            }
        }
        // The failing-open reference skips the counter of a call whose key attribute is missing.
        let keyless = self.forgetful.is_some() && (ctx.identity.is_none() || ctx.session.is_none());
        let was_down = keyless && self.store_down.swap(true, Ordering::SeqCst);
        let out = self.route(ctx).send(line, ctx, now);
        if keyless {
            self.store_down.store(was_down, Ordering::SeqCst);
        }
        out
    }

    fn advance_to(&mut self, now: Timestamp) -> Vec<Vec<u8>> {
        let mut out = self.main.advance_to(now);
        if let Some(shadow) = &mut self.shadow {
            out.extend(shadow.advance_to(now));
            out.sort_by_key(|(t, _)| *t);
        }
        out.into_iter().map(|(_, b)| b).collect()
    }

    fn take_ledger(&mut self) -> Vec<LedgerEntry> {
        let mut entries = self.main.server_mut().take_ledger().entries;
        if let Some(shadow) = &mut self.shadow {
            entries.extend(shadow.server_mut().take_ledger().entries.into_iter().map(|e| LedgerEntry { shadow: true, ..e }));
            entries.sort_by_key(|e| e.time);
        }
        entries
    }

    fn audit(&self) -> &[crate::proxy::audit::AuditRecord] {
        self.main.audit()
    }

    /// Faults as `gauntlet proxy` meets them: a hung store is a failed one
    /// once its command timeout passes; a policy version loads only when
    /// its writer closed the file and it loads and validates (otherwise
    /// the previous one stays); a restart keeps the counters (its state
    /// file or Redis outlives the process).
    fn injects(&self) -> bool {
        true
    }

    fn inject(&mut self, what: &Inject, now: Timestamp) -> Result<Vec<Vec<u8>>, String> {
        if let Some(fresh) = self.forgetful.take() {
            let done = self.inject_failing_open(what, now, fresh.as_ref());
            self.forgetful = Some(fresh);
            if let Some(done) = done {
                return Ok(done);
            }
        }
        match what {
            Inject::StoreDown { hang: false } => self.store_down.store(true, Ordering::SeqCst),
            // A hung store: each call is decided as `gauntlet proxy` decides it at its --state-timeout.
            Inject::StoreDown { hang: true } => self.main.set_store_late(Some((self.fail_mode, crate::proxy::decider::DEFAULT_STATE_TIMEOUT))),
            Inject::StoreUp => {
                self.store_down.store(false, Ordering::SeqCst);
                self.main.set_store_late(None);
            }
            Inject::PolicyWrite { version, closed: true } => {
                if let Some(policy) = &version.policy {
                    self.main.set_engine(&Engine::new(policy.clone(), self.profile));
                }
            }
            Inject::PolicyWrite { closed: false, .. } => {}
            Inject::Restart => self.main.restart(),
            Inject::UpstreamStall { until } => self.main.stall_until(*until),
            Inject::UpstreamDie => return Ok(self.main.upstream_gone()),
        }
        Ok(Vec::new())
    }
}
