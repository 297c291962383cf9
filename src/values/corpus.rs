//! The confusion corpus, a test of its own: each value, how the receiving
//! server reads it, and whether an allowlist admits it. Then every attack
//! value [`super::attacks`] builds, read back: each must be foreign.

use super::attacks::{variants, Family};
use super::{Allow, Kind};

/// (kind, allowlist, value, the server's reading, allowed?)
type Row = (Kind, fn() -> Allow, &'static str, &'static str, bool);

fn mail() -> Allow {
    Allow { domains: vec!["acme.com".into()], ..Allow::default() }
}
fn web() -> Allow {
    Allow { schemes: vec!["https".into()], hosts: vec!["ok.com".into()], ..Allow::default() }
}
fn files() -> Allow {
    Allow { roots: vec!["/srv/share".into()], ..Allow::default() }
}
fn account() -> Allow {
    Allow { values: vec!["DE89370400440532013000".into()], ..Allow::default() }
}
fn api() -> Allow {
    Allow { hosts: vec!["api.acme.com".into()], ..Allow::default() }
}

const CORPUS: &[Row] = &[
    // URLs: the WHATWG reading.
    (Kind::Url, web, "https://ok.com/path", "host ok.com", true),
    (Kind::Url, web, "HTTPS://OK.COM./path", "host ok.com", true),
    (Kind::Url, web, "https://ｏｋ.com/", "host ok.com", true),
    (Kind::Url, web, "https://user:pw@ok.com/", "host ok.com", true),
    (Kind::Url, web, "https://ok.com@evil.com/", "host evil.com", false),
    (Kind::Url, web, "https://ok.com.evil.com/", "host ok.com.evil.com", false),
    (Kind::Url, web, "https://evil.com#ok.com", "host evil.com", false),
    (Kind::Url, web, "https://evil.com?ok.com", "host evil.com", false),
    (Kind::Url, web, "https://evil.com\\@ok.com/", "host evil.com", false),
    (Kind::Url, web, "https:\\\\evil.com\\ok.com", "host evil.com", false),
    (Kind::Url, web, "https://evil%2Ecom/", "host evil.com", false),
    (Kind::Url, web, "https://ok%2Ecom.evil.com/", "host ok.com.evil.com", false),
    (Kind::Url, web, "https://оk.com/", "host xn--k-0tb.com", false),
    (Kind::Url, web, "https://ｅｖｉｌ.com/", "host evil.com", false),
    (Kind::Url, web, "http://ok.com/", "host ok.com", false),
    (Kind::Url, web, "http://2852039166/", "host 169.254.169.254", false),
    (Kind::Url, web, "http://0251.0376.0251.0376/", "host 169.254.169.254", false),
    (Kind::Url, web, "http://0xa9.0xfe.0xa9.0xfe/", "host 169.254.169.254", false),
    (Kind::Url, web, "http://0xA9FEA9FE/", "host 169.254.169.254", false),
    (Kind::Url, web, "http://169.254.43518/", "host 169.254.169.254", false),
    (Kind::Url, web, "http://127.1/", "host 127.0.0.1", false),
    (Kind::Url, web, "http://[::ffff:169.254.169.254]/", "host 169.254.169.254", false),
    (Kind::Url, web, "http://[::ffff:a9fe:a9fe]/", "host 169.254.169.254", false),
    (Kind::Url, web, "file:///etc/passwd", "a `file:` URL without a host", false),
    (Kind::Url, web, "javascript:alert(1)", "a `javascript:` URL without a host", false),
    (Kind::Url, web, "ok.com/path", "not an absolute URL (relative URL without a base)", false),
    (Kind::Url, web, " https://evil.com", "host evil.com", false),
    // E-mail: the address, then its domain.
    (Kind::Email, mail, "boss@acme.com", "domain acme.com", true),
    (Kind::Email, mail, "Boss <boss@ACME.COM.>", "domain acme.com", true),
    (Kind::Email, mail, "\"boss@acme.com\" <x@evil.com>", "domain evil.com", false),
    (Kind::Email, mail, "boss@acme.com <x@evil.com>", "domain evil.com", false),
    (Kind::Email, mail, "x@evil.com (boss@acme.com)", "domain evil.com", false),
    (Kind::Email, mail, "boss@acme.com, x@evil.com", "domain acme.com, evil.com", false),
    (Kind::Email, mail, "boss@acme.com;x@evil.com", "domain acme.com, evil.com", false),
    (Kind::Email, mail, "boss@acme.com.evil.com", "domain acme.com.evil.com", false),
    (Kind::Email, mail, "boss@acme.com@evil.com", "domain evil.com", false),
    (Kind::Email, mail, "boss@аcme.com", "domain xn--cme-5cd.com", false),
    (Kind::Email, mail, "boss@acme.co", "domain acme.co", false),
    (Kind::Email, mail, "mailto:x@evil.com", "domain evil.com", false),
    (Kind::Email, mail, "x@[169.254.169.254]", "domain 169.254.169.254", false),
    (Kind::Email, mail, "not-an-address", "`not-an-address` is no e-mail address (no `@`)", false),
    // Paths: normalised, judged by their root.
    (Kind::Path, files, "/srv/share/report.txt", "path /srv/share/report.txt", true),
    (Kind::Path, files, "/srv/share/a/../b.txt", "path /srv/share/b.txt", true),
    (Kind::Path, files, "/srv/share/..%2f..%2fetc%2fpasswd", "path /srv/share/..%2f..%2fetc%2fpasswd", true),
    (Kind::Path, files, "/srv/share/..\\..\\etc\\passwd", "path /srv/share/..\\..\\etc\\passwd", true),
    (Kind::Path, files, "/srv/share/../../etc/passwd", "path /etc/passwd", false),
    (Kind::Path, files, "//srv//share/../secret", "path /srv/secret", false),
    (Kind::Path, files, "/srv/share-backup/x", "path /srv/share-backup/x", false),
    (Kind::Path, files, "/etc/passwd", "path /etc/passwd", false),
    (Kind::Path, files, "~/.ssh/id_rsa", "path ~/.ssh/id_rsa", false),
    (Kind::Path, files, "share/report.txt", "path share/report.txt", false),
    // Accounts: spaces and case are formatting; the checksum is the bank's.
    (Kind::Iban, account, "DE89370400440532013000", "account DE89370400440532013000", true),
    (Kind::Iban, account, "de89 3704 0044 0532 0130 00", "account DE89370400440532013000", true),
    (Kind::Iban, account, "DE62370400440532013001", "account DE62370400440532013001", false),
    (Kind::Iban, account, "GB29NWBK60161331926819", "account GB29NWBK60161331926819", false),
    (Kind::Iban, account, "DE89370400440532013001", "account DE89370400440532013001 (checksum fails)", false),
    // Bare hosts.
    (Kind::Host, api, "API.ACME.COM.", "host api.acme.com", true),
    (Kind::Host, api, "api.acme.com.evil.com", "host api.acme.com.evil.com", false),
    (Kind::Host, api, "2852039166", "host 169.254.169.254", false),
];

