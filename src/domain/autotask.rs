//! Autotask form values: the webservices zone as users type it.
//!
//! Users copy whatever they see: the zone name from the setup guide (`webservices2`), the
//! start of their browser's address (`ww2`, `ww2.autotask.net`, a whole pasted page URL), the
//! REST base from another tool, or just the number. All of these mean the same zone. New
//! zones appear without notice (BR-18), so a zone is accepted by its *shape*; zone discovery
//! at test time is what confirms it exists. The table of names is for display only.

use std::fmt;

use super::{FieldError, clean_line};

const FIELD: &str = "zone";

/// Long enough for a pasted browser URL with its query string, short enough to refuse junk.
const MAX_INPUT: usize = 2048;

/// The largest zone number accepted. Autotask uses up to 29 today; three digits leave room.
const MAX_ZONE_NUMBER: u32 = 999;

/// Hosts on this domain are Autotask's; a pasted URL on any other domain is refused.
const AUTOTASK_DOMAIN: &str = "autotask.net";

/// The un-numbered discovery host: typing it means "find my zone".
const DISCOVERY_LABEL: &str = "webservices";

/// Zone names published by the vendor, for display beside the canonical name.
const KNOWN_ZONES: &[(&str, &str)] = &[
    ("webservices1", "Limited Release"),
    ("webservices2", "Pre-release"),
    ("webservices3", "America East"),
    ("webservices4", "UK"),
    ("webservices5", "America West"),
    ("webservices6", "Australia / New Zealand"),
    ("webservices11", "UK Pre-release"),
    ("webservices12", "Español"),
    ("webservices14", "America East 2"),
    ("webservices15", "America West 2"),
    ("webservices16", "UK2"),
    ("webservices17", "UK Limited Release"),
    ("webservices18", "Deutsch"),
    ("webservices19", "EU1 (English Europe and Asia)"),
    ("webservices22", "America East 3"),
    ("webservices24", "America West 3"),
    ("webservices25", "America West 4"),
    ("webservices26", "Australia 2"),
    ("webservices28", "UK3"),
    ("webservices29", "Australia 3"),
    ("prde", "Deutsch Pre-Release"),
    ("pres", "Español Pre-Release"),
];

/// Labels on the Autotask domain that are never a zone: refusing them gives a better hint
/// than letting zone discovery say "not your zone".
const NOT_ZONES: &[&str] = &["www", "autotask", "api", "ww", "help", "status"];

/// An Autotask webservices zone in canonical form: `webservicesN` for numbered zones, or the
/// bare host label for un-numbered ones (`prde`, `pres`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Zone {
    canonical: String,
}

impl Zone {
    /// Parses the zone field. Empty (or the discovery host) means "detect it": `Ok(None)`.
    pub fn parse(raw: &str) -> Result<Option<Zone>, FieldError> {
        let line = clean_line(FIELD, raw, MAX_INPUT).map_err(|_| garbage())?;
        let line = strip_display_suffix(&line).to_ascii_lowercase();
        if line.is_empty() {
            return Ok(None);
        }
        let label = if looks_like_address(&line) {
            host_label(&line)?
        } else {
            line
        };
        zone_from_label(&label)
    }

    /// The canonical name, as used in the API host (`webservices14`, `prde`).
    pub fn name(&self) -> &str {
        &self.canonical
    }

    /// The vendor's name for the zone ("America West"), when the zone is a known one.
    pub fn friendly_name(&self) -> Option<&'static str> {
        KNOWN_ZONES
            .iter()
            .find(|(name, _)| *name == self.canonical)
            .map(|(_, friendly)| *friendly)
    }
}

/// `webservices5 (America West)`, or just the name for zones not in the table.
impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.friendly_name() {
            Some(friendly) => write!(f, "{} ({friendly})", self.canonical),
            None => f.write_str(&self.canonical),
        }
    }
}

fn garbage() -> FieldError {
    FieldError::new(
        FIELD,
        "is not an Autotask zone. Type the zone from your Autotask address: if it starts with \
         ww2., type webservices2 (or leave the field empty to detect it)",
    )
}

/// The portal shows zones as `webservices5 (America West)`; a user who copies that back
/// into the form means the zone.
fn strip_display_suffix(line: &str) -> &str {
    match line.split_once(" (") {
        Some((name, rest)) if rest.ends_with(')') => name.trim_end(),
        _ => line,
    }
}

fn looks_like_address(line: &str) -> bool {
    line.contains('.') || line.contains('/') || line.contains(':')
}

