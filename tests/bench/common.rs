//! Shared by the retrieval benchmarks: the quick switch, peak memory from /proc, and the result
//! row that `tests/bench/run.sh` collects into its table.

use std::time::Duration;

/// `--quick` (after `cargo bench --bench NAME --`): small data sets, for a smoke run.
pub fn quick() -> bool {
    std::env::args().any(|a| a == "--quick")
}

/// A `kB` figure of this process from /proc/self/status (`VmRSS:`, `VmHWM:`).
pub fn proc_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Resets the peak-RSS mark to the current RSS (Linux: writing 5 to clear_refs), so each run
/// measures its own peak.
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// One measured retrieval, with what the least possible would be.
pub struct Outcome {
    pub what: String,
    pub took: Duration,
    pub requests: u64,
    pub minimum: u64,
    /// Requests the connector may have in flight at once.
    pub concurrency: u64,
    pub latency_ms: u64,
    pub peak_kib: u64,
}

impl Outcome {
    /// With every request waiting out the injected latency and no more than `concurrency` in
    /// flight, the fewest requests cannot finish sooner than this.
    fn least_possible(&self) -> Duration {
        Duration::from_millis(self.minimum.div_ceil(self.concurrency.max(1)) * self.latency_ms)
    }

    /// A markdown row for run.sh's table, prefixed `RESULT ` so it can be picked out.
    pub fn print_row(&self) {
        let least = self.least_possible();
        let (reference, ratio) = if least.is_zero() {
            ("0 s (no latency)".to_string(), "-".to_string())
        } else {
            let how = format!(
                "{} req ÷ {} × {} ms",
                self.minimum, self.concurrency, self.latency_ms
            );
            let ratio = self.took.as_secs_f64() / least.as_secs_f64();
            (
                format!("{:.1} s least possible ({how})", least.as_secs_f64()),
                format!("{ratio:.2}×"),
            )
        };
        println!(
            "RESULT | {} | {:.1} s | {reference} | {ratio} | {} / {} | {} MiB |",
            self.what,
            self.took.as_secs_f64(),
            self.requests,
            self.minimum,
            self.peak_kib.div_ceil(1024),
        );
    }
}

/// "10k" for 10000, "1.5k" for 1500, plain below a thousand.
pub fn short(n: usize) -> String {
    match n {
        n if n >= 1000 && n % 1000 == 0 => format!("{}k", n / 1000),
        n if n >= 1000 => format!("{:.1}k", n as f64 / 1000.0),
        n => n.to_string(),
    }
}
