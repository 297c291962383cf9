//! `gauntlet bench prove`: `prove` of the generated 50-tool policy (the one
//! `bench verify` runs) against the baseline requirements, of its 20× larger
//! form, and `diff` of two versions of the policy `harden` writes for the
//! bundled github server; several rounds of each, alternating.
//!
//! Each prove round is timed from the policy's text to the last proof and
//! fact, as `gauntlet prove` runs it; each diff round from the two files to
//! the last replayed witness, as `gauntlet diff` runs it (printing aside).
//! Baseline, measured in the same rounds: what any command pays before it
//! can answer anything — loading and compiling the same policies (and, for
//! prove, building the tool catalogue). Targets: the 50-tool proof under
//! 2 s (median), the large one at most 20× that, the diff under 1 s.
//! Prints one JSON object on stdout; exits 1 when a target is missed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use super::targets::{round, Spread, Target};
use super::usage::cpu_secs;
use super::verify::{policy_yaml, server_spec, Sizes};
use crate::cli::Exit;
use crate::engine::Engine;
use crate::profile::Profile;
use crate::prove::{self, diff::Direction, ReplayCommand, Setup};
use crate::scenario::requirements::Requirements;
use crate::verify::inprocess::{catalogue_of, NamedServer};

const TARGET_SMALL_SECS: f64 = 2.0;
const TARGET_DIFF_SECS: f64 = 1.0;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub sizes: Sizes,
    /// The old policy of the diff (default: `harden` of the bundled github server).
    #[arg(long, value_name = "FILE", requires = "new")]
    pub old: Option<PathBuf>,
    /// The new policy of the diff (default: the old one with a regex loosened, a limit raised, a hidden tool listed).
    #[arg(long, value_name = "FILE", requires = "old")]
    pub new: Option<PathBuf>,
}

pub fn run(args: Args) -> Exit {
    super::targets::report(measure(&args))
}

fn load(n: usize) -> Result<(Engine, Vec<crate::scenario::lint::ToolInfo>), String> {
    let policy = crate::policy::load_str(&policy_yaml(n), "bench-policy.yaml", None)
        .map_err(|e| format!("the generated bench policy does not load: {e}"))?
        .policy;
    let catalogue = catalogue_of(&[NamedServer { name: "bench".into(), spec: server_spec(n) }]);
    Ok((Engine::new(Arc::new(policy), Profile::Intercept), catalogue))
}

/// `prove` of the `n`-tool policy: the tally (proved, refuted, unknown, facts).
fn prove_once(n: usize, reqs: &Requirements) -> Result<prove::Summary, String> {
    let (engine, catalogue) = load(n)?;
    let setup = Setup {
        engine: &engine,
        policy_file: "bench-policy.yaml",
        catalogue: &catalogue,
        reqs,
        seed: crate::cli::verify::DEFAULT_SEED,
        replay: ReplayCommand { policy: "bench-policy.yaml".into(), strict: false },
    };
    let proofs = prove::prove(&setup);
    let facts = prove::facts::of(engine.policy(), &engine, "bench-policy.yaml", &catalogue);
    Ok(prove::ProofReport::new("bench-policy.yaml", "intercept", vec!["bench".into()], String::new(), proofs, facts).summary)
}

/// The two policies of the diff, written to `dir`, and the edits the new one makes.
fn github_versions(args: &Args, dir: &Path) -> Result<(PathBuf, PathBuf, Vec<String>), String> {
    if let (Some(old), Some(new)) = (&args.old, &args.new) {
        return Ok((old.clone(), new.clone(), vec!["given with --old and --new".into()]));
    }
    let servers = vec![crate::verify::setup::server(Path::new("github"))?];
    let scenarios = crate::verify::setup::scenarios(&[], false, &[], false)?;
    let reqs = Requirements::baseline();
    let names: Vec<String> = servers.iter().map(|s| s.name.clone()).collect();
    let setup = crate::harden::suggest::Setup {
        file: "github.yaml".into(),
        dialect: crate::policy::model::Dialect::Intercept,
        servers: &servers,
        scenarios: &scenarios,
        reqs: &reqs,
        profile: Profile::Intercept,
        seed: crate::cli::verify::DEFAULT_SEED,
        reproduce: String::new(),
    };
    let old = crate::harden::harden::harden(&setup, &crate::harden::harden::skeleton(&names))?.text;
    let (new, edits) = edited(&old);
    let (po, pn) = (dir.join("github-old.yaml"), dir.join("github-new.yaml"));
    std::fs::write(&po, &old).map_err(|e| format!("{}: {e}", po.display()))?;
    std::fs::write(&pn, new).map_err(|e| format!("{}: {e}", pn.display()))?;
    Ok((po, pn, edits))
}

