//! Tool-name variants: the spellings a lenient upstream may still resolve to
//! the real tool while an exact-match policy sees a different name, and the
//! second name a federating gateway gives it.

use crate::scenario::NameVariant;

/// The name of a tool (or resource, prompt) of `server` as it is put on the wire for `variant`.
pub fn variant(server: &str, name: &str, variant: NameVariant) -> String {
    match variant {
        NameVariant::Exact => name.to_string(),
        NameVariant::Namespaced => crate::mock::toolset::namespaced(server, name),
        NameVariant::Upper => name.to_uppercase(),
        NameVariant::Lower => name.to_lowercase(),
        NameVariant::TrailingSpace => format!("{name} "),
        NameVariant::LeadingSpace => format!(" {name}"),
        NameVariant::ZeroWidth => {
            let mut chars = name.chars();
            match chars.next() {
                Some(first) => format!("{first}\u{200B}{}", chars.as_str()),
                None => "\u{200B}".to_string(),
            }
        }
        NameVariant::Hyphen => {
            if name.contains('_') {
                name.replace('_', "-")
            } else {
                name.replace(' ', "-")
            }
        }
        NameVariant::PercentEncoded => {
            // The first letter after the authority (or of the name), as `%XX`.
            let from = name.find("://").map_or(0, |i| i + 3);
            match name[from..].char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
                Some((i, c)) => format!("{}%{:02X}{}", &name[..from + i], c as u32, &name[from + i + 1..]),
                None => name.to_string(),
            }
        }
        NameVariant::DotSegment => match name.rfind('/') {
            Some(i) => format!("{}/.{}", &name[..i], &name[i..]),
            None => format!("./{name}"),
        },
        NameVariant::Homoglyph => {
            // Cyrillic look-alikes for the first Latin a/e/o.
            let mut done = false;
            name.chars()
                .map(|c| {
                    if done {
                        return c;
                    }
                    let swapped = match c {
                        'a' => 'а',
                        'e' => 'е',
                        'o' => 'о',
                        _ => return c,
                    };
                    done = true;
                    swapped
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::toolset::fold as canonical;

    #[test]
    fn variants_differ_from_the_name_and_mostly_canonicalise_back() {
        let n = "delete_customer";
        for v in [
            NameVariant::Upper,
            NameVariant::TrailingSpace,
            NameVariant::LeadingSpace,
            NameVariant::ZeroWidth,
            NameVariant::Hyphen,
        ] {
            let w = variant("s", n, v);
            assert_ne!(w, n, "{v:?}");
            assert_eq!(canonical(&w), n, "{v:?}");
        }
        let h = variant("s", n, NameVariant::Homoglyph);
        assert_eq!(h, "dеlete_customer");
        assert_ne!(canonical(&h), n);
        assert_eq!(variant("s", "WizCommerce Open API_PostCustomers", NameVariant::Hyphen), "WizCommerce Open API-PostCustomers");
        let uri = "file:///etc/passwd";
        assert_eq!(variant("s", uri, NameVariant::PercentEncoded), "file:///%65tc/passwd");
        assert_eq!(variant("s", uri, NameVariant::DotSegment), "file:///etc/./passwd");
        // A gateway's second name: slugged and namespaced, never folded back to the tool.
        assert_eq!(variant("toy", "create_item", NameVariant::Namespaced), "toy-create-item");
        assert_eq!(variant("Notion API", "WizCommerce Open API_PostCustomers", NameVariant::Namespaced), "notion-api-wizcommerce-open-api-postcustomers");
        assert_ne!(canonical(&variant("toy", "create_item", NameVariant::Namespaced)), "create_item");
        for v in [NameVariant::PercentEncoded, NameVariant::DotSegment, NameVariant::Upper, NameVariant::TrailingSpace] {
            assert_eq!(crate::mock::surface::normalise_uri(&variant("s", uri, v)), uri, "{v:?}");
        }
    }
}
