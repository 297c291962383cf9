//! A file path as a POSIX file server resolves it, lexically: `.` and `..`
//! segments and repeated slashes folded (`..` above the root stays at the
//! root), a leading `~` read as a home directory. Percent signs and
//! backslashes are ordinary file-name characters on POSIX: `..%2f` is a file
//! name, not a step up (a URL's path is the URL parser's business, see
//! [`super::url`]). Symbolic links cannot be seen from a path and are not
//! followed.

use std::fmt;

/// Where a path points, as far as its text says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathReading {
    /// An absolute path, normalised (`/srv/a/../b` is `/srv/b`).
    Absolute(String),
    /// `~` or `~user` and what follows: a home directory, whichever the server's.
    Home(String),
    /// A relative path: its meaning depends on the server's working directory.
    Relative(String),
}

impl fmt::Display for PathReading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathReading::Absolute(p) | PathReading::Home(p) | PathReading::Relative(p) => f.write_str(p),
        }
    }
}

impl PathReading {
    pub fn parse(text: &str) -> PathReading {
        if text.starts_with('~') {
            return PathReading::Home(text.to_string());
        }
        if !text.starts_with('/') {
            return PathReading::Relative(text.to_string());
        }
        PathReading::Absolute(normalise(text))
    }

    /// Whether the path is `root` or below it (both normalised; `/srv/share-x` is not below `/srv/share`).
    pub fn is_under(&self, root: &PathReading) -> bool {
        match (self, root) {
            (PathReading::Absolute(p), PathReading::Absolute(r)) => {
                r == "/" || p == r || (p.starts_with(r.as_str()) && p.as_bytes().get(r.len()) == Some(&b'/'))
            }
            (PathReading::Home(p), PathReading::Home(r)) => {
                let (p, r) = (normalise(p), normalise(r));
                p == r || (p.starts_with(&r) && p.as_bytes().get(r.len()) == Some(&b'/'))
            }
            _ => false,
        }
    }
}

/// `.`, `..` and empty segments folded; always starts with `/` for absolute input.
fn normalise(text: &str) -> String {
    let absolute = text.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in text.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != ".." && !p.starts_with('~')) {
                    parts.pop();
                } else if !absolute && !parts.last().is_some_and(|p| p.starts_with('~')) {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abs(s: &str) -> PathReading {
        PathReading::Absolute(s.into())
    }

    #[test]
    fn traversal_is_folded_and_prefixes_are_not_roots() {
        assert_eq!(PathReading::parse("/srv/share/../../etc/passwd"), abs("/etc/passwd"));
        assert_eq!(PathReading::parse("//srv/./share//x/"), abs("/srv/share/x"));
        assert_eq!(PathReading::parse("/../../etc"), abs("/etc"));
        let root = PathReading::parse("/srv/share");
        assert!(PathReading::parse("/srv/share/a/b").is_under(&root));
        assert!(PathReading::parse("/srv/share").is_under(&root));
        assert!(!PathReading::parse("/srv/share-backup/a").is_under(&root));
        assert!(!PathReading::parse("/srv/share/../secret").is_under(&root));
        // Literal on POSIX: still inside.
        assert!(PathReading::parse("/srv/share/..%2f..%2fetc%2fpasswd").is_under(&root));
        assert!(PathReading::parse("/srv/share/..\\..\\etc\\passwd").is_under(&root));
        assert!(!PathReading::parse("~/.ssh/id_rsa").is_under(&root));
        assert!(PathReading::parse("~/notes/../notes/a").is_under(&PathReading::parse("~/notes")));
        assert!(!PathReading::parse("reports/a.txt").is_under(&root));
        assert!(PathReading::parse("/x").is_under(&PathReading::parse("/")));
    }
}
