//! DID resolution over the SSRF-safe fetcher (ARCHITECTURE "Identity").
//!
//! `did:plc` through a PLC directory (`GET {directory}/{did}`), `did:web`
//! through `https://{host}/.well-known/did.json` (atproto.com/specs/did).
//! Documents are validated (their `id` is the DID asked for) before they
//! are cached, and cached for a few minutes.

use std::sync::Arc;
use std::time::Duration;

use atauth_core::identity::{Did, Handle};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::fetch::{Accept, CacheBounds, CacheError, Fetch, FetchError, JsonCache};

/// The public PLC directory.
pub const DEFAULT_PLC_DIRECTORY: &str = "https://plc.directory";

/// Settings of the [`IdentityResolver`].
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// The PLC directory. Default `https://plc.directory`; tests point it at
    /// a fake directory on loopback.
    pub plc_directory: Url,
    /// Lifetimes of cached DID documents. Default 60 s – 600 s, 300 s
    /// without `max-age`.
    pub cache: CacheBounds,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            // A constant that always parses; not network input.
            plc_directory: Url::parse(DEFAULT_PLC_DIRECTORY).expect("constant URL parses"),
            cache: CacheBounds {
                min_ttl: Duration::from_secs(60),
                max_ttl: Duration::from_secs(600),
                default_ttl: Duration::from_secs(300),
                max_entries: 10_000,
            },
        }
    }
}

/// A verification method of a DID document (W3C DID Core §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMethod {
    /// `#atproto` or `{did}#atproto` for the atproto signing key.
    pub id: String,
    /// E.g. `Multikey`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The DID controlling the key.
    #[serde(default)]
    pub controller: String,
    /// The public key, multibase-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_multibase: Option<String>,
}

/// A service entry of a DID document (W3C DID Core §5.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// `#atproto_pds` or `{did}#atproto_pds` for the PDS.
    pub id: String,
    /// E.g. `AtprotoPersonalDataServer`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// A URL string, or (rarely) a map or list.
    #[serde(default)]
    pub service_endpoint: serde_json::Value,
}

/// The parts of a DID document atproto uses (atproto.com/specs/did, "DID
/// Documents"). Unknown members are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DidDocument {
    /// The DID the document describes.
    pub id: String,
    /// `at://{handle}` entries, among others.
    #[serde(default)]
    pub also_known_as: Vec<String>,
    /// Public keys.
    #[serde(default)]
    pub verification_method: Vec<VerificationMethod>,
    /// Services, among them the PDS.
    #[serde(default)]
    pub service: Vec<Service>,
}

impl DidDocument {
    fn is_fragment(&self, id: &str, fragment: &str) -> bool {
        id.strip_prefix('#') == Some(fragment)
            || id
                .strip_prefix(self.id.as_str())
                .and_then(|r| r.strip_prefix('#'))
                == Some(fragment)
    }

    /// The PDS URL: the service with id `#atproto_pds` (or
    /// `{did}#atproto_pds`) and type `AtprotoPersonalDataServer` whose
    /// endpoint is a string (atproto.com/specs/did).
    pub fn pds_endpoint(&self) -> Option<&str> {
        self.service
            .iter()
            .find(|s| {
                self.is_fragment(&s.id, "atproto_pds") && s.kind == "AtprotoPersonalDataServer"
            })
            .and_then(|s| s.service_endpoint.as_str())
    }

    /// The claimed handle: the first `at://` entry of `alsoKnownAs`
    /// (atproto.com/specs/did: "the first valid `at://` URI"; a later one is
    /// not consulted), if it is a valid handle. The claim still has to be
    /// confirmed by resolving the handle back to this DID.
    pub fn handle(&self) -> Option<Handle> {
        let first = self
            .also_known_as
            .iter()
            .find_map(|a| a.strip_prefix("at://"))?;
        Handle::parse(first).ok()
    }

    /// The atproto signing key (`#atproto` verification method), multibase.
    pub fn atproto_signing_key(&self) -> Option<&str> {
        self.verification_method
            .iter()
            .find(|m| self.is_fragment(&m.id, "atproto"))
            .and_then(|m| m.public_key_multibase.as_deref())
    }
}

