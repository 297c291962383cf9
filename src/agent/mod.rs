//! Agent drivers: turn a scenario's behaviour × one target tool into a timed
//! plan of JSON-RPC messages.
//!
//! Scripted steps and seeded random behaviour both become the same
//! [`Action`] list, so one player replays either and the shrinker can cut
//! either down. Everything here is pure: same inputs and seed, same plan.
//! The MCP handshake (initialize, notifications/initialized, tools/list) is
//! not part of the plan: the player sends it whenever a session is first used.

pub mod destinations;
pub mod generate;
pub mod names;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

pub use destinations::Destination;
use crate::engine::admission::{Answer, Prefer, Tool};
use crate::mock::Surface;
use crate::scenario::lint::ToolInfo;
use crate::scenario::requirements::Workload;
use crate::scenario::{Behaviour, NameVariant, RandomBehaviour, Rotation, Step, Via};

/// One message the agent sends, `at` nanoseconds after the run starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    pub at: i64,
    pub session: u32,
    pub identity: u32,
    pub payload: Payload,
    /// Sent to the scenario's second server (`via: shadow`), not the one under test.
    pub shadow: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    /// A well-formed `tools/call`.
    Call { name: String, arguments: Value },
    /// A `tools/list`, `resources/list` or `prompts/list`.
    List(Surface),
    /// A raw line from a template, with everything but the id filled in.
    Raw { line: String, name: String, arguments: Value },
    /// A `resources/read`.
    Read { uri: String },
    /// A `prompts/get`.
    Get { name: String, arguments: Value },
}

/// The tool an attack runs against and what the templates may need about it.
#[derive(Clone, Debug)]
pub struct Target<'a> {
    pub tool: &'a ToolInfo,
    /// A name the policy lets through on the same server, for case-variant key tricks.
    pub decoy: String,
    pub per_call_cap: Option<f64>,
    pub per_window_cap: Option<f64>,
    /// What the policy admits of this tool: generated calls take values its
    /// conditions admit, so an attack exercises the limits behind them.
    pub admission: Option<Tool<'a>>,
    /// Where the conditions leave a choice (string sizes), and whether a
    /// field's presence is kept as generated (legitimate workloads: a real
    /// client leaves optional fields out whatever the policy says).
    pub prefer: Prefer,
    /// Set for a benign twin: the legitimate calls' shape as declared.
    pub legit: Option<&'a Workload>,
    /// The tool's destination fields and the legitimate value each call carries.
    pub destinations: Vec<Destination>,
    /// One minor unit (a cent) in the unit of the amount field: 1, or 0.01 for euros.
    pub minor_unit: f64,
    /// The tool a step calls as `{{private}}`: a read that opens a flow.
    pub source: Option<&'a ToolInfo>,
}

/// A step's `tool:` that stands for the flow's source (see [`Target::source`]).
pub const PRIVATE: &str = "{{private}}";

impl Target<'_> {
    /// A target with nothing known of the policy (templates, lints).
    pub fn plain(tool: &ToolInfo) -> Target<'_> {
        Target {
            tool,
            decoy: String::new(),
            per_call_cap: None,
            per_window_cap: None,
            admission: None,
            prefer: Prefer::default(),
            legit: None,
            destinations: Vec::new(),
            minor_unit: 1.0,
            source: None,
        }
    }

    /// `arguments` changed only where the policy's conditions refuse them;
    /// unchanged when the model has no such call or cannot tell. A
    /// legitimate call first takes the declared shape (which optional fields
    /// it sends, its string sizes), and those are then left as they are.
    pub fn admit(&self, mut arguments: Value) -> Value {
        destinations::apply_homes(&mut arguments, &self.destinations);
        let arguments = match self.legit {
            Some(w) => shape(&self.tool.input_schema, arguments, w),
            None => arguments,
        };
        let (Some(tool), Value::Object(base)) = (self.admission, &arguments) else { return arguments };
        let mut prefer = self.prefer.clone();
        if let Some(w) = self.legit {
            prefer.keep_presence = true;
            prefer.keep_fields.extend(w.sizes.keys().cloned());
            // A legitimate destination is what it is: a policy refusing it over-blocks.
            prefer.keep_fields.extend(self.destinations.iter().filter(|d| d.declared).map(|d| d.top_field().to_string()));
        }
        match tool.admitted(base, &prefer) {
            Answer::Yes(admitted) => Value::Object(admitted),
            Answer::No(_) | Answer::Unknown(_) => arguments,
        }
    }
}

