//! The portal in a real browser: headless Chromium driven over WebDriver (chromedriver) against
//! the app with its retrieval worker and the PSA sandbox. An admin signs in, connects
//! ConnectWise and Autotask through the "+ PSA Tools" form, waits on the connection page until
//! the first run has succeeded, finds an agreement line of a retrieved customer, and sees a
//! wrong private key reported beside its field.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian: `apt-get install chromium
//! chromium-driver`); without them the test fails and says so. A screenshot of each step is
//! saved under `target/browser-screenshots/`.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail, ensure};
use fantoccini::{Client, ClientBuilder, Locator};
use sync365::sandbox::{self, SandboxConfig};

use crate::helpers::{ADMIN_PASSWORD, TestApp};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const INSTALL_HINT: &str = "this test drives headless Chromium: install Chromium and its \
    WebDriver (Debian: `apt-get install chromium chromium-driver`)";

/// How long an element may take to appear after a click or a page load.
const FIND: Duration = Duration::from_secs(20);
/// How long a connection's first run may take to succeed.
const RUN: Duration = Duration::from_secs(60);

const EMAIL: &str = "admin@contoso.test";

/// chromedriver on a free port, in a process group of its own so that dropping this kills it
/// and the Chromium it started, also when the test panics.
struct ChromeDriver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

