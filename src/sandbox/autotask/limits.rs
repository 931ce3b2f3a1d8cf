//! Autotask's usage limits: three concurrent threads per integration code and endpoint, and an
//! hourly request threshold per database with latency steps before it refuses calls.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::sandbox::log::lock;

/// Limit settings; tests shrink the threshold so they can reach it quickly.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct AutotaskLimits {
    /// Concurrent requests allowed per (integration code, entity).
    pub threads: u32,
    /// Requests per rolling window before calls are refused.
    pub hourly_threshold: u32,
    /// Length of the rolling window, in seconds (3600 on real servers).
    pub window_secs: u64,
    /// Added delay from 50 % and from 75 % of the threshold, in milliseconds.
    pub latency_steps_ms: [u64; 2],
}

impl Default for AutotaskLimits {
    fn default() -> Self {
        Self {
            threads: 3,
            hourly_threshold: 10_000,
            window_secs: 3600,
            latency_steps_ms: [500, 1000],
        }
    }
}

/// Live counters behind the limits.
#[derive(Debug, Clone, Default)]
pub struct Limiter {
    threads: Arc<Mutex<HashMap<(String, String), u32>>>,
    window: Arc<Mutex<VecDeque<Instant>>>,
}

/// A held thread slot; released on drop.
#[derive(Debug)]
pub struct ThreadSlot {
    limiter: Limiter,
    key: (String, String),
}

impl Drop for ThreadSlot {
    fn drop(&mut self) {
        if let Some(count) = lock(&self.limiter.threads).get_mut(&self.key) {
            *count = count.saturating_sub(1);
        }
    }
}

/// How the threshold judged one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Allowed { delay_ms: u64 },
    Exceeded,
}

impl Limiter {
    /// Takes a thread slot, or `None` when the limit is already reached.
    pub fn enter(&self, limits: &AutotaskLimits, code: &str, entity: &str) -> Option<ThreadSlot> {
        let key = (code.to_ascii_uppercase(), entity.to_ascii_lowercase());
        let mut threads = lock(&self.threads);
        let count = threads.entry(key.clone()).or_insert(0);
        if *count >= limits.threads {
            return None;
        }
        *count += 1;
        Some(ThreadSlot {
            limiter: self.clone(),
            key,
        })
    }

    /// Counts a request against the rolling window and says what happens to it.
    pub fn count(&self, limits: &AutotaskLimits) -> Usage {
        let now = Instant::now();
        let mut window = lock(&self.window);
        let horizon = Duration::from_secs(limits.window_secs);
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= horizon)
        {
            window.pop_front();
        }
        if window.len() >= limits.hourly_threshold as usize {
            return Usage::Exceeded;
        }
        window.push_back(now);
        Usage::Allowed {
            delay_ms: step(limits, window.len()),
        }
    }

    /// Requests counted in the current window.
    pub fn used(&self, limits: &AutotaskLimits) -> usize {
        let now = Instant::now();
        let horizon = Duration::from_secs(limits.window_secs);
        lock(&self.window)
            .iter()
            .filter(|t| now.duration_since(**t) < horizon)
            .count()
    }

    pub fn clear(&self) {
        lock(&self.window).clear();
    }
}

/// The latency step for the request that brought usage to `used` (brief §5: none below 50 %,
/// +0.5 s from 50 %, +1 s from 75 %).
fn step(limits: &AutotaskLimits, used: usize) -> u64 {
    let threshold = limits.hourly_threshold.max(1) as usize;
    if used * 4 >= threshold * 3 {
        limits.latency_steps_ms[1]
    } else if used * 2 >= threshold {
        limits.latency_steps_ms[0]
    } else {
        0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_fourth_thread_is_refused_until_one_finishes() {
        let (limiter, limits) = (Limiter::default(), AutotaskLimits::default());
        let held: Vec<_> = (0..3)
            .map(|_| limiter.enter(&limits, "CODE", "Companies"))
            .collect();
        assert!(held.iter().all(Option::is_some));
        assert!(limiter.enter(&limits, "code", "companies").is_none());
        assert!(limiter.enter(&limits, "CODE", "Contracts").is_some());
        drop(held);
        assert!(limiter.enter(&limits, "CODE", "Companies").is_some());
    }

    #[test]
    fn latency_grows_in_steps_then_requests_are_refused() {
        let limiter = Limiter::default();
        let limits = AutotaskLimits {
            hourly_threshold: 4,
            latency_steps_ms: [5, 10],
            ..AutotaskLimits::default()
        };
        let usage: Vec<Usage> = (0..5).map(|_| limiter.count(&limits)).collect();
        assert_eq!(usage[0], Usage::Allowed { delay_ms: 0 });
        assert_eq!(usage[1], Usage::Allowed { delay_ms: 5 });
        assert_eq!(usage[2], Usage::Allowed { delay_ms: 10 });
        assert_eq!(usage[4], Usage::Exceeded);
    }
}
