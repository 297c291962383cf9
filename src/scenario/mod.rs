//! The attack database: scenario files (`scenarios/*.yaml`), their JSON
//! Schema, the requirements they are judged against, and authoring helpers.
//!
//! Loading is strict: unknown keys, wrong types and impossible values are
//! errors that name `file:line:column` and say what to fix. Nothing here runs
//! a scenario; `agent` turns one into calls and `verify` judges the outcome.

pub mod duration;
pub mod learn;
pub mod lint;
pub mod model;
pub mod requirements;
pub mod schema;
pub mod skeleton;

mod builtin;

use std::fmt;
use std::path::{Path, PathBuf};

pub use duration::Duration;
pub use model::*;

/// A problem with a scenario file, positioned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.path.display(), self.line, self.column, self.message)?;
        if let Some(h) = &self.help {
            write!(f, "\n  help: {h}")?;
        }
        Ok(())
    }
}

impl ScenarioError {
    pub(crate) fn over_limit(path: &Path, e: &crate::yaml::Error) -> Self {
        ScenarioError {
            path: path.to_path_buf(),
            line: e.line as usize,
            column: e.column as usize,
            message: e.to_string(),
            help: Some(e.help().into()),
        }
    }

    pub(crate) fn unreadable(path: &Path, e: crate::yaml::ReadError) -> Self {
        match e {
            crate::yaml::ReadError::Input(e) => ScenarioError::over_limit(path, &e),
            crate::yaml::ReadError::Io(e) => ScenarioError {
                path: path.to_path_buf(),
                line: 1,
                column: 1,
                message: format!("cannot read scenario file: {e}"),
                help: None,
            },
        }
    }

    pub(crate) fn at_key(path: &Path, text: &str, key: &str, message: String, help: Option<String>) -> Self {
        let (line, column) = find_key(text, key);
        ScenarioError { path: path.to_path_buf(), line, column, message, help }
    }
}

impl ScenarioError {
    /// Positioned at what a JSON pointer (`/agent/steps/1/calls`) names in
    /// `text` (its key, for a member), or at `key` inside it (an unexpected
    /// member); by the first `key:` line when the pointer does not resolve.
    pub(crate) fn at_pointer(path: &Path, text: &str, pointer: &str, key: Option<&str>, message: String) -> Self {
        let fallback = key.or_else(|| pointer.rsplit('/').find(|seg| seg.parse::<usize>().is_err())).filter(|k| !k.is_empty()).unwrap_or("id");
        let (line, column) = position_of(text, pointer, key).unwrap_or_else(|| find_key(text, fallback));
        ScenarioError { path: path.to_path_buf(), line, column, message, help: None }
    }
}

/// 1-based position of what `pointer` (then member `key`) names in the YAML `text`.
fn position_of(text: &str, pointer: &str, key: Option<&str>) -> Option<(usize, usize)> {
    use crate::yaml::{Kind, Node};
    let root = crate::yaml::parse(text).ok()??;
    let member = |node: &'_ Node, name: &str| -> Option<(Node, Node)> {
        match &node.kind {
            Kind::Map(entries) => entries.iter().find(|(k, _)| matches!(&k.kind, Kind::Scalar { text, .. } if text == name)).cloned(),
            _ => None,
        }
    };
    let mut node = root;
    let mut at = (node.line, node.column);
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        let next = match &node.kind {
            Kind::Seq(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i).cloned()).map(|n| ((n.line, n.column), n)),
            Kind::Map(_) => member(&node, &seg).map(|(k, v)| ((k.line, k.column), v)),
            Kind::Scalar { .. } => None,
        };
        let (pos, n) = next?;
        at = pos;
        node = n;
    }
    if let Some(k) = key {
        let (k, _) = member(&node, k)?;
        at = (k.line, k.column);
    }
    Some((at.0 as usize, at.1 as usize))
}

