//! CPU time and peak RSS of a process, from /proc (Linux).

use anyhow::{bail, Context};

/// Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// A reading of one process.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    /// utime + stime, seconds.
    pub cpu_secs: f64,
    /// VmHWM: peak resident set size, KiB.
    pub peak_rss_kib: u64,
    /// VmRSS: current resident set size, KiB.
    pub rss_kib: u64,
}

impl Snapshot {
    /// Read process `pid`.
    pub fn of_pid(pid: u32) -> anyhow::Result<Snapshot> {
        read(&format!("/proc/{pid}"))
    }

    /// Read this process.
    pub fn of_self() -> anyhow::Result<Snapshot> {
        read("/proc/self")
    }
}

fn read(dir: &str) -> anyhow::Result<Snapshot> {
    let stat = std::fs::read_to_string(format!("{dir}/stat"))
        .with_context(|| format!("cannot read {dir}/stat"))?;
    // Fields after the command name, which is in parentheses and may
    // contain spaces: state is field 3, utime 14, stime 15.
    let Some(close) = stat.rfind(')') else {
        bail!("unexpected {dir}/stat");
    };
    let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<f64> {
        rest.get(n - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| format!("field {n} of {dir}/stat"))
    };
    let cpu_secs = (field(14)? + field(15)?) / TICKS_PER_SEC;
    let status = std::fs::read_to_string(format!("{dir}/status"))
        .with_context(|| format!("cannot read {dir}/status"))?;
    let kib = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(Snapshot {
        cpu_secs,
        peak_rss_kib: kib("VmHWM:"),
        rss_kib: kib("VmRSS:"),
    })
}

/// Reset the process's peak RSS (`echo 5 > /proc/PID/clear_refs`), so that
/// VmHWM after the run is the peak over the run. Returns whether it
/// worked; if not, the reported peak is since the process started.
pub fn reset_peak_rss(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_itself() {
        let s = Snapshot::of_self().unwrap();
        assert!(s.cpu_secs >= 0.0);
        assert!(s.peak_rss_kib > 0);
    }
}
