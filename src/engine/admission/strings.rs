//! String languages as automata: which texts a set of string conditions
//! admits, decided exactly.
//!
//! Each condition on a string is a regular language over bytes — a policy
//! regex (Go RE2, as `policy::regex` translated it), an exact text or list
//! (`eq`/`in`), a substring (`contains`) — kept with a polarity, since a
//! refused call needs a condition's complement. A query is the product of
//! their dense DFAs (regex-automata, unanchored, match sticky: the engine's
//! `is_match` accepts once any match ends) with a UTF-8 automaton, so every
//! witness is a string JSON can carry. The product is explored breadth-first
//! in a byte order that prefers plain letters, so the first witness found is
//! the shortest and reads well. A DFA or product past its size budget is
//! [`Unknown`] with that reason, never a guess.
//!
//! A regex that only bounds a length — anchored at both ends, any character
//! repeated `m..=n` times, in pieces (`(?s)^.{0,1000}.{0,1000}$`, what a
//! length cap past RE2's repeat limit looks like) — is kept as that interval
//! of character counts instead: its DFA would need a state per character
//! (past the budget for a few thousand), a counter needs one number.

use std::collections::HashMap;
use std::sync::Arc;

use regex_automata::dfa::{dense, Automaton, StartKind};
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};

use super::Unknown;

/// One DFA's size budget, and the product's, in states: past them the answer is unknown.
const DFA_BYTES: usize = 16 << 20;
const PRODUCT_STATES: usize = 200_000;

/// A language of strings: every string, none, or a regex's (possibly complemented).
#[derive(Clone, Debug)]
pub enum StrSet {
    All,
    Empty,
    Lang(Lang),
}

/// A regular language and whether the set is its complement.
#[derive(Clone, Debug)]
pub struct Lang {
    pub dfa: Arc<Dfa>,
    pub negated: bool,
}

/// A compiled pattern: the translated regex text and its automaton.
#[derive(Debug)]
pub struct Dfa {
    pub pattern: String,
    dfa: Result<Auto, String>,
}

/// How a pattern is decided: an unanchored dense DFA, or (a length-only
/// pattern) the number of characters, `min..=max` (`None`: unbounded).
#[derive(Debug)]
enum Auto {
    Dense(dense::DFA<Vec<u32>>),
    Length { min: u64, max: Option<u64> },
}

impl StrSet {
    pub fn complement(&self) -> StrSet {
        match self {
            StrSet::All => StrSet::Empty,
            StrSet::Empty => StrSet::All,
            StrSet::Lang(l) => StrSet::Lang(Lang { dfa: l.dfa.clone(), negated: !l.negated }),
        }
    }

    /// Whether `s` is in the set; `Err` when the pattern has no automaton.
    pub fn contains(&self, s: &str) -> Result<bool, Unknown> {
        match self {
            StrSet::All => Ok(true),
            StrSet::Empty => Ok(false),
            StrSet::Lang(l) => Ok(l.dfa.is_match(s.as_bytes())? != l.negated),
        }
    }
}

/// The shortest text a regex (in the `regex` crate's syntax) matches, when
/// its automaton fits the model's budget: a schema `pattern` no stock guess
/// satisfies still gets a value the server's validator accepts.
pub fn example_of(pattern: &str) -> Option<String> {
    let set = [StrSet::Lang(Lang { dfa: Arc::new(Dfa::new(pattern)), negated: false })];
    Product::explore(&set).ok().flatten()?.shortest()
}

/// Patterns compiled once per model: a regex repeated on many tools shares one automaton.
#[derive(Debug, Default)]
pub struct Patterns(HashMap<String, Arc<Dfa>>);

impl Patterns {
    /// The DFA of a pattern in the `regex` crate's syntax (what the engine compiled).
    pub fn get(&mut self, pattern: &str) -> Arc<Dfa> {
        self.0.entry(pattern.to_string()).or_insert_with(|| Arc::new(Dfa::new(pattern))).clone()
    }

