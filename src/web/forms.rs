//! The + PSA Tools form as posted, and its conversion into credentials: lengths are checked by
//! `validator`, shapes by the domain parsers; every failure is kept beside its field.

use secrecy::SecretString;
use serde::Deserialize;
use validator::Validate;

use crate::domain::autotask::Zone;
use crate::domain::connectwise::{CompanyId, Site};
use crate::domain::secret::parse_secret;
use crate::domain::{FieldError, clean_line};
use crate::psa::connector::PsaCredentials;
use crate::psa::{autotask, connectwise};
use crate::store::connections::Identity;

pub use crate::sync::credentials::{AUTOTASK, CONNECTWISE};

/// The form exactly as posted. Fields of the other PSA type are ignored.
/// No `Debug`: it holds the private key and secret as typed.
#[derive(Default, Deserialize, Validate)]
pub struct PsaForm {
    #[serde(default)]
    pub psa_type: String,
    #[serde(default)]
    #[validate(length(max = 50, message = "must be at most 50 characters"))]
    pub company_id: String,
    #[serde(default)]
    pub site: String,
    #[serde(default)]
    #[validate(length(max = 300, message = "must be at most 300 characters"))]
    pub site_url: String,
    #[serde(default)]
    #[validate(length(max = 100, message = "must be at most 100 characters"))]
    pub public_key: String,
    #[serde(default)]
    #[validate(length(max = 512, message = "must be at most 512 characters"))]
    pub private_key: String,
    #[serde(default)]
    #[validate(length(max = 2048, message = "must be at most 2048 characters"))]
    pub zone: String,
    #[serde(default)]
    #[validate(length(max = 254, message = "must be at most 254 characters"))]
    pub username: String,
    #[serde(default)]
    #[validate(length(max = 512, message = "must be at most 512 characters"))]
    pub secret: String,
    #[serde(default)]
    pub action: String,
}

/// A form that parsed: what to connect with, who it signs in as, and the secret to seal.
pub struct ParsedPsa {
    pub credentials: PsaCredentials,
    pub identity: Identity,
    pub secret: SecretString,
}

impl PsaForm {
    /// The PSA type, defaulting to ConnectWise for anything unknown.
    pub fn kind(&self) -> &'static str {
        kind_of(&self.psa_type)
    }

    /// Parses the form. `kept_secret` is the stored secret when editing: a blank secret field
    /// then keeps it.
    pub fn parse(&self, kept_secret: Option<SecretString>) -> Result<ParsedPsa, Vec<FieldError>> {
        let mut errors = length_errors(self);
        let parsed = match self.psa_type.as_str() {
            CONNECTWISE => self.connectwise(kept_secret, &mut errors),
            AUTOTASK => self.autotask(kept_secret, &mut errors),
            _ => {
                errors.push(FieldError::new(
                    "psa_type",
                    "Choose ConnectWise or Autotask.",
                ));
                None
            }
        };
        match parsed {
            Some(p) if errors.is_empty() => Ok(p),
            _ => Err(errors),
        }
    }

    fn connectwise(
        &self,
        kept: Option<SecretString>,
        errors: &mut Vec<FieldError>,
    ) -> Option<ParsedPsa> {
        let company_id = CompanyId::parse(&self.company_id).map_err(|e| errors.push(e));
        let site = Site::parse(&self.site, &self.site_url).map_err(|e| errors.push(e));
        let public_key = parse_secret("public_key", &self.public_key).map_err(|e| errors.push(e));
        let private_key =
            secret_or_kept("private_key", &self.private_key, kept).map_err(|e| errors.push(e));
        let (Ok(company_id), Ok(site), Ok(public_key), Ok(private_key)) =
            (company_id, site, public_key, private_key)
        else {
            return None;
        };
        let host = match &site {
            Site::Cloud(key) => key.clone(),
            Site::SelfHosted(_) => site.url_text().unwrap_or_default(),
        };
        let identity = Identity {
            psa_type: CONNECTWISE,
            host,
            account: company_id.to_string(),
            public_key: Some(secrecy::ExposeSecret::expose_secret(&public_key).to_string()),
        };
        let credentials = PsaCredentials::ConnectWise(connectwise::Credentials {
            company_id,
            site,
            public_key,
            private_key: private_key.clone(),
        });
        Some(ParsedPsa {
            credentials,
            identity,
            secret: private_key,
        })
    }

    fn autotask(
        &self,
        kept: Option<SecretString>,
        errors: &mut Vec<FieldError>,
    ) -> Option<ParsedPsa> {
        let zone = Zone::parse(&self.zone).map_err(|e| errors.push(e));
        let username = parse_username(&self.username).map_err(|e| errors.push(e));
        let secret = secret_or_kept("secret", &self.secret, kept).map_err(|e| errors.push(e));
        let (Ok(zone), Ok(username), Ok(secret)) = (zone, username, secret) else {
            return None;
        };
        let identity = Identity {
            psa_type: AUTOTASK,
            // Empty until the test names the detected zone.
            host: zone
                .as_ref()
                .map(|z| z.name().to_string())
                .unwrap_or_default(),
            account: username.clone(),
            public_key: None,
        };
        let credentials = PsaCredentials::Autotask(autotask::Credentials {
            zone,
            username,
            secret: secret.clone(),
        });
        Some(ParsedPsa {
            credentials,
            identity,
            secret,
        })
    }
}