/// A legitimate call as the workload declares it: exactly the declared
/// optional fields (when declared), string fields at their declared sizes.
fn shape(schema: &Value, arguments: Value, w: &Workload) -> Value {
    let Value::Object(mut args) = arguments else { return arguments };
    let required = generate::required_only(schema, &Value::Object(args.clone()));
    if let Some(optional) = &w.optional {
        args.retain(|k, _| required.get(k).is_some() || optional.contains(k));
        for k in optional {
            if !args.contains_key(k) {
                if let Some(prop) = schema["properties"].get(k) {
                    let mut rng = ChaCha8Rng::seed_from_u64(k.len() as u64);
                    args.insert(k.clone(), generate::valid(prop, &mut rng, false));
                }
            }
        }
    }
    for (k, len) in &w.sizes {
        if let Some(Value::String(s)) = args.get_mut(k) {
            *s = generate::text_of_length(*len);
        }
    }
    Value::Object(args)
}

/// Builds the plan for a behaviour; errors name what the target lacks (e.g. no amount cap).
pub fn plan(behaviour: &Behaviour, target: &Target<'_>, seed: u64) -> Result<Vec<Action>, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut actions = plan_steps(&behaviour.steps, target, &mut rng)?;
    if let Some(r) = &behaviour.random {
        actions.extend(plan_random(r, target, &mut rng));
    }
    actions.sort_by_key(|a| a.at);
    Ok(actions)
}

/// Scripted steps: session and identity numbering starts at 1 and only moves forward.
pub fn plan_steps(steps: &[Step], target: &Target<'_>, rng: &mut ChaCha8Rng) -> Result<Vec<Action>, String> {
    let mut out = Vec::new();
    let (mut session, mut identity) = (1u32, 1u32);
    let (mut next_session, mut next_identity) = (2u32, 2u32);
    for step in steps {
        if step.session == Rotation::New {
            session = next_session;
            next_session += 1;
        }
        if step.identity == Rotation::New {
            identity = next_identity;
            next_identity += 1;
        }
        if let Some(family) = step.destination {
            out.extend(plan_destinations(step, family, target, rng, session, identity)?);
            continue;
        }
        for i in 0..step.calls {
            if step.session == Rotation::EachCall {
                session = next_session;
                next_session += 1;
            }
            if step.identity == Rotation::EachCall {
                identity = next_identity;
                next_identity += 1;
            }
            let offset = if step.concurrent { 0 } else { step.over.nanos() / step.calls as i64 * i as i64 };
            let at = step.at.nanos() + offset;
            let payload = if step.list {
                Payload::List(target.tool.surface)
            } else {
                let base = match step.tool.as_deref() {
                    Some(PRIVATE) => {
                        // The read that opens the flow: a valid call of the source, its own arguments.
                        let Some(source) = target.source else {
                            return Err("a step calls `{{private}}`, and no tool on this server opens a flow that refuses the target".into());
                        };
                        let arguments = generate::valid(&source.input_schema, rng, false);
                        out.push(Action { at, session, identity, payload: Payload::Call { name: source.name.clone(), arguments }, shadow: step.via == Via::Shadow });
                        continue;
                    }
                    Some(t) => t.replace("{{name}}", &target.tool.name),
                    None => target.tool.name.clone(),
                };
                let mut arguments = arguments_for(step.args, target, rng);
                apply_set(&mut arguments, &step.set, target)?;
                let name = names::variant(&target.tool.server, &base, step.name_variant);
                match (&step.raw, target.tool.surface) {
                    (Some(template), _) => Payload::Raw { line: fill(template, &name, &target.decoy, &arguments), name, arguments },
                    (None, Surface::Tool) => Payload::Call { name, arguments },
                    (None, Surface::Resource) => Payload::Read { uri: name },
                    (None, Surface::Prompt) => Payload::Get { name, arguments },
                }
            };
            out.push(Action { at, session, identity, payload, shadow: step.via == Via::Shadow });
        }
    }
    Ok(out)
}

