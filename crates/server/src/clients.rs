//! Resolving a `client_id` to a validated client (SPEC §3).
//!
//! The resolver is handed a fetcher (the [`Fetch`] port), branches on the
//! `client_id` form into one function per form, and validates inside the
//! cached getter, so only clients that passed every rule of core's
//! `validate_metadata` are ever cached (EXAMPLES.md, "Validate before you
//! cache; inject the fetcher"; bluesky-social/atproto
//! packages/oauth/oauth-provider/src/client/client-manager.ts).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use atauth_core::client::{
    validate_metadata, ClientError, ClientId, ClientIdPolicy, ClientJwks, ClientMetadata,
    ValidatedClient,
};
use atauth_core::store::TrustedClientStore;
use atauth_core::OAuthError;
use url::Url;

use crate::fetch::{Accept, CacheBounds, CacheError, Fetch, FetchError, JsonCache};
use crate::metrics::{MetadataFetch, Metrics};

/// What the user is shown for a loopback development client (SPEC §3,
/// "Display").
pub const LOOPBACK_DISPLAY_NAME: &str = "an application on this device";

/// How long the set of trusted clients read from the database is reused
/// before it is read again: a client added or removed with `atauth client
/// trust` takes effect in running servers within this time. Policy.
pub const TRUSTED_RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// The trusted clients recorded in the database, and the set last read.
struct TrustSource {
    store: Arc<dyn TrustedClientStore + Send + Sync>,
    /// One entry (key `()`), living `TRUSTED_RELOAD_INTERVAL`; concurrent
    /// reloads are coalesced; a failed read is not cached.
    cache: moka::future::Cache<(), Arc<HashSet<String>>>,
}

/// Settings of the [`ClientResolver`].
#[derive(Debug, Clone)]
pub struct ClientResolverConfig {
    /// Lifetimes of cached metadata documents. Default [`CacheBounds::default`]
    /// (60 s – 3600 s, 600 s without `max-age`).
    pub metadata_cache: CacheBounds,
    /// Lifetimes of cached `jwks_uri` key sets. Default [`CacheBounds::default`].
    pub jwks_cache: CacheBounds,
    /// Shortest time between two forced refetches of one `jwks_uri` (an
    /// assertion naming an unknown `kid` asks for one). Default 60 s.
    /// Policy: bounds what a client can make the server fetch.
    pub jwks_refresh_interval: Duration,
    /// `client_id`s the operator trusts: only their `client_name` and
    /// `logo_uri` are shown to users (SPEC §3, "Display"). Default empty.
    pub trusted: HashSet<String>,
    /// Accept discoverable `client_id`s of the form
    /// `http://127.0.0.1:<port>/<path>` / `http://[::1]:<port>/<path>`
    /// (core's [`ClientIdPolicy::allow_loopback_http_documents`]), for tests
    /// that host a metadata document on loopback. Development only: the CLI
    /// sets it under `--dev` alone, and the fetcher must also allow loopback
    /// and http. Default `false`.
    pub allow_loopback_http_documents: bool,
}

impl Default for ClientResolverConfig {
    fn default() -> Self {
        ClientResolverConfig {
            metadata_cache: CacheBounds::default(),
            jwks_cache: CacheBounds::default(),
            jwks_refresh_interval: Duration::from_secs(60),
            trusted: HashSet::new(),
            allow_loopback_http_documents: false,
        }
    }
}

/// A validated client as cached: the metadata and when it was fetched.
#[derive(Debug)]
struct CachedClient {
    client: Arc<ValidatedClient>,
    fetched_at: SystemTime,
}

/// A client ready for the flows: validated metadata, its keys when it is
/// confidential, and what may be shown of it.
#[derive(Debug, Clone)]
pub struct ResolvedClient {
    /// The validated metadata.
    pub client: Arc<ValidatedClient>,
    /// When the metadata document was fetched (built, for loopback clients),
    /// so a later check can re-fetch a confidential client's keys when stale
    /// (SPEC §3, "Confidential clients").
    pub fetched_at: SystemTime,
    /// The key set fetched from `jwks_uri`, for confidential clients that
    /// publish one (inline `jwks` stay in `client.jwks`).
    pub remote_jwks: Option<Arc<ClientJwks>>,
    trusted: bool,
}

