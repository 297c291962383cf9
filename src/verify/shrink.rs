//! Delta debugging: cut a breaching plan down to the shortest one that still breaches.
//!
//! Works on any plan (scripted or random) because the predicate replays the
//! candidate from scratch. Bounded by a replay budget so a slow predicate
//! cannot stall a run; the result is always a plan that was seen to breach.

/// Removes chunks of `items` while `still_fails` holds; at most `budget` predicate calls.
pub fn shrink<T: Clone>(items: Vec<T>, budget: usize, mut still_fails: impl FnMut(&[T]) -> bool) -> Vec<T> {
    let mut current = items;
    let mut parts = 2usize;
    let mut runs = 0usize;
    while current.len() > 1 && runs < budget {
        let chunk = current.len().div_ceil(parts);
        let mut reduced = None;
        for i in 0..parts {
            let start = i * chunk;
            if start >= current.len() || runs >= budget {
                break;
            }
            let end = (start + chunk).min(current.len());
            let candidate: Vec<T> = current[..start].iter().chain(current[end..].iter()).cloned().collect();
            if candidate.is_empty() {
                continue;
            }
            runs += 1;
            if still_fails(&candidate) {
                reduced = Some(candidate);
                break;
            }
        }
        match reduced {
            Some(smaller) => {
                current = smaller;
                parts = (parts - 1).max(2);
            }
            None if parts >= current.len() => break,
            None => parts = (parts * 2).min(current.len()),
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinks_a_count_breach_to_bound_plus_one() {
        let items: Vec<u32> = (0..200).collect();
        let out = shrink(items, 500, |c| c.len() > 30);
        assert_eq!(out.len(), 31);
    }

    #[test]
    fn keeps_the_one_element_that_matters() {
        let items: Vec<u32> = (0..100).collect();
        let out = shrink(items, 500, |c| c.contains(&73));
        assert_eq!(out, vec![73]);
    }

    /// A calendar-minute limiter of 30 in front of a sliding 30-per-minute requirement:
    /// 40 calls just before the edge and 40 just after shrink to 31 that straddle it.
    #[test]
    fn a_window_edge_burst_shrinks_to_the_calls_around_the_edge() {
        let ms: Vec<i64> = (0..40).map(|i| 59_000 + i * 22).chain((0..40).map(|i| 60_000 + i * 22)).collect();
        let breaches = |plan: &[i64]| {
            let mut passed: Vec<i64> = Vec::new();
            for &t in plan {
                if passed.iter().filter(|p| *p / 60_000 == t / 60_000).count() < 30 {
                    passed.push(t);
                }
            }
            passed.iter().any(|&a| passed.iter().filter(|&&b| b >= a && b - a < 60_000).count() > 30)
        };
        assert!(breaches(&ms));
        let out = shrink(ms, 96, breaches);
        assert_eq!(out.len(), 31);
        assert!(out.iter().any(|t| *t < 60_000) && out.iter().any(|t| *t >= 60_000), "{out:?}");
        assert!(out.windows(2).all(|w| w[0] < w[1]), "times and order are kept");
    }

    #[test]
    fn respects_the_budget() {
        let mut calls = 0;
        let out = shrink((0..1000).collect::<Vec<u32>>(), 5, |c| {
            calls += 1;
            c.len() > 3
        });
        assert_eq!(calls, 5);
        assert!(out.len() > 3);
    }
}
