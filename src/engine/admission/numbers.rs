//! Sets of JSON numbers as the engine sees them: doubles, as unions of
//! intervals with open or closed ends (`lt 5` is `(-inf, 5)`, `eq 5` is
//! `[5, 5]`, `neq 5` is two open halves). Intersection and complement are
//! exact; a witness prefers a whole number (what schemas ask for) near a
//! wanted value.

/// One end of an interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct End {
    pub at: f64,
    /// Whether `at` itself is in the interval.
    pub closed: bool,
}

/// A non-empty interval of doubles; infinite ends are open.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub lo: End,
    pub hi: End,
}

/// A finite union of disjoint intervals, in increasing order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct NumSet(pub Vec<Interval>);

const NEG: End = End { at: f64::NEG_INFINITY, closed: false };
const POS: End = End { at: f64::INFINITY, closed: false };

impl Interval {
    fn contains(&self, x: f64) -> bool {
        let above = x > self.lo.at || (self.lo.closed && x == self.lo.at);
        let below = x < self.hi.at || (self.hi.closed && x == self.hi.at);
        above && below
    }

    fn is_empty(&self) -> bool {
        self.lo.at > self.hi.at || (self.lo.at == self.hi.at && !(self.lo.closed && self.hi.closed))
    }
}

impl NumSet {
    pub fn all() -> NumSet {
        NumSet(vec![Interval { lo: NEG, hi: POS }])
    }

    pub fn none() -> NumSet {
        NumSet(Vec::new())
    }

    pub fn point(x: f64) -> NumSet {
        NumSet(vec![Interval { lo: End { at: x, closed: true }, hi: End { at: x, closed: true } }])
    }

    /// `x < b` (`closed`: `x <= b`).
    pub fn below(b: f64, closed: bool) -> NumSet {
        NumSet(vec![Interval { lo: NEG, hi: End { at: b, closed } }]).normal()
    }

    /// `x > b` (`closed`: `x >= b`).
    pub fn above(b: f64, closed: bool) -> NumSet {
        NumSet(vec![Interval { lo: End { at: b, closed }, hi: POS }]).normal()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, x: f64) -> bool {
        self.0.iter().any(|i| i.contains(x))
    }

    fn normal(mut self) -> NumSet {
        self.0.retain(|i| !i.is_empty());
        self
    }

    pub fn union(&self, other: &NumSet) -> NumSet {
        self.complement().intersect(&other.complement()).complement()
    }

    pub fn intersect(&self, other: &NumSet) -> NumSet {
        let mut out = Vec::new();
        for a in &self.0 {
            for b in &other.0 {
                let lo = if a.lo.at > b.lo.at || (a.lo.at == b.lo.at && !a.lo.closed) { a.lo } else { b.lo };
                let hi = if a.hi.at < b.hi.at || (a.hi.at == b.hi.at && !a.hi.closed) { a.hi } else { b.hi };
                out.push(Interval { lo, hi });
            }
        }
        out.sort_by(|x, y| x.lo.at.total_cmp(&y.lo.at));
        NumSet(out).normal()
    }

    pub fn complement(&self) -> NumSet {
        let mut out = Vec::new();
        let mut from = NEG;
        for i in &self.0 {
            out.push(Interval { lo: from, hi: End { at: i.lo.at, closed: !i.lo.closed } });
            from = End { at: i.hi.at, closed: !i.hi.closed };
        }
        out.push(Interval { lo: from, hi: POS });
        // Infinite ends stay open.
        for i in &mut out {
            if i.lo.at.is_infinite() {
                i.lo.closed = false;
            }
            if i.hi.at.is_infinite() {
                i.hi.closed = false;
            }
        }
        NumSet(out).normal()
    }

    /// A member, as close to `near` as the set allows, whole when a whole
    /// number is in reach (within the same interval).
    pub fn witness(&self, near: f64) -> Option<f64> {
        let mut best: Option<f64> = None;
        for i in &self.0 {
            let Some(x) = pick(i, near) else { continue };
            if best.is_none_or(|b| (x - near).abs() < (b - near).abs()) {
                best = Some(x);
            }
        }
        best
    }
}

/// A finite member of `i` near `near`: the nearest whole number in it if any, else a point inside.
fn pick(i: &Interval, near: f64) -> Option<f64> {
    let clamped = near.clamp(i.lo.at, i.hi.at);
    for candidate in [clamped.round(), clamped.floor(), clamped.ceil(), clamped.floor() + 1.0, clamped.ceil() - 1.0] {
        if candidate.is_finite() && i.contains(candidate) {
            return Some(candidate);
        }
    }
    if clamped.is_finite() && i.contains(clamped) {
        return Some(clamped);
    }
    // No whole number inside: the middle of a bounded interval, else a step in from its open end.
    let x = match (i.lo.at.is_finite(), i.hi.at.is_finite()) {
        (true, true) => i.lo.at / 2.0 + i.hi.at / 2.0,
        (true, false) => next_up(i.lo.at),
        (false, true) => next_down(i.hi.at),
        (false, false) => 0.0,
    };
    [x, next_up(i.lo.at), next_down(i.hi.at)].into_iter().find(|x| x.is_finite() && i.contains(*x))
}

pub fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let bits = x.to_bits();
    f64::from_bits(if x > 0.0 { bits + 1 } else { bits - 1 })
}

pub fn next_down(x: f64) -> f64 {
    -next_up(-x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complement_and_intersection_are_exact_at_the_ends() {
        let lte = NumSet::below(20000.0, true);
        assert!(lte.contains(20000.0) && !lte.contains(next_up(20000.0)));
        let out = lte.complement();
        assert!(!out.contains(20000.0) && out.contains(20001.0));
        assert_eq!(out.witness(20000.0), Some(20001.0));
        let band = NumSet::above(1.0, false).intersect(&NumSet::below(2.0, false));
        assert!(!band.contains(1.0) && !band.contains(2.0));
        assert_eq!(band.witness(0.0), Some(1.5));
        let not5 = NumSet::point(5.0).complement();
        assert!(!not5.contains(5.0) && not5.contains(4.0) && not5.contains(6.0));
        assert_eq!(not5.union(&NumSet::point(5.0)), NumSet::all());
        assert!(NumSet::below(3.0, false).intersect(&NumSet::above(3.0, true)).is_empty());
    }
}
