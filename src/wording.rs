//! Wording every message shares: a count with its noun in the right number
//! (`1 tool`, `2 tools`), the closest known name for a typo, and lines
//! wrapped to the terminal's width.

/// `n` and `noun`, plural unless `n` is 1: `1 tool`, `3 tools`, `2 policies`.
pub fn count(n: usize, noun: &str) -> String {
    format!("{n} {}", noun_for(n, noun))
}

/// `noun` in the number `n` asks for (`policy` → `policies`, `match` → `matches`).
pub fn noun_for(n: usize, noun: &str) -> String {
    if n == 1 {
        return noun.to_string();
    }
    let consonant_y = noun.len() > 1 && noun.ends_with('y') && !noun[..noun.len() - 1].ends_with(['a', 'e', 'i', 'o', 'u']);
    if consonant_y {
        format!("{}ies", &noun[..noun.len() - 1])
    } else if noun.ends_with(['s', 'x']) || noun.ends_with("ch") || noun.ends_with("sh") {
        format!("{noun}es")
    } else {
        format!("{noun}s")
    }
}

/// Levenshtein distance, for did-you-mean advice.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a typo of it
/// (at most 2 edits, or a third of the candidate's length for long names).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.chars().count() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Greedy word wrap: the first line starts after `first` columns already used,
/// later lines are indented by `indent`. Words longer than a line are split.
pub fn wrap(text: &str, width: usize, first: usize, indent: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = first;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let sep = usize::from(!line.is_empty());
            if used + sep + word.len() <= width {
                if sep == 1 {
                    line.push(' ');
                }
                line.extend(word.iter());
                used += sep + word.len();
                break;
            }
            let room = width.saturating_sub(used);
            if !line.is_empty() || (used > indent && room < word.len().min(8)) {
                // Start a fresh line (possibly leaving the first one to its prefix).
                lines.push(std::mem::take(&mut line));
                used = indent;
                continue;
            }
            // A word longer than a whole line: cut it.
            let cut = room.max(8).min(word.len());
            line.extend(word[..cut].iter());
            lines.push(std::mem::take(&mut line));
            word.drain(..cut);
            used = indent;
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(count(1, "tool"), "1 tool");
        assert_eq!(count(0, "tool"), "0 tools");
        assert_eq!(count(2, "policy"), "2 policies");
        assert_eq!(count(3, "day"), "3 days");
        assert_eq!(count(2, "match"), "2 matches");
        assert_eq!(count(1, "scenarios"), "1 scenarios", "callers pass the singular");
    }

    #[test]
    fn wrapping_respects_the_width_and_cuts_long_words() {
        let lines = wrap("aaa bbb ccc ddd", 9, 2, 4);
        assert_eq!(lines, vec!["aaa bbb", "ccc", "ddd"]);
        let long = wrap(&"x".repeat(30), 12, 0, 2);
        assert!(long.iter().all(|l| l.chars().count() <= 12), "{long:?}");
        assert_eq!(long.concat(), "x".repeat(30));
    }

    #[test]
    fn typos_find_their_name_and_strangers_find_none() {
        let ids = ["bulk-write-burst", "bulk-write-sustained", "retry-storm"];
        assert_eq!(closest("bulk-write-brust", ids), Some("bulk-write-burst"));
        assert_eq!(closest("gti", ["git", "github", "aksjah"]), Some("git"));
        assert_eq!(closest("payments-v2-beta", ids), None);
    }
}
