//! `[limits]`: request limits of the public listener (issue 11 part 5),
//! validated into [`atauth_server::limits::Limits`].

use std::time::Duration;

use atauth_server::limits::{Limits, RatePolicy};
use serde::Deserialize;

use super::{cfg_err, ConfigError};

/// `[limits]`
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Largest request body, bytes (1024-65536).
    pub max_body_bytes: usize,
    /// Largest request line + headers, bytes (4096-131072).
    pub max_header_bytes: usize,
    /// Seconds for a whole request body to arrive (1-120).
    pub body_timeout_secs: u64,
    /// Milliseconds for a request head to arrive (100-60000).
    pub client_request_timeout_ms: u64,
    /// Milliseconds to close a connection after the response (0-60000).
    pub client_disconnect_timeout_ms: u64,
    /// Idle keep-alive, seconds (0 turns keep-alive off; at most 300).
    pub keep_alive_secs: u64,
    /// Open connections per worker (1-1000000).
    pub max_connections: usize,
    /// Requests per minute per client address on PAR, token, revoke and
    /// introspect; 0 turns the limit off.
    pub oauth_requests_per_minute: u32,
    /// Requests at once per client address (the bucket size, at least 1).
    pub oauth_burst: u32,
    /// Loopback clients skip the per-address limit.
    pub exempt_loopback: bool,
}

impl Default for LimitsSection {
    fn default() -> Self {
        let l = Limits::default();
        let rate = l.oauth_rate.unwrap_or(RatePolicy {
            per_minute: 0,
            burst: 1,
        });
        LimitsSection {
            max_body_bytes: l.max_body_bytes,
            max_header_bytes: l.max_header_bytes,
            body_timeout_secs: l.body_timeout.as_secs(),
            client_request_timeout_ms: millis(l.client_request_timeout),
            client_disconnect_timeout_ms: millis(l.client_disconnect_timeout),
            keep_alive_secs: l.keep_alive.as_secs(),
            max_connections: l.max_connections,
            oauth_requests_per_minute: rate.per_minute,
            oauth_burst: rate.burst,
            exempt_loopback: l.exempt_loopback,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn within<T: PartialOrd + std::fmt::Display>(
    key: &str,
    v: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    if v < min || v > max {
        Err(cfg_err(
            &format!("limits.{key}"),
            format!("must be between {min} and {max}"),
        ))
    } else {
        Ok(v)
    }
}

impl LimitsSection {
    /// Check every value.
    pub fn validate(&self) -> Result<Limits, ConfigError> {
        let max_form = atauth_core::consts::MAX_FORM_BODY_BYTES;
        let rate = match self.oauth_requests_per_minute {
            0 => None,
            per_minute => Some(RatePolicy {
                per_minute: within("oauth_requests_per_minute", per_minute, 1, 1_000_000)?,
                burst: within("oauth_burst", self.oauth_burst, 1, 1_000_000)?,
            }),
        };
        Ok(Limits {
            max_body_bytes: within("max_body_bytes", self.max_body_bytes, 1024, max_form)?,
            max_header_bytes: within("max_header_bytes", self.max_header_bytes, 4096, 131_072)?,
            body_timeout: Duration::from_secs(within(
                "body_timeout_secs",
                self.body_timeout_secs,
                1,
                120,
            )?),
            client_request_timeout: Duration::from_millis(within(
                "client_request_timeout_ms",
                self.client_request_timeout_ms,
                100,
                60_000,
            )?),
            client_disconnect_timeout: Duration::from_millis(within(
                "client_disconnect_timeout_ms",
                self.client_disconnect_timeout_ms,
                0,
                60_000,
            )?),
            keep_alive: Duration::from_secs(within(
                "keep_alive_secs",
                self.keep_alive_secs,
                0,
                300,
            )?),
            max_connections: within("max_connections", self.max_connections, 1, 1_000_000)?,
            oauth_rate: rate,
            exempt_loopback: self.exempt_loopback,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_server_defaults() {
        assert_eq!(LimitsSection::default().validate(), Ok(Limits::default()));
    }

    #[test]
    fn zero_rate_turns_the_per_address_limit_off() {
        let s = LimitsSection {
            oauth_requests_per_minute: 0,
            oauth_burst: 0,
            ..LimitsSection::default()
        };
        assert_eq!(s.validate().map(|l| l.oauth_rate), Ok(None));
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        let cases = [
            LimitsSection {
                max_body_bytes: 100 * 1024,
                ..LimitsSection::default()
            },
            LimitsSection {
                max_header_bytes: 1024,
                ..LimitsSection::default()
            },
            LimitsSection {
                body_timeout_secs: 0,
                ..LimitsSection::default()
            },
            LimitsSection {
                oauth_burst: 0,
                ..LimitsSection::default()
            },
        ];
        let keys = [
            "limits.max_body_bytes",
            "limits.max_header_bytes",
            "limits.body_timeout_secs",
            "limits.oauth_burst",
        ];
        for (case, key) in cases.iter().zip(keys) {
            assert_eq!(case.validate().map_err(|e| e.key), Err(key.to_string()));
        }
    }
}
