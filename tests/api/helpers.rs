//! Starting the app for a test: a fresh SQLite file (or a fresh PostgreSQL database when
//! `SYNC365_TEST_DATABASE_URL` is set), a temp data directory, port 0, and a cookie-keeping
//! client that speaks forms.

pub mod net;

use std::sync::Arc;

use figment::Figment;
use figment::providers::Serialized;
use reqwest::StatusCode;
use scraper::{Html, Selector};
use sync365::config::{RawSettings, Settings};
use sync365::web::AppState;

/// A running app and a client with its own cookie jar.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: Arc<AppState>,
    pub _data_dir: tempfile::TempDir,
}

/// A parsed HTML answer.
pub struct Page {
    pub status: StatusCode,
    pub html: Html,
    pub body: String,
}

impl Page {
    /// Text of the first element matching the CSS selector, trimmed; empty if none.
    pub fn text(&self, css: &str) -> String {
        let sel = Selector::parse(css).expect("valid selector");
        self.html
            .select(&sel)
            .next()
            .map(|e| e.text().collect::<String>().trim().to_string())
            .unwrap_or_default()
    }

    pub fn has(&self, css: &str) -> bool {
        let sel = Selector::parse(css).expect("valid selector");
        self.html.select(&sel).next().is_some()
    }

    /// The value attribute of the first element matching the selector.
    pub fn value(&self, css: &str) -> String {
        let sel = Selector::parse(css).expect("valid selector");
        self.html
            .select(&sel)
            .next()
            .and_then(|e| e.value().attr("value"))
            .unwrap_or_default()
            .to_string()
    }
}

/// Settings for a test; `overrides` are (key, value) pairs as in `sync365.toml`. A fresh
/// database is made unless the overrides name one.
pub async fn settings(data_dir: &std::path::Path, overrides: &[(&str, &str)]) -> Settings {
    let database_url = match overrides.iter().find(|(k, _)| *k == "database_url") {
        Some((_, url)) => url.to_string(),
        None => test_database_url(data_dir).await,
    };
    let mut f = Figment::from(Serialized::defaults(RawSettings::default()))
        .merge(("database_url", database_url))
        .merge(("data_dir", data_dir.display().to_string()))
        .merge(("bind", "127.0.0.1:0"))
        .merge(("worker_enabled", false))
        .merge(("outbound_allow_private", true));
    for (k, v) in overrides {
        f = match (*v, v.parse::<u64>()) {
            ("true" | "false", _) => f.merge((*k, *v == "true")),
            (_, Ok(number)) => f.merge((*k, number)),
            _ => f.merge((*k, *v)),
        };
    }
    Settings::from_figment(f).expect("test settings are valid")
}

/// A fresh database: a SQLite file in the temp dir, or a new PostgreSQL database.
async fn test_database_url(dir: &std::path::Path) -> String {
    match test_postgres() {
        Some(base) => fresh_postgres(&base).await,
        None => format!("sqlite://{}/test.db?mode=rwc", dir.display()),
    }
}

/// The PostgreSQL server tests may use, if `SYNC365_TEST_DATABASE_URL` names one.
pub fn test_postgres() -> Option<String> {
    std::env::var("SYNC365_TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// A new, empty PostgreSQL database on the server `base` names, as a URL.
pub async fn fresh_postgres(base: &str) -> String {
    use sea_orm::{ConnectionTrait, Database};
    let name = format!("sync365_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(base).await.expect("PostgreSQL reachable");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    let (prefix, _) = base.rsplit_once('/').expect("URL has a database part");
    format!("{prefix}/{name}")
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(&[]).await
    }

    pub async fn spawn_with(overrides: &[(&str, &str)]) -> TestApp {
        Self::spawn_adjusted(overrides, |_| {}).await
    }

    /// Like `spawn_with`, with a last word on the settings (for values that are not text).
    pub async fn spawn_adjusted(
        overrides: &[(&str, &str)],
        adjust: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut settings = settings(data_dir.path(), overrides).await;
        adjust(&mut settings);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let app = sync365::Application::build(settings, listener)
            .await
            .expect("app builds");
        let address = format!("http://127.0.0.1:{}", app.port);
        let state = app.state.clone();
        tokio::spawn(app.server);
        TestApp {
            address,
            client: client(),
            state,
            _data_dir: data_dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Page {
        let resp = self.client.get(self.url(path)).send().await.expect("GET");
        page(resp).await
    }

    pub async fn get_raw(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// POSTs a form as given (no token added).
    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    /// POSTs a form with the CSRF token of the page at `form_page`.
    pub async fn post(
        &self,
        form_page: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let token = self.csrf_token(form_page).await;
        let mut fields = form.to_vec();
        fields.push(("csrf_token", &token));
        self.post_raw(path, &fields).await
    }

    pub async fn csrf_token(&self, path: &str) -> String {
        let p = self.get(path).await;
        let token = p.value("input[name=csrf_token]");
        assert!(!token.is_empty(), "{path} has a CSRF token field");
        token
    }

    /// Creates a user directly in the database (with a tenant, unless support).
    pub async fn create_user(
        &self,
        tenant: Option<&str>,
        email: &str,
        password: &str,
        role: &str,
        support: bool,
    ) -> i64 {
        use sync365::store::users::{self, NewUser, Role};
        let db = &self.state.db;
        let tenant_id = match tenant {
            Some(name) => Some(
                users::find_or_insert_tenant(db, name)
                    .await
                    .expect("tenant")
                    .id,
            ),
            None => None,
        };
        let hash = sync365::password::hash(password.to_string().into())
            .await
            .expect("hash");
        let role = Role::parse(role).expect("role");
        let new = NewUser {
            tenant_id,
            email,
            password_hash: hash,
            role,
            is_support: support,
            must_change_password: false,
        };
        users::insert_user(db, new).await.expect("user").id
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.post(
            "/login",
            "/login",
            &[("email", email), ("password", password), ("next", "/")],
        )
        .await
    }

    /// A signed-in admin of tenant "Contoso IT".
    pub async fn signed_in_admin() -> TestApp {
        let app = TestApp::spawn().await;
        app.create_user(
            Some("Contoso IT"),
            "admin@contoso.test",
            ADMIN_PASSWORD,
            "admin",
            false,
        )
        .await;
        let resp = app.sign_in("admin@contoso.test", ADMIN_PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        app
    }

    /// A second client (another browser) for the same app.
    pub fn another_browser(&self) -> TestApp {
        TestApp {
            address: self.address.clone(),
            client: client(),
            state: self.state.clone(),
            _data_dir: tempfile::tempdir().expect("tmp"),
        }
    }
}

pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub async fn page(resp: reqwest::Response) -> Page {
    let status = resp.status();
    let body = resp.text().await.expect("body");
    Page {
        status,
        html: Html::parse_document(&body),
        body,
    }
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Settings keys that point the app at a running sandbox, as `(key, value)` overrides.
pub fn sandbox_overrides(sb: &sync365::sandbox::RunningSandbox) -> Vec<(String, String)> {
    sb.portal_settings()
        .into_iter()
        .map(|(k, v)| (k.trim_start_matches("SYNC365_").to_lowercase(), v))
        .collect()
}

impl TestApp {
    /// The app pointed at the sandbox, with or without its retrieval worker.
    pub async fn against(sb: &sync365::sandbox::RunningSandbox, worker: bool) -> TestApp {
        let owned = sandbox_overrides(sb);
        let mut pairs: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push(("worker_enabled", if worker { "true" } else { "false" }));
        TestApp::spawn_with(&pairs).await
    }
}