/// Why a DID could not be resolved. Messages carry no internal address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The directory or host says there is no such DID (404, or 410 for a
    /// tombstoned did:plc).
    #[error("the DID is not known to its registry (status {0})")]
    NotFound(u16),
    /// The document could not be fetched.
    #[error("the DID document could not be fetched: {0}")]
    Fetch(FetchError),
    /// The document is not a DID document.
    #[error("the DID document is invalid: {0}")]
    InvalidDocument(String),
    /// The document describes another DID.
    #[error("the DID document is for {got:?}, not {expected:?}")]
    WrongId {
        /// The DID resolved.
        expected: String,
        /// The document's `id`.
        got: String,
    },
    /// No URL could be built for the DID.
    #[error("cannot build a URL to resolve the DID: {0}")]
    BadUrl(String),
}

/// Resolves DIDs to documents, with a cache.
pub struct IdentityResolver {
    plc_directory: Url,
    cache: JsonCache<DidDocument>,
}

impl std::fmt::Debug for IdentityResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityResolver")
            .field("plc_directory", &self.plc_directory.as_str())
            .field("cache", &self.cache)
            .finish()
    }
}

impl IdentityResolver {
    /// A resolver fetching through `fetcher`.
    pub fn new(fetcher: Arc<dyn Fetch>, config: IdentityConfig) -> IdentityResolver {
        IdentityResolver {
            plc_directory: config.plc_directory,
            cache: JsonCache::new(fetcher, Accept::DID_DOCUMENT, config.cache),
        }
    }

    /// Where the document of `did` is fetched from. `did:web:localhost%3A{port}`
    /// (allowed by the DID spec for testing) uses http; the fetcher refuses
    /// it unless its policy allows http and loopback.
    pub fn document_url(&self, did: &Did) -> Result<Url, IdentityError> {
        let s = did.as_str();
        let raw = if did.is_plc() {
            format!(
                "{}/{}",
                self.plc_directory.as_str().trim_end_matches('/'),
                s
            )
        } else if let Some(host) = s.strip_prefix("did:web:") {
            let host = host.replace("%3A", ":");
            let scheme = if host == "localhost" || host.starts_with("localhost:") {
                "http"
            } else {
                "https"
            };
            format!("{scheme}://{host}/.well-known/did.json")
        } else {
            return Err(IdentityError::BadUrl(format!(
                "unsupported DID method in {s}"
            )));
        };
        Url::parse(&raw).map_err(|e| IdentityError::BadUrl(e.to_string()))
    }

    /// The DID document of `did`, from the cache or fetched and checked.
    pub async fn resolve_did(&self, did: &Did) -> Result<DidDocument, IdentityError> {
        let url = self.document_url(did)?;
        let expected = did.as_str().to_string();
        let doc = self
            .cache
            .get_or_fetch(&url, move |body| parse_document(&expected, body))
            .await
            .map_err(|e| match e {
                CacheError::Fetch(FetchError::Status(code @ (404 | 410))) => {
                    IdentityError::NotFound(code)
                }
                CacheError::Fetch(fe) => IdentityError::Fetch(fe),
                CacheError::Invalid(ie) => ie,
            })?;
        Ok((*doc).clone())
    }

    /// Forget the cached document of `did` (after a failed verification
    /// that a fresh document might fix).
    pub async fn invalidate(&self, did: &Did) {
        if let Ok(url) = self.document_url(did) {
            self.cache.invalidate(&url).await;
        }
    }
}

