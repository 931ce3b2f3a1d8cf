//! Outbound HTTP to PSAs: one client policy (timeouts, TLS roots, no redirects, private-address
//! guard checked on the addresses actually connected to), retries with backoff, and the
//! classification of transport failures into `PsaError`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Response, StatusCode};

use super::PsaError;
use super::error::RedirectAt;

/// What outbound calls may do. Built once from the settings.
#[derive(Debug, Clone)]
pub struct OutboundPolicy {
    /// Allow loopback and private networks (tests, labs) and plain http.
    pub allow_private: bool,
    /// PEM bundle trusted in addition to the system store.
    pub extra_ca_pem: Option<Vec<u8>>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// How host names become addresses (the system resolver unless a test injects answers).
    pub lookup: NameLookup,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self {
            allow_private: false,
            extra_ca_pem: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            lookup: NameLookup::default(),
        }
    }
}

/// What a name lookup yields: the addresses, unchecked.
pub type Lookup = Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;

/// Looks host names up. The guard checks whatever this answers, so tests inject answers here
/// (a name that changes its address, mixed answers) without a DNS server.
#[derive(Clone)]
pub struct NameLookup(Arc<dyn Fn(String) -> Lookup + Send + Sync>);

impl NameLookup {
    /// The operating system's resolver.
    pub fn system() -> Self {
        Self::from_fn(|host| {
            Box::pin(async move {
                let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
                Ok(found.map(|a| a.ip()).collect())
            })
        })
    }

    /// Answers with whatever `answer` says for a host name.
    pub fn from_fn(answer: impl Fn(String) -> Lookup + Send + Sync + 'static) -> Self {
        Self(Arc::new(answer))
    }

    async fn addresses(&self, host: String) -> std::io::Result<Vec<IpAddr>> {
        (self.0)(host).await
    }
}

impl Default for NameLookup {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for NameLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NameLookup")
    }
}

/// Bounded retries with exponential backoff and jitter.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (1-based), with up to 50% random jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(1u32 << attempt.min(16));
        let capped = exp.min(self.max_delay);
        let jitter = rand::rng().random_range(0.5..=1.0);
        capped.mul_f64(jitter)
    }
}

/// Builds the one kind of client every connector uses.
pub fn build_client(policy: &OutboundPolicy) -> Result<reqwest::Client, PsaError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would resolve and connect past the private-address guard.
        .no_proxy()
        .connect_timeout(policy.connect_timeout)
        .timeout(policy.request_timeout)
        .user_agent(concat!("sync365/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: policy.allow_private,
            lookup: policy.lookup.clone(),
        }));
    if let Some(pem) = &policy.extra_ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| PsaError::Tls {
            host: "(extra CA file)".into(),
            problem: format!("the extra CA file could not be read: {e}"),
        })?;
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| PsaError::Upstream {
        host: "(client)".into(),
        detail: e.to_string(),
    })
}

/// Refuses a URL whose scheme or literal address the policy does not allow. Names are checked
/// again at connect time by `GuardedResolver`, so a DNS answer that changes is caught too.
pub fn check_url(url: &url::Url, policy: &OutboundPolicy) -> Result<(), PsaError> {
    let host = url.host_str().unwrap_or_default().to_string();
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_private => {}
        other => {
            return Err(PsaError::HostNotAllowed {
                host,
                reason: format!("{other} is not allowed; use https"),
            });
        }
    }
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
        None => {
            return Err(PsaError::HostNotAllowed {
                host,
                reason: "the address has no host".into(),
            });
        }
    };
    match literal {
        Some(ip) if !policy.allow_private && is_forbidden(ip) => Err(PsaError::HostNotAllowed {
            host,
            reason: "it is a private, loopback or link-local address".into(),
        }),
        _ => Ok(()),
    }
}

/// Loopback, private, link-local, multicast, unspecified, documentation, cloud metadata and
/// every IPv4 address embedded in IPv6 that is one of those.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // carrier-grade NAT
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking
                || o[0] >= 240
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
                || o == [168, 63, 129, 16] // Azure's host platform address
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped().or_else(|| embedded_v4(v6)) {
                return is_forbidden(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local
                || (seg[0] & 0xffc0) == 0xfe80 // link-local
                || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || seg[0] == 0x2001 && seg[1] == 0x0db8 // documentation
        }
    }
}