impl ResolvedClient {
    /// The client's identifier.
    pub fn client_id(&self) -> &ClientId {
        &self.client.client_id
    }

    /// Whether the operator trusts this client (its name and logo may be shown).
    pub fn is_trusted(&self) -> bool {
        self.trusted
    }

    /// Whether this is the loopback development client.
    pub fn is_loopback(&self) -> bool {
        self.client.client_id.is_loopback()
    }

    /// What the user is shown as the client's name (SPEC §3, "Display"):
    /// the `client_name` of a trusted client, "an application on this
    /// device" for a loopback client, the `client_id` URL otherwise.
    pub fn display_name(&self) -> String {
        if self.is_loopback() {
            return LOOPBACK_DISPLAY_NAME.to_string();
        }
        match (&self.client.metadata.client_name, self.trusted) {
            (Some(name), true) if !name.trim().is_empty() => name.clone(),
            _ => self.client.client_id.as_str().to_string(),
        }
    }

    /// The logo to show: only a trusted client's `logo_uri`.
    pub fn display_logo(&self) -> Option<&str> {
        if self.trusted && !self.is_loopback() {
            self.client.metadata.logo_uri.as_deref()
        } else {
            None
        }
    }

    /// The client's usable keys: the inline `jwks` or the set fetched from
    /// `jwks_uri`; `None` for a public client.
    pub fn keys(&self) -> Option<&ClientJwks> {
        self.client.jwks.as_ref().or(self.remote_jwks.as_deref())
    }
}

/// Resolves `client_id`s through the cache and the fetcher.
pub struct ClientResolver {
    metadata: JsonCache<CachedClient>,
    jwks: JsonCache<ClientJwks>,
    /// `jwks_uri`s force-refetched within the last `jwks_refresh_interval`.
    recent_refreshes: moka::future::Cache<String, ()>,
    trusted: HashSet<String>,
    /// Trusted clients recorded in the database, besides `trusted`.
    trust_source: Option<TrustSource>,
    /// How `client_id`s are parsed (strict unless `--dev` relaxed it).
    client_id_policy: ClientIdPolicy,
    /// Hits, misses and failures of metadata resolution.
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for ClientResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientResolver")
            .field("metadata", &self.metadata)
            .field("jwks", &self.jwks)
            .field("trusted", &self.trusted.len())
            .field("trust_source", &self.trust_source.is_some())
            .field("client_id_policy", &self.client_id_policy)
            .finish_non_exhaustive()
    }
}

impl ClientResolver {
    /// A resolver fetching through `fetcher` (the shared [`crate::fetch::SafeFetcher`]
    /// in production, a fake in tests).
    pub fn new(fetcher: Arc<dyn Fetch>, config: ClientResolverConfig) -> ClientResolver {
        ClientResolver {
            metadata: JsonCache::new(fetcher.clone(), Accept::JSON, config.metadata_cache),
            jwks: JsonCache::new(fetcher, Accept::JWK_SET, config.jwks_cache),
            recent_refreshes: moka::future::Cache::builder()
                .max_capacity(config.jwks_cache.max_entries)
                .time_to_live(config.jwks_refresh_interval)
                .build(),
            trusted: config.trusted,
            trust_source: None,
            client_id_policy: ClientIdPolicy {
                allow_loopback_http_documents: config.allow_loopback_http_documents,
            },
            metrics: Arc::new(Metrics::new()),
        }
    }