/// 1-based position of the first line whose content starts with `key:` (or `- key:`), else 1:1.
fn find_key(text: &str, key: &str) -> (usize, usize) {
    let pat = format!("{key}:");
    for (i, l) in text.lines().enumerate() {
        let trimmed = l.trim_start().trim_start_matches("- ");
        if trimmed.starts_with(&pat) {
            return (i + 1, l.len() - trimmed.len() + 1);
        }
    }
    (1, 1)
}

/// Parses one scenario from text; `path` is only used in messages.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let scenario = decode(path, text)?;
    match rule_problems(path, text, &scenario).into_iter().next() {
        Some(first) => Err(first),
        None => Ok(scenario),
    }
}

/// The typed load alone: the input limits, then every key and value type.
pub fn decode(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    crate::yaml::check(text).map_err(|e| ScenarioError::over_limit(path, &e))?;
    serde_yaml::from_str(text).map_err(|e| {
        let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
        let full = e.to_string();
        let message = match full.rsplit_once(" at line ") {
            Some((m, _)) => m.to_string(),
            None => full,
        };
        let help = if message.contains("unknown field") {
            Some("`gauntlet scenario schema` prints the keys each section accepts".to_string())
        } else {
            None
        };
        ScenarioError { path: path.to_path_buf(), line, column, message, help }
    })
}

/// Every rule the types cannot express that `s` breaks, in file order of the checks.
pub fn rule_problems(path: &Path, text: &str, s: &Scenario) -> Vec<ScenarioError> {
    let mut problems = Vec::new();
    let valid_id = !s.id.is_empty()
        && s.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_id {
        problems.push(ScenarioError::at_key(
            path,
            text,
            "id",
            format!("scenario id `{}` is not kebab-case", s.id),
            Some("use lowercase letters, digits and `-`, e.g. `bulk-write-burst`".into()),
        ));
    }
    if s.agent.steps.is_empty() && s.agent.random.is_none() {
        problems.push(ScenarioError::at_key(
            path,
            text,
            "agent",
            "the agent does nothing".into(),
            Some("add `steps:` or `random:` under `agent:`".into()),
        ));
    }
    let all_steps = s.agent.steps.iter().chain(s.twin.iter().flat_map(|t| t.steps.iter()));
    for step in all_steps {
        if step.calls == 0 {
            problems.push(ScenarioError::at_key(
                path,
                text,
                "calls",
                "a step with `calls: 0` sends nothing".into(),
                Some("remove the step or give it at least one call".into()),
            ));
        }
        if step.list && step.raw.is_some() {
            problems.push(ScenarioError::at_key(
                path,
                text,
                "raw",
                "a step cannot be both `list: true` and `raw`".into(),
                None,
            ));
        }
        if let Some(raw) = &step.raw {
            let filled = raw
                .replace("{{id}}", "1")
                .replace("{{name}}", "n")
                .replace("{{decoy}}", "d")
                .replace("{{args}}", "{}");
            let not_json = filled.lines().filter(|l| !l.trim().is_empty()).find_map(|l| serde_json::from_str::<serde_json::Value>(l).err());
            if let Some(e) = not_json {
                problems.push(ScenarioError::at_key(
                    path,
                    text,
                    "raw",
                    format!("the raw template is not JSON once filled in: {e}"),
                    Some("placeholders `{{name}}` and `{{decoy}}` go inside quotes; `{{id}}` and `{{args}}` do not".into()),
                ));
            }
        }
    }
    if let Some(up) = &s.upstream {
        for change in &up.changes {
            if change.triggers() != 1 {
                problems.push(ScenarioError::at_key(path, text, "changes", "a definition change needs exactly one trigger".into(), Some("give it one of `after_calls`, `after_lists` or `at`".into())));
            }
            if !change.changes_something() {
                problems.push(ScenarioError::at_key(path, text, "changes", "a definition change changes nothing".into(), Some("set `description`, `add_arguments`, `loosen`, `annotations` or `remove`".into())));
            }
        }
        if let Some(shadow) = &up.shadow {
            if shadow.triggers() != 0 || shadow.remove || !shadow.changes_something() {
                problems.push(ScenarioError::at_key(
                    path,
                    text,
                    "shadow",
                    "`shadow` defines the second server's tool: it has no trigger and cannot remove it".into(),
                    Some("give it the hostile `description`, `add_arguments`, `loosen` or `annotations`".into()),
                ));
            }
        }
    }
    let shadowed = s.upstream.as_ref().is_some_and(|u| u.shadow.is_some());
    let all_steps = s.agent.steps.iter().chain(s.twin.iter().flat_map(|t| t.steps.iter()));
    if !shadowed && all_steps.clone().any(|st| st.via == Via::Shadow) {
        problems.push(ScenarioError::at_key(path, text, "via", "a step goes `via: shadow` but the scenario has no `upstream.shadow`".into(), Some("define the second server's tool under `upstream: {shadow: {...}}`".into())));
    }
    fault_problems(path, text, s, &mut problems);
    if s.expect == Expect::default() {
        problems.push(ScenarioError::at_key(
            path,
            text,
            "expect",
            "`expect` checks nothing".into(),
            Some("add at least one check, e.g. `max_reached_per_window: {}`".into()),
        ));
    }
    problems
}

