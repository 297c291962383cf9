//! Where the agent's calls send things. Every generated call carries the
//! legitimate destination of each destination field (its *home*: a value
//! the requirements allow, or one the verifier chose), so a benign twin
//! never trips an allowlist by accident. A destination attack then takes
//! that legitimate call and changes only the destination: an off-list or
//! confusing value in its place ([`crate::values::attacks`]), or the
//! legitimate value kept and a foreign one added beside it (one more list
//! element, or an optional field such as `cc`).

use serde_json::{json, Value};

use crate::mock::roles::{set_at, values_at, Kind};
use crate::scenario::DestinationAttack;
use crate::values::attacks::{variants, Family};

/// One destination field of the target and its legitimate value.
#[derive(Clone, Debug, PartialEq)]
pub struct Destination {
    /// The field's path (`to`, `payee.iban`, `attendees[].email`).
    pub path: String,
    pub kind: Kind,
    /// The legitimate value: allowed by the requirements, or the one the verdict assumes allowed.
    pub home: String,
    /// The field holds a list of destinations.
    pub list: bool,
    /// The schema requires the field.
    pub required: bool,
    /// The requirements name its allowlist (else `home` stands for it).
    pub declared: bool,
}

impl Destination {
    /// The top-level argument the field is in (`payee` of `payee.iban`).
    pub fn top_field(&self) -> &str {
        self.path.split(['.', '[']).next().unwrap_or(&self.path)
    }

    fn value(&self, text: &str) -> Value {
        if self.list && !self.path.contains("[]") {
            json!([text])
        } else {
            json!(text)
        }
    }
}

/// Puts each destination's legitimate value where the call has the field
/// (and where the schema requires it), leaving optional fields as generated.
pub fn apply_homes(args: &mut Value, destinations: &[Destination]) {
    for d in destinations {
        if d.required || values_at(args, &d.path).is_some() {
            set_at(args, &d.path, d.value(&d.home));
        }
    }
}

/// The calls of one destination attack step, each with what it tries:
/// `base` (a legitimate call) with only a destination changed.
pub fn attack_calls(family: DestinationAttack, base: &Value, destinations: &[Destination]) -> Vec<(Value, String)> {
    let mut out = Vec::new();
    let mut with_homes = base.clone();
    for d in destinations {
        set_at(&mut with_homes, &d.path, d.value(&d.home));
    }
    for d in destinations {
        match family {
            DestinationAttack::OffList | DestinationAttack::Confusion => {
                let fam = if family == DestinationAttack::OffList { Family::OffList } else { Family::Confusion };
                for v in variants(d.kind, &d.home, fam) {
                    let mut args = with_homes.clone();
                    set_at(&mut args, &d.path, d.value(&v.value));
                    out.push((args, format!("`{}`: {}", d.path, v.what)));
                }
            }
            DestinationAttack::Smuggled => {
                let Some(foreign) = variants(d.kind, &d.home, Family::OffList).into_iter().next() else { continue };
                if d.list && !d.path.contains("[]") {
                    let mut args = with_homes.clone();
                    set_at(&mut args, &d.path, json!([d.home, foreign.value]));
                    out.push((args, format!("`{}`: one foreign element after the legitimate one", d.path)));
                }
                // The legitimate destination kept, a foreign one of the same kind in another, optional field.
                for other in destinations.iter().filter(|o| o.path != d.path && !o.required && o.kind == d.kind && d.required) {
                    let mut args = with_homes.clone();
                    set_at(&mut args, &other.path, other.value(&foreign.value));
                    out.push((args, format!("`{}` kept, a foreign destination in optional `{}`", d.path, other.path)));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> Vec<Destination> {
        vec![
            Destination { path: "to".into(), kind: Kind::Email, home: "agent@acme.com".into(), list: true, required: true, declared: false },
            Destination { path: "bcc".into(), kind: Kind::Email, home: "agent@acme.com".into(), list: true, required: false, declared: false },
        ]
    }

    #[test]
    fn homes_fill_present_and_required_fields_only() {
        let mut args = json!({"subject": "s"});
        apply_homes(&mut args, &mail());
        assert_eq!(args, json!({"subject": "s", "to": ["agent@acme.com"]}));
    }

    #[test]
    fn attacks_change_only_the_destination() {
        let base = json!({"subject": "s", "to": ["x@y.z"]});
        for family in [DestinationAttack::OffList, DestinationAttack::Confusion] {
            let calls = attack_calls(family, &base, &mail());
            assert!(calls.len() >= 5, "{family:?}: {calls:?}");
            for (args, _) in &calls {
                assert_eq!(args["subject"], "s");
            }
        }
        let smuggled = attack_calls(DestinationAttack::Smuggled, &base, &mail());
        let shown: Vec<&str> = smuggled.iter().map(|(_, w)| w.as_str()).collect();
        assert!(shown.contains(&"`to`: one foreign element after the legitimate one"), "{shown:?}");
        assert!(shown.contains(&"`to` kept, a foreign destination in optional `bcc`"), "{shown:?}");
        let (moved, _) = smuggled.iter().find(|(_, w)| w.contains("bcc")).unwrap();
        assert_eq!(moved["to"], json!(["agent@acme.com"]));
        assert_ne!(moved["bcc"], json!(["agent@acme.com"]));
    }
}