/// Generated arguments the policy admits, carrying the target's legitimate destinations.
fn arguments_for(gen: crate::scenario::Generator, target: &Target<'_>, rng: &mut ChaCha8Rng) -> Value {
    generate::generate_admitted(gen, &target.tool.input_schema, rng, &|v| target.admit(v))
}

/// A destination attack step: each attack value once per `calls`, spread over `over`.
fn plan_destinations(
    step: &Step,
    family: crate::scenario::DestinationAttack,
    target: &Target<'_>,
    rng: &mut ChaCha8Rng,
    session: u32,
    identity: u32,
) -> Result<Vec<Action>, String> {
    if target.destinations.is_empty() {
        return Err(format!("`{}` has no destination field to send elsewhere", target.tool.name));
    }
    let mut base = arguments_for(step.args, target, rng);
    apply_set(&mut base, &step.set, target)?;
    let calls = destinations::attack_calls(family, &base, &target.destinations);
    if calls.is_empty() {
        return Err(format!("no {} destination attack applies to the destination fields of `{}`", family.as_str(), target.tool.name));
    }
    let n = calls.len() * step.calls as usize;
    let name = names::variant(&target.tool.server, &target.tool.name, step.name_variant);
    Ok(calls
        .iter()
        .flat_map(|(args, _)| std::iter::repeat_n(args, step.calls as usize))
        .enumerate()
        .map(|(i, arguments)| {
            let offset = if step.concurrent { 0 } else { step.over.nanos() / n as i64 * i as i64 };
            Action { at: step.at.nanos() + offset, session, identity, payload: Payload::Call { name: name.clone(), arguments: arguments.clone() }, shadow: step.via == Via::Shadow }
        })
        .collect())
}

fn plan_random(r: &RandomBehaviour, target: &Target<'_>, rng: &mut ChaCha8Rng) -> Vec<Action> {
    let gens = if r.generators.is_empty() { vec![crate::scenario::Generator::Valid] } else { r.generators.clone() };
    let span = r.over.nanos().max(0);
    (0..r.calls)
        .map(|_| {
            let at = r.at.nanos() + if span > 0 { rng.gen_range(0..span) } else { 0 };
            let gen = *gens.choose(rng).unwrap_or(&crate::scenario::Generator::Valid);
            let variant = r.name_variants.choose(rng).copied().unwrap_or(NameVariant::Exact);
            let session = rng.gen_range(1..=r.sessions.max(1));
            let identity = if r.identities > 1 { rng.gen_range(1..=r.identities) } else { 1 };
            let arguments = arguments_for(gen, target, rng);
            Action {
                at,
                session,
                identity,
                payload: Payload::Call { name: names::variant(&target.tool.server, &target.tool.name, variant), arguments },
                shadow: false,
            }
        })
        .collect()
}

/// Delays tool calls (never earlier, order kept) so that no `window`
/// nanoseconds hold more than `count` of them, for every `(count, window)`
/// bound at once: a legitimate workload paced to a rate.
pub fn pace(actions: &mut Vec<Action>, bounds: &[(u64, i64)]) {
    let mut times: Vec<i64> = Vec::new();
    for a in actions.iter_mut().filter(|a| a.tool_name().is_some()) {
        let mut at = a.at.max(times.last().copied().unwrap_or(i64::MIN));
        for &(count, window) in bounds {
            let n = count.max(1) as usize;
            if times.len() >= n {
                at = at.max(times[times.len() - n] + window);
            }
        }
        a.at = at;
        times.push(at);
    }
    actions.sort_by_key(|a| a.at);
}