impl ChromeDriver {
    async fn start() -> ChromeDriver {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: {INSTALL_HINT}"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {CHROMEDRIVER}: {e}; {INSTALL_HINT}"));
        let driver = ChromeDriver {
            child,
            port,
            profile: tempfile::tempdir().expect("temp dir for the browser profile"),
        };
        let status = format!("{}/status", driver.url());
        let started = Instant::now();
        loop {
            let ready = match reqwest::get(&status).await {
                Ok(resp) => resp
                    .json::<serde_json::Value>()
                    .await
                    .map(|v| v["value"]["ready"].as_bool() == Some(true))
                    .unwrap_or(false),
                Err(_) => false,
            };
            if ready {
                return driver;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not answer on port {port} within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A new headless Chromium session with a fresh profile and no network of its own.
    async fn browser(&self) -> Client {
        // Both of rustls' crypto providers are compiled into this test binary, so rustls needs
        // to be told which one to use; aws-lc-rs is the one reqwest falls back to anyway.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let args = [
            "--headless".to_string(),
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-dev-shm-usage".to_string(),
            "--disable-background-networking".to_string(),
            "--disable-component-update".to_string(),
            "--disable-sync".to_string(),
            "--no-first-run".to_string(),
            "--window-size=1280,1000".to_string(),
            format!("--user-data-dir={}", self.profile.path().display()),
        ];
        let caps = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!("a JSON object")
        };
        ClientBuilder::rustls()
            .expect("WebDriver HTTP client")
            .capabilities(caps)
            .connect(&self.url())
            .await
            .expect("chromedriver starts a Chromium session")
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every Chromium process it started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The browser, the app's address, and numbered screenshots.
struct Tour {
    c: Client,
    base: String,
    shots: PathBuf,
    step: u32,
}

impl Tour {
    async fn goto(&self, path: &str) -> anyhow::Result<()> {
        self.c.goto(&format!("{}{path}", self.base)).await?;
        Ok(())
    }

    /// Waits (bounded) for an element matching the CSS selector.
    async fn find(&self, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
        self.c
            .wait()
            .at_most(FIND)
            .every(Duration::from_millis(100))
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("waiting for `{css}`"))
    }

    async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.find(css)
            .await?
            .click()
            .await
            .with_context(|| format!("clicking `{css}`"))
    }

    async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let field = self.find(css).await?;
        field.clear().await?;
        field
            .send_keys(text)
            .await
            .with_context(|| format!("typing into `{css}`"))
    }

    /// Scrolls the element into the middle of the window, for the screenshot.
    async fn reveal(&self, element: &fantoccini::elements::Element) -> anyhow::Result<()> {
        let arg = serde_json::to_value(element)?;
        self.c
            .execute("arguments[0].scrollIntoView({block: 'center'});", vec![arg])
            .await?;
        Ok(())
    }

    async fn shot(&mut self, name: &str) -> anyhow::Result<()> {
        self.step += 1;
        let png = self.c.screenshot().await?;
        let path = self.shots.join(format!("{:02}-{name}.png", self.step));
        std::fs::write(&path, png).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Tools > Integration Settings from the menu.
    async fn open_integration_settings(&self) -> anyhow::Result<()> {
        self.click("details.dropdown > summary").await?;
        self.click("details.dropdown a[href='/tools/integrations']")
            .await?;
        self.find("#add-psa").await?;
        Ok(())
    }

    /// On a connection's page, waits until `#run-state` says `succeeded`. The page's script
    /// polls status.json and reloads when the run ends, so the badge is looked up afresh.
    async fn wait_for_run_to_succeed(&self) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < RUN {
            if let Ok(badge) = self.c.find(Locator::Css("#run-state")).await {
                // The element may go stale while the page reloads: try again.
                if let Ok(state) = badge.text().await {
                    last = state.trim().to_string();
                    match last.as_str() {
                        "succeeded" => return Ok(()),
                        "failed" | "cancelled" => {
                            let error = match self.c.find(Locator::Css("#run-error")).await {
                                Ok(e) => e.text().await.unwrap_or_default(),
                                Err(_) => String::new(),
                            };
                            bail!("the run ended {last}: {error}");
                        }
                        _ => {}
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Err(anyhow!(
            "the run did not succeed within {RUN:?}; #run-state last showed {last:?}"
        ))
    }
}

#[tokio::test]
async fn an_admin_connects_both_psas_and_sees_agreement_lines_in_headless_chromium() {
    let driver = ChromeDriver::start().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let sb = sandbox::start(SandboxConfig::default(), listener)
        .await
        .expect("sandbox starts");
    let app = TestApp::against(&sb, true).await;
    app.create_user(Some("Contoso IT"), EMAIL, ADMIN_PASSWORD, "admin", false)
        .await;

    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot directory");
    let started = Instant::now();
    let mut tour = Tour {
        c: driver.browser().await,
        base: app.address.clone(),
        shots,
        step: 0,
    };
    let outcome = journey(&mut tour).await;
    if let Err(e) = &outcome {
        let _ = tour.shot("failure").await;
        let url = tour.c.current_url().await.map(|u| u.to_string());
        eprintln!("browser test failed at {url:?}: {e:#}");
    }
    let _ = tour.c.clone().close().await;
    drop(driver);
    if let Err(e) = outcome {
        panic!("{e:#} (screenshots in {})", tour.shots.as_path().display());
    }
    eprintln!(
        "browser test took {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        tour.shots.display()
    );
}

async fn journey(t: &mut Tour) -> anyhow::Result<()> {
    // Sign in.
    t.goto("/login").await?;
    t.fill("#email", EMAIL).await?;
    t.fill("#password", ADMIN_PASSWORD).await?;
    t.shot("login").await?;
    t.click("form[action='/login'] button[type=submit]").await?;
    t.find("details.dropdown > summary").await?;
    t.shot("signed-in").await?;

    // ConnectWise: Tools > Integration Settings > + > Test and Save.
    t.open_integration_settings().await?;
    t.shot("integration-settings").await?;
    t.click("#add-psa").await?;
    t.find("#psa-form").await?;
    t.fill("#company_id", "sandbox").await?;
    t.click("input[name=site][value=na]").await?;
    t.fill("#public_key", "FullAccessPub001").await?;
    t.fill("#private_key", "FullAccessPriv01").await?;
    t.shot("connectwise-form").await?;
    t.click("button[name=action][value=save]").await?;
    t.find("#run-state")
        .await
        .context("the ConnectWise connection page")?;
    t.shot("connectwise-connection").await?;
    t.wait_for_run_to_succeed()
        .await
        .context("ConnectWise's first run")?;
    t.shot("connectwise-succeeded").await?;

    // Customers > the first customer: an agreement line is shown.
    t.click("header.site a[href='/customers']").await?;
    t.find("#customers").await?;
    t.shot("customers").await?;
    t.click("#customers tbody tr.customer a").await?;
    t.find("#customer-name").await?;
    let line = t
        .find("table.lines tr.line")
        .await
        .context("an agreement line of the first customer")?;
    ensure!(
        line.is_displayed().await?,
        "the agreement line is not visible"
    );
    t.reveal(&line).await?;
    t.shot("customer-agreement-lines").await?;

    // Autotask: the same form, switched to Autotask.
    t.open_integration_settings().await?;
    t.click("#add-psa").await?;
    t.click("a[data-psa-type=autotask]").await?;
    let zone = t.find("#zone").await?;
    ensure!(
        zone.is_displayed().await?,
        "the Autotask fields did not show"
    );
    t.fill("#zone", "webservices2").await?;
    t.fill("#username", "sbxfullapi00001@SANDBOX.EXAMPLE")
        .await?;
    t.fill("#secret", "Full*Secret#001").await?;
    t.shot("autotask-form").await?;
    t.click("button[name=action][value=save]").await?;
    t.find("#run-state")
        .await
        .context("the Autotask connection page")?;
    t.shot("autotask-connection").await?;
    t.wait_for_run_to_succeed()
        .await
        .context("Autotask's first run")?;
    t.shot("autotask-succeeded").await?;

    // A wrong private key: Test shows why beside the field.
    t.open_integration_settings().await?;
    t.click("#add-psa").await?;
    t.fill("#company_id", "sandbox").await?;
    t.click("input[name=site][value=na]").await?;
    t.fill("#public_key", "FullAccessPub001").await?;
    t.fill("#private_key", "WrongPrivateKey1").await?;
    t.click("button[name=action][value=test]").await?;
    let error = t.find("#private_key-error").await?;
    ensure!(
        error.is_displayed().await? && !error.text().await?.trim().is_empty(),
        "#private_key-error shows no message"
    );
    t.reveal(&error).await?;
    t.shot("wrong-private-key").await?;
    Ok(())
}
