//! A host as a resolver reaches it: the WHATWG host parser (the `url`
//! crate's, which applies IDNA and reads every IPv4 spelling browsers and
//! HTTP libraries accept: `2852039166`, `0251.0376.0251.0376`, `0xa9.0xfe.0xa9.0xfe`,
//! `169.254.43518`), then the two spellings that reach the same machine and
//! the parser keeps apart: one trailing dot (the DNS root) and an IPv6
//! address that maps an IPv4 one (`::ffff:169.254.169.254`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// One destination machine, in its one canonical spelling.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// An ASCII domain (IDNA applied, lower case, no trailing dot).
    Domain(String),
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ip(IpAddr::V4(a)) => write!(f, "{a}"),
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
        }
    }
}

impl Host {
    /// Reads `text` as the WHATWG host parser does for `http(s)` URLs.
    pub fn parse(text: &str) -> Result<Host, String> {
        let parsed = url::Host::parse(text).map_err(|e| format!("not a host ({e})"))?;
        Ok(Host::from_url(parsed))
    }

    /// The canonical form of a host the URL parser already read.
    pub fn from_url<S: AsRef<str>>(host: url::Host<S>) -> Host {
        match host {
            url::Host::Domain(d) => {
                let d = d.as_ref();
                Host::Domain(d.strip_suffix('.').unwrap_or(d).to_ascii_lowercase())
            }
            url::Host::Ipv4(a) => Host::Ip(IpAddr::V4(a)),
            url::Host::Ipv6(a) => match a.to_ipv4_mapped() {
                Some(v4) => Host::Ip(IpAddr::V4(v4)),
                None => Host::Ip(IpAddr::V6(a)),
            },
        }
    }

    /// Whether this host is `pattern`: the same host, or under it when the
    /// pattern is `*.domain` (any subdomain, not the domain itself).
    pub fn is(&self, pattern: &HostPattern) -> bool {
        match (pattern, self) {
            (HostPattern::Exact(h), _) => h == self,
            (HostPattern::Under(parent), Host::Domain(d)) => {
                d.len() > parent.len() + 1 && d.ends_with(parent.as_str()) && d.as_bytes()[d.len() - parent.len() - 1] == b'.'
            }
            (HostPattern::Under(_), Host::Ip(_)) => false,
        }
    }

    /// The IPv4 address, for the spellings of one.
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        match self {
            Host::Ip(IpAddr::V4(a)) => Some(*a),
            _ => None,
        }
    }
}

/// A host an allowlist names: exactly, or `*.domain` for its subdomains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPattern {
    Exact(Host),
    /// Every subdomain of this ASCII domain.
    Under(String),
}

impl HostPattern {
    /// Reads an allowlist entry, normalised as hosts are (`ACME.com.` is `acme.com`).
    pub fn parse(text: &str) -> Result<HostPattern, String> {
        match text.strip_prefix("*.") {
            Some(rest) => match Host::parse(rest)? {
                Host::Domain(d) => Ok(HostPattern::Under(d)),
                Host::Ip(_) => Err(format!("`{text}`: `*.` goes before a domain, not an address")),
            },
            None => Host::parse(text).map(HostPattern::Exact),
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(h) => write!(f, "{h}"),
            HostPattern::Under(d) => write!(f, "*.{d}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_one_machine_is_one_host() {
        let metadata = Host::Ip("169.254.169.254".parse().unwrap());
        for s in ["169.254.169.254", "2852039166", "0251.0376.0251.0376", "0xa9.0xfe.0xa9.0xfe", "0xA9FEA9FE", "169.254.43518", "[::ffff:169.254.169.254]", "[::ffff:a9fe:a9fe]"] {
            assert_eq!(Host::parse(s), Ok(metadata.clone()), "{s}");
        }
        let acme = Host::Domain("acme.com".into());
        for s in ["acme.com", "ACME.COM", "acme.com.", "ａｃｍｅ.com", "acme%2Ecom"] {
            assert_eq!(Host::parse(s), Ok(acme.clone()), "{s}");
        }
        // A homoglyph is another domain.
        assert_eq!(Host::parse("аcme.com").unwrap().to_string(), "xn--cme-5cd.com");
    }

    #[test]
    fn subdomain_patterns_take_subdomains_only() {
        let p = HostPattern::parse("*.acme.com").unwrap();
        assert!(Host::parse("mail.acme.com").unwrap().is(&p));
        assert!(!Host::parse("acme.com").unwrap().is(&p));
        assert!(!Host::parse("evilacme.com").unwrap().is(&p));
        assert!(Host::parse("ACME.com.").unwrap().is(&HostPattern::parse("acme.com").unwrap()));
    }
}