/// Applies `set:` overrides, resolving `$per_call` / `$per_window` expressions.
fn apply_set(arguments: &mut Value, set: &serde_json::Map<String, Value>, target: &Target<'_>) -> Result<(), String> {
    if set.is_empty() {
        return Ok(());
    }
    if !arguments.is_object() {
        *arguments = json!({});
    }
    for (k, v) in set {
        let value = match v.as_str().filter(|s| s.starts_with('$')) {
            Some(expr) => number(resolve_amount(expr, target)?),
            None => v.clone(),
        };
        arguments[k] = value;
    }
    Ok(())
}

/// A whole amount as a JSON integer (as an agent would send cents), otherwise a float.
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

/// `$per_call`, `$per_window` or `$minor` (one cent in the field's unit),
/// optionally followed by `*F`, `/F`, `+N` or `-N`.
pub fn resolve_amount(expr: &str, target: &Target<'_>) -> Result<f64, String> {
    let body = &expr[1..];
    let split = body.find(['*', '/', '+', '-']).unwrap_or(body.len());
    let (name, rest) = body.split_at(split);
    let base = match name {
        "per_call" => target.per_call_cap.ok_or("the requirements set no per-call amount cap for this tool")?,
        "per_window" => target.per_window_cap.ok_or("the requirements set no per-window amount cap for this tool")?,
        "minor" => target.minor_unit,
        other => return Err(format!("unknown amount `${other}`: use `$per_call`, `$per_window` or `$minor`")),
    };
    if rest.is_empty() {
        return Ok(base);
    }
    let (op, num) = rest.split_at(1);
    let n: f64 = num.parse().map_err(|_| format!("invalid number `{num}` in `{expr}`"))?;
    let v = match op {
        "*" => base * n,
        "/" => base / n,
        "+" => base + n,
        _ => base - n,
    };
    // Rounded to a hundredth of a cent: `$minor*1.5` in euros stays 0.015.
    let step = target.minor_unit / 100.0;
    Ok(if v.fract() == 0.0 { v } else { (v / step).round() * step })
}

/// A JSON string's body (escaped, without the quotes).
fn json_body(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted[1..quoted.len().saturating_sub(1)].to_string()
}

fn fill(template: &str, name: &str, decoy: &str, arguments: &Value) -> String {
    template
        .replace("{{name}}", &json_body(name))
        .replace("{{decoy}}", &json_body(decoy))
        .replace("{{args}}", &arguments.to_string())
}

impl Action {
    /// The JSON-RPC line for this action, with request id `id`.
    pub fn render(&self, id: u64) -> String {
        match &self.payload {
            Payload::Call { name, arguments } => json!({
                "jsonrpc": "2.0", "id": id, "method": "tools/call",
                "params": {"name": name, "arguments": arguments}
            })
            .to_string(),
            Payload::List(surface) => json!({"jsonrpc": "2.0", "id": id, "method": surface.list_method(), "params": {}}).to_string(),
            Payload::Raw { line, .. } => line.replace("{{id}}", &id.to_string()),
            Payload::Read { uri } => json!({"jsonrpc": "2.0", "id": id, "method": "resources/read", "params": {"uri": uri}}).to_string(),
            Payload::Get { name, arguments } => json!({
                "jsonrpc": "2.0", "id": id, "method": "prompts/get",
                "params": {"name": name, "arguments": arguments}
            })
            .to_string(),
        }
    }

