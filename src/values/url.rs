//! A URL as the server that fetches it reads it: the WHATWG URL parser (the
//! `url` crate), which is what browsers, Node's `URL` and most HTTP clients
//! follow. Backslashes are slashes in `http(s)` URLs, `user@` is credentials
//! and not the host, `#…` and `?…` are not the host, percent-encoded and
//! full-width host text is decoded and mapped, and every IPv4 spelling is
//! read as the address it names.

use super::host::Host;

/// The parts of a URL that decide where a request goes and what it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlReading {
    /// Lower case, without the colon.
    pub scheme: String,
    /// `None` for URLs without a host (`mailto:`, `data:`, `file:///x`).
    pub host: Option<Host>,
    /// The port the request goes to: the explicit one, else the scheme's default.
    pub port: Option<u16>,
    /// The path as the parser resolved it (`/a/../b` is `/b`).
    pub path: String,
    pub query: Option<String>,
    /// Whether the URL carries `user[:password]@`.
    pub userinfo: bool,
    /// The whole URL as the parser serialises it.
    pub serialized: String,
}

impl UrlReading {
    pub fn parse(text: &str) -> Result<UrlReading, String> {
        let url = url::Url::parse(text).map_err(|e| format!("not an absolute URL ({e})"))?;
        Ok(UrlReading {
            scheme: url.scheme().to_string(),
            host: url.host().map(Host::from_url),
            port: url.port_or_known_default(),
            path: url.path().to_string(),
            query: url.query().map(str::to_string),
            userinfo: !url.username().is_empty() || url.password().is_some(),
            serialized: url.as_str().to_string(),
        })
    }

    /// `https://host:port`, as a person reads where it goes.
    pub fn origin(&self) -> String {
        match &self.host {
            Some(h) => match self.port {
                Some(p) if Some(p) != url::Url::parse(&format!("{}://x", self.scheme)).ok().and_then(|u| u.port_or_known_default()) => {
                    format!("{}://{h}:{p}", self.scheme)
                }
                _ => format!("{}://{h}", self.scheme),
            },
            None => format!("{}:", self.scheme),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(text: &str) -> String {
        UrlReading::parse(text).unwrap().host.map(|h| h.to_string()).unwrap_or_default()
    }

    #[test]
    fn the_host_is_where_the_request_goes() {
        assert_eq!(host("https://ok.com@evil.example/"), "evil.example");
        assert_eq!(host("https://evil.example#ok.com"), "evil.example");
        assert_eq!(host("https://evil.example\\@ok.com/"), "evil.example");
        assert_eq!(host("https:\\\\evil.example\\ok.com"), "evil.example");
        assert_eq!(host("https://evil%2Eexample/"), "evil.example");
        assert_eq!(host("HTTPS://EVIL.EXAMPLE./"), "evil.example");
        assert_eq!(host("http://2852039166/"), "169.254.169.254");
        assert_eq!(host("http://[::ffff:169.254.169.254]/"), "169.254.169.254");
        let r = UrlReading::parse("https://ok.com:8443/a/../b?x=1").unwrap();
        assert_eq!((r.port, r.path.as_str(), r.query.as_deref()), (Some(8443), "/b", Some("x=1")));
        assert_eq!(r.origin(), "https://ok.com:8443");
        assert_eq!(UrlReading::parse("https://ok.com/").unwrap().origin(), "https://ok.com");
        assert!(UrlReading::parse("ok.com/x").is_err());
    }
}