/// A fault that lasts must say how long; one that happens once must not;
/// `fail_closed` needs an interval to judge. Each problem at the fault it names.
fn fault_problems(path: &Path, text: &str, s: &Scenario, problems: &mut Vec<ScenarioError>) {
    for (i, f) in s.faults.iter().enumerate() {
        let kind = f.kind.as_str();
        let (message, help) = match (f.kind.is_interval(), f.lasting) {
            (true, None) => (
                format!("fault `{kind}` lasts an interval but has no `for:`"),
                format!("add how long it lasts, e.g. `{{kind: {kind}, at: {}, for: 20s}}`", f.at),
            ),
            (true, Some(d)) if d.nanos() == 0 => {
                (format!("fault `{kind}` has `for: 0`: it never happens"), "give it a positive duration, or remove the fault".to_string())
            }
            (false, Some(_)) => (format!("fault `{kind}` happens once and takes no `for:`"), format!("remove `for:`: `{kind}` happens once, at `at:`")),
            _ => continue,
        };
        let at = if f.lasting.is_some() { Some("for") } else { None };
        problems.push(ScenarioError { help: Some(help), ..ScenarioError::at_pointer(path, text, &format!("/faults/{i}"), at, message) });
    }
    let judged = s.faults.iter().any(|f| matches!(f.kind, FaultKind::StoreError | FaultKind::StoreHang | FaultKind::PolicyTightened));
    if s.expect.fail_closed == Some(true) && !judged {
        problems.push(ScenarioError::at_key(
            path,
            text,
            "fail_closed",
            "`fail_closed` judges the calls made while enforcement was blind, and no fault here blinds it".into(),
            Some("add a `store-error`, `store-hang` or `policy-tightened` fault under `faults:`, or remove `fail_closed`".to_string()),
        ));
    }
}

/// The `*.yaml` / `*.yml` files directly in `dir`, sorted (scenario and mock server directories alike).
pub fn yaml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    Ok(paths)
}

pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = crate::yaml::read_file(path).map_err(|e| ScenarioError::unreadable(path, e))?;
    parse(path, &text)
}

/// Where a scenario came from: compiled into the binary, or a file on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    BuiltIn,
    File,
}

/// A loaded scenario with the file it came from (for a built-in one, its
/// path in gauntlet's source tree, `scenarios/ID.yaml`).
#[derive(Clone, Debug)]
pub struct Loaded {
    pub path: PathBuf,
    pub origin: Origin,
    pub scenario: Scenario,
}

impl Loaded {
    /// `built-in`, or the file's path: what `scenario list` shows.
    pub fn source(&self) -> String {
        match self.origin {
            Origin::BuiltIn => "built-in".to_string(),
            Origin::File => self.path.display().to_string(),
        }
    }
}