/// `connectwise` or `autotask`; anything else shows the ConnectWise form.
pub fn kind_of(raw: &str) -> &'static str {
    if raw == AUTOTASK {
        AUTOTASK
    } else {
        CONNECTWISE
    }
}

fn length_errors(form: &PsaForm) -> Vec<FieldError> {
    let Err(errors) = form.validate() else {
        return vec![];
    };
    let mut out = vec![];
    for (field, errs) in errors.field_errors() {
        let Some(field) = static_field(&field) else {
            continue;
        };
        if let Some(message) = errs.first().and_then(|e| e.message.clone()) {
            out.push(FieldError::new(field, message));
        }
    }
    out
}

/// Field names as `'static` strings, for `FieldError`.
fn static_field(name: &str) -> Option<&'static str> {
    const FIELDS: [&str; 8] = [
        "company_id",
        "site_url",
        "public_key",
        "private_key",
        "zone",
        "username",
        "secret",
        "site",
    ];
    FIELDS.into_iter().find(|f| *f == name)
}

fn secret_or_kept(
    field: &'static str,
    raw: &str,
    kept: Option<SecretString>,
) -> Result<SecretString, FieldError> {
    match kept {
        Some(kept) if raw.trim().is_empty() => Ok(kept),
        _ => parse_secret(field, raw),
    }
}

/// An Autotask API username: one line, no spaces, required.
fn parse_username(raw: &str) -> Result<String, FieldError> {
    let value = clean_line("username", raw, 254)?;
    if value.is_empty() {
        return Err(FieldError::new("username", "is required"));
    }
    if value.contains(char::is_whitespace) {
        return Err(FieldError::new(
            "username",
            "must not contain spaces: it looks like name@yourcompany.com",
        ));
    }
    Ok(value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cw() -> PsaForm {
        PsaForm {
            psa_type: CONNECTWISE.into(),
            company_id: "contoso".into(),
            site: "na".into(),
            public_key: "pub".into(),
            private_key: "priv".into(),
            ..PsaForm::default()
        }
    }

    #[test]
    fn a_complete_connectwise_form_parses_to_a_cloud_identity() {
        let parsed = cw().parse(None).ok().unwrap();
        assert_eq!(parsed.identity.host, "na");
        assert_eq!(parsed.identity.account, "contoso");
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let form = PsaForm {
            company_id: "two words".into(),
            site: "self_hosted".into(),
            private_key: String::new(),
            ..cw()
        };
        let fields: Vec<_> = form
            .parse(None)
            .err()
            .unwrap()
            .iter()
            .map(|e| e.field)
            .collect();
        assert!(fields.contains(&"company_id"));
        assert!(fields.contains(&"site_url"));
        assert!(fields.contains(&"private_key"));
    }

    #[test]
    fn a_blank_secret_keeps_the_stored_one_when_editing() {
        let form = PsaForm {
            private_key: String::new(),
            ..cw()
        };
        let parsed = form.parse(Some(SecretString::from("old"))).ok().unwrap();
        assert_eq!(secrecy::ExposeSecret::expose_secret(&parsed.secret), "old");
    }

    #[test]
    fn an_overlong_username_is_refused_by_length() {
        let form = PsaForm {
            psa_type: AUTOTASK.into(),
            username: "u".repeat(300),
            secret: "s".into(),
            ..PsaForm::default()
        };
        let errors = form.parse(None).err().unwrap();
        assert!(errors.iter().any(|e| e.field == "username"));
    }
}
