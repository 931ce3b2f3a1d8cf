//! API keys and secrets as typed: kept as `SecretString` from the form onwards.

use secrecy::SecretString;

use super::{FieldError, clean_line};

/// Parses a required secret field (private key, Autotask secret, ...).
pub fn parse_secret(field: &'static str, raw: &str) -> Result<SecretString, FieldError> {
    let value = clean_line(field, raw, 512)?;
    if value.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    Ok(SecretString::from(value))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn a_secret_is_trimmed_and_kept() {
        let s = parse_secret("private_key", "  abc  ").unwrap();
        assert_eq!(s.expose_secret(), "abc");
    }

    #[test]
    fn an_empty_or_multi_line_secret_is_refused() {
        assert!(parse_secret("secret", "   ").is_err());
        assert!(parse_secret("secret", "a\nb").is_err());
        assert!(parse_secret("secret", "a\0b").is_err());
    }
}
