//! A seeded mutation fuzzer that runs on stable Rust (cargo-fuzz needs
//! nightly): every loader and the proxy's message path, fed mutations of a
//! corpus (`fuzz/corpus/TARGET/`), each run replayable from its seed.
//!
//! A run is a pure function of (target, corpus, seed): input `i` is built
//! from a ChaCha stream seeded with `seed` and `i`, so `--seed S
//! --iterations N` replays a run exactly, and a failure names the iteration
//! and writes the input that caused it. A failure is a panic, a target's
//! own invariant broken, or one input taking longer than the slow limit
//! (the loaders have bounded cost by design; see [`crate::limits`]).

pub mod mutate;
pub mod targets;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use targets::Target;

/// How long a run may go on, and what counts as too slow for one input.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub iterations: Option<u64>,
    pub time: Option<Duration>,
    pub slow: Duration,
}

/// Why an input failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    Panic(String),
    Broken(String),
    Slow(Duration),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Panic(m) => write!(f, "panic: {m}"),
            Failure::Broken(m) => write!(f, "invariant broken: {m}"),
            Failure::Slow(d) => write!(f, "one input took {} ms", d.as_millis()),
        }
    }
}

/// A failing input: which iteration of which seed, and its bytes.
#[derive(Clone, Debug)]
pub struct Finding {
    pub iteration: u64,
    pub failure: Failure,
    pub input: Vec<u8>,
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct Run {
    pub target: Target,
    pub seed: u64,
    pub iterations: u64,
    pub finding: Option<Finding>,
}

/// The corpus of a target: `DIR/TARGET/*` sorted by name, or the target's
/// built-in seeds when that directory is absent or empty.
pub fn corpus(target: Target, dir: Option<&Path>) -> Vec<Vec<u8>> {
    let mut files: Vec<_> = dir
        .map(|d| d.join(target.name()))
        .and_then(|d| std::fs::read_dir(d).ok())
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let inputs: Vec<Vec<u8>> = files.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    if inputs.is_empty() {
        target.seeds().iter().map(|s| s.as_bytes().to_vec()).collect()
    } else {
        inputs
    }
}

/// Input `i` of a run: the corpus entries as they are first, then mutations.
pub fn input(corpus: &[Vec<u8>], seed: u64, i: u64) -> Vec<u8> {
    if (i as usize) < corpus.len() {
        return corpus[i as usize].clone();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let base = corpus[rng.gen_range(0..corpus.len())].clone();
    let other = &corpus[rng.gen_range(0..corpus.len())];
    mutate::mutate(base, other, &mut rng)
}

/// Runs one input through the target, catching panics and timing it.
pub fn check(target: Target, input: &[u8], slow: Duration) -> Result<(), Failure> {
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| target.run(input)));
    let took = started.elapsed();
    match outcome {
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".into());
            Err(Failure::Panic(msg))
        }
        Ok(Err(broken)) => Err(Failure::Broken(broken)),
        Ok(Ok(())) if took > slow => Err(Failure::Slow(took)),
        Ok(Ok(())) => Ok(()),
    }
}

/// Runs until the budget is spent or an input fails.
pub fn run(target: Target, corpus: &[Vec<u8>], seed: u64, budget: Budget) -> Run {
    let started = Instant::now();
    let mut i = 0;
    loop {
        if budget.iterations.is_some_and(|n| i >= n) || budget.time.is_some_and(|t| started.elapsed() >= t) {
            return Run { target, seed, iterations: i, finding: None };
        }
        let data = input(corpus, seed, i);
        if let Err(failure) = check(target, &data, budget.slow) {
            return Run { target, seed, iterations: i + 1, finding: Some(Finding { iteration: i, failure, input: data }) };
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus")
    }

    /// The bounded run of the test command: every target, its repository
    /// corpus plus mutations, a fixed seed, a fixed number of inputs.
    #[test]
    fn every_target_survives_its_corpus_and_mutations() {
        let seed = 20_261_126;
        for target in Target::ALL {
            let corpus = corpus(*target, Some(&corpus_dir()));
            assert!(corpus.len() >= 2, "{}: the repository corpus is missing", target.name());
            let budget = Budget { iterations: Some(corpus.len() as u64 + 150), time: None, slow: Duration::from_secs(20) };
            let run = run(*target, &corpus, seed, budget);
            if let Some(f) = &run.finding {
                panic!(
                    "{} seed {seed} iteration {}: {}\ninput: {:?}",
                    target.name(),
                    f.iteration,
                    f.failure,
                    String::from_utf8_lossy(&f.input)
                );
            }
        }
    }

    #[test]
    fn a_run_replays_from_its_seed() {
        let corpus = corpus(Target::PolicyIntercept, None);
        let a: Vec<Vec<u8>> = (0..50).map(|i| input(&corpus, 7, i)).collect();
        let b: Vec<Vec<u8>> = (0..50).map(|i| input(&corpus, 7, i)).collect();
        let c: Vec<Vec<u8>> = (0..50).map(|i| input(&corpus, 8, i)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn panics_and_broken_invariants_are_findings() {
        assert!(matches!(check(Target::SelfTest, b"panic", Duration::from_secs(5)), Err(Failure::Panic(m)) if m == "self-test panic"));
        assert!(matches!(check(Target::SelfTest, b"broken", Duration::from_secs(5)), Err(Failure::Broken(_))));
        assert_eq!(check(Target::SelfTest, b"fine", Duration::from_secs(5)), Ok(()));
        let run = run(Target::SelfTest, &[b"fine".to_vec(), b"panic".to_vec()], 1, Budget { iterations: Some(10), time: None, slow: Duration::from_secs(5) });
        assert_eq!(run.finding.map(|f| (f.iteration, f.input)), Some((1, b"panic".to_vec())));
    }
}
