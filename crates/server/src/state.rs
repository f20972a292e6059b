//! Shared application state, built once by the binary and passed down (no
//! globals: two servers with different settings can run in one process).

use std::sync::Arc;

use atauth_core::client::auth::AssertionPolicy;
use atauth_core::dpop::{DpopPolicy, Nonces};
use atauth_core::keys::Keyset;
use atauth_core::metadata::Issuer;
use atauth_core::token::introspect::IntrospectionSecret;
use atauth_core::token::{TokenMode, TokenPolicy};
use atauth_resource::{
    IntrospectionCheck, KeySource, LiveKeyset, RemoteKeys, RemoteKeysPolicy, StoreSessionCheck,
    Verifier,
};
use atauth_store::Store;
use url::Url;

use crate::clients::{ClientResolver, ClientResolverConfig};
use crate::fetch::{Fetch, FetchError, FetchPolicy, SafeFetcher};
use crate::identity::{IdentityConfig, IdentityResolver};
use crate::metrics::Metrics;
use crate::remote::{FetchedJwks, HttpIntrospection};
use crate::replay::DpopReplay;

/// Settings the HTTP server needs, cut from the validated configuration.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// This server's issuer (an origin).
    pub issuer: Issuer,
    /// The resource server (PDS) origin whose protected-resource document
    /// this server publishes, and the `aud` of its access tokens.
    pub resource: String,
    /// Development mode: dev identity endpoints on, http issuer allowed.
    pub dev: bool,
    /// Whether the introspection endpoint is enabled.
    pub introspection: bool,
    /// UI languages offered.
    pub ui_locales: Vec<String>,
    /// How often the signing keys are reloaded from the store, seconds.
    pub key_reload_interval_secs: u64,
    /// Outbound fetch policy.
    pub fetch: FetchPolicy,
    /// Client resolution and display.
    pub clients: ClientResolverConfig,
    /// DID resolution.
    pub identity: IdentityConfig,
    /// Token lifetimes.
    pub token: TokenPolicy,
    /// Client assertion time limits.
    pub assertion: AssertionPolicy,
    /// DPoP nonce secret shared by instances; random per process if `None`.
    pub nonce_secret: Option<[u8; 32]>,
}

/// Which parts of atauth a process serves (issue 6, entryway mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Authorization server and resource server on one host (a PDS with
    /// atauth beside it): every route.
    #[default]
    All,
    /// The authorization server of an entryway: OAuth endpoints, metadata,
    /// JWKS, pages; no XRPC resource routes, no protected-resource document.
    Authorization,
    /// A resource server (PDS side) whose authorization server runs
    /// elsewhere: the protected-resource document and the XRPC routes; no
    /// OAuth endpoints, pages or authorization-server metadata.
    Resource,
}

impl Role {
    /// Whether this process is an authorization server.
    pub fn serves_authorization(self) -> bool {
        matches!(self, Role::All | Role::Authorization)
    }

    /// Whether this process is a resource server.
    pub fn serves_resource(self) -> bool {
        matches!(self, Role::All | Role::Resource)
    }
}

/// Where a `resource` instance finds its authorization server.
#[derive(Debug, Clone)]
pub struct RemoteAuthorization {
    /// The authorization server's issuer: the exact `iss` of its tokens,
    /// named in this server's protected-resource document.
    pub issuer: Issuer,
    /// Its JWKS, fetched through the SSRF-safe fetcher.
    pub jwks_url: Url,
    /// When the JWKS is fetched again.
    pub keys_policy: RemoteKeysPolicy,
    /// Stateful mode: its introspection endpoint and the secret; `None`:
    /// stateless (tokens honoured until they expire).
    pub introspection: Option<(Url, IntrospectionSecret)>,
    /// How long an "active" introspection answer is reused, seconds.
    pub introspection_cache_secs: u64,
}

