//! Fault knobs: latency, throttling, 5xx bursts, truncated bodies, connection resets, slow
//! bodies and redirects, counted over the PSA requests the sandbox answers.
//!
//! The counter restarts whenever the faults are replaced, so a test that sets "429 every 3rd
//! request" knows exactly which of its own requests will be refused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};

use super::log::lock;

/// What to break. All knobs are off by default.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added before every answer, in milliseconds.
    pub latency_ms: u64,
    /// Every Nth request answers 429 with `Retry-After`.
    pub throttle_every: Option<u64>,
    /// Seconds announced in `Retry-After` (and the ConnectWise message); 30 when unset.
    pub retry_after_secs: Option<u64>,
    /// This many consecutive requests answer `error_status`, then requests succeed again.
    pub error_burst: u64,
    /// 500 or 503 (500 when unset).
    pub error_status: Option<u16>,
    /// Repeat the burst at the start of every window of this many requests.
    pub error_every: Option<u64>,
    /// Every Nth answer is cut mid-body (valid HTTP, broken JSON).
    pub truncate_every: Option<u64>,
    /// Every Nth request has its connection dropped before a complete answer.
    pub reset_every: Option<u64>,
    /// Send bodies in small chunks with this many milliseconds between them.
    pub slow_body_ms: u64,
    /// Every Nth request answers with a redirect to `redirect_to`.
    pub redirect_every: Option<u64>,
    /// Where redirects point; `https://example.invalid/` when unset.
    pub redirect_to: Option<String>,
    /// 301, 302, 303, 307 or 308 (302 when unset).
    pub redirect_status: Option<u16>,
}

/// The fault chosen for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planned {
    None,
    Throttle { retry_after: u64 },
    ServerError { status: u16 },
    Truncate,
    Reset,
    Redirect { status: u16 },
}

impl Planned {
    pub fn label(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Throttle { .. } => Some("throttle"),
            Self::ServerError { .. } => Some("server_error"),
            Self::Truncate => Some("truncate"),
            Self::Reset => Some("reset"),
            Self::Redirect { .. } => Some("redirect"),
        }
    }
}

/// Live fault settings plus the request counter they are judged against.
#[derive(Debug, Clone, Default)]
pub struct FaultControl {
    inner: Arc<Mutex<(Faults, u64)>>,
}

impl FaultControl {
    pub fn new(faults: Faults) -> Self {
        Self {
            inner: Arc::new(Mutex::new((faults, 0))),
        }
    }

    /// Replaces the faults and restarts the request counter.
    pub fn set(&self, faults: Faults) {
        *lock(&self.inner) = (faults, 0);
    }

    pub fn get(&self) -> Faults {
        lock(&self.inner).0.clone()
    }

    /// Counts one request and decides its fault; the first matching knob wins.
    pub fn plan(&self) -> (Planned, Faults) {
        let mut guard = lock(&self.inner);
        guard.1 += 1;
        let n = guard.1;
        let faults = guard.0.clone();
        (choose(&faults, n), faults)
    }
}

fn every(n: u64, period: Option<u64>) -> bool {
    period.is_some_and(|p| p > 0 && n.is_multiple_of(p))
}

fn in_burst(faults: &Faults, n: u64) -> bool {
    match faults.error_every {
        Some(window) if window > 0 => (n - 1) % window < faults.error_burst,
        _ => n <= faults.error_burst,
    }
}

fn choose(faults: &Faults, n: u64) -> Planned {
    if in_burst(faults, n) {
        return Planned::ServerError {
            status: faults.error_status.unwrap_or(500),
        };
    }
    if every(n, faults.throttle_every) {
        return Planned::Throttle {
            retry_after: faults.retry_after_secs.unwrap_or(30),
        };
    }
    if every(n, faults.reset_every) {
        return Planned::Reset;
    }
    if every(n, faults.truncate_every) {
        return Planned::Truncate;
    }
    if every(n, faults.redirect_every) {
        return Planned::Redirect {
            status: faults.redirect_status.unwrap_or(302),
        };
    }
    Planned::None
}

/// The first half of a body: still a complete HTTP message, but no longer valid JSON.
pub fn truncate(body: &Bytes) -> Bytes {
    body.slice(0..body.len() / 2)
}

/// A body stream that fails at once, which makes the server drop the connection.
pub fn reset_stream() -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::once(async {
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox fault: connection reset",
        ))
    })
}

/// The body in about 16 chunks with a pause before each.
pub fn slow_stream(
    body: Bytes,
    pause_ms: u64,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    let chunk = (body.len() / 16).max(1);
    let pieces: Vec<Bytes> = (0..body.len())
        .step_by(chunk)
        .map(|s| body.slice(s..(s + chunk).min(body.len())))
        .collect();
    futures::stream::iter(pieces).then(move |piece| async move {
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        Ok(piece)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_fails_the_first_requests_then_recovers() {
        let faults = Faults {
            error_burst: 2,
            error_status: Some(503),
            ..Faults::default()
        };
        let plans: Vec<_> = (1..=4).map(|n| choose(&faults, n)).collect();
        assert_eq!(plans[0], Planned::ServerError { status: 503 });
        assert_eq!(plans[1], Planned::ServerError { status: 503 });
        assert_eq!(plans[2], Planned::None);
    }

    #[test]
    fn a_repeating_burst_returns_each_window() {
        let faults = Faults {
            error_burst: 1,
            error_every: Some(3),
            ..Faults::default()
        };
        let failed: Vec<u64> = (1..=7)
            .filter(|n| choose(&faults, *n) != Planned::None)
            .collect();
        assert_eq!(failed, vec![1, 4, 7]);
    }

    #[test]
    fn redirects_hit_every_nth_request_with_the_chosen_status() {
        let faults = Faults {
            redirect_every: Some(2),
            redirect_status: Some(308),
            ..Faults::default()
        };
        assert_eq!(choose(&faults, 1), Planned::None);
        assert_eq!(choose(&faults, 2), Planned::Redirect { status: 308 });
    }

    #[test]
    fn throttling_hits_every_nth_request() {
        let faults = Faults {
            throttle_every: Some(3),
            ..Faults::default()
        };
        assert_eq!(choose(&faults, 3), Planned::Throttle { retry_after: 30 });
        assert_eq!(choose(&faults, 4), Planned::None);
    }
}