    /// The tool this action calls (the resource it reads, the prompt it gets), if any.
    pub fn tool_name(&self) -> Option<&str> {
        match &self.payload {
            Payload::Call { name, .. } | Payload::Raw { name, .. } | Payload::Get { name, .. } => Some(name),
            Payload::Read { uri } => Some(uri),
            Payload::List(_) => None,
        }
    }

    /// The arguments this action sends, if any.
    pub fn arguments(&self) -> Option<&Value> {
        match &self.payload {
            Payload::Call { arguments, .. } | Payload::Raw { arguments, .. } | Payload::Get { arguments, .. } => Some(arguments),
            Payload::Read { .. } | Payload::List(_) => None,
        }
    }

    /// This action as one step of a trace (long values cut).
    pub fn trace_step(&self) -> TraceStep {
        let (method, tool, arguments, raw) = match &self.payload {
            Payload::Call { name, arguments } => ("tools/call", Some(name.clone()), Some(shorten(arguments)), None),
            Payload::List(surface) => (surface.list_method(), None, None, None),
            Payload::Read { uri } => ("resources/read", Some(uri.clone()), None, None),
            Payload::Get { name, arguments } => ("prompts/get", Some(name.clone()), Some(shorten(arguments)), None),
            Payload::Raw { line, name, .. } => ("raw", Some(name.clone()), None, Some(cut(&line.replace("{{id}}", "N"), 160))),
        };
        TraceStep { at_ns: self.at, session: self.session, identity: self.identity, method, tool, arguments, raw }
    }
}

/// One message of a trace, structured for machines; `Display` gives the
/// one-line form people read (`+59.000s s1 i1 tools/call "name" {…}`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TraceStep {
    /// Virtual nanoseconds after the run's start.
    #[serde(rename = "at_seconds", serialize_with = "seconds")]
    pub at_ns: i64,
    pub session: u32,
    pub identity: u32,
    /// `tools/call`, `tools/list`, `resources/read`, `prompts/get`, … or `raw` (a template line sent as is).
    pub method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The call's arguments, strings over 40 characters cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    /// A raw line, cut to 160 characters, its id shown as `N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

fn seconds<S: serde::Serializer>(ns: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(*ns as f64 / 1e9)
}