/// The first host label of a typed or pasted address on the Autotask domain.
fn host_label(line: &str) -> Result<String, FieldError> {
    let with_scheme = if line.contains("://") {
        line.to_string()
    } else {
        format!("https://{line}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|_| garbage())?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(garbage());
    }
    let host = url.host_str().ok_or_else(garbage)?;
    let label = host
        .strip_suffix(AUTOTASK_DOMAIN)
        .and_then(|h| h.strip_suffix('.'));
    match label {
        Some(label) if !label.contains('.') => Ok(label.to_string()),
        _ => Err(garbage()),
    }
}

/// Maps one label (`webservices14`, `ww14`, `14`, `prde`) to a zone.
fn zone_from_label(label: &str) -> Result<Option<Zone>, FieldError> {
    if label == DISCOVERY_LABEL {
        return Ok(None);
    }
    let number = label
        .strip_prefix(DISCOVERY_LABEL)
        .or_else(|| label.strip_prefix("ww"))
        .unwrap_or(label);
    if number.starts_with(|c: char| c.is_ascii_digit()) {
        return numbered(number).map(Some);
    }
    unnumbered(label).map(Some)
}

fn numbered(digits: &str) -> Result<Zone, FieldError> {
    let valid = digits.len() <= 3 && digits.chars().all(|c| c.is_ascii_digit());
    let n: u32 = if valid {
        digits.parse().map_err(|_| garbage())?
    } else {
        0
    };
    if n == 0 || n > MAX_ZONE_NUMBER {
        return Err(garbage());
    }
    Ok(Zone {
        canonical: format!("{DISCOVERY_LABEL}{n}"),
    })
}

/// An un-numbered zone: a short run of letters, optionally followed by digits (`prde`,
/// `pres`, and whatever the vendor adds next). Prefixes of numbered zones are not one.
fn unnumbered(label: &str) -> Result<Zone, FieldError> {
    let letters = label.trim_end_matches(|c: char| c.is_ascii_digit());
    let shaped = (2..=16).contains(&letters.len())
        && letters.chars().all(|c| c.is_ascii_lowercase())
        && label.len() - letters.len() <= 3;
    let numbered_prefix = letters.starts_with(DISCOVERY_LABEL) || letters.starts_with("ww");
    if !shaped || numbered_prefix || NOT_ZONES.contains(&letters) {
        return Err(garbage());
    }
    Ok(Zone {
        canonical: label.to_string(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn zone(raw: &str) -> String {
        match Zone::parse(raw) {
            Ok(Some(z)) => z.name().to_string(),
            other => panic!("{raw:?} should parse to a zone, got {other:?}"),
        }
    }

    #[test]
    fn every_spelling_of_zone_two_means_webservices2() {
        for raw in [
            "webservices2",
            "WebServices2",
            " webservices2 ",
            "ww2",
            "WW2",
            "2",
            "02",
            "ww2.autotask.net",
            "webservices2.autotask.net",
            "https://ww2.autotask.net/",
            "https://ww2.autotask.net/Autotask/AutotaskExtend/ExecuteCommand.aspx?Code=OpenTicket",
            "https://webservices2.autotask.net/atservicesrest/v1.0/Companies/query",
            "https://webservices2.autotask.net/ATServicesRest/",
            "webservices2.autotask.net/atservicesrest",
            "http://ww2.autotask.net",
            "webservices2 (Pre-release)",
        ] {
            assert_eq!(zone(raw), "webservices2", "{raw:?}");
        }
    }

    #[test]
    fn zones_missing_from_old_hard_coded_lists_are_accepted() {
        for (raw, expected) in [
            ("webservices22", "webservices22"),
            ("webservices26", "webservices26"),
            ("webservices28", "webservices28"),
            ("ww29.autotask.net", "webservices29"),
            ("webservices31", "webservices31"),
            ("webservices120", "webservices120"),
        ] {
            assert_eq!(zone(raw), expected);
        }
    }

    #[test]
    fn unnumbered_zones_are_accepted_in_every_spelling() {
        assert_eq!(zone("prde"), "prde");
        assert_eq!(zone("PRES"), "pres");
        assert_eq!(zone("pre"), "pre");
        assert_eq!(
            zone("https://prde.autotask.net/atservicesrest/v1.0/"),
            "prde"
        );
        assert_eq!(zone("pres.autotask.net"), "pres");
        assert_eq!(zone("eu2"), "eu2");
    }

    #[test]
    fn empty_or_the_discovery_host_means_detect() {
        for raw in [
            "",
            "   ",
            "webservices",
            "webservices.autotask.net",
            "https://webservices.autotask.net/atservicesrest/",
        ] {
            assert_eq!(Zone::parse(raw), Ok(None), "{raw:?}");
        }
    }

    #[test]
    fn known_zones_carry_a_friendly_name_for_display() {
        let z = Zone::parse("ww5").unwrap().unwrap();
        assert_eq!(z.friendly_name(), Some("America West"));
        assert_eq!(z.to_string(), "webservices5 (America West)");
        let unknown = Zone::parse("webservices77").unwrap().unwrap();
        assert_eq!(unknown.friendly_name(), None);
        assert_eq!(unknown.to_string(), "webservices77");
    }

    #[test]
    fn garbage_is_refused_with_an_example() {
        for raw in [
            "hello world",
            "webservices2a",
            "webservicesx",
            "ww",
            "wwx",
            "www.autotask.net",
            "autotask.net",
            "0",
            "ww0",
            "webservices1000",
            "-2",
            "2.5",
            "https://webservices2.evil.example/atservicesrest/",
            "https://webservices2.autotask.net.evil.example/",
            "https://a.b.autotask.net/",
            "ftp://webservices2.autotask.net/",
            "javascript:alert(1)",
            "../../etc/passwd",
            "webservices2;drop",
            "{zone}",
            "x",
            "webservices2\nwebservices3",
        ] {
            let err = Zone::parse(raw).expect_err(raw);
            assert_eq!(err.field, "zone");
            assert!(
                err.message.contains("webservices2"),
                "{raw:?}: {}",
                err.message
            );
        }
    }

    #[test]
    fn unicode_lookalikes_are_refused() {
        for raw in [
            "webservices２",
            "ｗｗ2",
            "wеbservices2",
            "ww٢",
            "prdé",
            "🙂",
        ] {
            assert!(Zone::parse(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn huge_input_is_refused_without_trouble() {
        let huge = "webservices2".repeat(100_000);
        assert!(Zone::parse(&huge).is_err());
        let long_url = format!("https://ww2.autotask.net/{}", "a".repeat(MAX_INPUT));
        assert!(Zone::parse(&long_url).is_err());
    }
}