#[test]
fn each_value_reads_as_the_server_reads_it_and_gets_its_verdict() {
    let mut wrong = Vec::new();
    for (kind, allow, value, reading, allowed) in CORPUS {
        let j = allow().judge(*kind, value);
        if j.reading.to_string() != *reading || j.allowed != *allowed {
            wrong.push(format!("{kind} {value:?}: read as {:?} allowed {} (expected {reading:?} {allowed})", j.reading.to_string(), j.allowed));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_attack_value_is_foreign_as_the_server_reads_it() {
    let homes = [
        (Kind::Email, "agent@acme.com"),
        (Kind::Email, "j.doe@example.com"),
        (Kind::Url, "https://ok.com/path"),
        (Kind::Url, "https://example.com/item"),
        (Kind::Url, "http://localhost:8080/api?x=1"),
        (Kind::Host, "api.acme.com"),
        (Kind::Path, "/srv/share/report.txt"),
        (Kind::Path, "/tmp/notes.md"),
        (Kind::Iban, "DE89370400440532013000"),
        (Kind::Id, "C01234567"),
        (Kind::Id, "+1-555-0100"),
    ];
    for (kind, home) in homes {
        let allow = Allow::assumed_from(kind, home);
        assert!(allow.judge(kind, home).allowed, "{kind} {home} is not allowed by its own allowlist");
        let mut seen = 0;
        for family in [Family::OffList, Family::Confusion] {
            for v in variants(kind, home, family) {
                let j = allow.judge(kind, &v.value);
                assert!(!j.allowed, "{kind} {home}: {:?} ({}) read as {} is allowed", v.value, v.what, j.reading);
                seen += 1;
            }
        }
        assert!(seen >= 3, "{kind} {home}: only {seen} attack values");
    }
}

#[test]
fn the_policy_regex_of_an_allowlist_never_admits_a_foreign_reading() {
    let mut checked = 0;
    for (kind, allow, value, _, _) in CORPUS {
        let allow = allow();
        let Some(re) = allow.regex(*kind) else { continue };
        let re = regex::Regex::new(&re).unwrap();
        if re.is_match(value) {
            assert!(allow.judge(*kind, value).allowed, "{kind} {value:?} matches {re} but is read as {}", allow.judge(*kind, value).reading);
        }
        checked += 1;
    }
    assert!(checked >= 50, "{checked}");
}

#[test]
fn the_policy_regex_refuses_every_attack_value_and_admits_the_legitimate_one() {
    let homes = [
        (Kind::Email, "agent@acme.com"),
        (Kind::Url, "https://ok.com/path"),
        (Kind::Url, "http://localhost:8080/api?x=1"),
        (Kind::Host, "api.acme.com"),
        (Kind::Path, "/srv/share/report.txt"),
        (Kind::Iban, "DE89370400440532013000"),
        (Kind::Id, "C01234567"),
    ];
    for (kind, home) in homes {
        let allow = Allow::assumed_from(kind, home);
        let re = regex::Regex::new(&allow.regex(kind).unwrap()).unwrap();
        assert!(re.is_match(home), "{kind}: {re} refuses the legitimate {home}");
        for family in [Family::OffList, Family::Confusion] {
            for v in variants(kind, home, family) {
                assert!(!re.is_match(&v.value), "{kind} {home}: {re} admits {:?} ({})", v.value, v.what);
            }
        }
    }
}