impl std::fmt::Display for TraceStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "+{:.3}s s{} i{} ", self.at_ns as f64 / 1e9, self.session, self.identity)?;
        match (&self.raw, &self.tool, &self.arguments) {
            (Some(line), _, _) => write!(f, "raw {}", visible(line)),
            (None, Some(name), Some(args)) => write!(f, "{} {} {}", self.method, quote(name), cut(&args.to_string(), 160)),
            (None, Some(name), None) => write!(f, "{} {}", self.method, quote(name)),
            _ => write!(f, "{}", self.method),
        }
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A raw line as a terminal can show it: control characters and the
/// Unicode line ends spelled as escapes (`\r`, `\u{2028}`), so a bare `\r`
/// shows instead of sending the cursor back over the trace.
fn visible(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn shorten(v: &Value) -> Value {
    match v {
        Value::String(s) if s.chars().count() > 40 => {
            Value::String(format!("{}…({} chars)", s.chars().take(24).collect::<String>(), s.chars().count()))
        }
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shorten(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(shorten).collect()),
        other => other.clone(),
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// The handshake a session opens with: initialize, notifications/initialized, tools/list.
/// It negotiates 2025-03-26, the last revision that allows JSON-RPC batches, so batch tricks can be tried.
pub fn handshake(init_id: u64, list_id: u64) -> [String; 3] {
    [
        json!({"jsonrpc": "2.0", "id": init_id, "method": "initialize", "params": {
            "protocolVersion": "2025-03-26", "capabilities": {},
            "clientInfo": {"name": "gauntlet-agent", "version": env!("CARGO_PKG_VERSION")}}})
        .to_string(),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
        json!({"jsonrpc": "2.0", "id": list_id, "method": "tools/list", "params": {}}).to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Duration, Generator, Risk};

    fn tool() -> ToolInfo {
        ToolInfo {
            server: "payments".into(),
            name: "create_charge".into(),
            risk: Risk::Financial,
            input_schema: json!({"type": "object", "properties": {"amount": {"type": "integer", "minimum": 1}}, "required": ["amount"]}).into(),
            surface: Default::default(),
            roles: Vec::new(),
            definition: Value::Null,
            private: false,
        }
    }

    fn target(t: &ToolInfo) -> Target<'_> {
        Target { decoy: "list_customers".into(), per_call_cap: Some(50_000.0), per_window_cap: Some(200_000.0), ..Target::plain(t) }
    }

    #[test]
    fn steps_spread_calls_and_rotate_sessions() {
        let t = tool();
        let steps = vec![
            Step { calls: 4, over: Duration::from_secs(60), ..Default::default() },
            Step { calls: 2, at: Duration::from_secs(60), session: Rotation::New, ..Default::default() },
            Step { calls: 2, at: Duration::from_secs(61), identity: Rotation::EachCall, ..Default::default() },
        ];
        let b = Behaviour { steps, random: None, list_on_open: None };
        let p = plan(&b, &target(&t), 1).unwrap();
        let times: Vec<i64> = p.iter().map(|a| a.at / 1_000_000_000).collect();
        assert_eq!(times, vec![0, 15, 30, 45, 60, 60, 61, 61]);
        let sessions: Vec<u32> = p.iter().map(|a| a.session).collect();
        assert_eq!(sessions, vec![1, 1, 1, 1, 2, 2, 2, 2]);
        let ids: Vec<u32> = p.iter().map(|a| a.identity).collect();
        assert_eq!(ids, vec![1, 1, 1, 1, 1, 1, 2, 3]);
    }

    #[test]
    fn set_resolves_requirement_amounts() {
        let t = tool();
        let mut set = serde_json::Map::new();
        set.insert("amount".into(), json!("$per_call/2"));
        let b = Behaviour { steps: vec![Step { calls: 1, set, ..Default::default() }], random: None, list_on_open: None };
        let p = plan(&b, &target(&t), 1).unwrap();
        assert_eq!(p[0].payload, Payload::Call { name: "create_charge".into(), arguments: json!({"amount": 25000}) });
        let mut no_caps = target(&t);
        no_caps.per_call_cap = None;
        assert!(plan(&b, &no_caps, 1).unwrap_err().contains("per-call"));
    }

    #[test]
    fn raw_templates_fill_names_args_and_ids() {
        let t = tool();
        let step = Step {
            raw: Some(r#"{"jsonrpc":"2.0","id":{{id}},"method":"tools/call","params":{"name":"{{decoy}}","Name":"{{name}}","arguments":{{args}}}}"#.into()),
            args: Generator::Empty,
            ..Default::default()
        };
        let b = Behaviour { steps: vec![step], random: None, list_on_open: None };
        let p = plan(&b, &target(&t), 1).unwrap();
        let line = p[0].render(7);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["id"], json!(7));
        assert_eq!(v["params"]["name"], json!("list_customers"));
        assert_eq!(v["params"]["Name"], json!("create_charge"));
    }

    #[test]
    fn random_plans_replay_from_their_seed() {
        let t = tool();
        let r = RandomBehaviour {
            calls: 20,
            at: Duration::default(),
            over: Duration::from_secs(120),
            generators: vec![Generator::Valid, Generator::TypeConfused],
            sessions: 3,
            identities: 1,
            name_variants: vec![],
        };
        let b = Behaviour { steps: vec![], random: Some(r), list_on_open: None };
        let a = plan(&b, &target(&t), 42).unwrap();
        assert_eq!(a, plan(&b, &target(&t), 42).unwrap());
        assert_ne!(a, plan(&b, &target(&t), 43).unwrap());
        assert!(a.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(a.iter().all(|x| (1..=3).contains(&x.session)));
    }
}
