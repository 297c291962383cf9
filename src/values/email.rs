//! E-mail addresses as a mail library reads a recipient field: a field may
//! hold several addresses (`a@x, b@y`), an address may hide behind a
//! display name (`"boss@acme.com" <x@evil.example>`) or a comment
//! (`x@evil.example (boss@acme.com)`), and the mail goes to the domain after
//! the last `@` of the address itself, read as a host ([`Host`]: IDNA, case,
//! a trailing dot, an address literal `[1.2.3.4]`).

use std::fmt;

use super::host::Host;

/// One recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// The local part, as written (servers decide its case).
    pub local: String,
    pub domain: Host,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// Every address in a recipient field, in order; an entry that is no address is an error.
pub fn addresses(text: &str) -> Vec<Result<Address, String>> {
    split(text).into_iter().map(|a| address(&a)).collect()
}

/// The recipients of a field: split on `,` and `;` outside quotes, angle brackets and comments.
fn split(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut angle, mut comment) = (false, false, 0usize);
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' if comment == 0 => quoted = !quoted,
            '<' if !quoted && comment == 0 => angle = true,
            '>' if !quoted && comment == 0 => angle = false,
            '(' if !quoted => comment += 1,
            ')' if !quoted && comment > 0 => comment -= 1,
            ',' | ';' if !quoted && !angle && comment == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

/// One recipient: the address in the last `<…>` if there is one, comments dropped.
fn address(text: &str) -> Result<Address, String> {
    let mut plain = String::new();
    let (mut quoted, mut comment) = (false, 0usize);
    let mut last_angle: Option<String> = None;
    let mut angle: Option<String> = None;
    for c in text.chars() {
        match c {
            '"' if comment == 0 => quoted = !quoted,
            '(' if !quoted => {
                comment += 1;
                continue;
            }
            ')' if !quoted && comment > 0 => {
                comment -= 1;
                continue;
            }
            '<' if !quoted && comment == 0 => {
                angle = Some(String::new());
                continue;
            }
            '>' if !quoted && comment == 0 => {
                last_angle = angle.take().or(last_angle);
                continue;
            }
            _ => {}
        }
        if comment > 0 {
            continue;
        }
        match angle.as_mut() {
            Some(a) => a.push(c),
            None => plain.push(c),
        }
    }
    let mut addr = last_angle.unwrap_or(plain).trim().to_string();
    if addr.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("mailto:")) {
        addr = addr[7..].to_string();
    }
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return Err(format!("`{}` is no e-mail address (no `@`)", text.trim()));
    };
    let domain = match domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        Some(literal) => Host::parse(literal.strip_prefix("IPv6:").map(|v6| format!("[{v6}]")).as_deref().unwrap_or(literal)),
        None => Host::parse(domain),
    }
    .map_err(|e| format!("`{domain}` in `{}`: {e}", text.trim()))?;
    Ok(Address { local: local.trim_matches('"').to_string(), domain })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains(text: &str) -> Vec<String> {
        addresses(text).into_iter().map(|a| a.map(|a| a.domain.to_string()).unwrap_or_else(|e| e)).collect()
    }

    #[test]
    fn the_mail_goes_to_the_address_not_the_name() {
        assert_eq!(domains("agent@acme.com"), ["acme.com"]);
        assert_eq!(domains("\"agent@acme.com\" <x@evil.example>"), ["evil.example"]);
        assert_eq!(domains("agent@acme.com <x@evil.example>"), ["evil.example"]);
        assert_eq!(domains("x@evil.example (agent@acme.com)"), ["evil.example"]);
        assert_eq!(domains("agent@acme.com, x@evil.example"), ["acme.com", "evil.example"]);
        assert_eq!(domains("\"a, b\" <agent@acme.com>; x@EVIL.example."), ["acme.com", "evil.example"]);
        assert_eq!(domains("mailto:x@evil.example"), ["evil.example"]);
        assert_eq!(domains("agent@acme.com@evil.example"), ["evil.example"]);
        assert_eq!(domains("x@[169.254.169.254]"), ["169.254.169.254"]);
        assert_eq!(domains("x@ｅｖｉｌ.example"), ["evil.example"]);
        assert!(addresses("no-address")[0].is_err());
        assert!(addresses("").is_empty());
    }
}
