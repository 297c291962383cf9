//! Tools the verifier may judge as one: same rules (the admission model's
//! shape, the tool's own name taken out), same requirements, same schema and
//! definition, same server, and the same neighbours an attack reaches for
//! (the decoy a name trick names, the read that opens a flow). Each
//! scenario attacks one representative per class and carries its verdict
//! to the other members, each marked `same class as TOOL`.
//!
//! Fail closed: a tool is its own class whenever something could tell it
//! apart from another under a rename — a counter it shares with other tools
//! (see [`crate::engine::admission::Shapes`]), a name another tool spells
//! alike (a case or spacing variant of it is then a real name), a name two
//! servers offer, or a policy gauntlet cannot read (a black-box proxy).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::{blame, decoy_for, destinations, flow_source, key, Bench, Facts, Options, Outcome, Text, ToolKey, TwinResult};
use crate::scenario::lint::ToolInfo;
use crate::scenario::requirements::Requirements;

/// Per tool that may share a class, its class (a number: tools with the
/// same are one class); a tool absent from the map is judged alone.
pub(super) fn keys(bench: &dyn Bench, reqs: &Requirements, facts: &Facts) -> BTreeMap<ToolKey, usize> {
    let Some(admission) = bench.admission() else { return BTreeMap::new() };
    let shapes = admission.shapes();
    let catalogue = bench.catalogue();
    let alike = spelt_alike(catalogue, bench.policy());
    let mut servers_of: HashMap<&str, usize> = HashMap::new();
    for t in catalogue {
        *servers_of.entry(t.name.as_str()).or_default() += 1;
    }
    // What the tool is, apart from its name and its neighbours; each text kept once.
    let mut texts: HashMap<String, usize> = HashMap::new();
    let own: BTreeMap<ToolKey, usize> = catalogue
        .iter()
        .filter(|t| servers_of.get(t.name.as_str()) == Some(&1) && !alike.contains(&t.name))
        .filter_map(|t| {
            let shape = shapes.of(&t.name)?;
            let model = admission.tool(&t.name);
            let places = destinations::plan(t, reqs, Some(model));
            let text = format!(
                "{shape}\nserver {:?} {} {:?} private={} hides={} names={}\nschema {}\ndefinition {}\nroles {:?}\nrequirement {:?} pinned={} caps={} opens={}\nflow {:?}\nplaces {places:?}",
                t.server,
                t.surface,
                t.risk,
                t.private,
                bench.hides(&t.name),
                bench.names(&t.name),
                t.input_schema,
                definition(&t.definition),
                t.roles,
                reqs.for_item(t),
                reqs.pins(t),
                reqs.caps_declared(&t.name, t.risk),
                reqs.flows.iter().any(|f| f.opened_by(t)),
                reqs.flow_refusing(t),
            );
            let next = texts.len();
            Some((key(t), *texts.entry(text).or_insert(next)))
        })
        .collect();
    drop(texts);
    // The neighbours: a member's decoy and flow source must be of one class with the representative's.
    let by_name: HashMap<&str, &ToolInfo> = catalogue.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut classes: HashMap<(usize, Neighbour, Neighbour), usize> = HashMap::new();
    own.iter()
        .filter_map(|(k, &text)| {
            let t = by_name.get(k.1.as_str())?;
            let decoy = decoy_for(facts, t);
            let decoy = match by_name.get(decoy.as_str()) {
                Some(d) => Neighbour::Class(*own.get(&key(d))?),
                None => Neighbour::Named(decoy),
            };
            // A tool that opens its own flow reads and sends itself: not the run of one that reads another.
            let source = match flow_source(catalogue, t, reqs) {
                Some(s) if s.name == t.name && s.server == t.server => Neighbour::Itself,
                Some(s) => Neighbour::Class(*own.get(&key(s))?),
                None => Neighbour::None,
            };
            let next = classes.len();
            Some((k.clone(), *classes.entry((text, decoy, source)).or_insert(next)))
        })
        .collect()
}

/// A tool an attack on another reaches for (its decoy, its flow's source), as the class key sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Neighbour {
    None,
    Itself,
    /// A tool in play, by the class of what it is.
    Class(usize),
    /// A name no tool in play has.
    Named(String),
}

/// The tool's `tools/list` entry without what only names or describes it.
fn definition(d: &Value) -> String {
    match d {
        Value::Object(m) => {
            let mut m = m.clone();
            m.remove("name");
            m.remove("description");
            Value::Object(m).to_string()
        }
        other => other.to_string(),
    }
}

