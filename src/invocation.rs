//! How the user ran gauntlet, for the commands it prints (reproduce, accept,
//! next steps): the program as invoked (`argv[0]`, e.g. `./target/debug/gauntlet`
//! or `gauntlet`) and POSIX shell quoting, so a printed command can be
//! pasted back into a shell as is.

use std::sync::OnceLock;

static PROGRAM: OnceLock<String> = OnceLock::new();

/// Records `argv[0]`; the command line calls this once at start-up.
pub fn set_program(argv0: &str) {
    let _ = PROGRAM.set(quote(argv0));
}

/// The program as invoked, shell-quoted; `gauntlet` when used as a library.
pub fn program() -> &'static str {
    PROGRAM.get().map_or("gauntlet", String::as_str)
}

/// `s` quoted for a POSIX shell: unchanged when it only has characters no
/// shell treats specially, else in single quotes.
pub fn quote(s: &str) -> String {
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A path argument, shell-quoted.
pub fn quote_path(p: &std::path::Path) -> String {
    quote(&p.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_a_shell_would_split_or_expand() {
        assert_eq!(quote("./target/debug/gauntlet"), "./target/debug/gauntlet");
        assert_eq!(quote("/opt/my tools/gauntlet"), "'/opt/my tools/gauntlet'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$HOME/x"), "'$HOME/x'");
        assert_eq!(quote(""), "''");
    }
}
