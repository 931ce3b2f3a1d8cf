//! Account form values: email addresses and organisation names.

use validator::ValidateEmail;

use super::{FieldError, clean_line};

/// A sign-in email, lowercased.
pub fn parse_email(raw: &str) -> Result<String, FieldError> {
    let email = clean_line("email", raw, 320)?.to_lowercase();
    if !email.validate_email() {
        return Err(FieldError::new(
            "email",
            "Enter an email address like name@example.com.",
        ));
    }
    Ok(email)
}

/// An organisation (tenant) name.
pub fn parse_organisation(raw: &str) -> Result<String, FieldError> {
    let name = clean_line("organisation", raw, 200)?;
    if name.is_empty() {
        return Err(FieldError::new(
            "organisation",
            "Enter your organisation's name.",
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(parse_email(" Ann@Example.COM ").unwrap(), "ann@example.com");
        assert!(parse_email("not-an-email").is_err());
        assert!(parse_email("a@b.com\r\nBcc: x@y.z").is_err());
    }

    #[test]
    fn an_organisation_needs_a_name() {
        assert!(parse_organisation("   ").is_err());
        assert_eq!(parse_organisation(" Contoso IT ").unwrap(), "Contoso IT");
    }
}
