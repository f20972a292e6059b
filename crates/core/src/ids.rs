//! Identifiers and one-time secrets, each with a kind prefix checked on
//! parse so that a code can never pass as a refresh token (or a device
//! cookie as either). Secrets are stored only as SHA-256 hashes
//! ([`secret_hash`]), so a copy of the database yields no usable token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// 32 random bytes, base64url: 256 bits, far past guessing (RFC 6749
/// §10.10 asks for at most 2^-128 odds; RFC 9126 §2.2 for request_uri).
const SECRET_BYTES: usize = 32;

/// Random base64url string of `SECRET_BYTES` bytes from the OS RNG.
fn random_part() -> String {
    let mut b = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut b);
    B64.encode(b)
}

/// SHA-256 of a secret, base64url: what the database stores in place of
/// codes, refresh tokens and device secrets.
pub fn secret_hash(secret: &str) -> String {
    B64.encode(Sha256::digest(secret.as_bytes()))
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The prefix every value of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh random value.
            pub fn generate() -> Self {
                $name(format!("{}{}", $prefix, random_part()))
            }

            /// Parse, checking the prefix and the length and alphabet of
            /// the random part.
            pub fn parse(s: &str) -> Option<Self> {
                let rest = s.strip_prefix($prefix)?;
                let ok = rest.len() == 43 && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                ok.then(|| $name(s.to_string()))
            }

            /// The full string.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The SHA-256 hash stored in place of the value.
            pub fn hash(&self) -> String {
                secret_hash(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            // Only the prefix: these are secrets or bearer-like handles.
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}(<{}…>)", stringify!($name), $prefix)
            }
        }
    };
}

prefixed_id!(
    /// A pushed authorization request's id; the `request_uri` is
    /// [`REQUEST_URI_PREFIX`] followed by it (RFC 9126 §2.2).
    RequestId,
    "req-"
);
prefixed_id!(
    /// An authorization code (RFC 6749 §4.1.2). Secret: stored hashed.
    Code,
    "cod-"
);
prefixed_id!(
    /// A refresh token (RFC 6749 §1.5). Secret: stored hashed.
    RefreshToken,
    "ref-"
);
prefixed_id!(
    /// An OAuth session's id (one per code exchange; refreshes keep it).
    SessionId,
    "ses-"
);
prefixed_id!(
    /// A browser device's id (public; in URLs of the account pages).
    DeviceId,
    "dev-"
);
prefixed_id!(
    /// A browser device's cookie secret. Secret: stored hashed.
    DeviceSecret,
    "dsc-"
);

/// RFC 9126 §2.2: the `request_uri` is a URN; this prefix is the one the
/// RFC's examples and the atproto reference use.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

impl RequestId {
    /// The `request_uri` for this request.
    pub fn request_uri(&self) -> String {
        format!("{REQUEST_URI_PREFIX}{}", self.0)
    }

    /// Parse a `request_uri` back into the request id.
    pub fn from_request_uri(uri: &str) -> Option<RequestId> {
        RequestId::parse(uri.strip_prefix(REQUEST_URI_PREFIX)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_check_prefix() {
        let c = Code::generate();
        assert!(Code::parse(c.as_str()).is_some());
        assert!(
            RefreshToken::parse(c.as_str()).is_none(),
            "a code must not parse as a refresh token"
        );
        let r = RequestId::generate();
        assert_eq!(
            RequestId::from_request_uri(&r.request_uri()),
            Some(r.clone())
        );
        assert!(RequestId::from_request_uri(r.as_str()).is_none());
    }

    #[test]
    fn rejects_wrong_length_and_alphabet() {
        assert!(Code::parse("cod-short").is_none());
        assert!(Code::parse(&format!("cod-{}", "a".repeat(44))).is_none());
        assert!(Code::parse(&format!("cod-{}!", "a".repeat(42))).is_none());
    }

    #[test]
    fn debug_hides_secret() {
        let t = RefreshToken::generate();
        assert!(!format!("{t:?}").contains(&t.as_str()[4..]));
    }

    #[test]
    fn hash_is_stable_and_not_the_secret() {
        let t = RefreshToken::generate();
        assert_eq!(t.hash(), secret_hash(t.as_str()));
        assert_ne!(t.hash(), t.as_str());
        assert_ne!(RefreshToken::generate().hash(), t.hash());
    }
}
