//! `[mail]` (issue 13, part 1): where email codes and password-reset
//! messages go, and its checks.

use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

use super::{cfg_err, ConfigError};

/// `[mail]`
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSection {
    /// `smtps://user:password@host[:port]` (TLS), `smtp://…?tls=required`
    /// (STARTTLS), or `smtp://host[:port]` (no TLS: loopback relays only).
    /// Empty: no SMTP (in dev, messages are written to files).
    pub smtp_url: String,
    /// The `From:` mailbox. Required with `smtp_url`.
    pub from: String,
    /// Time allowed for one delivery attempt, seconds (1-120).
    pub timeout_secs: u64,
    /// Delivery attempts per message (1-10).
    pub max_attempts: u32,
}

impl Default for MailSection {
    fn default() -> Self {
        MailSection {
            smtp_url: String::new(),
            from: String::new(),
            timeout_secs: 10,
            max_attempts: 3,
        }
    }
}

impl std::fmt::Debug for MailSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSection")
            .field("smtp_url", &super::redact_url(&self.smtp_url))
            .field("from", &self.from)
            .field("timeout_secs", &self.timeout_secs)
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

/// Where mail goes, validated.
#[derive(Clone, PartialEq, Eq)]
pub enum MailDestination {
    /// No mail: email codes and password reset are unavailable.
    Off,
    /// This SMTP URL (may hold a password: never printed).
    Smtp(String),
    /// Development: `.eml` files in `<data_dir>/mail`.
    Files,
}

impl std::fmt::Debug for MailDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailDestination::Off => f.write_str("Off"),
            MailDestination::Smtp(u) => write!(f, "Smtp({})", super::redact_url(u)),
            MailDestination::Files => f.write_str("Files"),
        }
    }
}

/// The validated `[mail]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// Where messages go.
    pub destination: MailDestination,
    /// The `From:` mailbox.
    pub from: String,
    /// Seconds per attempt.
    pub timeout_secs: u64,
    /// Attempts per message.
    pub max_attempts: u32,
}

impl MailSettings {
    /// The directory of the development file mailer.
    pub fn files_dir(data_dir: &Path) -> std::path::PathBuf {
        data_dir.join("mail")
    }
}

impl MailSection {
    /// Check the section. SMTP needs a `from`; plain `smtp://` (no TLS) is
    /// refused outside dev unless the server is on loopback (a local
    /// relay), so that credentials and codes never cross a network in
    /// clear. In dev without a URL, messages go to files.
    pub fn validate(&self, dev: bool) -> Result<MailSettings, ConfigError> {
        if !(1..=120).contains(&self.timeout_secs) {
            return Err(cfg_err("mail.timeout_secs", "must be between 1 and 120"));
        }
        if !(1..=10).contains(&self.max_attempts) {
            return Err(cfg_err("mail.max_attempts", "must be between 1 and 10"));
        }
        let url = self.smtp_url.trim();
        let destination = if url.is_empty() {
            if dev {
                MailDestination::Files
            } else {
                MailDestination::Off
            }
        } else {
            check_smtp_url(url, dev)?;
            MailDestination::Smtp(url.to_string())
        };
        let from = match (self.from.trim(), &destination) {
            ("", MailDestination::Smtp(_)) => {
                return Err(cfg_err(
                    "mail.from",
                    "required with mail.smtp_url, e.g. \"atauth <no-reply@auth.example.com>\"",
                ))
            }
            ("", _) => "atauth <no-reply@localhost>".to_string(),
            (f, _) => f.to_string(),
        };
        Ok(MailSettings {
            destination,
            from,
            timeout_secs: self.timeout_secs,
            max_attempts: self.max_attempts,
        })
    }
}

fn check_smtp_url(raw: &str, dev: bool) -> Result<(), ConfigError> {
    let key = "mail.smtp_url";
    // Never quote the URL back: it may hold a password.
    let url = url::Url::parse(raw)
        .map_err(|_| cfg_err(key, "not a URL like smtps://user:password@smtp.example.com"))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| cfg_err(key, "names no host"))?;
    let tls = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    match (url.scheme(), tls.as_deref()) {
        ("smtps", None) | ("smtp", Some("required")) => Ok(()),
        ("smtp", None) => {
            let loopback = host == "localhost"
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if loopback || dev {
                Ok(())
            } else {
                Err(cfg_err(
                    key,
                    "plain smtp:// is only allowed to a loopback relay: use smtps:// or add ?tls=required (STARTTLS)",
                ))
            }
        }
        ("smtp", Some(_)) => Err(cfg_err(
            key,
            "tls must be \"required\" (STARTTLS); for TLS from the start use smtps://",
        )),
        ("smtps", Some(_)) => Err(cfg_err(key, "smtps:// takes no tls parameter")),
        _ => Err(cfg_err(key, "must start with smtps:// or smtp://")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(url: &str, from: &str) -> MailSection {
        MailSection {
            smtp_url: url.into(),
            from: from.into(),
            ..MailSection::default()
        }
    }

    const FROM: &str = "atauth <no-reply@auth.example.com>";

    #[test]
    fn off_in_production_files_in_dev_by_default() {
        let d = MailSection::default();
        assert_eq!(d.validate(false).unwrap().destination, MailDestination::Off);
        assert_eq!(
            d.validate(true).unwrap().destination,
            MailDestination::Files
        );
    }

    #[test]
    fn accepts_tls_starttls_and_loopback_relays() {
        for url in [
            "smtps://u:p@smtp.example.com",
            "smtp://u:p@smtp.example.com:587?tls=required",
            "smtp://127.0.0.1:25",
            "smtp://localhost",
            "smtp://[::1]:2525",
        ] {
            let s = section(url, FROM).validate(false).unwrap();
            assert_eq!(s.destination, MailDestination::Smtp(url.into()), "{url}");
        }
    }

    #[test]
    fn rejects_cleartext_to_a_remote_host_or_unknown_schemes() {
        for (url, dev_ok) in [
            ("smtp://u:secret@smtp.example.com", true),
            ("smtp://smtp.example.com?tls=opportunistic", false),
            ("smtps://smtp.example.com?tls=required", false),
            ("http://secret@smtp.example.com", false),
            ("not a url secret", false),
        ] {
            let e = section(url, FROM).validate(false).unwrap_err();
            assert_eq!(e.key, "mail.smtp_url", "{url}");
            assert!(!e.reason.contains("secret"), "{}", e.reason);
            assert_eq!(section(url, FROM).validate(true).is_ok(), dev_ok, "{url}");
        }
    }

    #[test]
    fn smtp_needs_a_from_and_bounds_hold() {
        let e = section("smtps://smtp.example.com", " ")
            .validate(false)
            .unwrap_err();
        assert_eq!(e.key, "mail.from");
        let s = MailSection {
            max_attempts: 0,
            ..MailSection::default()
        };
        assert_eq!(s.validate(false).unwrap_err().key, "mail.max_attempts");
        let s = MailSection {
            timeout_secs: 0,
            ..MailSection::default()
        };
        assert_eq!(s.validate(false).unwrap_err().key, "mail.timeout_secs");
    }

    #[test]
    fn debug_hides_the_password() {
        let s = section("smtps://user:secret@smtp.example.com", FROM);
        assert!(!format!("{s:?}").contains("secret"));
        let v = s.validate(false).unwrap();
        assert!(!format!("{v:?}").contains("secret"));
    }
}