/// Sorts `loaded` by id; an error for each id used twice.
fn sort_and_check_ids(loaded: &mut [Loaded], help: Option<&str>) -> Vec<ScenarioError> {
    loaded.sort_by(|a, b| a.scenario.id.cmp(&b.scenario.id));
    loaded
        .windows(2)
        .filter(|w| w[0].scenario.id == w[1].scenario.id)
        .map(|w| ScenarioError {
            path: w[1].path.clone(),
            line: 1,
            column: 1,
            message: format!("scenario id `{}` is also used by {}", w[1].scenario.id, w[0].path.display()),
            help: help.map(str::to_string),
        })
        .collect()
}

/// Parses a set of scenario texts; collects all errors; refuses duplicate
/// ids and an id that differs from the file name.
fn load_texts(files: Vec<(PathBuf, String)>, origin: Origin) -> Result<Vec<Loaded>, Vec<ScenarioError>> {
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for (path, text) in files {
        let scenario = match parse(&path, &text) {
            Ok(s) => s,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if stem != scenario.id {
            errors.push(ScenarioError::at_key(
                &path,
                &text,
                "id",
                format!("scenario id `{}` differs from its file name `{stem}`", scenario.id),
                Some(format!("rename the file to `{}.yaml` or change the id", scenario.id)),
            ));
        }
        loaded.push(Loaded { path, origin, scenario });
    }
    errors.extend(sort_and_check_ids(&mut loaded, None));
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(errors)
    }
}

/// Every `*.yaml` in `dir` (not recursive), sorted by id.
pub fn load_dir(dir: &Path) -> Result<Vec<Loaded>, Vec<ScenarioError>> {
    let paths = yaml_files(dir).map_err(|e| {
        vec![ScenarioError {
            path: dir.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("cannot read scenario directory: {e}"),
            help: Some("pass a directory of scenario files with `--scenarios DIR`".into()),
        }]
    })?;
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match crate::yaml::read_file(&p) {
            Ok(text) => files.push((p, text)),
            Err(e) => errors.push(ScenarioError::unreadable(&p, e)),
        }
    }
    let loaded = load_texts(files, Origin::File);
    match (loaded, errors.is_empty()) {
        (Ok(l), true) => Ok(l),
        (Ok(_), false) => Err(errors),
        (Err(mut e), _) => {
            errors.append(&mut e);
            Err(errors)
        }
    }
}

/// The attack database compiled into the binary, sorted by id.
pub fn builtin() -> Result<Vec<Loaded>, Vec<ScenarioError>> {
    let files = builtin::FILES.iter().map(|(name, text)| (Path::new("scenarios").join(name), text.to_string())).collect();
    load_texts(files, Origin::BuiltIn)
}