    /// Count metadata resolutions in `metrics` (the server's).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> ClientResolver {
        self.metrics = metrics;
        self
    }

    /// Also trust the clients recorded in `store` (`atauth client trust
    /// add`): a client is trusted when the configuration or the database
    /// names it. The database set is read at most once per `reload`
    /// (policy: [`TRUSTED_RELOAD_INTERVAL`]); when it cannot be read, only
    /// the configured clients are trusted and an error is logged.
    pub fn with_trust_store(
        mut self,
        store: Arc<dyn TrustedClientStore + Send + Sync>,
        reload: Duration,
    ) -> ClientResolver {
        self.trust_source = Some(TrustSource {
            store,
            cache: moka::future::Cache::builder()
                .max_capacity(1)
                .time_to_live(reload.max(Duration::from_millis(1)))
                .build(),
        });
        self
    }

    /// Whether the operator trusts `client_id`: the configuration's set ∪
    /// the database's (SPEC §3 "Display").
    pub async fn is_trusted(&self, client_id: &str) -> bool {
        if self.trusted.contains(client_id) {
            return true;
        }
        let Some(source) = &self.trust_source else {
            return false;
        };
        let store = source.store.clone();
        let loaded = source
            .cache
            .try_get_with((), async move {
                let listed = tokio::task::spawn_blocking(move || store.trusted_clients())
                    .await
                    .map_err(|e| format!("blocking task: {e}"))?;
                listed
                    .map(|list| Arc::new(list.into_iter().map(|c| c.client_id).collect()))
                    .map_err(|e| e.to_string())
            })
            .await;
        match loaded {
            Ok(set) => set.contains(client_id),
            Err(e) => {
                tracing::error!(error = %e, "could not read the trusted clients from the database; only configured ones are trusted");
                false
            }
        }
    }

    /// Resolve a `client_id`: parse it (core's rules), then build the
    /// loopback client locally or fetch, validate and cache a discoverable
    /// one, with its `jwks_uri` keys. Every failure is `invalid_client`
    /// (400) naming what failed (SPEC §0).
    pub async fn resolve(&self, client_id: &str) -> Result<Arc<ResolvedClient>, OAuthError> {
        let id = ClientId::parse_with(client_id, &self.client_id_policy)
            .map_err(|e| e.to_endpoint_error())?;
        if id.is_dev_loopback_document() {
            tracing::warn!(
                client_id = %id,
                "resolving a development client_id on a loopback address (allowed by --dev only)"
            );
        }
        match id {
            ClientId::Loopback { .. } => self.resolve_loopback(id),
            ClientId::Discoverable(_) => self.resolve_discoverable(id).await,
        }
    }

    /// atproto OAuth spec, "Localhost Client Development": the server builds
    /// the metadata itself; nothing is fetched.
    fn resolve_loopback(&self, id: ClientId) -> Result<Arc<ResolvedClient>, OAuthError> {
        let doc = id.loopback_metadata().ok_or_else(|| {
            OAuthError::server_error("loopback client_id without loopback metadata")
        })?;
        let client = validate_metadata(&id, doc).map_err(|e| e.to_endpoint_error())?;
        Ok(Arc::new(ResolvedClient {
            client: Arc::new(client),
            fetched_at: SystemTime::now(),
            remote_jwks: None,
            trusted: false,
        }))
    }

    /// SPEC §3: fetch the document at the `client_id` URL (through the
    /// cache), validate it inside the cached getter, then the keys.
    async fn resolve_discoverable(&self, id: ClientId) -> Result<Arc<ResolvedClient>, OAuthError> {
        let url = id
            .url()
            .cloned()
            .ok_or_else(|| OAuthError::server_error("discoverable client_id without a URL"))?;
        // The validator runs only when the document is fetched: a miss.
        let fetched = Arc::new(AtomicBool::new(false));
        let seen = fetched.clone();
        let cached = self
            .metadata
            .get_or_fetch(&url, move |body| {
                seen.store(true, Ordering::Relaxed);
                validate_document(&id, body)
            })
            .await;
        self.metrics
            .metadata_fetch(match (&cached, fetched.load(Ordering::Relaxed)) {
                (Err(_), _) => MetadataFetch::Failure,
                (Ok(_), true) => MetadataFetch::Miss,
                (Ok(_), false) => MetadataFetch::Hit,
            });
        let cached = cached.map_err(|e| cache_error("client metadata document", &url, e))?;
        let remote_jwks = match cached.client.jwks_uri.as_ref() {
            Some(jwks_uri) if cached.client.is_confidential() => {
                Some(self.fetch_jwks(jwks_uri).await?)
            }
            _ => None,
        };
        let trusted = self.is_trusted(cached.client.client_id.as_str()).await;
        Ok(Arc::new(ResolvedClient {
            client: cached.client.clone(),
            fetched_at: cached.fetched_at,
            remote_jwks,
            trusted,
        }))
    }

    async fn fetch_jwks(&self, jwks_uri: &Url) -> Result<Arc<ClientJwks>, OAuthError> {
        self.jwks
            .get_or_fetch(jwks_uri, validate_jwks)
            .await
            .map_err(|e| cache_error("jwks_uri key set", jwks_uri, e))
    }

    /// Re-fetch a confidential client's `jwks_uri` now (an assertion named a
    /// `kid` the cached set lacks: the client may have rotated its keys).
    /// At most once per `jwks_refresh_interval` per `jwks_uri`; returns
    /// `Ok(None)` when the client has no `jwks_uri` or it was refreshed too
    /// recently, and the client with the fresh keys otherwise.
    pub async fn refresh_keys(
        &self,
        client: &ResolvedClient,
    ) -> Result<Option<Arc<ResolvedClient>>, OAuthError> {
        let Some(jwks_uri) = client
            .client
            .jwks_uri
            .as_ref()
            .filter(|_| client.client.is_confidential())
        else {
            return Ok(None);
        };
        let entry = self
            .recent_refreshes
            .entry(jwks_uri.as_str().to_string())
            .or_insert(())
            .await;
        if !entry.is_fresh() {
            tracing::debug!(jwks_uri = %jwks_uri, "jwks_uri refetch skipped: refreshed recently");
            return Ok(None);
        }
        self.jwks.invalidate(jwks_uri).await;
        let keys = self.fetch_jwks(jwks_uri).await?;
        Ok(Some(Arc::new(ResolvedClient {
            remote_jwks: Some(keys),
            ..client.clone()
        })))
    }

    /// Drop a client's cached metadata so the next resolution fetches it.
    pub async fn invalidate(&self, client_id: &ClientId) {
        if let Some(url) = client_id.url() {
            self.metadata.invalidate(url).await;
        }
    }
}

