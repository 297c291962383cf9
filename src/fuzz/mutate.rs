//! Byte-level and token-level mutations, biased toward what breaks YAML and
//! JSON readers: structure tokens, anchors and aliases, merge keys, odd
//! numbers and escapes, deep nesting, repetition, and splices of two inputs.

use rand::Rng;

/// Inputs are kept below this size (the loaders' own limit is far above).
const MAX_LEN: usize = 64 * 1024;

/// Tokens the mutator inserts or substitutes.
const TOKENS: &[&str] = &[
    "[", "]", "{", "}", ":", ": ", ",", "-", "- ", "\n", "\n  ", "  ", "\t", "#", "\"", "'", "\\", "\\u0000",
    "\\ud800", "&a ", "*a", "&b ", "*b", "<<: ", "<<: *a", "<<: [*a, *b]", "!!str ", "!!int ", "!!binary ",
    "!!merge ", "!foo ", "? ", "|\n", ">-\n", "---\n", "...\n", "%YAML 1.1\n", "\u{feff}", "~", "null", "true",
    "yes", "0x1F", "0o17", "010", "1_000", "1e400", "-0", ".inf", ".nan", "9223372036854775808", "2026-03-02",
    "\u{0085}", "\u{2028}", "\u{2029}", "é", "\r\n", "\r", "\u{b}", "\u{c}", "\u{1c}", "version: \"1\"\n", "tools:\n", "rules:\n", "rate_limit: 1/minute",
    "action: deny", "action: allow", "conditions:\n", "path: args.x", "op: regex", "value: \"(?i\"", "state.",
    "\"jsonrpc\":\"2.0\"", "\"id\":1", "\"id\":1e400", "\"id\":null", "\"method\":\"tools/call\"",
    "\"params\":{\"name\":\"t\",\"arguments\":{}}", "\"Name\":", "\"name\":\"delete_customer\"", "[{", "}]",
    "\"result\":{\"tools\":[]}", "\"error\":{\"code\":-32000,\"message\":\"x\"}",
];

/// One to four mutations of `data`, sometimes spliced with `other`.
pub fn mutate(mut data: Vec<u8>, other: &[u8], rng: &mut impl Rng) -> Vec<u8> {
    for _ in 0..rng.gen_range(1..=4) {
        let len = data.len();
        let at = if len == 0 { 0 } else { rng.gen_range(0..=len) };
        match rng.gen_range(0..10) {
            0 if len > 0 => {
                let i = rng.gen_range(0..len);
                data[i] ^= 1 << rng.gen_range(0..8);
            }
            1 => data.insert(at, rng.gen()),
            2 if len > 0 => {
                let end = (at + rng.gen_range(1..=16)).min(len);
                data.drain(at.min(len)..end);
            }
            3 | 4 => {
                let token = TOKENS[rng.gen_range(0..TOKENS.len())].as_bytes();
                data.splice(at..at, token.iter().copied());
            }
            5 if len > 0 => {
                // Repeat a chunk: long lines, many keys, deep indentation.
                let start = rng.gen_range(0..len);
                let end = (start + rng.gen_range(1..=32)).min(len);
                let chunk = data[start..end].to_vec();
                for _ in 0..rng.gen_range(2..64) {
                    data.splice(start..start, chunk.iter().copied());
                }
            }
            6 => {
                // Deep nesting.
                let n = rng.gen_range(1..400);
                let (open, close) = if rng.gen() { ("[", "]") } else { ("{a: ", "}") };
                let nested = format!("{}{}", open.repeat(n), close.repeat(n));
                data.splice(at..at, nested.bytes());
            }
            7 if !other.is_empty() => {
                // Splice: our head, the other input's tail.
                let cut = rng.gen_range(0..other.len());
                data.truncate(at);
                data.extend_from_slice(&other[cut..]);
            }
            8 if len > 1 => {
                // Replace a byte with one from a structure token.
                let token = TOKENS[rng.gen_range(0..TOKENS.len())].as_bytes();
                let i = rng.gen_range(0..len);
                data[i] = token[0];
            }
            _ => {
                // An alias bomb fragment.
                let bomb = "x: &a [1, 1, 1, 1, 1, 1, 1, 1]\ny: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nz: [*b, *b, *b, *b, *b, *b, *b, *b]\n";
                data.splice(at..at, bomb.bytes());
            }
        }
        data.truncate(MAX_LEN);
    }
    data
}