/// Names (of tools in play) that another name the policy or a server uses
/// spells alike, once case, spacing, separators, zero-width characters and
/// common look-alike letters are set aside: the attacks on name variants may
/// then reach a different tool or rule from each.
fn spelt_alike(catalogue: &[ToolInfo], policy: &crate::policy::model::Policy) -> std::collections::BTreeSet<String> {
    let mut by_skeleton: HashMap<String, std::collections::BTreeSet<&str>> = HashMap::new();
    let names = catalogue.iter().map(|t| t.name.as_str()).chain(policy.tools.iter().map(|t| t.name.as_str())).chain(policy.hide.iter().map(String::as_str));
    for n in names {
        by_skeleton.entry(skeleton(n)).or_default().insert(n);
    }
    by_skeleton.into_values().filter(|names| names.len() > 1).flatten().map(str::to_string).collect()
}

/// A name with what its variants change taken out.
fn skeleton(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'а' => 'a',
            'е' => 'e',
            'о' => 'o',
            'р' => 'p',
            'с' => 'c',
            'х' => 'x',
            'у' => 'y',
            other => other,
        })
        .collect()
}

/// The representative's verdict as a member's: its numbers and reasons
/// (each about the representative's run, which the member's would repeat
/// under the rename), blame recomputed at the member's own policy lines, and
/// none of the run's bulk (trace, timeline, every refusal text), which the
/// representative keeps. A member's words are the representative's own text
/// wherever they do not name it (`note`: its note as members carry it, from
/// [`carried_note`], made once per representative): a member costs a few
/// hundred bytes, so a large run's memory stays flat in its tool count.
pub(super) fn carry(rep: &Outcome, note: &Option<Text>, member: &ToolInfo, bench: &dyn Bench, opts: &Options) -> Outcome {
    let src = blame::Source { policy: bench.policy(), file: &opts.policy_file };
    // What names the representative in the run's words names the member: names are
    // quoted in backticks, and a scenario may make one from the target's (`{tool}_admin`).
    let (quoted, as_member) = (format!("`{}", rep.tool), format!("`{}", member.name));
    let renamed = |text: &Text| if text.contains(&quoted) { Text::from(text.replace(&quoted, &as_member)) } else { text.clone() };
    let check = rep.check.as_ref().map(|c| Box::new(c.renamed(&rep.tool, &member.name)));
    let twin = rep.twin.as_ref().map(|t| {
        let mut refused = t.refused.clone();
        if let Some(r) = refused.as_mut().filter(|r| r.tool == rep.tool) {
            r.tool = member.name.clone();
        }
        Box::new(TwinResult {
            tool: if t.tool == rep.tool { member.name.clone() } else { t.tool.clone() },
            attempted: t.attempted,
            reached: t.reached,
            refused,
            refused_arguments: t.refused_arguments.clone(),
            trace: Vec::new(),
            workload: t.workload.clone(),
        })
    });
    let blame = match (&rep.blame, &check, twin.as_ref().and_then(|t| t.refused.as_ref())) {
        (None, _, _) => None,
        (Some(_), Some(check), _) if rep.verdict == super::Verdict::Breached => Some(Box::new(blame::breach(&src, member, check, rep.class == crate::scenario::model::AttackClass::ToolNameVariant.as_str()))),
        (Some(_), _, Some(refused)) if rep.verdict == super::Verdict::OverBlocking => {
            Some(Box::new(blame::refusal(&src, refused, twin.as_ref().and_then(|t| t.refused_arguments.as_ref()))))
        }
        (Some(b), _, _) => Some(b.clone()),
    };
    let note = match &rep.note {
        Some(n) if n.contains(&quoted) => carried_note(rep, Some(renamed(n))),
        _ => note.clone(),
    };
    Outcome {
        scenario: rep.scenario.clone(),
        title: rep.title.clone(),
        class: rep.class.clone(),
        server: member.server.clone(),
        tool: member.name.clone(),
        verdict: rep.verdict,
        finding: rep.finding,
        severity: rep.severity,
        attempted: rep.attempted,
        reached: rep.reached,
        bound: renamed(&rep.bound),
        observed: renamed(&rep.observed),
        note,
        trace: Vec::new(),
        trace_from: rep.trace_from,
        seed: rep.seed,
        reproduce: rep.reproduce.clone(),
        twin,
        blame,
        denial: rep.denial.clone(),
        check,
        timeline: None,
        denial_texts: Vec::new(),
        deployment: rep.deployment,
        behaviour: rep.behaviour,
        same_class_as: Some(rep.tool.clone()),
    }
}

/// The representative's note (`note`, in the member's name), followed by
/// whose run it was where a verdict is shown on its own: at the end, so a
/// row cut to the terminal's width still starts with what sets it apart
/// (reasons of not-applicable and not-exercised outcomes are counted alike,
/// so they stay as they are).
pub(super) fn carried_note(rep: &Outcome, note: Option<Text>) -> Option<Text> {
    use super::Verdict;
    if matches!(rep.verdict, Verdict::NotApplicable | Verdict::NotExercised) {
        return note;
    }
    let carried = format!("same class as `{}`: attacked in its place, verdict carried", rep.tool);
    Some(Text::from(match note {
        Some(n) => format!("{n} ({carried})"),
        None => carried,
    }))
}