/// Parse a fetched document and check that it describes `expected`.
pub fn parse_document(expected: &str, body: &[u8]) -> Result<DidDocument, IdentityError> {
    let doc: DidDocument = serde_json::from_slice(body)
        .map_err(|e| IdentityError::InvalidDocument(format!("not a DID document ({e})")))?;
    // The document must describe the DID that was resolved; anything else
    // would let one identity claim another's document.
    if doc.id != expected {
        return Err(IdentityError::WrongId {
            expected: expected.to_string(),
            got: doc.id.chars().take(200).collect(),
        });
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

    fn doc_json() -> serde_json::Value {
        serde_json::json!({
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": DID,
            "alsoKnownAs": ["https://elsewhere.example", "at://Alice.Example.com", "at://second.example.com"],
            "verificationMethod": [{
                "id": format!("{DID}#atproto"), "type": "Multikey", "controller": DID,
                "publicKeyMultibase": "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"
            }],
            "service": [
                {"id": "#other", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://wrong.example"},
                {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://pds.example.com"}
            ]
        })
    }

    #[test]
    fn reads_pds_handle_and_key() {
        let d = parse_document(DID, doc_json().to_string().as_bytes()).unwrap();
        assert_eq!(d.pds_endpoint(), Some("https://pds.example.com"));
        assert_eq!(d.handle().unwrap().as_str(), "alice.example.com");
        assert!(d.atproto_signing_key().unwrap().starts_with("zQ3sh"));
    }

    #[test]
    fn pds_by_full_id_and_type_checked() {
        let mut v = doc_json();
        v["service"] = serde_json::json!([
            {"id": "#atproto_pds", "type": "SomethingElse", "serviceEndpoint": "https://x.example"},
            {"id": format!("{DID}#atproto_pds"), "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://y.example"}
        ]);
        let d = parse_document(DID, v.to_string().as_bytes()).unwrap();
        assert_eq!(d.pds_endpoint(), Some("https://y.example"));
    }

    #[test]
    fn first_at_uri_only_and_invalid_handle_is_none() {
        let mut v = doc_json();
        v["alsoKnownAs"] = serde_json::json!(["at://not a handle", "at://ok.example.com"]);
        let d = parse_document(DID, v.to_string().as_bytes()).unwrap();
        assert_eq!(d.handle(), None);
        v["alsoKnownAs"] = serde_json::json!([]);
        assert_eq!(
            parse_document(DID, v.to_string().as_bytes())
                .unwrap()
                .handle(),
            None
        );
    }

    #[test]
    fn rejects_document_for_another_did() {
        let e = parse_document(
            "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
            doc_json().to_string().as_bytes(),
        )
        .unwrap_err();
        assert!(matches!(e, IdentityError::WrongId { .. }), "{e}");
    }

    #[test]
    fn rejects_non_documents() {
        for body in [
            &b"not json"[..],
            b"[]",
            b"{}",
            br#"{"id": 5}"#,
            br#"{"id": "x", "service": "nope"}"#,
        ] {
            assert!(
                matches!(
                    parse_document(DID, body),
                    Err(IdentityError::InvalidDocument(_))
                ),
                "{body:?}"
            );
        }
    }

    #[test]
    fn document_urls() {
        struct NoFetch;
        impl Fetch for NoFetch {
            fn fetch(
                &self,
                _: Url,
                _: Accept,
            ) -> crate::fetch::BoxFuture<'_, Result<crate::fetch::Fetched, FetchError>>
            {
                Box::pin(async { Err(FetchError::Connect) })
            }
        }
        let r = IdentityResolver::new(Arc::new(NoFetch), IdentityConfig::default());
        let url = |d: &str| r.document_url(&Did::parse(d).unwrap()).unwrap().to_string();
        assert_eq!(url(DID), format!("https://plc.directory/{DID}"));
        assert_eq!(
            url("did:web:example.com"),
            "https://example.com/.well-known/did.json"
        );
        assert_eq!(
            url("did:web:localhost%3A2583"),
            "http://localhost:2583/.well-known/did.json"
        );
        let custom = IdentityResolver::new(
            Arc::new(NoFetch),
            IdentityConfig {
                plc_directory: Url::parse("http://127.0.0.1:9/plc/").unwrap(),
                ..IdentityConfig::default()
            },
        );
        assert_eq!(
            custom
                .document_url(&Did::parse(DID).unwrap())
                .unwrap()
                .as_str(),
            format!("http://127.0.0.1:9/plc/{DID}")
        );
    }
}
