//! atproto identifiers: handles and DIDs.
//!
//! Syntax rules from atproto.com/specs/handle and atproto.com/specs/did.
//! These types can only be built through their validating constructors, so
//! holding a `Handle` or a `Did` means the syntax was checked.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an identifier was refused; the text names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdentifierError(pub String);

fn err(msg: impl Into<String>) -> IdentifierError {
    IdentifierError(msg.into())
}

/// An atproto handle, normalised to lowercase (atproto.com/specs/handle:
/// "handles are case-insensitive and should be normalized to lowercase").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Handle(String);

/// Top-level domains the handle spec disallows for handles in use
/// (atproto.com/specs/handle, "Additional Non-Syntax Restrictions").
/// `.test` stays allowed: the spec reserves it for testing, which is what
/// development mode is for.
const DISALLOWED_HANDLE_TLDS: &[&str] = &[
    "alt",
    "arpa",
    "example",
    "internal",
    "invalid",
    "local",
    "localhost",
    "onion",
];

impl Handle {
    /// Validate and normalise a handle.
    ///
    /// atproto.com/specs/handle: at most 253 characters; two or more
    /// dot-separated segments of 1–63 ASCII letters, digits and hyphens, not
    /// starting or ending with a hyphen; the last segment does not start
    /// with a digit.
    pub fn parse(input: &str) -> Result<Handle, IdentifierError> {
        let s = input.strip_prefix('@').unwrap_or(input);
        if s.is_empty() {
            return Err(err("handle is empty"));
        }
        if s.len() > 253 {
            return Err(err("handle is longer than 253 characters"));
        }
        let lower = s.to_ascii_lowercase();
        let segments: Vec<&str> = lower.split('.').collect();
        if segments.len() < 2 {
            return Err(err(
                "handle needs at least two dot-separated segments (e.g. alice.example.com)",
            ));
        }
        for seg in &segments {
            if seg.is_empty() || seg.len() > 63 {
                return Err(err("each handle segment must be 1 to 63 characters"));
            }
            if !seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(err(
                    "handle segments may only contain ASCII letters, digits and hyphens",
                ));
            }
            if seg.starts_with('-') || seg.ends_with('-') {
                return Err(err("handle segments may not start or end with a hyphen"));
            }
        }
        let tld = segments[segments.len() - 1];
        if tld.as_bytes()[0].is_ascii_digit() {
            return Err(err(
                "the last segment of a handle may not start with a digit",
            ));
        }
        if DISALLOWED_HANDLE_TLDS.contains(&tld) {
            return Err(err(format!(
                "handles may not use the .{tld} top-level domain"
            )));
        }
        Ok(Handle(lower))
    }

    /// The normalised handle.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Handle {
    type Err = IdentifierError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Handle::parse(s)
    }
}

impl TryFrom<String> for Handle {
    type Error = IdentifierError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Handle::parse(&s)
    }
}

impl From<Handle> for String {
    fn from(h: Handle) -> String {
        h.0
    }
}

/// A DID of a method atproto supports for accounts: `did:plc` or `did:web`.
/// DIDs are case-sensitive and are kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Did(String);