/// The database a run uses: the built-in scenarios (unless `builtin` is
/// false) plus every scenario of each directory in `dirs`. A file whose id
/// is a built-in scenario's replaces that scenario, so a local edit needs no
/// rebuild; the same id in two given directories is an error.
pub fn database(dirs: &[PathBuf], builtin: bool) -> Result<Vec<Loaded>, Vec<ScenarioError>> {
    let mut errors = Vec::new();
    let mut given: Vec<Loaded> = Vec::new();
    for dir in dirs {
        match load_dir(dir) {
            Ok(l) => given.extend(l),
            Err(mut e) => errors.append(&mut e),
        }
    }
    errors.extend(sort_and_check_ids(&mut given, Some("pass each scenario once: rename one of them or drop one `--scenarios` directory")));
    let mut all = if builtin { self::builtin().unwrap_or_else(|mut e| { errors.append(&mut e); Vec::new() }) } else { Vec::new() };
    if !errors.is_empty() {
        return Err(errors);
    }
    all.retain(|b| !given.iter().any(|g| g.scenario.id == b.scenario.id));
    all.extend(given);
    all.sort_by(|a, b| a.scenario.id.cmp(&b.scenario.id));
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "id: demo\ntitle: Demo\nclass: bulk-writes\ntargets: {risk: [write]}\nagent:\n  steps:\n    - calls: 5\nexpect:\n  max_reached_per_window: {}\n";

    #[test]
    fn parses_a_minimal_scenario_with_defaults() {
        let s = parse(Path::new("demo.yaml"), MINIMAL).unwrap();
        assert_eq!(s.class, AttackClass::BulkWrites);
        assert_eq!(s.layer, Layer::Policy);
        assert_eq!(s.agent.steps[0].calls, 5);
        assert_eq!(s.agent.steps[0].args, Generator::Valid);
        assert_eq!(s.expect.max_reached_per_window, Some(RateExpect::default()));
    }

    #[test]
    fn unknown_key_is_positioned() {
        let text = MINIMAL.replace("    - calls: 5", "    - calls: 5\n      cals: 6");
        let e = parse(Path::new("s/demo.yaml"), &text).unwrap_err();
        assert_eq!((e.line, e.column), (8, 7), "{e}");
        assert!(e.message.contains("unknown field `cals`"), "{e}");
        assert!(e.to_string().starts_with("s/demo.yaml:8:7: "), "{e}");
    }

    #[test]
    fn semantic_errors_point_at_the_key() {
        let text = MINIMAL.replace("calls: 5", "calls: 0");
        let e = parse(Path::new("demo.yaml"), &text).unwrap_err();
        assert_eq!(e.line, 7);
        assert!(e.message.contains("calls: 0"));
        let text = MINIMAL.replace("id: demo", "id: Demo_1");
        let e = parse(Path::new("demo.yaml"), &text).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("`Demo_1`"));
    }

    #[test]
    fn faults_say_how_long_only_when_they_last_each_problem_at_its_fault() {
        let faults = "faults:\n  - {kind: store-error, at: 1s}\n  - {kind: proxy-restart, at: 2s, for: 3s}\n  - {kind: upstream-stall, at: 1s, for: 0s}\n";
        let text = MINIMAL.replace("expect:\n", &format!("{faults}expect:\n  fail_closed: true\n"));
        let problems = rule_problems(Path::new("d.yaml"), &text, &decode(Path::new("d.yaml"), &text).unwrap());
        let said: Vec<_> = problems.iter().map(|p| (p.line, p.message.as_str())).collect();
        assert_eq!(
            said,
            [
                (9, "fault `store-error` lasts an interval but has no `for:`"),
                (10, "fault `proxy-restart` happens once and takes no `for:`"),
                (11, "fault `upstream-stall` has `for: 0`: it never happens"),
            ],
            "fail_closed is judged: store-error blinds enforcement"
        );
        let text = MINIMAL.replace("expect:\n", "faults:\n  - {kind: proxy-restart, at: 2s}\nexpect:\n  fail_closed: true\n");
        let e = parse(Path::new("d.yaml"), &text).unwrap_err();
        assert!(e.message.contains("no fault here blinds it") && e.line == 11, "{e}");
    }

    #[test]
    fn switch_accepts_true_and_requirement_only() {
        let t = MINIMAL.replace("  max_reached_per_window: {}", "  never_reached: requirement");
        assert_eq!(parse(Path::new("d.yaml"), &t).unwrap().expect.never_reached, Some(Switch::Requirement));
        let t = MINIMAL.replace("  max_reached_per_window: {}", "  never_reached: false");
        assert!(parse(Path::new("d.yaml"), &t).unwrap_err().message.contains("remove the key"));
    }

    #[test]
    fn raw_templates_must_be_json_once_filled() {
        let t = MINIMAL.replace("    - calls: 5", "    - raw: '{\"id\":{{id}},\"params\":{\"name\":{{name}}}}'");
        let e = parse(Path::new("d.yaml"), &t).unwrap_err();
        assert!(e.message.contains("not JSON"), "{e}");
    }
}