    /// Exactly the texts listed.
    pub fn exact<'a>(&mut self, texts: impl Iterator<Item = &'a str>) -> Arc<Dfa> {
        let alternatives: Vec<String> = texts.map(|t| regex::escape(t)).collect();
        self.get(&format!(r"\A(?:{})\z", alternatives.join("|")))
    }

    /// Every text containing `needle`.
    pub fn containing(&mut self, needle: &str) -> Arc<Dfa> {
        self.get(&regex::escape(needle))
    }
}

impl Dfa {
    fn new(pattern: &str) -> Dfa {
        if let Some((min, max)) = crate::policy::regex::length_only(pattern) {
            return Dfa { pattern: pattern.to_string(), dfa: Ok(Auto::Length { min, max }) };
        }
        let config = dense::Config::new()
            .start_kind(StartKind::Unanchored)
            .match_kind(MatchKind::All)
            .minimize(false)
            .dfa_size_limit(Some(DFA_BYTES))
            .determinize_size_limit(Some(DFA_BYTES));
        let dfa = dense::Builder::new()
            .configure(config)
            .build(pattern)
            .map(Auto::Dense)
            .map_err(|e| format!("the regex `{pattern}` has no automaton within the model's budget ({e})"));
        Dfa { pattern: pattern.to_string(), dfa }
    }

    fn get(&self) -> Result<&Auto, Unknown> {
        self.dfa.as_ref().map_err(|why| Unknown(why.clone()))
    }

    /// The part this pattern plays in a product, and where its run starts.
    fn part(&self) -> Result<(Part<'_>, Run), Unknown> {
        match self.get()? {
            Auto::Length { min, max } => Ok((Part::Length { min: *min, max: *max }, Run::Count(0))),
            Auto::Dense(dfa) => {
                let start = dfa
                    .start_state(&start::Config::new().anchored(Anchored::No))
                    .map_err(|e| Unknown(format!("the regex `{}` has no start state ({e})", self.pattern)))?;
                Ok((Part::Dense(dfa), Run::At(start)))
            }
        }
    }

    /// The engine's `is_match`: some match ends somewhere in `bytes`.
    pub fn is_match(&self, bytes: &[u8]) -> Result<bool, Unknown> {
        let (part, start) = self.part()?;
        let Part::Dense(dfa) = part else {
            let chars = String::from_utf8_lossy(bytes).chars().count() as u64;
            return Ok(accepts(&part, Run::Count(chars)));
        };
        let Run::At(mut s) = start else { return Ok(false) };
        for &b in bytes {
            s = dfa.next_state(s, b);
            if dfa.is_match_state(s) {
                return Ok(true);
            }
            if dfa.is_dead_state(s) {
                return Ok(false);
            }
        }
        Ok(dfa.is_match_state(dfa.next_eoi_state(s)))
    }
}

/// A component's place in a product walk: still running (a DFA state, or
/// characters counted so far), or decided for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Run {
    At(StateID),
    Count(u64),
    Matched,
    NeverMatches,
}

/// One language of a product, as its runs step.
#[derive(Clone, Copy, Debug)]
enum Part<'a> {
    Dense(&'a dense::DFA<Vec<u32>>),
    Length { min: u64, max: Option<u64> },
}

/// Whether a run that ends here is in the part's language.
fn accepts(part: &Part<'_>, run: Run) -> bool {
    match (part, run) {
        (_, Run::Matched) => true,
        (_, Run::NeverMatches) => false,
        (Part::Dense(dfa), Run::At(s)) => dfa.is_match_state(dfa.next_eoi_state(s)),
        (Part::Length { min, max }, Run::Count(n)) => n >= *min && max.is_none_or(|m| n <= m),
        _ => false,
    }
}

