//! The in-memory request log tests assert on (page sizes, concurrency, counts).
//!
//! Credentials never reach it: only method, path and query are kept, and the query keeps no
//! header values. Each entry is also emitted as a `debug` tracing event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

/// Which imitation answered a request.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Vendor {
    Connectwise,
    Autotask,
    /// Neither: the path matched no imitation.
    Unknown,
}

/// One answered request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoggedRequest {
    /// Position in the log since the last reset, from 1.
    pub seq: u64,
    /// RFC 3339 UTC time the request arrived.
    pub time: String,
    pub vendor: Vendor,
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    /// Effective page size of a list or query call (ConnectWise `pageSize`, Autotask
    /// `MaxRecords`), after defaults and clamping.
    pub page_size: Option<u32>,
    /// Requests to the same vendor and entity already in flight when this one arrived, plus one.
    pub concurrency: u32,
    /// The injected fault, if any (`throttle`, `server_error`, `truncate`, `reset`, `slow_body`).
    pub fault: Option<String>,
}

/// Shared request log plus per-entity in-flight counters.
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    entries: Arc<Mutex<Vec<LoggedRequest>>>,
    in_flight: Arc<Mutex<HashMap<(Vendor, String), u32>>>,
}

/// Holds one in-flight slot for a vendor entity; releases it on drop.
#[derive(Debug)]
pub struct InFlight {
    log: RequestLog,
    key: (Vendor, String),
    /// In-flight count including this request, at the time it arrived.
    pub at_start: u32,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut map = lock(&self.log.in_flight);
        if let Some(count) = map.get_mut(&self.key) {
            *count = count.saturating_sub(1);
        }
    }
}

/// A poisoned lock only means another request panicked; the data is still usable.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RequestLog {
    /// Marks a request to `entity` as in flight.
    pub fn enter(&self, vendor: Vendor, entity: &str) -> InFlight {
        let key = (vendor, entity.to_ascii_lowercase());
        let at_start = {
            let mut map = lock(&self.in_flight);
            let count = map.entry(key.clone()).or_insert(0);
            *count += 1;
            *count
        };
        InFlight {
            log: self.clone(),
            key,
            at_start,
        }
    }

    /// Appends an entry, numbering it.
    pub fn push(&self, mut entry: LoggedRequest) {
        let mut entries = lock(&self.entries);
        entry.seq = entries.len() as u64 + 1;
        tracing::debug!(
            vendor = ?entry.vendor, method = %entry.method, path = %entry.path,
            status = entry.status, page_size = ?entry.page_size, concurrency = entry.concurrency,
            fault = ?entry.fault, "sandbox request"
        );
        entries.push(entry);
    }

    /// A copy of every entry since the last clear.
    pub fn entries(&self) -> Vec<LoggedRequest> {
        lock(&self.entries).clone()
    }

    pub fn clear(&self) {
        lock(&self.entries).clear();
    }
}