/// How this process is deployed: role, token mode, introspection. Kept
/// apart from [`ServerSettings`] so that the defaults (one host, stateful,
/// no introspection) need no new fields where settings are written out.
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    /// Which routes are served.
    pub role: Role,
    /// Stateful (the default) or stateless resource checks.
    pub token_mode: TokenMode,
    /// The introspection endpoint is on, for callers with this secret.
    /// Overrides [`ServerSettings::introspection`].
    pub introspection: Option<IntrospectionSecret>,
    /// Role `resource`: the authorization server. Required then, ignored
    /// otherwise.
    pub remote: Option<RemoteAuthorization>,
    /// The mail queue (email codes, password reset); off by default.
    pub mailer: crate::mail::Mailer,
}

/// Everything a handler may reach.
pub struct AppState {
    /// Settings.
    pub settings: ServerSettings,
    /// The database.
    pub store: Store,
    /// The signing keys; the verifier reads the same live set.
    keyset: Arc<LiveKeyset>,
    /// Pre-rendered authorization-server metadata (JSON).
    pub as_metadata_json: String,
    /// Pre-rendered protected-resource metadata (JSON).
    pub pr_metadata_json: String,
    /// Client metadata resolution (cached, SSRF-safe).
    pub clients: ClientResolver,
    /// DID resolution (cached, SSRF-safe).
    pub identity: IdentityResolver,
    /// DPoP nonces.
    pub nonces: Nonces,
    /// DPoP policy at this authorization server.
    pub dpop_policy: DpopPolicy,
    /// Where DPoP proof `jti`s are remembered (`crate::replay`).
    pub dpop_replay: Arc<DpopReplay>,
    /// Verifies the access tokens presented to this server's XRPC
    /// endpoints (SPEC §8): same issuer keys and nonces, stateful.
    pub verifier: Verifier,
    /// The browser pages: templates, messages, CSRF key, sign-in limits.
    pub ui: crate::ui::Ui,
    /// Role, token mode, introspection.
    pub deployment: Deployment,
    /// Role `resource`: the authorization server's keys, fetched.
    pub remote_keys: Option<Arc<RemoteKeys<FetchedJwks>>>,
    /// Operator metrics (exposed only on the metrics listener).
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// Build the state: the documents are rendered once here, and the one
    /// outbound fetcher is created.
    pub fn new(
        settings: ServerSettings,
        store: Store,
        keyset: Keyset,
    ) -> Result<Arc<AppState>, FetchError> {
        AppState::for_deployment(settings, Deployment::default(), store, keyset)
    }

    /// [`AppState::new`] for a given deployment (role, token mode,
    /// introspection).
    pub fn for_deployment(
        settings: ServerSettings,
        deployment: Deployment,
        store: Store,
        keyset: Keyset,
    ) -> Result<Arc<AppState>, FetchError> {
        if settings.fetch.allow_loopback {
            tracing::warn!(
                "outbound fetches may reach loopback addresses (development/test setting)"
            );
        }
        let fetcher: Arc<dyn Fetch> = Arc::new(SafeFetcher::new(settings.fetch.clone())?);
        AppState::build(settings, deployment, store, keyset, fetcher)
    }

    /// Build the state around a given fetcher (tests pass a fake serving
    /// canned client metadata).
    pub fn with_fetcher(
        settings: ServerSettings,
        store: Store,
        keyset: Keyset,
        fetcher: Arc<dyn Fetch>,
    ) -> Arc<AppState> {
        match AppState::build(settings, Deployment::default(), store, keyset, fetcher) {
            Ok(state) => state,
            // The default deployment builds no HTTP client of its own.
            Err(e) => unreachable!("default deployment: {e}"),
        }
    }