/// The cached getter's validator: parse and run every metadata rule.
fn validate_document(id: &ClientId, body: &[u8]) -> Result<CachedClient, ClientError> {
    let doc = ClientMetadata::from_json(body)?;
    let client = validate_metadata(id, doc)?;
    Ok(CachedClient {
        client: Arc::new(client),
        fetched_at: SystemTime::now(),
    })
}

fn validate_jwks(body: &[u8]) -> Result<ClientJwks, ClientError> {
    // A body that is not JSON is handed to the shape rule as `null`, so the
    // error names the JWK Set rule rather than a parser detail.
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    ClientJwks::from_json(&value, "jwks_uri")
}

/// SPEC §0: a client that cannot be resolved or whose metadata is invalid
/// is `invalid_client`, 400. The description says what failed; fetch errors
/// never carry addresses.
fn cache_error(what: &str, url: &Url, e: CacheError<ClientError>) -> OAuthError {
    match e {
        CacheError::Fetch(fe) => {
            let description = format!("the {what} could not be fetched from {url}: {fe}");
            let detail = match fe {
                FetchError::Client(_) => "outbound HTTP client unusable",
                _ => "fetch failed",
            };
            OAuthError::unknown_client(description).with_detail(detail)
        }
        CacheError::Invalid(ce) => ce.to_endpoint_error(),
    }
}

#[cfg(test)]
mod trust_tests {
    //! The trust check: configuration ∪ database, the database set reused
    //! for the reload interval and read again after it.

    use super::*;
    use crate::fetch::{BoxFuture, Fetched};
    use atauth_core::store::memory::MemoryStore;

    const APP: &str = "https://app.example.com/client-metadata.json";
    const CONFIGURED: &str = "https://configured.example.com/client-metadata.json";

