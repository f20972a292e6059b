//! Counting and reporting.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::fmt::Write;

use serde_json::{json, Value};

use crate::proc_stats::Snapshot;

/// What one worker counted (and, merged, all of them).
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Operations answered with the expected status.
    pub ok: u64,
    /// Latency of every answered operation (a nonce retry included), µs.
    pub latencies_us: Vec<u64>,
    /// Failures by kind ("HTTP 400 invalid_grant", "transport: timeout").
    pub errors: HashMap<String, u64>,
    /// Operations retried once after `use_dpop_nonce`.
    pub nonce_retries: u64,
    /// Workers that ran out of prepared codes before the deadline.
    pub exhausted: bool,
    /// Number of workers that ran out (merged).
    pub exhausted_workers: u64,
    /// Refresh chains that broke (the worker stopped).
    pub broken_chains: u64,
}

impl WorkerStats {
    /// Add `other` into `self`.
    pub fn merge(&mut self, other: WorkerStats) {
        self.ok += other.ok;
        self.latencies_us.extend(other.latencies_us);
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.nonce_retries += other.nonce_retries;
        self.exhausted_workers += other.exhausted_workers + u64::from(other.exhausted);
        self.broken_chains += other.broken_chains;
    }
}

/// What the report is made of.
pub struct Inputs<'a> {
    pub scenario: &'a str,
    pub target: &'a str,
    pub concurrency: usize,
    pub elapsed: f64,
    pub setup_secs: f64,
    pub stats: WorkerStats,
    pub server: Option<(Snapshot, Snapshot)>,
    pub hwm_reset: bool,
    pub generator: Option<(Snapshot, Snapshot)>,
}

/// The figures of one run.
pub struct Report {
    scenario: String,
    target: String,
    concurrency: usize,
    elapsed: f64,
    setup_secs: f64,
    ok: u64,
    answered: u64,
    failed: u64,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
    errors: BTreeMap<String, u64>,
    nonce_retries: u64,
    exhausted_workers: u64,
    broken_chains: u64,
    server_cpu: Option<f64>,
    server_peak_rss_mib: Option<f64>,
    server_rss_mib: Option<f64>,
    hwm_reset: bool,
    generator_cpu: Option<f64>,
}

/// The `q`-quantile of sorted values (nearest rank), in ms.
fn quantile_ms(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

impl Report {
    pub fn build(mut i: Inputs<'_>) -> Report {
        let lat = &mut i.stats.latencies_us;
        lat.sort_unstable();
        let failed: u64 = i.stats.errors.values().sum();
        let mean = if lat.is_empty() {
            0.0
        } else {
            lat.iter().sum::<u64>() as f64 / lat.len() as f64 / 1000.0
        };
        Report {
            scenario: i.scenario.to_string(),
            target: i.target.to_string(),
            concurrency: i.concurrency,
            elapsed: i.elapsed,
            setup_secs: i.setup_secs,
            ok: i.stats.ok,
            answered: lat.len() as u64,
            failed,
            p50: quantile_ms(lat, 0.50),
            p90: quantile_ms(lat, 0.90),
            p99: quantile_ms(lat, 0.99),
            max: lat.last().map_or(0.0, |m| *m as f64 / 1000.0),
            mean,
            errors: i.stats.errors.into_iter().collect(),
            nonce_retries: i.stats.nonce_retries,
            exhausted_workers: i.stats.exhausted_workers,
            broken_chains: i.stats.broken_chains,
            server_cpu: i.server.map(|(b, a)| a.cpu_secs - b.cpu_secs),
            server_peak_rss_mib: i.server.map(|(_, a)| a.peak_rss_kib as f64 / 1024.0),
            server_rss_mib: i.server.map(|(_, a)| a.rss_kib as f64 / 1024.0),
            hwm_reset: i.hwm_reset,
            generator_cpu: i.generator.map(|(b, a)| a.cpu_secs - b.cpu_secs),
        }
    }

    fn ok_per_sec(&self) -> f64 {
        if self.elapsed > 0.0 {
            self.ok as f64 / self.elapsed
        } else {
            0.0
        }
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "scenario {}  target {}  concurrency {}  duration {:.2} s  (setup {:.1} s)",
            self.scenario, self.target, self.concurrency, self.elapsed, self.setup_secs
        );
        let _ = writeln!(
            s,
            "ok {}  failed {}  throughput {:.1} ok/s ({:.1} answered/s)",
            self.ok,
            self.failed,
            self.ok_per_sec(),
            self.answered as f64 / self.elapsed.max(f64::EPSILON)
        );
        let _ = writeln!(
            s,
            "latency ms  p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}  mean {:.2}",
            self.p50, self.p90, self.p99, self.max, self.mean
        );
        let _ = writeln!(s, "nonce retries {}", self.nonce_retries);
        if self.exhausted_workers > 0 {
            let _ = writeln!(
                s,
                "workers out of prepared codes before the end: {} (raise --codes-per-worker)",
                self.exhausted_workers
            );
        }
        if self.broken_chains > 0 {
            let _ = writeln!(s, "broken refresh chains: {}", self.broken_chains);
        }
        for (k, v) in &self.errors {
            let _ = writeln!(s, "error {k}: {v}");
        }
        if let (Some(cpu), Some(peak), Some(rss)) = (
            self.server_cpu,
            self.server_peak_rss_mib,
            self.server_rss_mib,
        ) {
            let _ = writeln!(
                s,
                "server cpu {:.2} s ({:.0} % of one core, {:.0} µs/ok)  peak RSS {:.1} MiB{}  RSS now {:.1} MiB",
                cpu,
                100.0 * cpu / self.elapsed.max(f64::EPSILON),
                1e6 * cpu / (self.ok.max(1) as f64),
                peak,
                if self.hwm_reset { " (over the run)" } else { " (since start)" },
                rss
            );
        }
        if let Some(cpu) = self.generator_cpu {
            let _ = writeln!(
                s,
                "generator cpu {:.2} s ({:.0} % of one core)",
                cpu,
                100.0 * cpu / self.elapsed.max(f64::EPSILON)
            );
        }
        s
    }

    pub fn to_json(&self) -> Value {
        json!({
            "scenario": self.scenario,
            "target": self.target,
            "concurrency": self.concurrency,
            "duration_secs": self.elapsed,
            "setup_secs": self.setup_secs,
            "ok": self.ok,
            "failed": self.failed,
            "ok_per_sec": self.ok_per_sec(),
            "latency_ms": {
                "p50": self.p50, "p90": self.p90, "p99": self.p99,
                "max": self.max, "mean": self.mean,
            },
            "errors": self.errors,
            "nonce_retries": self.nonce_retries,
            "exhausted_workers": self.exhausted_workers,
            "broken_chains": self.broken_chains,
            "server": self.server_cpu.map(|cpu| json!({
                "cpu_secs": cpu,
                "peak_rss_mib": self.server_peak_rss_mib,
                "peak_rss_over_run": self.hwm_reset,
                "rss_mib": self.server_rss_mib,
            })),
            "generator_cpu_secs": self.generator_cpu,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(quantile_ms(&v, 0.5), 50.0);
        assert_eq!(quantile_ms(&v, 0.99), 99.0);
        assert_eq!(quantile_ms(&v, 1.0), 100.0);
        assert_eq!(quantile_ms(&[], 0.5), 0.0);
    }
}