/// UTF-8 validity as a tiny automaton: 0 is "between characters".
fn utf8_next(state: u8, b: u8) -> Option<u8> {
    let cont = (0x80..=0xBF).contains(&b);
    match state {
        0 => match b {
            0x00..=0x7F => Some(0),
            0xC2..=0xDF => Some(1),
            0xE0 => Some(4),
            0xE1..=0xEC | 0xEE..=0xEF => Some(2),
            0xED => Some(5),
            0xF0 => Some(6),
            0xF1..=0xF3 => Some(3),
            0xF4 => Some(7),
            _ => None,
        },
        1 if cont => Some(0),
        2 if cont => Some(1),
        3 if cont => Some(2),
        4 if (0xA0..=0xBF).contains(&b) => Some(1),
        5 if (0x80..=0x9F).contains(&b) => Some(1),
        6 if (0x90..=0xBF).contains(&b) => Some(2),
        7 if (0x80..=0x8F).contains(&b) => Some(2),
        _ => None,
    }
}

/// Bytes in the order witnesses should prefer them: letters, digits, then the rest.
fn preference() -> Vec<u8> {
    let mut order: Vec<u8> = Vec::with_capacity(256);
    order.extend(b'a'..=b'z');
    order.extend(b'0'..=b'9');
    order.extend(b'A'..=b'Z');
    order.extend(b" -_.:/@".iter());
    order.extend((0x21u8..0x7F).filter(|b| !b.is_ascii_alphanumeric() && !b" -_.:/@".contains(b)));
    order.extend(0x80u8..=0xFF);
    order.extend(0x00u8..0x21);
    let mut seen = [false; 256];
    order.retain(|b| !std::mem::replace(&mut seen[*b as usize], true));
    order
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Node {
    utf8: u8,
    runs: Vec<Run>,
}

/// The product of several languages (all must hold) explored from the start.
pub struct Product<'a> {
    parts: Vec<(Part<'a>, bool)>,
    nodes: Vec<Node>,
    /// Looked up once per transition explored: a fast hash, not SipHash.
    index: HashMap<Node, usize, foldhash::fast::RandomState>,
    /// Per node: (byte, next node) for every live transition.
    edges: Vec<Vec<(u8, usize)>>,
    accepting: Vec<bool>,
}

impl<'a> Product<'a> {
    /// Explores the product of `sets` (their intersection). `Ok(None)`: some set is empty outright.
    pub fn explore(sets: &'a [StrSet]) -> Result<Option<Product<'a>>, Unknown> {
        let mut parts = Vec::new();
        let mut starts = Vec::new();
        for s in sets {
            match s {
                StrSet::All => {}
                StrSet::Empty => return Ok(None),
                StrSet::Lang(l) => {
                    let (part, start) = l.dfa.part()?;
                    parts.push((part, l.negated));
                    starts.push(start);
                }
            }
        }
        // One representative byte per class of bytes no part tells apart, preferred first.
        let letters = letters(&parts);
        let mut p = Product { parts, nodes: Vec::new(), index: HashMap::default(), edges: Vec::new(), accepting: Vec::new() };
        let start = Node { utf8: 0, runs: starts };
        let Some(start) = p.settle(start) else { return Ok(Some(p)) };
        p.add(start);
        let mut i = 0;
        while i < p.nodes.len() {
            if p.nodes.len() > PRODUCT_STATES {
                return Err(Unknown(format!(
                    "the conditions' automata have more than {PRODUCT_STATES} joint states (the model's budget)"
                )));
            }
            let node = p.nodes[i].clone();
            let mut out = Vec::new();
            for &b in &letters {
                let Some(utf8) = utf8_next(node.utf8, b) else { continue };
                let runs = node.runs.iter().zip(&p.parts).map(|(r, (part, _))| step(part, *r, b)).collect();
                let Some(next) = p.settle(Node { utf8, runs }) else { continue };
                let j = match p.index.get(&next) {
                    Some(&j) => j,
                    None => p.add(next),
                };
                out.push((b, j));
            }
            p.edges[i] = out;
            i += 1;
        }
        Ok(Some(p))
    }

    /// Normalises runs that can no longer change; `None` when the node can never accept.
    fn settle(&self, mut node: Node) -> Option<Node> {
        for (run, (_, negated)) in node.runs.iter_mut().zip(&self.parts) {
            match (*run, *negated) {
                (Run::Matched, true) | (Run::NeverMatches, false) => return None,
                _ => {}
            }
            // A run decided in the set's favour is the same as any other so decided.
            if matches!(run, Run::Matched | Run::NeverMatches) {
                *run = if *negated { Run::NeverMatches } else { Run::Matched };
            }
        }
        Some(node)
    }

    fn add(&mut self, node: Node) -> usize {
        let accepting =
            node.utf8 == 0 && node.runs.iter().zip(&self.parts).all(|(r, (part, negated))| accepts(part, *r) != *negated);
        self.index.insert(node.clone(), self.nodes.len());
        self.nodes.push(node);
        self.edges.push(Vec::new());
        self.accepting.push(accepting);
        self.nodes.len() - 1
    }

    /// The shortest member (most preferred bytes first), if the intersection is not empty.
    pub fn shortest(&self) -> Option<String> {
        if self.nodes.is_empty() {
            return None;
        }
        let mut parent: Vec<Option<(usize, u8)>> = vec![None; self.nodes.len()];
        let mut seen = vec![false; self.nodes.len()];
        let mut queue = std::collections::VecDeque::from([0usize]);
        seen[0] = true;
        while let Some(i) = queue.pop_front() {
            if self.accepting[i] {
                return Some(self.spell(&parent, i));
            }
            for &(b, j) in &self.edges[i] {
                if !seen[j] {
                    seen[j] = true;
                    parent[j] = Some((i, b));
                    queue.push_back(j);
                }
            }
        }
        None
    }

    fn spell(&self, parent: &[Option<(usize, u8)>], mut i: usize) -> String {
        let mut bytes = Vec::new();
        while let Some((p, b)) = parent[i] {
            bytes.push(b);
            i = p;
        }
        bytes.reverse();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Per node, the fewest bytes to an accepting node (`usize::MAX`: none).
    fn distances(&self) -> Vec<usize> {
        let mut back: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (i, out) in self.edges.iter().enumerate() {
            for &(_, j) in out {
                back[j].push(i);
            }
        }
        let mut dist = vec![usize::MAX; self.nodes.len()];
        let mut queue = std::collections::VecDeque::new();
        for (i, &a) in self.accepting.iter().enumerate() {
            if a {
                dist[i] = 0;
                queue.push_back(i);
            }
        }
        while let Some(j) = queue.pop_front() {
            for &i in &back[j] {
                if dist[i] == usize::MAX {
                    dist[i] = dist[j] + 1;
                    queue.push_back(i);
                }
            }
        }
        dist
    }

    /// A member about `len` bytes long: at least `len` when the language has
    /// members that long, else its longest. Walks preferred bytes while an
    /// accepting node stays reachable, then the shortest way to one.
    pub fn near_length(&self, len: usize) -> Option<String> {
        if self.nodes.is_empty() {
            return None;
        }
        let dist = self.distances();
        if dist[0] == usize::MAX {
            return None;
        }
        let (mut i, mut bytes) = (0usize, Vec::new());
        while bytes.len() < len {
            // Prefer staying where longer members remain: a node with an edge onward.
            let next = self.edges[i].iter().find(|(_, j)| dist[*j] != usize::MAX && !self.edges[*j].is_empty())
                .or_else(|| self.edges[i].iter().find(|(_, j)| dist[*j] != usize::MAX));
            match next {
                Some(&(b, j)) if !(self.accepting[i] && self.edges[j].is_empty() && !self.accepting[j]) => {
                    bytes.push(b);
                    i = j;
                }
                _ => break,
            }
            if bytes.len() > len + 8 {
                break;
            }
        }
        while !self.accepting[i] {
            let &(b, j) = self.edges[i].iter().find(|(_, j)| dist[*j] < dist[i])?;
            bytes.push(b);
            i = j;
        }
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The longest member, if the language is finite (no cycle reaches acceptance).
    pub fn longest(&self) -> Option<String> {
        self.longest_by(|_| 1).map(|(_, s)| s)
    }

    /// The most characters a member has, if the language is finite: what
    /// bounds its JSON text (no character escapes to more than six bytes).
    pub fn most_chars(&self) -> Option<usize> {
        self.longest_by(|b| usize::from(!(0x80..=0xBF).contains(&b))).map(|(n, _)| n)
    }

    /// The member with the greatest total `weight` of its bytes, and that total, if the language is finite.
    fn longest_by(&self, weight: impl Fn(u8) -> usize) -> Option<(usize, String)> {
        let dist = self.distances();
        if self.nodes.is_empty() || dist[0] == usize::MAX {
            return None;
        }
        // Longest path over the nodes that can still accept, in topological
        // order (Kahn); a cycle among them makes the language unbounded.
        let live: Vec<bool> = dist.iter().map(|d| *d != usize::MAX).collect();
        let n = self.nodes.len();
        let mut indegree = vec![0usize; n];
        for i in (0..n).filter(|&i| live[i]) {
            for &(_, j) in &self.edges[i] {
                if live[j] {
                    indegree[j] += 1;
                }
            }
        }
        let mut order = Vec::with_capacity(n);
        let mut ready: Vec<usize> = (0..n).filter(|&i| live[i] && indegree[i] == 0).collect();
        while let Some(i) = ready.pop() {
            order.push(i);
            for &(_, j) in &self.edges[i] {
                if live[j] {
                    indegree[j] -= 1;
                    if indegree[j] == 0 {
                        ready.push(j);
                    }
                }
            }
        }
        if order.len() != live.iter().filter(|l| **l).count() {
            return None;
        }
        // From the back: the longest way from each node to an accepting end.
        let mut best: Vec<Option<(usize, Option<(u8, usize)>)>> = vec![None; n];
        for &i in order.iter().rev() {
            let mut here = if self.accepting[i] { Some((0usize, None)) } else { None };
            for &(b, j) in &self.edges[i] {
                if let Some((l, _)) = best[j] {
                    if here.is_none_or(|(h, _)| l + weight(b) > h) {
                        here = Some((l + weight(b), Some((b, j))));
                    }
                }
            }
            best[i] = here;
        }
        let total = best[0].map(|(l, _)| l)?;
        let (mut i, mut bytes) = (0usize, Vec::new());
        while let Some((_, Some((b, j)))) = best[i] {
            bytes.push(b);
            i = j;
        }
        Some((total, String::from_utf8_lossy(&bytes).into_owned()))
    }
}

fn step(part: &Part<'_>, run: Run, b: u8) -> Run {
    match (part, run) {
        (Part::Length { min, max }, Run::Count(n)) => {
            // A character is counted at its first byte.
            let n = if (0x80..=0xBF).contains(&b) { n } else { n + 1 };
            match max {
                Some(m) if n > *m => Run::NeverMatches,
                // Unbounded above: past the minimum, more characters change nothing.
                None if n >= *min => Run::Matched,
                _ => Run::Count(n),
            }
        }
        (Part::Dense(dfa), Run::At(s)) => {
            let next = dfa.next_state(s, b);
            if dfa.is_match_state(next) {
                Run::Matched
            } else if dfa.is_dead_state(next) {
                Run::NeverMatches
            } else {
                Run::At(next)
            }
        }
        (_, decided) => decided,
    }
}

/// What the UTF-8 automaton does with byte `b` from each state, packed.
fn utf8_signature(b: u8) -> u32 {
    (0..8u8).fold(0u32, |acc, s| acc * 9 + utf8_next(s, b).map(|n| n as u32 + 1).unwrap_or(0))
}

/// One byte per class no part tells apart (the most preferred of the class),
/// in preference order. Lengths alone tell no character from another: any
/// member can be spelled in ASCII, so they walk ASCII only.
fn letters(parts: &[(Part<'_>, bool)]) -> Vec<u8> {
    let lengths_only = parts.iter().all(|(p, _)| matches!(p, Part::Length { .. }));
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for b in preference().into_iter().filter(|b| !lengths_only || b.is_ascii()) {
        let mut sig: Vec<u32> = parts
            .iter()
            .map(|(p, _)| match p {
                Part::Dense(d) => d.byte_classes().get(b) as u32,
                Part::Length { .. } => 0,
            })
            .collect();
        sig.push(utf8_signature(b));
        if seen.insert(sig) {
            out.push(b);
        }
    }
    out
}