    struct OneDoc;

    impl Fetch for OneDoc {
        fn fetch(&self, url: Url, _accept: Accept) -> BoxFuture<'_, Result<Fetched, FetchError>> {
            Box::pin(async move {
                let id = url.as_str().to_string();
                let origin = url.origin().ascii_serialization();
                let doc = serde_json::json!({
                    "client_id": id,
                    "client_name": "Named App",
                    "client_uri": origin,
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "redirect_uris": [format!("{origin}/cb")],
                    "scope": "atproto",
                    "token_endpoint_auth_method": "none",
                    "dpop_bound_access_tokens": true
                });
                Ok(Fetched {
                    url,
                    body: doc.to_string().into_bytes(),
                    cache_control: None,
                })
            })
        }
    }

    fn resolver(store: Arc<MemoryStore>, reload: Duration) -> ClientResolver {
        let config = ClientResolverConfig {
            trusted: [CONFIGURED.to_string()].into_iter().collect(),
            ..ClientResolverConfig::default()
        };
        ClientResolver::new(Arc::new(OneDoc), config).with_trust_store(store, reload)
    }

    #[tokio::test]
    async fn database_trust_takes_effect_after_the_reload_interval() {
        let store = Arc::new(MemoryStore::new());
        let r = resolver(store.clone(), Duration::from_millis(150));
        let c = r.resolve(APP).await.unwrap();
        assert!(!c.is_trusted());
        assert_eq!(c.display_name(), APP);

        store.add_trusted_client(APP, 1).unwrap();
        // Within the interval the set read before is reused.
        assert!(!r.is_trusted(APP).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let c = r.resolve(APP).await.unwrap();
        assert!(c.is_trusted());
        assert_eq!(c.display_name(), "Named App");

        store.remove_trusted_client(APP).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!r.resolve(APP).await.unwrap().is_trusted());
    }

    #[tokio::test]
    async fn configured_clients_stay_trusted_and_loopback_never_is() {
        let store = Arc::new(MemoryStore::new());
        store.add_trusted_client("http://localhost", 1).unwrap();
        let r = resolver(store, Duration::from_secs(5));
        assert!(r.resolve(CONFIGURED).await.unwrap().is_trusted());
        assert!(!r.resolve("http://localhost").await.unwrap().is_trusted());
    }

    #[tokio::test]
    async fn without_a_trust_store_only_the_configuration_counts() {
        let config = ClientResolverConfig {
            trusted: [CONFIGURED.to_string()].into_iter().collect(),
            ..ClientResolverConfig::default()
        };
        let r = ClientResolver::new(Arc::new(OneDoc), config);
        assert!(r.is_trusted(CONFIGURED).await);
        assert!(!r.is_trusted(APP).await);
    }

    struct NoDoc;

    impl Fetch for NoDoc {
        fn fetch(&self, _url: Url, _accept: Accept) -> BoxFuture<'_, Result<Fetched, FetchError>> {
            Box::pin(async { Err(FetchError::Status(404)) })
        }
    }

    #[tokio::test]
    async fn metadata_resolutions_are_counted_as_hits_misses_and_failures() {
        let metrics = Arc::new(Metrics::new());
        let r = ClientResolver::new(Arc::new(OneDoc), ClientResolverConfig::default())
            .with_metrics(metrics.clone());
        r.resolve(APP).await.unwrap();
        r.resolve(APP).await.unwrap();
        r.resolve(APP).await.unwrap();
        // Loopback clients are built locally: neither hit nor miss.
        r.resolve("http://localhost").await.unwrap();
        let failing = ClientResolver::new(Arc::new(NoDoc), ClientResolverConfig::default())
            .with_metrics(metrics.clone());
        assert!(failing.resolve(APP).await.is_err());
        let text = metrics.render();
        for line in [
            "atauth_client_metadata_fetches_total{result=\"miss\"} 1",
            "atauth_client_metadata_fetches_total{result=\"hit\"} 2",
            "atauth_client_metadata_fetches_total{result=\"failure\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
