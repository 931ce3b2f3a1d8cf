//! Validated values built from raw form input. Parsing is the only way in: a value of these
//! types is known to be well formed, and every failure names the field it belongs beside.

pub mod account;
pub mod autotask;
pub mod connectwise;
pub mod secret;

/// A rejected form value: which field, and what to write there instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The form field name, as in the HTML form (`company_id`, `site_url`, `zone`, ...).
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Trims and refuses control characters, which never belong in a single-line field.
pub(crate) fn clean_line(field: &'static str, raw: &str, max: usize) -> Result<String, FieldError> {
    let value = raw.trim();
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must be a single line without control characters",
        ));
    }
    if value.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(value.to_string())
}

/// Every parser of form input, fed hostile strings: oversized, unicode, control characters,
/// NUL, header injection. Each must answer Ok or a field error, never panic.
#[cfg(test)]
mod hostile_input {
    use proptest::prelude::*;

    use super::account::{parse_email, parse_organisation};
    use super::autotask::Zone;
    use super::connectwise::{CompanyId, Site};
    use super::secret::parse_secret;

    /// Strings built from the characters that break parsers, plus anything at all.
    fn hostile() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "\0",
            "\r\n",
            "\n",
            "%00",
            "%0d%0a",
            "Set-Cookie: x=1",
            "..",
            "/",
            "\\",
            "://",
            "@",
            ":",
            "[",
            "]",
            "::ffff:127.0.0.1",
            "0x7f.1",
            "ñ",
            "Æ",
            "東京",
            "🚰",
            "\u{202e}",
            "\u{feff}",
            " ",
            "<script>",
            "'",
            "\"",
            "http://",
            "https://",
            "api-na.myconnectwise.net",
            "webservices",
            "ww",
            "2",
            ".autotask.net",
        ]);
        prop_oneof![
            prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat()),
            any::<String>(),
            "[a-z0-9.-]{0,5000}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn no_form_parser_panics_on_hostile_input(raw in hostile(), other in hostile()) {
            let _ = parse_email(&raw);
            let _ = parse_organisation(&raw);
            let _ = parse_secret("secret", &raw);
            let _ = CompanyId::parse(&raw);
            let _ = Zone::parse(&raw);
            for choice in ["aus", "eu", "na", "self_hosted", raw.as_str()] {
                let _ = Site::parse(choice, &other);
            }
        }

        #[test]
        fn accepted_values_never_keep_control_characters(raw in hostile()) {
            if let Ok(email) = parse_email(&raw) {
                prop_assert!(!email.chars().any(char::is_control));
            }
            if let Ok(id) = CompanyId::parse(&raw) {
                prop_assert!(!id.as_str().chars().any(char::is_control));
            }
            if let Ok(Some(zone)) = Zone::parse(&raw) {
                prop_assert!(zone.name().chars().all(|c| c.is_ascii_alphanumeric()));
            }
        }
    }
}
