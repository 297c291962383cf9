//! Where a value goes, as the server that receives it reads it: URLs with
//! the WHATWG parser, hosts after IDNA and every IPv4 spelling, e-mail
//! addresses by the domain after their real `@`, file paths normalised,
//! IBANs by account. One place for the readers, the allowlists gauntlet.yaml
//! writes ([`Allow`]) and the attack values built against them
//! ([`attacks`]): the generators that send a value and the judges that read
//! it off the ledger use the same reading, never a policy's own regex.

pub mod attacks;
pub mod email;
pub mod host;
pub mod iban;
pub mod path;
pub mod pattern;
pub mod url;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use self::url::UrlReading;
pub use email::Address;
pub use host::{Host, HostPattern};
pub use path::PathReading;

/// What kind of destination a field holds, which decides how it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A URL (`https://…`): read by the WHATWG parser.
    Url,
    /// One or more e-mail addresses: read by their domains.
    Email,
    /// A file path: normalised, judged by its root.
    Path,
    /// A bank account (IBAN): spaces and case are formatting.
    Iban,
    /// A bare host name or address.
    Host,
    /// Any other identifier (a channel, a phone number, an account id): compared as written.
    Id,
}

impl Kind {
    pub const ALL: [Kind; 6] = [Kind::Url, Kind::Email, Kind::Path, Kind::Iban, Kind::Host, Kind::Id];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Url => "url",
            Kind::Email => "email",
            Kind::Path => "path",
            Kind::Iban => "iban",
            Kind::Host => "host",
            Kind::Id => "id",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value as the receiving server reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reading {
    Url(UrlReading),
    Emails(Vec<Address>),
    Path(PathReading),
    /// The normalised account and whether its checksum holds.
    Iban { account: String, valid: bool },
    Host(Host),
    Id(String),
    /// The server cannot read it as this kind at all, and why.
    Unreadable(String),
}

impl Reading {
    pub fn of(kind: Kind, text: &str) -> Reading {
        match kind {
            Kind::Url => UrlReading::parse(text).map(Reading::Url).unwrap_or_else(Reading::Unreadable),
            Kind::Email => {
                let all: Result<Vec<Address>, String> = email::addresses(text).into_iter().collect();
                match all {
                    Ok(a) if a.is_empty() => Reading::Unreadable("no e-mail address".into()),
                    Ok(a) => Reading::Emails(a),
                    Err(e) => Reading::Unreadable(e),
                }
            }
            Kind::Path => Reading::Path(PathReading::parse(text)),
            Kind::Iban => Reading::Iban { account: iban::normalise(text), valid: iban::valid(text) },
            Kind::Host => Host::parse(text).map(Reading::Host).unwrap_or_else(Reading::Unreadable),
            Kind::Id => Reading::Id(text.to_string()),
        }
    }
}

impl fmt::Display for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reading::Url(u) => match &u.host {
                Some(h) => write!(f, "host {h}"),
                None => write!(f, "a `{}:` URL without a host", u.scheme),
            },
            Reading::Emails(a) => {
                let d: Vec<String> = a.iter().map(|a| a.domain.to_string()).collect();
                write!(f, "domain {}", d.join(", "))
            }
            Reading::Path(p) => write!(f, "path {p}"),
            Reading::Iban { account, valid: true } => write!(f, "account {account}"),
            Reading::Iban { account, valid: false } => write!(f, "account {account} (checksum fails)"),
            Reading::Host(h) => write!(f, "host {h}"),
            Reading::Id(s) => write!(f, "`{s}`"),
            Reading::Unreadable(why) => f.write_str(why),
        }
    }
}

