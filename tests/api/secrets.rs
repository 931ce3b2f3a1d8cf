//! Secrets stay secret: a real `sync365 serve` process logging at its most verbose level is
//! taken through everything that handles a PSA secret or a password, then every page it served,
//! every line it logged and every column of every table are searched for them in plain form.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use sync365::sandbox::{self, DataSizes, RunningSandbox, SandboxConfig};

use crate::helpers::{ADMIN_PASSWORD, TestApp, location, sandbox_overrides};
use crate::sandbox::{AT_FULL, CW_FULL};
use crate::security::dump_tables;

const WRONG_KEY: &str = "Wr0ngPrivateKey7";
const SUPPORT_PASSWORD: &str = "support desk passphrase 9";
const NEW_PASSWORD: &str = "the admin's brand new passphrase";

/// A `sync365 serve` process whose standard error goes to a file.
struct Portal {
    child: Child,
    address: String,
    log: std::path::PathBuf,
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn start_portal(app: &TestApp, sb: &RunningSandbox) -> Portal {
    let settings = &app.state.settings;
    let port = free_port();
    let log = settings.data_dir.join("portal.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sync365"));
    cmd.arg("serve")
        .env("SYNC365_DATABASE_URL", &settings.database_url)
        .env("SYNC365_DATA_DIR", &settings.data_dir)
        .env("SYNC365_BIND", format!("127.0.0.1:{port}"))
        .env("SYNC365_LOG", "trace")
        .env("SYNC365_SUPPORT_CAN_TEST", "true")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    for (key, value) in sandbox_overrides(sb) {
        cmd.env(format!("SYNC365_{}", key.to_uppercase()), value);
    }
    let child = cmd.spawn().expect("the sync365 binary starts");
    Portal {
        child,
        address: format!("http://127.0.0.1:{port}"),
        log,
    }
}