impl Did {
    /// Validate a DID.
    ///
    /// atproto.com/specs/did: `did:` + lowercase method + `:` + identifier
    /// of `[A-Za-z0-9._:%-]`, not ending in `:` or `%`, at most 2 KiB.
    /// Only `did:plc` (24 characters of lowercase base32, `[a-z2-7]`) and
    /// `did:web` (a hostname; `%3A` + port allowed only for `localhost`,
    /// as the spec allows for testing) are "blessed" for accounts.
    pub fn parse(input: &str) -> Result<Did, IdentifierError> {
        if input.len() > 2048 {
            return Err(err("DID is longer than 2048 characters"));
        }
        let rest = input
            .strip_prefix("did:")
            .ok_or_else(|| err("DID must start with \"did:\""))?;
        let (method, ident) = rest
            .split_once(':')
            .ok_or_else(|| err("DID must have the form did:<method>:<identifier>"))?;
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(err("DID method must be lowercase letters"));
        }
        if ident.is_empty()
            || !ident
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'%' | b'-'))
        {
            return Err(err(
                "DID identifier has characters outside [A-Za-z0-9._:%-]",
            ));
        }
        if ident.ends_with(':') || ident.ends_with('%') {
            return Err(err("DID may not end with ':' or '%'"));
        }
        match method {
            "plc" => {
                if ident.len() != 24
                    || !ident
                        .bytes()
                        .all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7'))
                {
                    return Err(err(
                        "did:plc identifier must be 24 characters of lowercase base32 (a-z, 2-7)",
                    ));
                }
            }
            "web" => {
                let (host, port) = match ident.split_once("%3A") {
                    Some((h, p)) => (h, Some(p)),
                    None => (ident, None),
                };
                if ident.contains(':') {
                    return Err(err("did:web with a path is not supported for accounts"));
                }
                if let Some(port) = port {
                    if host != "localhost"
                        || port.is_empty()
                        || !port.bytes().all(|b| b.is_ascii_digit())
                    {
                        return Err(err("did:web may carry a port only for localhost (testing)"));
                    }
                } else if host != "localhost" {
                    Handle::parse(host)
                        .map_err(|e| err(format!("did:web host is not a valid hostname: {e}")))?;
                }
            }
            other => {
                return Err(err(format!(
                    "DID method \"{other}\" is not supported for accounts (use did:plc or did:web)"
                )))
            }
        }
        Ok(Did(input.to_string()))
    }

    /// The DID string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a `did:plc`.
    pub fn is_plc(&self) -> bool {
        self.0.starts_with("did:plc:")
    }
}

impl fmt::Display for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Did {
    type Err = IdentifierError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Did::parse(s)
    }
}

impl TryFrom<String> for Did {
    type Error = IdentifierError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Did::parse(&s)
    }
}

impl From<Did> for String {
    fn from(d: Did) -> String {
        d.0
    }
}

/// An account identifier as a user or `login_hint` gives it: a handle or a DID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountRef {
    /// `did:…`
    Did(Did),
    /// A handle, normalised.
    Handle(Handle),
}

impl AccountRef {
    /// A string starting with `did:` is a DID, anything else a handle.
    pub fn parse(input: &str) -> Result<AccountRef, IdentifierError> {
        let s = input.trim();
        if s.starts_with("did:") {
            Ok(AccountRef::Did(Did::parse(s)?))
        } else {
            Ok(AccountRef::Handle(Handle::parse(s)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_lowercases_handles() {
        assert_eq!(
            Handle::parse("Alice.Example.COM").unwrap().as_str(),
            "alice.example.com"
        );
        assert_eq!(Handle::parse("@bob.test").unwrap().as_str(), "bob.test");
        assert!(Handle::parse("a-b.c-d.xn--ls8h").is_ok());
    }

    #[test]
    fn rejects_bad_handles() {
        for bad in [
            "",
            "alice",
            "alice.",
            ".alice.com",
            "-alice.com",
            "alice-.com",
            "al ice.com",
            "alice.com.123",
            "alice_b.com",
            "alice.local",
            "alice.onion",
            "héllo.com",
            &format!("{}.com", "a".repeat(64)),
            &format!("{}com", "a.".repeat(130)),
        ] {
            assert!(Handle::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn accepts_dids() {
        assert!(Did::parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz").is_ok());
        assert!(Did::parse("did:web:example.com").is_ok());
        assert!(Did::parse("did:web:localhost%3A2583").is_ok());
    }

    #[test]
    fn rejects_bad_dids() {
        for bad in [
            "plc:abc",
            "did:plc",
            "did:PLC:ewvi7nxzyoun6zhxrhs64oiz",
            "did:plc:ewvi7nxzyoun6zhxrhs64oi",
            "did:plc:EWVI7NXZYOUN6ZHXRHS64OIZ",
            "did:plc:ewvi7nxzyoun6zhxrhs64oi1",
            "did:key:z6Mkfoo",
            "did:web:example.com:",
            "did:web:evil.com%3A8080",
            "did:web:example.com:path",
            "did:web:not a host",
            "did:plc:ewvi7nxzyoun6zhxrhs64oi<",
        ] {
            assert!(Did::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn account_ref_dispatches_on_prefix() {
        assert!(matches!(
            AccountRef::parse("did:web:example.com"),
            Ok(AccountRef::Did(_))
        ));
        assert!(matches!(
            AccountRef::parse("alice.test"),
            Ok(AccountRef::Handle(_))
        ));
        assert!(AccountRef::parse("did:nope").is_err());
    }
}