/// Where a field's values may go: the allowlist a requirement writes.
/// A value is allowed when it is one of `values`, matches `pattern`
/// (the whole value), or passes every structural key that applies to its
/// kind and is set (`domains` for e-mail; `schemes`, `hosts`, `ports` for
/// URLs; `hosts` for hosts; `roots` for paths).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    /// Exact values, compared as the server reads them (an address by its
    /// canonical form, a URL as serialised, a path normalised, an IBAN without spaces).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// E-mail domains (`acme.com`; `*.acme.com` for its subdomains).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// URL schemes (`https`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemes: Vec<String>,
    /// URL or bare hosts (`api.acme.com`, `*.acme.com`, `10.0.0.5`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// URL ports (the scheme's default when the URL names none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    /// Path roots: the path itself or anything below it (`/srv/share`, `~/notes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roots: Vec<String>,
    /// A regular expression the whole value must match (identifiers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The field is a list: every element must be allowed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub each: bool,
    /// Calls may leave the field out: absent, or allowed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One value judged: allowed or not, and how the server read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judged {
    pub value: String,
    pub allowed: bool,
    pub reading: Reading,
}

impl Allow {
    /// Whether any key that applies to `kind` is set.
    pub fn constrains(&self, kind: Kind) -> bool {
        !self.values.is_empty() || self.pattern.is_some() || self.structural(kind)
    }

    /// Whether a structural key (domains, schemes, hosts, ports, roots) applies to `kind`.
    pub fn constrains_structurally(&self, kind: Kind) -> bool {
        self.structural(kind)
    }

    fn structural(&self, kind: Kind) -> bool {
        match kind {
            Kind::Email => !self.domains.is_empty(),
            Kind::Url => !self.schemes.is_empty() || !self.hosts.is_empty() || !self.ports.is_empty(),
            Kind::Host => !self.hosts.is_empty(),
            Kind::Path => !self.roots.is_empty(),
            Kind::Iban | Kind::Id => false,
        }
    }

    /// Every entry readable, every pattern compiles; the message names the entry.
    pub fn check(&self) -> Result<(), String> {
        for h in self.domains.iter().chain(&self.hosts) {
            HostPattern::parse(h).map_err(|e| format!("`{h}`: {e}"))?;
        }
        for r in &self.roots {
            if matches!(PathReading::parse(r), PathReading::Relative(_)) {
                return Err(format!("root `{r}` is relative: write an absolute path (`/srv/share`) or one under `~`"));
            }
        }
        for s in &self.schemes {
            if s.is_empty() || s.ends_with(':') || s.contains('/') {
                return Err(format!("scheme `{s}`: write it without `:` or `//`, e.g. `https`"));
            }
        }
        if let Some(p) = &self.pattern {
            regex::Regex::new(p).map_err(|e| format!("pattern `{p}` does not compile: {e}"))?;
        }
        Ok(())
    }

    /// How the server reads `text` and whether this allowlist admits it as a `kind`.
    pub fn judge(&self, kind: Kind, text: &str) -> Judged {
        let reading = Reading::of(kind, text);
        let allowed = self.exact(kind, text, &reading) || self.pattern_matches(text) || (self.structural(kind) && self.passes(&reading));
        Judged { value: text.to_string(), allowed, reading }
    }

    fn pattern_matches(&self, text: &str) -> bool {
        self.pattern.as_ref().is_some_and(|p| regex::Regex::new(&format!("^(?:{p})$")).is_ok_and(|r| r.is_match(text)))
    }

    fn exact(&self, kind: Kind, text: &str, reading: &Reading) -> bool {
        let canon = canonical(kind, text, reading);
        self.values.iter().any(|v| canonical(kind, v, &Reading::of(kind, v)) == canon)
    }