/// The IPv4 address an IPv6 transition form carries: IPv4-compatible (`::a.b.c.d`),
/// IPv4-translated (`::ffff:0:a.b.c.d`), NAT64 (`64:ff9b::/96` and the local-use
/// `64:ff9b:1::/48`), 6to4 (`2002:AABB:CCDD::/48`) and Teredo (`2001:0::/32`, client address
/// inverted in the last 32 bits).
fn embedded_v4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    let s = v6.segments();
    let v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        std::net::Ipv4Addr::new(a, b, c, d)
    };
    let compatible = s[..6].iter().all(|&x| x == 0);
    let translated = s[..4].iter().all(|&x| x == 0) && s[4] == 0xffff && s[5] == 0;
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && (s[2..6].iter().all(|&x| x == 0) || s[2] == 1);
    match s[0] {
        _ if compatible || translated || nat64 => Some(v4(s[6], s[7])),
        0x2002 => Some(v4(s[1], s[2])),
        0x2001 if s[1] == 0 => Some(v4(!s[6], !s[7])),
        _ => None,
    }
}

/// Looks names up and drops forbidden addresses, so the address connected to is the one that
/// was checked (no window for DNS rebinding): reqwest connects only to what this returns.
struct GuardedResolver {
    allow_private: bool,
    lookup: NameLookup,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let lookup = self.lookup.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found = lookup.addresses(host.clone()).await?;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|ip| allow_private || !is_forbidden(*ip))
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            if allowed.is_empty() {
                return Err(
                    Box::new(ForbiddenAddress(host)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Raised by the resolver when a name resolves only to forbidden addresses.
#[derive(Debug, thiserror::Error)]
#[error("{0} resolves only to private or loopback addresses")]
struct ForbiddenAddress(String);

/// Sends a request, retrying 5xx answers, timeouts and resets with backoff, and 429 answers
/// after their `Retry-After`. A redirect is an error (`Redirected`); every other answer (2xx,
/// 4xx) is returned to the caller.
pub async fn send_with_retry<F>(
    build: F,
    host: &str,
    retry: &RetryPolicy,
) -> Result<Response, PsaError>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    let mut attempt = 1;
    loop {
        let outcome = build().send().await;
        let last = attempt >= retry.max_attempts;
        let wait = match &outcome {
            Ok(resp) if resp.status() == StatusCode::TOO_MANY_REQUESTS => {
                if last {
                    return Err(PsaError::Throttled { host: host.into() });
                }
                retry_after(resp)
                    .unwrap_or_else(|| retry.backoff(attempt))
                    .min(retry.max_delay)
            }
            Ok(resp) if resp.status().is_redirection() => return Err(redirected(resp, host)),
            Ok(resp) if is_transient_status(resp.status()) && !last => retry.backoff(attempt),
            Ok(_) => return outcome.map_err(|e| classify(&e, host)),
            Err(e) if is_transient(e) && !last => retry.backoff(attempt),
            Err(e) => return Err(classify(e, host)),
        };
        tracing::debug!(
            host,
            attempt,
            wait_ms = wait.as_millis() as u64,
            "retrying PSA request"
        );
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// A whole answer, body read: what `fetch_with_retry` returns.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: bytes::Bytes,
}

/// Like `send_with_retry` (redirects included), but reads the body inside the retry loop, so a
/// body cut off mid-read is retried too, and refuses bodies above `max_body` bytes. A 5xx answer that
/// `is_final` recognises (some PSAs send business errors such as "unknown user" as 500) is
/// returned at once instead of being retried.
pub async fn fetch_with_retry<F, P>(
    build: F,
    host: &str,
    retry: &RetryPolicy,
    max_body: usize,
    is_final: P,
) -> Result<Answer, PsaError>
where
    F: Fn() -> reqwest::RequestBuilder,
    P: Fn(StatusCode, &[u8]) -> bool,
{
    let mut attempt = 1;
    loop {
        let last = attempt >= retry.max_attempts;
        let wait = match build().send().await {
            Err(e) if is_transient(&e) && !last => retry.backoff(attempt),
            Err(e) => return Err(classify(&e, host)),
            Ok(resp) if resp.status().is_redirection() => return Err(redirected(&resp, host)),
            Ok(resp) => match read_answer(resp, host, max_body).await {
                Err(ReadFailure::Transient(_)) if !last => retry.backoff(attempt),
                Err(ReadFailure::Transient(e) | ReadFailure::Fatal(e)) => return Err(e),
                Ok(a) if a.status == StatusCode::TOO_MANY_REQUESTS && last => {
                    return Err(PsaError::Throttled { host: host.into() });
                }
                Ok(a)
                    if a.status == StatusCode::TOO_MANY_REQUESTS
                        || worth_retry(&a, last, &is_final) =>
                {
                    retry_after_header(&a.headers).unwrap_or_else(|| retry.backoff(attempt))
                }
                Ok(a) => return Ok(a),
            },
        };
        tracing::debug!(
            host,
            attempt,
            wait_ms = wait.as_millis() as u64,
            "retrying PSA request"
        );
        tokio::time::sleep(wait.min(retry.max_delay)).await;
        attempt += 1;
    }
}

/// A redirect is never followed; the error says where it pointed (scheme, host and port only),
/// so the user can tell whether that is the address to enter instead.
fn redirected(resp: &Response, host: &str) -> PsaError {
    let target = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|location| resp.url().join(location).ok())
        .map(|url| url.origin().ascii_serialization())
        .filter(|origin| origin != "null")
        .unwrap_or_else(|| "another address".into());
    PsaError::Redirected {
        host: host.into(),
        target,
        at: RedirectAt::Address,
    }
}

fn worth_retry<P: Fn(StatusCode, &[u8]) -> bool>(a: &Answer, last: bool, is_final: &P) -> bool {
    is_transient_status(a.status) && !last && !is_final(a.status, &a.body)
}

/// 5xx, and 408: a server closes an idle kept-alive connection with a 408, which can meet a
/// request just sent on it; the request never reached the application and may be sent again.
fn is_transient_status(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT
}

enum ReadFailure {
    Transient(PsaError),
    Fatal(PsaError),
}

async fn read_answer(
    mut resp: Response,
    host: &str,
    max_body: usize,
) -> Result<Answer, ReadFailure> {
    let (status, headers) = (resp.status(), resp.headers().clone());
    let mut body = bytes::BytesMut::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > max_body => {
                let detail = format!("the answer is larger than {max_body} bytes");
                return Err(ReadFailure::Fatal(PsaError::Upstream {
                    host: host.into(),
                    detail,
                }));
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => {
                return Ok(Answer {
                    status,
                    headers,
                    body: body.freeze(),
                });
            }
            Err(e) if is_transient(&e) => return Err(ReadFailure::Transient(classify(&e, host))),
            Err(e) => return Err(ReadFailure::Fatal(classify(&e, host))),
        }
    }
}

fn retry_after_header(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// `Retry-After` in seconds (the only form PSAs send).
fn retry_after(resp: &Response) -> Option<Duration> {
    let value = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Timeouts, cut bodies and resets mid-answer are worth a retry; refused connections, DNS and
/// TLS failures are not (they will fail the same way at once).
fn is_transient(e: &reqwest::Error) -> bool {
    e.is_timeout() || e.is_body() || (!e.is_connect() && (is_reset(e) || closed_idle(e)))
}

/// The server closed a kept-alive connection just as the request went out on it: nothing
/// reached the application, so sending again is safe.
fn closed_idle(e: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cause {
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
        {
            return true;
        }
        cause = err.source();
    }
    false
}

fn is_reset(e: &reqwest::Error) -> bool {
    io_kind(e).is_some_and(|k| {
        matches!(
            k,
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::BrokenPipe
        )
    })
}

fn io_kind(e: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut source = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = err.source();
    }
    None
}

/// Names a transport failure by meaning, for a message that names the host.
pub fn classify(e: &reqwest::Error, host: &str) -> PsaError {
    let host = host.to_string();
    let chain = error_chain(e);
    if let Some(problem) = tls_problem(e) {
        return PsaError::Tls { host, problem };
    }
    if chain.contains("resolves only to private") {
        return PsaError::HostNotAllowed {
            host,
            reason: "its name resolves to a private, loopback or link-local address".into(),
        };
    }
    if e.is_timeout() {
        return PsaError::Timeout { host };
    }
    if chain.contains("dns error") || chain.contains("failed to lookup address") {
        return PsaError::Dns { host };
    }
    if e.is_connect() || is_reset(e) {
        return PsaError::Unreachable { host };
    }
    PsaError::Upstream {
        host,
        detail: chain,
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut source = Some(e);
    while let Some(err) = source {
        parts.push(err.to_string());
        source = err.source();
    }
    parts.join(": ")
}

/// hyper-rustls hands handshake failures over inside (nested) io::Errors, whose `source()`
/// skips the wrapped error itself, so they are opened explicitly.
fn rustls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = err.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let io = err.downcast_ref::<std::io::Error>()?;
    rustls_error(io.get_ref()?)
}

/// The certificate problem in plain words, if the failure was one.
fn tls_problem(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    use rustls::{CertificateError, Error as TlsError};
    let mut source = Some(e);
    while let Some(err) = source {
        if let Some(tls) = rustls_error(err) {
            return Some(match tls {
                TlsError::InvalidCertificate(CertificateError::Expired)
                | TlsError::InvalidCertificate(CertificateError::ExpiredContext { .. }) => {
                    "the certificate has expired".into()
                }
                TlsError::InvalidCertificate(CertificateError::UnknownIssuer) => {
                    "the certificate is signed by an unknown issuer (self-signed, a private CA, or an incomplete chain: the server must send its intermediate certificates)".into()
                }
                TlsError::InvalidCertificate(CertificateError::NotValidForName)
                | TlsError::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
                    "the certificate is for another host name".into()
                }
                other => format!("TLS error: {other}"),
            });
        }
        source = err.source();
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn forbidden(s: &str) -> bool {
        is_forbidden(s.parse().unwrap())
    }

    #[test]
    fn loopback_private_and_metadata_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "224.0.0.1",
            "100.64.0.1",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "::ffff:0:7f00:1",
            "64:ff9b:1::a00:1",
            "192.0.0.8",
            "168.63.129.16",
        ] {
            assert!(forbidden(ip), "{ip} should be forbidden");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for ip in [
            "8.8.8.8",
            "52.1.2.3",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "2002:808:808::1",
            "2001:4860:4860::8888",
        ] {
            assert!(!forbidden(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn plain_http_is_refused_unless_private_hosts_are_allowed() {
        let url = url::Url::parse("http://example.com/").unwrap();
        assert!(check_url(&url, &OutboundPolicy::default()).is_err());
        let lab = OutboundPolicy {
            allow_private: true,
            ..Default::default()
        };
        assert!(check_url(&url, &lab).is_ok());
    }

    #[test]
    fn odd_encodings_of_loopback_are_refused() {
        for u in [
            "https://2130706433/",
            "https://0177.0.0.1/",
            "https://0/",
            "https://[::ffff:127.0.0.1]/",
            "https://127.1/",
        ] {
            let url = url::Url::parse(u).unwrap();
            assert!(
                check_url(&url, &OutboundPolicy::default()).is_err(),
                "{u} should be refused"
            );
        }
    }

    /// A lookup that gives its answers in turn (the last one again after that), like a DNS
    /// server an attacker controls.
    fn answering(answers: &[&[&str]]) -> NameLookup {
        let answers: Vec<Vec<IpAddr>> = answers
            .iter()
            .map(|ips| ips.iter().map(|ip| ip.parse().unwrap()).collect())
            .collect();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        NameLookup::from_fn(move |_| {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let ips = answers[n.min(answers.len() - 1)].clone();
            Box::pin(async move { Ok(ips) })
        })
    }

    async fn guarded(lookup: &NameLookup, name: &str) -> Result<Vec<IpAddr>, String> {
        let resolver = GuardedResolver {
            allow_private: false,
            lookup: lookup.clone(),
        };
        match resolver.resolve(name.parse().unwrap()).await {
            Ok(addrs) => Ok(addrs.map(|a| a.ip()).collect()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// A loopback listener that counts the connections it accepts.
    async fn counting_listener() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok(_conn) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        (port, accepted)
    }

    /// One request through the portal's client, with names looked up by `lookup`.
    async fn request(lookup: &NameLookup, url: &str) -> Result<Response, PsaError> {
        let policy = OutboundPolicy {
            lookup: lookup.clone(),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(2),
            ..OutboundPolicy::default()
        };
        let client = build_client(&policy).unwrap();
        let host = url::Url::parse(url)
            .unwrap()
            .host_str()
            .unwrap()
            .to_string();
        send_with_retry(|| client.get(url), &host, &policy.retry).await
    }

    fn assert_refused_naming(outcome: Result<Response, PsaError>, host: &str) {
        let error = outcome.expect_err("the request must be refused");
        assert!(
            matches!(&error, PsaError::HostNotAllowed { host: h, .. } if h == host),
            "{error:?}"
        );
        let message = error.user_message();
        assert!(
            message.contains(host) && message.contains("loopback"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_name_that_turns_to_loopback_after_a_public_answer_is_refused_at_connect() {
        let (port, accepted) = counting_listener().await;
        let lookup = answering(&[&["93.184.215.14"], &["127.0.0.1"]]);
        let url = format!("http://psa.rebind.test:{port}/");
        assert_eq!(
            guarded(&lookup, "psa.rebind.test").await.unwrap(),
            vec!["93.184.215.14".parse::<IpAddr>().unwrap()],
            "the first answer is public and passes"
        );

        assert_refused_naming(request(&lookup, &url).await, "psa.rebind.test");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_mixed_answer_hands_only_its_public_addresses_to_the_connector() {
        // reqwest connects only to what the resolver returns, so this is what it can reach.
        let lookup = answering(&[&["127.0.0.1", "93.184.215.14", "::ffff:127.0.0.1", "10.0.0.5"]]);
        assert_eq!(
            guarded(&lookup, "psa.mixed.test").await.unwrap(),
            vec!["93.184.215.14".parse::<IpAddr>().unwrap()]
        );
    }

    #[tokio::test]
    async fn names_resolving_to_private_link_local_or_mapped_addresses_are_refused() {
        for ip in [
            "10.1.2.3",
            "172.16.5.4",
            "192.168.0.10",
            "169.254.169.254",
            "100.64.0.1",
            "fe80::1",
            "fd12::1",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            let lookup = answering(&[&[ip]]);
            let refused = guarded(&lookup, "psa.inside.test").await.unwrap_err();
            assert!(
                refused.contains("resolves only to private"),
                "{ip}: {refused}"
            );
        }
    }

    #[tokio::test]
    async fn loopback_in_any_form_behind_a_name_gets_no_connection() {
        let (port, accepted) = counting_listener().await;
        for answer in [
            &["127.0.0.1"][..],
            &["::ffff:127.0.0.1"],
            &["127.0.0.1", "::1"],
        ] {
            let lookup = answering(&[answer]);
            let url = format!("http://psa.loopback.test:{port}/");
            assert_refused_naming(request(&lookup, &url).await, "psa.loopback.test");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    /// A server that closes its first connection after reading the request, then answers.
    async fn closing_once_then_answering() -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for answer in [false, true] {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                if answer {
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    let _ = socket.write_all(ok).await;
                }
            }
        });
        format!("http://127.0.0.1:{port}/")
    }

    #[tokio::test]
    async fn a_connection_closed_under_a_request_is_sent_again() {
        let url = closing_once_then_answering().await;
        let client = reqwest::Client::new();
        let retry = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        };
        let resp = send_with_retry(|| client.get(&url), "127.0.0.1", &retry).await;
        assert_eq!(resp.unwrap().status(), StatusCode::OK);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let r = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        assert!(r.backoff(1) <= Duration::from_millis(200));
        assert!(r.backoff(10) <= Duration::from_secs(1));
        assert!(r.backoff(10) >= Duration::from_millis(500));
    }
}
