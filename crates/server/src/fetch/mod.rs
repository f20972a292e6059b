//! Outbound HTTP: one SSRF-safe fetcher and the caches in front of it.
//!
//! ARCHITECTURE "Outbound HTTP": every fetch (client metadata, `jwks_uri`,
//! DID documents, …) goes through [`SafeFetcher`]: https only, public
//! unicast addresses only (checked after DNS resolution), no redirects,
//! status 200, a JSON content type, a total timeout and a body cap. Callers
//! depend on the [`Fetch`] trait so tests can substitute a fake.
//!
//! [`JsonCache`] sits in front: it validates inside the cached getter so a
//! failed fetch or an invalid document is never cached (EXAMPLES.md,
//! "Validate before you cache").

mod cache;
mod ip;
mod resolve;
mod safe;

use std::fmt;

pub use cache::{cache_ttl, CacheBounds, CacheError, JsonCache};
pub use ip::{is_allowed_ip, is_public_ip};
pub use resolve::{BoxFuture, HostResolver, ResolveRefusal, StaticResolver, SystemResolver};
pub use safe::{FetchPolicy, SafeFetcher};

/// The media types a fetch accepts: sent as `Accept` and required of the
/// response's `Content-Type` (parameters such as `charset` are ignored).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Accept(&'static [&'static str]);

impl Accept {
    /// `application/json` only: client metadata and JWK sets
    /// (draft-ietf-oauth-client-id-metadata-document; SPEC §3).
    pub const JSON: Accept = Accept(&["application/json"]);

    /// JWK sets from a `jwks_uri`: RFC 7517 §8.5 registers
    /// `application/jwk-set+json`; most hosts serve `application/json`.
    pub const JWK_SET: Accept = Accept(&["application/jwk-set+json", "application/json"]);

    /// DID documents: W3C DID Core §6.2 / §6.3 name `application/did+json`
    /// and `application/did+ld+json`; PLC directories and did:web hosts also
    /// serve plain `application/json`.
    pub const DID_DOCUMENT: Accept = Accept(&[
        "application/did+ld+json",
        "application/did+json",
        "application/json",
    ]);

    /// Any list of media types (lowercase essence, no parameters).
    pub const fn new(types: &'static [&'static str]) -> Accept {
        Accept(types)
    }

    /// The accepted media types.
    pub fn types(&self) -> &'static [&'static str] {
        self.0
    }

    /// The `Accept` request header value.
    pub fn header_value(&self) -> String {
        self.0.join(", ")
    }

    /// Whether a `Content-Type` header value is one of the accepted types.
    /// The essence (before any `;`) is compared case-insensitively
    /// (RFC 9110 §8.3.1); parameters are allowed and ignored.
    pub fn allows(&self, content_type: &str) -> bool {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        self.0.iter().any(|t| *t == essence)
    }
}

impl fmt::Debug for Accept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Accept({})", self.header_value())
    }
}

/// A successful fetch: a 200 response of an accepted type, body within the cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The URL fetched (no redirect was followed, so also the one asked for).
    pub url: url::Url,
    /// The body, at most the policy's `max_body_bytes`.
    pub body: Vec<u8>,
    /// The `Cache-Control` header, if present and readable.
    pub cache_control: Option<String>,
}

/// Why a fetch failed. Each message names the rule; none contains an IP
/// address or other internal detail, so messages may reach a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL is unusable (no host, credentials in it, unparseable).
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// Only `https` is fetched (`http` only under `allow_http`).
    #[error("only https URLs are fetched (got scheme \"{0}\")")]
    Scheme(String),
    /// The host is an IP literal that is not public unicast.
    #[error("the host is an IP address that is not public unicast")]
    NonPublicAddress,
    /// The host name resolved to at least one non-public address.
    #[error("the host name resolves to a non-public address")]
    NonPublicResolution,
    /// The host name could not be resolved or connected to.
    #[error("could not resolve or connect to the host")]
    Connect,
    /// The whole fetch took longer than the policy's timeout.
    #[error("the fetch timed out")]
    Timeout,
    /// A 3xx response: redirects are never followed (SPEC §3).
    #[error("the server answered with a redirect (status {0}); redirects are not followed")]
    Redirect(u16),
    /// Any status but 200 (SPEC §3: "200 exactly").
    #[error("the server answered with status {0}; expected 200")]
    Status(u16),
    /// A `Content-Type` outside the accepted list, or none.
    #[error("the response content type is {got}; expected {expected}")]
    ContentType {
        /// What the server sent (`none` when missing).
        got: String,
        /// The accepted types.
        expected: String,
    },
    /// The body is larger than the cap.
    #[error("the response body is larger than {0} bytes")]
    TooLarge(usize),
    /// Any other transport failure (TLS, protocol error, truncated body).
    #[error("the fetch failed: {0}")]
    Transport(String),
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built: {0}")]
    Client(String),
}

/// The fetch port: everything that reads a remote document depends on this,
/// implemented by [`SafeFetcher`] and by fakes in tests.
pub trait Fetch: Send + Sync + 'static {
    /// GET `url` accepting the given media types, under the fetcher's policy.
    fn fetch(&self, url: url::Url, accept: Accept) -> BoxFuture<'_, Result<Fetched, FetchError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_compares_essence_case_insensitively_with_parameters() {
        assert!(Accept::JSON.allows("application/json"));
        assert!(Accept::JSON.allows("Application/JSON; charset=utf-8"));
        assert!(Accept::JSON.allows(" application/json ;charset=UTF-8"));
        assert!(!Accept::JSON.allows("text/html"));
        assert!(!Accept::JSON.allows("application/jsonx"));
        assert!(!Accept::JSON.allows("application/did+ld+json"));
        assert!(!Accept::JSON.allows(""));
        assert!(Accept::DID_DOCUMENT.allows("application/did+ld+json"));
        assert!(Accept::DID_DOCUMENT.allows("application/json"));
        assert_eq!(Accept::JSON.header_value(), "application/json");
    }
}