    fn passes(&self, reading: &Reading) -> bool {
        let hosts = |list: &[String], h: &Host| list.iter().filter_map(|p| HostPattern::parse(p).ok()).any(|p| h.is(&p));
        match reading {
            Reading::Emails(all) => all.iter().all(|a| hosts(&self.domains, &a.domain)),
            Reading::Url(u) => {
                let scheme = self.schemes.is_empty() || self.schemes.iter().any(|s| s.eq_ignore_ascii_case(&u.scheme));
                let host = self.hosts.is_empty() || u.host.as_ref().is_some_and(|h| hosts(&self.hosts, h));
                let port = self.ports.is_empty() || u.port.is_some_and(|p| self.ports.contains(&p));
                scheme && host && port
            }
            Reading::Host(h) => hosts(&self.hosts, h),
            Reading::Path(p) => self.roots.iter().any(|r| p.is_under(&PathReading::parse(r))),
            Reading::Iban { .. } | Reading::Id(_) | Reading::Unreadable(_) => false,
        }
    }

    /// The allowlist in words, for bounds: `domains acme.com`, `hosts api.acme.com, https only`.
    pub fn describe(&self, kind: Kind) -> String {
        let list = |v: &[String]| v.join(", ");
        let mut parts = Vec::new();
        if !self.values.is_empty() {
            parts.push(format!("one of {}", list(&self.values)));
        }
        if let Some(p) = &self.pattern {
            parts.push(format!("matching `{p}`"));
        }
        match kind {
            Kind::Email if !self.domains.is_empty() => parts.push(format!("domains {}", list(&self.domains))),
            Kind::Url | Kind::Host => {
                let mut u = Vec::new();
                if !self.schemes.is_empty() {
                    u.push(format!("schemes {}", list(&self.schemes)));
                }
                if !self.hosts.is_empty() {
                    u.push(format!("hosts {}", list(&self.hosts)));
                }
                if !self.ports.is_empty() {
                    u.push(format!("ports {}", self.ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")));
                }
                if !u.is_empty() {
                    parts.push(u.join(", "));
                }
            }
            Kind::Path if !self.roots.is_empty() => parts.push(format!("under {}", list(&self.roots))),
            _ => {}
        }
        if parts.is_empty() {
            "anything".into()
        } else {
            parts.join(" or ")
        }
    }

    /// The allowlist a legitimate value stands for when no requirement names
    /// one: its domain, its scheme and host, its directory, or itself.
    pub fn assumed_from(kind: Kind, home: &str) -> Allow {
        match Reading::of(kind, home) {
            Reading::Emails(a) => Allow { domains: dedup(a.iter().map(|a| a.domain.to_string())), ..Allow::default() },
            Reading::Url(u) if u.host.is_some() => Allow {
                schemes: vec![u.scheme.clone()],
                hosts: u.host.iter().map(Host::to_string).collect(),
                ..Allow::default()
            },
            Reading::Host(h) => Allow { hosts: vec![h.to_string()], ..Allow::default() },
            Reading::Path(PathReading::Absolute(p)) => {
                let dir = p.rsplit_once('/').map(|(d, _)| d).filter(|d| !d.is_empty()).unwrap_or("/");
                Allow { roots: vec![dir.to_string()], ..Allow::default() }
            }
            _ => Allow { values: vec![home.to_string()], ..Allow::default() },
        }
    }

    /// A value this allowlist admits, for a legitimate call to send: the
    /// first exact value, else one built from the first domain, host or root.
    pub fn example(&self, kind: Kind) -> Option<String> {
        if let Some(v) = self.values.first() {
            return Some(v.clone());
        }
        let first_host = |list: &[String]| {
            list.iter().find_map(|h| match HostPattern::parse(h).ok()? {
                HostPattern::Exact(h) => Some(h.to_string()),
                HostPattern::Under(d) => Some(format!("www.{d}")),
            })
        };
        let v = match kind {
            Kind::Email => format!("agent@{}", first_host(&self.domains)?),
            Kind::Url => {
                let scheme = self.schemes.first().cloned().unwrap_or_else(|| "https".into());
                let host = first_host(&self.hosts)?;
                match self.ports.first() {
                    Some(p) => format!("{scheme}://{host}:{p}/"),
                    None => format!("{scheme}://{host}/"),
                }
            }
            Kind::Host => first_host(&self.hosts)?,
            Kind::Path => {
                let root = self.roots.first()?;
                format!("{}/report.txt", root.trim_end_matches('/'))
            }
            Kind::Iban | Kind::Id => return None,
        };
        let judged = self.judge(kind, &v);
        judged.allowed.then_some(v)
    }
}

fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// The one spelling two values share when the server reads them as the same destination.
fn canonical(kind: Kind, text: &str, reading: &Reading) -> String {
    match (kind, reading) {
        (_, Reading::Url(u)) => u.serialized.clone(),
        (_, Reading::Emails(a)) => a.iter().map(Address::to_string).collect::<Vec<_>>().join(","),
        (_, Reading::Path(p)) => p.to_string(),
        (_, Reading::Iban { account, .. }) => account.clone(),
        (_, Reading::Host(h)) => h.to_string(),
        _ => text.to_string(),
    }
}

/// The texts of a JSON value a destination field holds: a string, each
/// element of a list, a number or boolean as written; `null` holds none.
pub fn texts(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(texts).collect(),
        Value::Null => Vec::new(),
        other => vec![other.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlists_judge_what_the_server_reads() {
        let mail = Allow { domains: vec!["acme.com".into()], ..Allow::default() };
        assert!(mail.judge(Kind::Email, "Boss <boss@ACME.com.>").allowed);
        assert!(!mail.judge(Kind::Email, "\"boss@acme.com\" <x@evil.example>").allowed);
        assert!(!mail.judge(Kind::Email, "boss@acme.com, x@evil.example").allowed);
        let web = Allow { schemes: vec!["https".into()], hosts: vec!["api.acme.com".into()], ..Allow::default() };
        assert!(web.judge(Kind::Url, "HTTPS://API.acme.com./v1?x=1").allowed);
        assert!(!web.judge(Kind::Url, "http://api.acme.com/").allowed);
        assert!(!web.judge(Kind::Url, "https://api.acme.com@evil.example/").allowed);
        let exact = Allow { values: vec!["DE89 3704 0044 0532 0130 00".into()], ..Allow::default() };
        assert!(exact.judge(Kind::Iban, "de89370400440532013000").allowed);
        assert!(!exact.judge(Kind::Iban, &iban::neighbour("DE89370400440532013000", 1).unwrap()).allowed);
        let ids = Allow { pattern: Some("C[0-9A-Z]{8}".into()), ..Allow::default() };
        assert!(ids.judge(Kind::Id, "C01234567").allowed);
        assert!(!ids.judge(Kind::Id, "xC01234567").allowed);
    }

    #[test]
    fn a_legitimate_value_stands_for_its_domain_host_or_directory() {
        assert_eq!(Allow::assumed_from(Kind::Email, "agent@example.com").domains, ["example.com"]);
        let u = Allow::assumed_from(Kind::Url, "https://example.com/item");
        assert_eq!((u.schemes.as_slice(), u.hosts.as_slice()), (&["https".to_string()][..], &["example.com".to_string()][..]));
        assert_eq!(Allow::assumed_from(Kind::Path, "/srv/share/report.txt").roots, ["/srv/share"]);
        assert_eq!(Allow::assumed_from(Kind::Id, "C123").values, ["C123"]);
        for kind in [Kind::Email, Kind::Url, Kind::Path, Kind::Host] {
            let home = Allow { domains: vec!["acme.com".into()], hosts: vec!["acme.com".into()], roots: vec!["/srv".into()], ..Allow::default() };
            let ex = home.example(kind).unwrap();
            assert!(home.judge(kind, &ex).allowed, "{kind}: {ex}");
        }
        assert!(Allow { roots: vec!["srv".into()], ..Allow::default() }.check().is_err());
        assert!(Allow { pattern: Some("(".into()), ..Allow::default() }.check().is_err());
    }
}

#[cfg(test)]
mod corpus;
