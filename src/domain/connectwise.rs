//! ConnectWise form values: company ID and site (cloud region or self-hosted URL).

use std::fmt;

use super::{FieldError, clean_line};

/// The login company ID, as typed (ConnectWise shows it on its sign-in screen as "Company").
///
/// It goes into a URL path and into the Basic credential (`company+public:private`), so only
/// letters, digits, `_`, `-` and `.` are accepted; a space usually means the trading name was
/// typed instead of the login ID.
#[derive(Clone, Debug, Eq)]
pub struct CompanyId(String);

impl CompanyId {
    const FIELD: &'static str = "company_id";
    const MAX_LEN: usize = 50;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let value = clean_line(Self::FIELD, raw, Self::MAX_LEN)?;
        if value.is_empty() {
            return Err(FieldError::new(Self::FIELD, "is required"));
        }
        if value.contains(char::is_whitespace) {
            return Err(FieldError::new(
                Self::FIELD,
                "must not contain spaces: use the Company value from the ConnectWise sign-in screen, not the company's full name",
            ));
        }
        if !value.chars().all(is_id_char) || !value.starts_with(|c: char| c.is_ascii_alphanumeric())
        {
            return Err(FieldError::new(
                Self::FIELD,
                "may contain only letters, digits, '_', '-' and '.', starting with a letter or digit",
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

// ConnectWise's companyinfo matches the ID without regard to case (its own example resolves
// `connectwise` to `ConnectWise`), so two spellings name the same company. The value is still
// sent exactly as typed, because case-sensitivity of the Basic credential is not documented.
impl PartialEq for CompanyId {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl fmt::Display for CompanyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the ConnectWise API lives: one of the cloud regions (whose hosts are server settings)
/// or a self-hosted server's root URL (scheme, host and port; no path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Site {
    /// A cloud region key: `na`, `eu` or `aus`.
    Cloud(String),
    SelfHosted(url::Url),
}

/// The region keys the form offers; other clouds are reached through the self-hosted field.
const FORM_REGIONS: [&str; 3] = ["aus", "eu", "na"];

/// ConnectWise's sign-in (UI) hosts answer with a web page; the API lives on the `api-` twin.
const UI_HOSTS: [(&str, &str); 6] = [
    ("na.myconnectwise.net", "api-na.myconnectwise.net"),
    ("eu.myconnectwise.net", "api-eu.myconnectwise.net"),
    ("au.myconnectwise.net", "api-au.myconnectwise.net"),
    ("aus.myconnectwise.net", "api-aus.myconnectwise.net"),
    ("za.myconnectwise.net", "api-za.myconnectwise.net"),
    (
        "staging.connectwisedev.com",
        "api-staging.connectwisedev.com",
    ),
];

impl Site {
    const CHOICE: &'static str = "site";
    const URL: &'static str = "site_url";

    /// Parses the site radio choice and, for `self_hosted`, the typed URL.
    pub fn parse(site_choice: &str, site_url: &str) -> Result<Self, FieldError> {
        let choice = site_choice.trim().to_ascii_lowercase();
        if FORM_REGIONS.contains(&choice.as_str()) {
            return Ok(Self::Cloud(choice));
        }
        if choice == "self_hosted" {
            return parse_self_hosted(site_url).map(Self::SelfHosted);
        }
        Err(FieldError::new(
            Self::CHOICE,
            "choose Australia, Europe, North America or self-hosted",
        ))
    }

    /// The normalised URL to show back to the user (no trailing slash); `None` for a cloud.
    pub fn url_text(&self) -> Option<String> {
        match self {
            Self::Cloud(_) => None,
            Self::SelfHosted(url) => Some(url.as_str().trim_end_matches('/').to_string()),
        }
    }
}

fn parse_self_hosted(raw: &str) -> Result<url::Url, FieldError> {
    let field = Site::URL;
    let text = clean_line(field, raw, 300)?;
    if text.is_empty() {
        return Err(FieldError::new(
            field,
            "is required for a self-hosted server",
        ));
    }
    if text.contains(char::is_whitespace) {
        return Err(FieldError::new(field, "must not contain spaces"));
    }
    let with_scheme = if text.contains("://") {
        text
    } else {
        format!("https://{text}")
    };
    let mut url = url::Url::parse(&with_scheme)
        .map_err(|_| FieldError::new(field, "is not a web address, e.g. cw.example.com"))?;
    check_shape(&url)?;
    url.set_path("/");
    url.set_query(None);
    url.set_fragment(None);
    rewrite_ui_host(&mut url)?;
    Ok(url)
}

fn check_shape(url: &url::Url) -> Result<(), FieldError> {
    let field = Site::URL;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(FieldError::new(field, "must start with https://"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FieldError::new(
            field,
            "must not contain a user name or password",
        ));
    }
    match url.host_str() {
        Some(h) if !h.is_empty() => Ok(()),
        _ => Err(FieldError::new(
            field,
            "needs a host name, e.g. cw.example.com",
        )),
    }
}

/// Maps a pasted sign-in host to its API host and drops a trailing dot from the name.
fn rewrite_ui_host(url: &mut url::Url) -> Result<(), FieldError> {
    let Some(url::Host::Domain(name)) = url.host() else {
        return Ok(());
    };
    let name = name.trim_end_matches('.').to_string();
    let api = UI_HOSTS
        .iter()
        .find(|(ui, _)| *ui == name)
        .map(|(_, api)| *api);
    let host = api.unwrap_or(&name);
    url.set_host(Some(host))
        .map_err(|_| FieldError::new(Site::URL, "needs a valid host name"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn self_hosted(raw: &str) -> String {
        match Site::parse("self_hosted", raw) {
            Ok(site) => site.url_text().unwrap_or_default(),
            Err(e) => panic!("{raw:?} was refused: {e}"),
        }
    }

    #[test]
    fn every_spelling_of_a_self_hosted_url_normalises_to_scheme_and_host() {
        let cases = [
            ("cw.example.com", "https://cw.example.com"),
            ("https://cw.example.com/", "https://cw.example.com"),
            ("  https://CW.Example.COM  ", "https://cw.example.com"),
            ("HTTPS://cw.example.com", "https://cw.example.com"),
            (
                "cw.example.com/v4_6_release/apis/3.0",
                "https://cw.example.com",
            ),
            (
                "https://cw.example.com/v4_6_release/apis/3.0/",
                "https://cw.example.com",
            ),
            (
                "https://cw.example.com/v2025_1/apis/3.0/company/companies?page=2",
                "https://cw.example.com",
            ),
            (
                "https://cw.example.com/v4_6_release/ConnectWise.aspx#x",
                "https://cw.example.com",
            ),
            ("cw.example.com:8443", "https://cw.example.com:8443"),
            (
                "https://cw.example.com:8443/v4_6_release/apis/3.0",
                "https://cw.example.com:8443",
            ),
            ("https://cw.example.com:443/", "https://cw.example.com"),
            ("http://10.0.0.5:8080/", "http://10.0.0.5:8080"),
            ("cw.example.com.", "https://cw.example.com"),
        ];
        for (typed, expected) in cases {
            assert_eq!(self_hosted(typed), expected, "typed {typed:?}");
        }
    }

    #[test]
    fn a_sign_in_host_is_replaced_by_its_api_host() {
        let cases = [
            ("na.myconnectwise.net", "https://api-na.myconnectwise.net"),
            (
                "https://eu.myconnectwise.net/",
                "https://api-eu.myconnectwise.net",
            ),
            ("au.myconnectwise.net", "https://api-au.myconnectwise.net"),
            ("AUS.myconnectwise.net", "https://api-aus.myconnectwise.net"),
            (
                "za.myconnectwise.net/v4_6_release/apis/3.0",
                "https://api-za.myconnectwise.net",
            ),
            (
                "staging.connectwisedev.com",
                "https://api-staging.connectwisedev.com",
            ),
            (
                "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/",
                "https://api-na.myconnectwise.net",
            ),
            (
                "api-au.myconnectwise.net",
                "https://api-au.myconnectwise.net",
            ),
        ];
        for (typed, expected) in cases {
            assert_eq!(self_hosted(typed), expected, "typed {typed:?}");
        }
    }

    #[test]
    fn a_cloud_choice_ignores_the_url_field_and_keeps_its_region_key() {
        assert_eq!(Site::parse("na", "junk"), Ok(Site::Cloud("na".into())));
        assert_eq!(Site::parse(" AUS ", ""), Ok(Site::Cloud("aus".into())));
        assert_eq!(Site::parse("eu", ""), Ok(Site::Cloud("eu".into())));
    }

    #[test]
    fn an_unknown_site_choice_is_a_site_field_error() {
        let err = Site::parse("mars", "").unwrap_err();
        assert_eq!(err.field, "site");
    }

    #[test]
    fn unusable_self_hosted_urls_are_site_url_field_errors() {
        for typed in [
            "",
            "   ",
            "ftp://cw.example.com",
            "https://user:pw@cw.example.com",
            "cw example.com",
            "https://",
            "a\nb",
        ] {
            let err = Site::parse("self_hosted", typed).unwrap_err();
            assert_eq!(err.field, "site_url", "typed {typed:?}");
        }
    }

    #[test]
    fn a_company_id_is_trimmed_and_keeps_its_case() {
        let id = CompanyId::parse("  Contoso_IT-2 ").unwrap();
        assert_eq!(id.as_str(), "Contoso_IT-2");
    }

    #[test]
    fn company_ids_compare_without_regard_to_case() {
        assert_eq!(
            CompanyId::parse("contoso").unwrap(),
            CompanyId::parse("CONTOSO").unwrap()
        );
        assert_ne!(
            CompanyId::parse("contoso").unwrap(),
            CompanyId::parse("contoso2").unwrap()
        );
    }

    #[test]
    fn a_company_display_name_is_refused_with_advice() {
        let err = CompanyId::parse("Contoso Pty Ltd").unwrap_err();
        assert_eq!(err.field, "company_id");
        assert!(err.message.contains("sign-in screen"), "{}", err.message);
    }

    #[test]
    fn company_ids_that_would_break_the_url_or_credential_are_refused() {
        for typed in [
            "",
            "a+b",
            "a:b",
            "a/b",
            "../x",
            ".hidden",
            "a%2f",
            "ä",
            &"x".repeat(51),
        ] {
            assert!(
                CompanyId::parse(typed).is_err(),
                "{typed:?} should be refused"
            );
        }
    }
}