/// A browser of the test app pointed at the portal process.
async fn browser_of(app: &TestApp, portal: &Portal) -> TestApp {
    let mut b = app.another_browser();
    b.address = portal.address.clone();
    for _ in 0..200 {
        if let Ok(r) = b.client.get(b.url("/healthz")).send().await
            && r.status().is_success()
        {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the portal process did not start");
}

/// Everything the portal served, with the session cookies it set along the way.
#[derive(Default)]
struct Seen {
    pages: Vec<(String, String)>,
    cookies: Vec<String>,
}

impl Seen {
    async fn get(&mut self, b: &TestApp, path: &str) -> String {
        let resp = b.get_raw(path).await;
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        let body = resp.text().await.unwrap();
        self.pages.push((path.to_string(), body.clone()));
        body
    }

    async fn post(
        &mut self,
        b: &TestApp,
        form: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let resp = b.post(form, path, fields).await;
        self.cookies
            .extend(resp.cookies().map(|c| c.value().to_string()));
        resp
    }

    /// POSTs and keeps the answer's page too.
    async fn post_page(
        &mut self,
        b: &TestApp,
        form: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> StatusCode {
        let resp = self.post(b, form, path, fields).await;
        let status = resp.status();
        self.pages
            .push((format!("POST {path}"), resp.text().await.unwrap()));
        status
    }
}

async fn sign_in(seen: &mut Seen, b: &TestApp, email: &str, password: &str) {
    let fields = [("email", email), ("password", password), ("next", "/")];
    let resp = seen.post(b, "/login", "/login", &fields).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{email} signs in");
}

const NEW: &str = "/tools/integrations/psa/new?psa_type=connectwise";

fn connectwise(private_key: &str, action: &'static str) -> Vec<(&'static str, String)> {
    [
        ("psa_type", "connectwise"),
        ("company_id", "sandbox"),
        ("site", "na"),
        ("public_key", CW_FULL.0),
        ("private_key", private_key),
        ("action", action),
    ]
    .map(|(k, v)| (k, v.to_string()))
    .to_vec()
}

fn borrowed<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Saves a connection and returns its page's path.
async fn save(seen: &mut Seen, b: &TestApp, fields: &[(&'static str, &str)]) -> String {
    let resp = seen.post(b, NEW, "/tools/integrations/psa", fields).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    location(&resp)
}

async fn wait_for_run(b: &TestApp, show: &str) {
    for _ in 0..600 {
        let status: serde_json::Value = b
            .get_raw(&format!("{show}/status.json"))
            .await
            .json()
            .await
            .unwrap();
        match status["state"].as_str() {
            Some("succeeded") => return,
            Some("failed") => panic!("the run failed: {status}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("the run of {show} did not end");
}

/// The secrets, in the forms they could leak in.
fn plain_forms(secrets: &[String]) -> Vec<String> {
    let b64 = &base64::engine::general_purpose::STANDARD;
    let mut forms: Vec<String> = secrets.to_vec();
    forms.push(b64.encode(format!("sandbox+{}:{}", CW_FULL.0, CW_FULL.1)));
    forms.extend(secrets.iter().map(|s| b64.encode(s)));
    forms
}

fn assert_absent(place: &str, text: &str, forms: &[String]) {
    for secret in forms {
        assert!(
            !text.contains(secret.as_str()),
            "{place} contains the secret {secret:?}"
        );
    }
}

#[tokio::test]
async fn no_secret_appears_in_any_page_log_line_or_database_column() {
    let sizes = DataSizes {
        companies: 30,
        contacts_per_company: 0,
        agreements: 10,
        products: 5,
        tickets: 1,
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = SandboxConfig {
        sizes,
        ..SandboxConfig::default()
    };
    let sb = sandbox::start(config, listener).await.unwrap();
    let app = TestApp::against(&sb, false).await;
    app.create_user(
        Some("Contoso IT"),
        "admin@contoso.test",
        ADMIN_PASSWORD,
        "admin",
        false,
    )
    .await;
    app.create_user(None, "help@sync365.test", SUPPORT_PASSWORD, "member", true)
        .await;
    let portal = start_portal(&app, &sb);
    let admin = browser_of(&app, &portal).await;
    let support = browser_of(&app, &portal).await;
    let mut seen = Seen::default();

    // An admin tries a wrong key, saves both PSAs, tests again, edits, and changes password.
    sign_in(&mut seen, &admin, "admin@contoso.test", ADMIN_PASSWORD).await;
    let wrong = connectwise(WRONG_KEY, "test");
    let status = seen
        .post_page(&admin, NEW, "/tools/integrations/psa", &borrowed(&wrong))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let cw = save(
        &mut seen,
        &admin,
        &borrowed(&connectwise(CW_FULL.1, "save")),
    )
    .await;
    let autotask = [
        ("psa_type", "autotask"),
        ("zone", ""),
        ("username", AT_FULL.0),
        ("secret", AT_FULL.1),
        ("action", "save"),
    ];
    let at = save(&mut seen, &admin, &autotask).await;
    wait_for_run(&admin, &cw).await;
    wait_for_run(&admin, &at).await;
    let tested = seen
        .post_page(&admin, &cw, &format!("{cw}/test"), &[])
        .await;
    assert_eq!(tested, StatusCode::SEE_OTHER, "test again");
    let edit = connectwise(CW_FULL.1, "save");
    let (edit_page, edit_path) = (format!("{cw}/edit"), format!("{cw}/edit"));
    let edited = seen
        .post_page(&admin, &edit_page, &edit_path, &borrowed(&edit))
        .await;
    assert_eq!(edited, StatusCode::SEE_OTHER, "edit");
    wait_for_run(&admin, &cw).await; // the edit queued a run with the new settings
    let temporary = {
        let fields = [("email", "new@contoso.test"), ("role", "member")];
        let resp = seen
            .post(&admin, "/tools/users", "/tools/users", &fields)
            .await;
        let page = crate::helpers::page(resp).await;
        page.text("#temporary-password")
    };
    assert!(temporary.len() >= 12, "a temporary password was shown");
    let change = [
        ("current", ADMIN_PASSWORD),
        ("new", NEW_PASSWORD),
        ("confirm", NEW_PASSWORD),
    ];
    let changed = seen
        .post_page(&admin, "/account/password", "/account/password", &change)
        .await;
    assert_eq!(changed, StatusCode::SEE_OTHER, "password change");

    // Every page an admin and a support user can open.
    let customers = seen.get(&admin, "/customers").await;
    let first_customer = customers
        .split("href=\"/customers/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_string();
    for path in [
        "/tools/integrations",
        NEW,
        "/tools/integrations/psa/new?psa_type=autotask",
        "/products",
        "/tools/users",
        "/tools/activity",
        "/account/password",
    ] {
        seen.get(&admin, path).await;
    }
    for show in [&cw, &at] {
        for suffix in ["", "/edit", "/status.json"] {
            seen.get(&admin, &format!("{show}{suffix}")).await;
        }
    }
    assert!(!first_customer.is_empty(), "a customer was retrieved");
    seen.get(&admin, &format!("/customers/{first_customer}"))
        .await;
    sign_in(&mut seen, &support, "help@sync365.test", SUPPORT_PASSWORD).await;
    let list = seen.get(&support, "/support/tenants").await;
    let tenant = list
        .split("href=\"/support/tenants/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let review = format!("/support/tenants/{tenant}");
    seen.get(&support, &review).await;
    let log_file = portal.log.clone();
    drop(portal);

    let log = std::fs::read_to_string(log_file).unwrap();
    let database = dump_tables(&app.state.db, &[]).await;
    let mut secrets: Vec<String> = [
        CW_FULL.1,
        WRONG_KEY,
        AT_FULL.1,
        ADMIN_PASSWORD,
        SUPPORT_PASSWORD,
        NEW_PASSWORD,
    ]
    .map(String::from)
    .to_vec();
    secrets.push(temporary);
    let keys = std::fs::read(app.state.settings.data_dir.join("sealing.key")).unwrap();
    secrets.push(base64::engine::general_purpose::STANDARD.encode(&keys));
    secrets.push(keys.iter().map(|b| format!("{b:02x}")).collect());
    let mut forms = plain_forms(&secrets);
    forms.extend(seen.cookies.iter().filter(|c| c.len() >= 16).cloned());

    // The searches can find things: what is meant to be shown is there.
    assert!(
        log.lines().count() > 100 && log.contains("TRACE"),
        "the log is verbose"
    );
    assert!(database.contains(CW_FULL.0) && database.contains(AT_FULL.0));
    assert!(seen.pages.iter().any(|(_, body)| body.contains(CW_FULL.0)));
    assert!(seen.cookies.len() >= 2, "sign-ins set session cookies");

    // The one page that shows the temporary password on purpose is not among `seen.pages`.
    for (path, body) in &seen.pages {
        assert_absent(&format!("the page {path}"), body, &forms);
    }
    assert_absent("the log", &log, &forms);
    assert_absent("the database", &database, &forms);
}