/// The old text with three edits a careless review could let through: the
/// first regex's closing `$` dropped, the first rate limit raised by 10, the
/// first hidden tool listed again. Returns the text and the edits it made.
fn edited(old: &str) -> (String, Vec<String>) {
    let mut lines: Vec<String> = old.lines().map(str::to_string).collect();
    let mut edits = Vec::new();
    if let Some(l) = lines.iter_mut().find(|l| l.contains("op: regex") && l.contains("$\"")) {
        *l = l.replacen("$\"", "\"", 1);
        edits.push("a regex's closing `$` dropped".to_string());
    }
    if let Some((l, n)) = lines.iter_mut().find_map(|l| {
        let at = l.find("rate_limit: ")? + "rate_limit: ".len();
        let digits: String = l[at..].chars().take_while(char::is_ascii_digit).collect();
        let n: u64 = digits.parse().ok()?;
        Some((l, (at, digits.len(), n)))
    }) {
        let (at, len, count) = n;
        l.replace_range(at..at + len, &(count + 10).to_string());
        edits.push(format!("a rate limit raised from {count} to {}", count + 10));
    }
    if let Some(i) = lines.iter().position(|l| l.trim_end() == "hide:") {
        if lines.get(i + 1).is_some_and(|l| l.trim_start().starts_with("- ")) {
            let gone = lines.remove(i + 1);
            edits.push(format!("`{}` taken off `hide:`", gone.trim_start().trim_start_matches("- ").trim_matches('"')));
            if !lines.get(i + 1).is_some_and(|l| l.trim_start().starts_with("- ")) {
                lines[i] = lines[i].replace("hide:", "hide: []");
            }
        }
    }
    (lines.join("\n") + "\n", edits)
}

/// `diff` of two files as the command runs it: the changes, weaker first counted.
fn diff_once(old: &Path, new: &Path) -> Result<(usize, usize, usize), String> {
    let load = |p: &Path| crate::cli::diff::load(&p.display().to_string()).map_err(|_| format!("{}: the policy does not load", p.display()));
    let (o, n) = (load(old)?, load(new)?);
    let changes = crate::cli::diff::changes(&o, &n, Profile::Intercept, &[]);
    let count = |d: Direction| changes.iter().filter(|c| c.direction == d).count();
    Ok((count(Direction::Weaker), count(Direction::Stronger), changes.len()))
}

/// What the diff's baseline does: load and compile both policies.
fn diff_baseline(old: &Path, new: &Path) -> Result<(), String> {
    for p in [old, new] {
        let loaded = crate::policy::load_file(p, None).map_err(|e| format!("{}: {e}", p.display()))?;
        std::hint::black_box(Engine::new(Arc::new(loaded.policy), Profile::Intercept));
    }
    Ok(())
}

#[derive(Default)]
struct Series {
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

impl Series {
    /// Runs `work` once, timed, and keeps its wall and CPU seconds.
    fn time<T>(&mut self, work: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
        let (started, cpu) = (Instant::now(), cpu_secs());
        let out = work()?;
        self.wall.push(started.elapsed().as_secs_f64());
        self.cpu.push(cpu_secs() - cpu);
        Ok(out)
    }

    fn spreads(&self) -> Result<(Spread, Spread), String> {
        let s = |xs: &[f64]| Spread::of(xs.to_vec()).ok_or_else(|| "no round ran".to_string());
        Ok((s(&self.wall)?, s(&self.cpu)?))
    }

