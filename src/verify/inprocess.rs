//! The system under test for `gauntlet verify`: the in-process enforcing
//! proxy (engine + proxy core, stdio-child wire mode, in-memory counters) in
//! front of a fresh mock server per run, on the player's virtual clock.

use std::sync::Arc;

use super::play::System;
use super::Bench;
use crate::clock::Timestamp;
use crate::engine::store::MemoryStore;
use crate::engine::{CallContext, Engine};
use crate::mock::{LedgerEntry, MockServer, RugPull, ServerSpec};
use crate::policy::model::Policy;
use crate::profile::Profile;
use crate::proxy::core::{ProxyCore, WireMode};
use crate::proxy::inprocess::InProcess;
use crate::scenario::lint::ToolInfo;
use crate::scenario::Upstream;

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
            s.spec.tools.iter().map(|t| ToolInfo {
                server: s.name.clone(),
                name: t.name.clone(),
                risk: t.risk,
                input_schema: t.input_schema.value().clone(),
            })
        })
        .collect()
}

pub struct InProcessBench {
    policy: Arc<Policy>,
    profile: Profile,
    servers: Vec<NamedServer>,
    catalogue: Vec<ToolInfo>,
}

impl InProcessBench {
    pub fn new(policy: Policy, profile: Profile, servers: Vec<NamedServer>) -> InProcessBench {
        let catalogue = catalogue_of(&servers);
        InProcessBench { policy: Arc::new(policy), profile, servers, catalogue }
    }
}

fn apply(spec: &mut ServerSpec, up: &Upstream, target: &str) {
    let b = &mut spec.behaviour;
    if let Some(v) = up.lenient_names {
        b.lenient_names = v;
    }
    if let Some(v) = up.ignore_unknown_params {
        b.ignore_unknown_params = v;
    }
    let target_spec = spec.tools.iter().find(|t| t.name == target).cloned();
    if let (Some(after), Some(adds), Some(mut added)) = (up.rug_pull_after, &up.rug_pull_adds, target_spec) {
        added.name = adds.replace("{{name}}", target);
        added.description = Some(format!("{} (updated definition)", added.description.unwrap_or_default()));
        spec.behaviour.rug_pull = Some(RugPull { after_calls: after, tools: vec![added] });
    }
    for t in spec.tools.iter_mut().filter(|t| t.name == target) {
        if let Some(n) = up.fail_every {
            t.response.fail_every = Some(n.max(1));
        }
        if let Some(ms) = up.latency_ms {
            t.response.latency_ms = ms;
        }
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
        apply(&mut spec, up, target);
    }
    Ok(spec)
}

impl InProcessBench {
    /// The server file of `server` with a scenario's upstream overrides for `target` applied.
    pub fn spec_for(&self, server: &str, upstream: Option<&Upstream>, target: &str) -> Result<ServerSpec, String> {
        spec_for(&self.servers, server, upstream, target)
    }

    /// A fresh proxy (fresh counters) in front of a fresh mock server built from `spec`.
    pub fn start_spec(&self, spec: ServerSpec) -> Box<dyn System> {
        let engine = Engine::new(self.policy.clone(), self.profile);
        let core = ProxyCore::new(engine, Box::new(MemoryStore::new()), WireMode::StdioChild);
        Box::new(Running(InProcess::new(core, MockServer::from_spec(spec))))
    }
}

impl Bench for InProcessBench {
    fn catalogue(&self) -> &[ToolInfo] {
        &self.catalogue
    }

    fn start(&self, server: &str, upstream: Option<&Upstream>, target: &str) -> Result<Box<dyn System>, String> {
        Ok(self.start_spec(self.spec_for(server, upstream, target)?))
    }

    fn names(&self, tool: &str) -> bool {
        self.policy.tool(tool).is_some() || self.hides(tool)
    }

    fn hides(&self, tool: &str) -> bool {
        self.policy.hide.iter().any(|h| h == tool || h == "*")
    }

    fn policy(&self) -> &Policy {
        &self.policy
    }
}

struct Running(InProcess);

impl System for Running {
    fn send(&mut self, line: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Vec<u8>> {
        self.0.send(line, ctx, now)
    }

    fn advance_to(&mut self, now: Timestamp) -> Vec<Vec<u8>> {
        self.0.advance_to(now).into_iter().map(|(_, b)| b).collect()
    }

    fn ledger(&self) -> &[LedgerEntry] {
        &self.0.server().ledger().entries
    }

    fn audit(&self) -> &[crate::proxy::audit::AuditRecord] {
        self.0.audit()
    }
}
