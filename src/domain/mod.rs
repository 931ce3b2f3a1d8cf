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
