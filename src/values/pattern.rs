//! An allowlist as one anchored regular expression a policy condition can
//! carry (RE2 syntax, which Go's `regexp` and Rust's `regex` share): it
//! matches a value only when the receiving server reads that value as
//! allowed. It is stricter than the reading where strictness is cheap —
//! one address per field, no user-info in a URL, no `.` or `..` segment in
//! a path, the allowed spelling of a host (any case) and no other — so a
//! parser confusion never matches; a legitimate value in an odd spelling
//! may be refused. A test checks every value of the confusion corpus: a
//! match is always an allowed reading.

use super::{Allow, HostPattern, Kind};

/// One path segment that is neither `.` nor `..`.
const SEGMENT: &str = r"(?:[^/.][^/]*|\.[^/.][^/]*|\.\.[^/]+)";

impl Allow {
    /// The anchored regular expression admitting exactly what this
    /// allowlist admits of a `kind` (a safe subset), or `None` when it says
    /// nothing a regex can carry for that kind.
    pub fn regex(&self, kind: Kind) -> Option<String> {
        let mut alternatives: Vec<String> = self.values.iter().map(|v| escape(v)).collect();
        if let Some(p) = &self.pattern {
            alternatives.push(format!("(?:{p})"));
        }
        if let Some(s) = self.structural_regex(kind) {
            alternatives.push(s);
        }
        if alternatives.is_empty() {
            return None;
        }
        Some(format!("^(?:{})$", alternatives.join("|")))
    }

    fn structural_regex(&self, kind: Kind) -> Option<String> {
        match kind {
            Kind::Email if !self.domains.is_empty() => Some(format!("[A-Za-z0-9._+-]+@{}", hosts(&self.domains)?)),
            Kind::Host if !self.hosts.is_empty() => hosts(&self.hosts),
            Kind::Url if !(self.schemes.is_empty() && self.hosts.is_empty() && self.ports.is_empty()) => {
                let host = if self.hosts.is_empty() { r"[A-Za-z0-9.-]+".to_string() } else { hosts(&self.hosts)? };
                let schemes: Vec<String> = if self.schemes.is_empty() { vec![String::new()] } else { self.schemes.iter().map(|s| s.to_ascii_lowercase()).collect() };
                let per_scheme: Vec<String> = schemes
                    .iter()
                    .map(|s| {
                        let scheme = if s.is_empty() { "[A-Za-z][A-Za-z0-9+.-]*".to_string() } else { format!("(?i:{})", escape(s)) };
                        format!("{scheme}://{host}{}(?:[/?#][^\\s\\\\]*)?", port(s, &self.ports))
                    })
                    .collect();
                Some(format!("(?:{})", per_scheme.join("|")))
            }
            Kind::Path if !self.roots.is_empty() => {
                let roots: Vec<String> = self
                    .roots
                    .iter()
                    .map(|r| {
                        let r = r.trim_end_matches('/');
                        if r.is_empty() {
                            format!("(?:/{SEGMENT})*/?")
                        } else {
                            format!("{}(?:/{SEGMENT})*/?", escape(r))
                        }
                    })
                    .collect();
                Some(format!("(?:{})", roots.join("|")))
            }
            _ => None,
        }
    }
}

/// The port part after a URL's host: any port when none is listed; else
/// one of them, and none at all only when the scheme's default is listed.
fn port(scheme: &str, ports: &[u16]) -> String {
    if ports.is_empty() {
        return "(?::[0-9]{1,5})?".into();
    }
    let listed = ports.iter().map(u16::to_string).collect::<Vec<_>>().join("|");
    let default = url::Url::parse(&format!("{scheme}://x")).ok().and_then(|u| u.port_or_known_default());
    if default.is_some_and(|d| ports.contains(&d)) {
        format!("(?::(?:{listed}))?")
    } else {
        format!(":(?:{listed})")
    }
}

/// The hosts of an allowlist as one group, any case; `None` if one does not read as a host.
fn hosts(list: &[String]) -> Option<String> {
    let mut out = Vec::new();
    for h in list {
        out.push(match HostPattern::parse(h).ok()? {
            HostPattern::Exact(host) => escape(&host.to_string()),
            HostPattern::Under(d) => format!("(?:[A-Za-z0-9-]+\\.)+{}", escape(&d)),
        });
    }
    Some(format!("(?i:{})", out.join("|")))
}

/// `text` matched literally: every ASCII punctuation character escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(allow: &Allow, kind: Kind, value: &str) -> bool {
        regex::Regex::new(&allow.regex(kind).unwrap()).unwrap().is_match(value)
    }

    #[test]
    fn the_regex_admits_the_legitimate_spelling() {
        let mail = Allow { domains: vec!["acme.com".into(), "*.partner.org".into()], ..Allow::default() };
        assert!(matches(&mail, Kind::Email, "j.doe+x@ACME.com"));
        assert!(matches(&mail, Kind::Email, "a@eu.partner.org"));
        assert!(!matches(&mail, Kind::Email, "a@partner.org"));
        let web = Allow { schemes: vec!["https".into()], hosts: vec!["api.acme.com".into()], ports: vec![443, 8443], ..Allow::default() };
        assert!(matches(&web, Kind::Url, "https://api.acme.com/v1?x=1#y"));
        assert!(matches(&web, Kind::Url, "HTTPS://API.acme.com:8443"));
        assert!(!matches(&web, Kind::Url, "https://api.acme.com:9000/"));
        let odd = Allow { schemes: vec!["http".into()], ports: vec![8080], ..Allow::default() };
        assert!(!matches(&odd, Kind::Url, "http://localhost/") && matches(&odd, Kind::Url, "http://localhost:8080/"));
        let files = Allow { roots: vec!["/srv/share/".into()], ..Allow::default() };
        assert!(matches(&files, Kind::Path, "/srv/share/a/...b/c.txt"));
        assert!(!matches(&files, Kind::Path, "/srv/share/a/../../etc"));
        let ids = Allow { values: vec!["C0(1)".into()], pattern: Some("D[0-9]+".into()), ..Allow::default() };
        assert!(matches(&ids, Kind::Id, "C0(1)") && matches(&ids, Kind::Id, "D12") && !matches(&ids, Kind::Id, "C01"));
        assert_eq!(Allow::default().regex(Kind::Email), None);
    }
}