    /// Build the state for `deployment` around `fetcher`. In role
    /// `resource`, `keyset` signs nothing and is never published: tokens
    /// are verified with the remote authorization server's keys.
    pub fn build(
        mut settings: ServerSettings,
        deployment: Deployment,
        store: Store,
        keyset: Keyset,
        fetcher: Arc<dyn Fetch>,
    ) -> Result<Arc<AppState>, FetchError> {
        settings.introspection =
            deployment.introspection.is_some() && deployment.role.serves_authorization();
        let remote = match deployment.role {
            Role::Resource => deployment.remote.clone(),
            _ => None,
        };
        let as_meta = atauth_core::metadata::AuthorizationServerMetadata::new(
            &atauth_core::metadata::AsMetadataOptions {
                issuer: settings.issuer.clone(),
                protected_resources: vec![settings.resource.clone()],
                introspection: settings.introspection,
                ui_locales: settings.ui_locales.clone(),
            },
        );
        // The protected-resource document names the authorization server:
        // this one, or the remote one in role `resource` (SPEC §2).
        let authorization_server = remote
            .as_ref()
            .map_or(&settings.issuer, |r| &r.issuer)
            .clone();
        let pr_meta = atauth_core::metadata::ProtectedResourceMetadata::new(
            &settings.resource,
            &authorization_server,
        );
        let nonces = match settings.nonce_secret {
            Some(secret) => Nonces::new(secret),
            None => Nonces::random(),
        };
        let dpop_replay = Arc::new(DpopReplay::new(
            store.clone(),
            settings.nonce_secret.is_none(),
        ));
        if dpop_replay.proofs_in_memory() {
            tracing::info!("DPoP proofs are remembered in memory (embedded database, nonces keyed per process)");
        }
        let live_keys = Arc::new(LiveKeyset::new(keyset));
        let remote_keys = remote.as_ref().map(|r| {
            Arc::new(RemoteKeys::new(
                FetchedJwks::new(fetcher.clone(), r.jwks_url.clone()),
                r.keys_policy,
            ))
        });
        let key_source: Arc<dyn KeySource> = match &remote_keys {
            Some(k) => k.clone(),
            None => live_keys.clone(),
        };
        let mut verifier = Verifier::new(
            authorization_server.as_str(),
            settings.resource.clone(),
            key_source,
            nonces.clone(),
            dpop_replay.clone(),
        )
        .with_inline_store(store.is_embedded());
        match (&remote, deployment.token_mode) {
            (_, TokenMode::Stateless) => {}
            (None, TokenMode::Stateful) => {
                verifier =
                    verifier.with_session_check(Arc::new(StoreSessionCheck::new(store.clone())));
            }
            (Some(r), TokenMode::Stateful) => {
                if r.introspection.is_none() {
                    tracing::warn!("role resource without introspection: revoked sessions are honoured until their tokens expire");
                }
                if let Some((url, secret)) = &r.introspection {
                    let client =
                        HttpIntrospection::new(&settings.fetch, url.clone(), secret.clone())?;
                    verifier = verifier.with_token_check(Arc::new(IntrospectionCheck::new(
                        client,
                        r.introspection_cache_secs,
                    )));
                }
            }
        }
        let ui = crate::ui::Ui::new(&settings);
        let metrics = Arc::new(Metrics::new());
        Ok(Arc::new(AppState {
            ui,
            as_metadata_json: serde_json::to_string(&as_meta).unwrap_or_default(),
            pr_metadata_json: serde_json::to_string(&pr_meta).unwrap_or_default(),
            clients: ClientResolver::new(fetcher.clone(), settings.clients.clone())
                .with_trust_store(
                    Arc::new(store.clone()),
                    crate::clients::TRUSTED_RELOAD_INTERVAL,
                )
                .with_metrics(metrics.clone()),
            identity: IdentityResolver::new(fetcher, settings.identity.clone()),
            nonces,
            dpop_policy: DpopPolicy::authorization_server(),
            dpop_replay,
            settings,
            store,
            keyset: live_keys,
            verifier,
            deployment,
            remote_keys,
            metrics,
        }))
    }

    /// The current keyset.
    pub fn keyset(&self) -> Arc<Keyset> {
        self.keyset.current()
    }

    /// Replace the keyset (after a reload from the store).
    pub fn set_keyset(&self, ks: Keyset) {
        self.keyset.replace(ks);
    }

    /// The current time, Unix seconds (read once per request, at the edge).
    pub fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}
