//! International bank account numbers (ISO 13616) as a bank reads them:
//! spaces are formatting and letters are case-blind, so `de89 3704…` is
//! `DE893704…`; the two check digits make the number mod 97 equal 1.

/// `text` without spaces, upper case: the account a bank pays into.
pub fn normalise(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_uppercase).collect()
}

/// Whether `text` (normalised first) is an IBAN with a valid checksum.
pub fn valid(text: &str) -> bool {
    let s = normalise(text);
    let shape = s.len() >= 15
        && s.len() <= 34
        && s[..2].chars().all(|c| c.is_ascii_uppercase())
        && s[2..4].chars().all(|c| c.is_ascii_digit())
        && s[4..].chars().all(|c| c.is_ascii_alphanumeric());
    shape && remainder(&format!("{}{}", &s[4..], &s[..4])) == Some(1)
}

/// `country` + check digits + `bban`: the IBAN whose checksum holds.
pub fn with_check_digits(country: &str, bban: &str) -> String {
    let r = remainder(&format!("{bban}{country}00")).unwrap_or(0);
    format!("{country}{:02}{bban}", 98 - r)
}

/// The number the letters-as-digits text spells, mod 97 (`None` for other characters).
fn remainder(text: &str) -> Option<u32> {
    let mut r: u32 = 0;
    for c in text.chars() {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => return None,
        };
        r = if v >= 10 { (r * 100 + v) % 97 } else { (r * 10 + v) % 97 };
    }
    Some(r)
}

/// Another account that still passes the checksum: the last digit of the
/// account part moved by `step`, the check digits computed again.
pub fn neighbour(iban: &str, step: u32) -> Option<String> {
    let s = normalise(iban);
    if !valid(&s) {
        return None;
    }
    let (country, bban) = (&s[..2], &s[4..]);
    let at = bban.rfind(|c: char| c.is_ascii_digit())?;
    let d = bban.as_bytes()[at] - b'0';
    let moved = (d as u32 + step) % 10;
    let bban = format!("{}{}{}", &bban[..at], moved, &bban[at + 1..]);
    Some(with_check_digits(country, &bban))
}

/// Groups of four, as people write IBANs on paper.
pub fn grouped(iban: &str) -> String {
    normalise(iban).as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_and_their_neighbours() {
        assert!(valid("DE89370400440532013000"));
        assert!(valid("de89 3704 0044 0532 0130 00"));
        assert!(!valid("DE89370400440532013001"));
        assert!(valid("GB82WEST12345698765432"));
        assert_eq!(with_check_digits("DE", "370400440532013000"), "DE89370400440532013000");
        let n = neighbour("DE89370400440532013000", 1).unwrap();
        assert!(valid(&n) && n != "DE89370400440532013000", "{n}");
        assert_eq!(grouped("DE89370400440532013000"), "DE89 3704 0044 0532 0130 00");
    }
}
