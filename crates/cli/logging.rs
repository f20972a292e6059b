//! Logging setup: tracing to standard error, human or JSON.
//!
//! `RUST_LOG` filters (default `info`). Nothing secret is ever passed to a
//! log macro: tokens, codes, passwords and keys stay out of log fields.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Install the global subscriber once. Later calls are ignored.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
