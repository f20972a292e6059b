//! Shared application state, built once by the binary and passed down (no
//! globals: two servers with different settings can run in one process).

use std::sync::Arc;

use atauth_core::client::auth::AssertionPolicy;
use atauth_core::dpop::{DpopPolicy, Nonces};
use atauth_core::keys::Keyset;
use atauth_core::metadata::Issuer;
use atauth_core::token::TokenPolicy;
use atauth_resource::{LiveKeyset, StoreSessionCheck, Verifier};
use atauth_store::Store;

use crate::clients::{ClientResolver, ClientResolverConfig};
use crate::fetch::{Fetch, FetchError, FetchPolicy, SafeFetcher};
use crate::identity::{IdentityConfig, IdentityResolver};

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
    /// Verifies the access tokens presented to this server's XRPC
    /// endpoints (SPEC §8): same issuer keys and nonces, stateful.
    pub verifier: Verifier,
    /// The browser pages: templates, messages, CSRF key, sign-in limits.
    pub ui: crate::ui::Ui,
}

impl AppState {
    /// Build the state: the documents are rendered once here, and the one
    /// outbound fetcher is created.
    pub fn new(
        settings: ServerSettings,
        store: Store,
        keyset: Keyset,
    ) -> Result<Arc<AppState>, FetchError> {
        if settings.fetch.allow_loopback {
            tracing::warn!(
                "outbound fetches may reach loopback addresses (development/test setting)"
            );
        }
        let fetcher: Arc<dyn Fetch> = Arc::new(SafeFetcher::new(settings.fetch.clone())?);
        Ok(AppState::with_fetcher(settings, store, keyset, fetcher))
    }

    /// Build the state around a given fetcher (tests pass a fake serving
    /// canned client metadata).
    pub fn with_fetcher(
        settings: ServerSettings,
        store: Store,
        keyset: Keyset,
        fetcher: Arc<dyn Fetch>,
    ) -> Arc<AppState> {
        let as_meta = atauth_core::metadata::AuthorizationServerMetadata::new(
            &atauth_core::metadata::AsMetadataOptions {
                issuer: settings.issuer.clone(),
                protected_resources: vec![settings.resource.clone()],
                introspection: settings.introspection,
                ui_locales: settings.ui_locales.clone(),
            },
        );
        let pr_meta = atauth_core::metadata::ProtectedResourceMetadata::new(
            &settings.resource,
            &settings.issuer,
        );
        let nonces = match settings.nonce_secret {
            Some(secret) => Nonces::new(secret),
            None => Nonces::random(),
        };
        let live_keys = Arc::new(LiveKeyset::new(keyset));
        let verifier = Verifier::new(
            settings.issuer.as_str(),
            settings.resource.clone(),
            live_keys.clone(),
            nonces.clone(),
            Arc::new(store.clone()),
        )
        .with_session_check(Arc::new(StoreSessionCheck::new(store.clone())));
        let ui = crate::ui::Ui::new(&settings);
        Arc::new(AppState {
            ui,
            as_metadata_json: serde_json::to_string(&as_meta).unwrap_or_default(),
            pr_metadata_json: serde_json::to_string(&pr_meta).unwrap_or_default(),
            clients: ClientResolver::new(fetcher.clone(), settings.clients.clone()),
            identity: IdentityResolver::new(fetcher, settings.identity.clone()),
            nonces,
            dpop_policy: DpopPolicy::authorization_server(),
            settings,
            store,
            keyset: live_keys,
            verifier,
        })
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