    fn json(&self) -> Result<Value, String> {
        let (wall, cpu) = self.spreads()?;
        Ok(json!({"wall_secs": wall.json(), "cpu_secs": cpu.json()}))
    }
}

/// Per round, `a / b`.
fn per_round(a: &[f64], b: &[f64]) -> Value {
    Spread::of(a.iter().zip(b).map(|(a, b)| a / b.max(1e-9)).collect()).map_or(Value::Null, |s| s.json())
}

pub fn measure(args: &Args) -> Result<(Value, Vec<Target>), String> {
    let (small, large) = args.sizes.counts()?;
    let reqs = Requirements::baseline();
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    let (old, new, edits) = github_versions(args, dir.path())?;
    let (mut ps, mut pl, mut pb, mut d, mut db) = (Series::default(), Series::default(), Series::default(), Series::default(), Series::default());
    let (mut tally_small, mut tally_large, mut changes) = (None, None, (0, 0, 0));
    for _ in 0..args.sizes.rounds.max(1) {
        tally_small = Some(ps.time(|| prove_once(small, &reqs))?);
        pb.time(|| load(small).map(|x| drop(std::hint::black_box(x))))?;
        tally_large = Some(pl.time(|| prove_once(large, &reqs))?);
        changes = d.time(|| diff_once(&old, &new))?;
        db.time(|| diff_baseline(&old, &new))?;
    }
    let (small_wall, _) = ps.spreads()?;
    let (large_wall, _) = pl.spreads()?;
    let (diff_wall, _) = d.spreads()?;
    let (base_wall, _) = pb.spreads()?;
    let (dbase_wall, _) = db.spreads()?;
    let scaling = large_wall.median / small_wall.median.max(1e-9);
    let report = json!({
        "bench": "prove",
        "rounds": args.sizes.rounds.max(1),
        "requirements": "built-in baseline",
        "small": {"tools": small, "summary": tally_small, "times": ps.json()?},
        "large": {"tools": large, "summary": tally_large, "times": pl.json()?},
        "scaling": {
            "what": format!("large/small time; linear in the tool count is {}", args.sizes.scale.max(1)),
            "wall_of_medians": round(scaling),
            "wall_per_round": per_round(&pl.wall, &ps.wall),
            "cpu_per_round": per_round(&pl.cpu, &ps.cpu),
        },
        "baseline": {
            "what": "loading and compiling the small policy and building its tool catalogue (what any command pays first)",
            "times": pb.json()?,
        },
        "small_to_baseline": round(small_wall.median / base_wall.median.max(1e-9)),
        "diff": {
            "old": old.display().to_string(),
            "new": if args.new.is_some() { new.display().to_string() } else { "the old policy with the edits listed".into() },
            "edits": edits,
            "changes": {"weaker": changes.0, "stronger": changes.1, "total": changes.2},
            "times": d.json()?,
            "baseline": {"what": "loading and compiling both policies", "times": db.json()?},
            "to_baseline": round(diff_wall.median / dbase_wall.median.max(1e-9)),
            "to_baseline_per_round": per_round(&d.wall, &db.wall),
        },
    });
    let targets = vec![
        Target::at_most(format!("{small}-tool prove < {TARGET_SMALL_SECS} s (median)"), small_wall.median, TARGET_SMALL_SECS, true),
        Target::at_most(format!("{large}-tool prove ≤ {}× the {small}-tool prove (medians)", args.sizes.scale.max(1)), scaling, args.sizes.scale.max(1) as f64, false),
        Target::at_most(format!("diff of two github policies < {TARGET_DIFF_SECS} s (median)"), diff_wall.median, TARGET_DIFF_SECS, true),
    ];
    Ok((report, targets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edits_are_the_three_named() {
        let old = "version: \"1\"\nhide:\n  - delete_repo\ntools:\n  t:\n    rules:\n      - {name: rate, rate_limit: 15/minute}\n      - name: a\n        conditions:\n          - {path: args.x, op: regex, value: \"^a$\"}\n";
        let (new, edits) = edited(old);
        assert_eq!(edits.len(), 3, "{edits:?}");
        assert!(new.contains("hide: []") && !new.contains("delete_repo"));
        assert!(new.contains("rate_limit: 25/minute") && new.contains("value: \"^a\"}"));
        crate::policy::load_str(&new, "new.yaml", None).unwrap();
    }
}
