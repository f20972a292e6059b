//! Shared application state, built once by the binary and passed down (no
//! globals: two servers with different settings can run in one process).

use std::sync::{Arc, RwLock};

use atauth_core::keys::Keyset;
use atauth_core::metadata::Issuer;
use atauth_store::Store;

/// Settings the HTTP server needs, cut from the validated configuration.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// This server's issuer (an origin).
    pub issuer: Issuer,
    /// The resource server (PDS) origin whose protected-resource document
    /// this server publishes.
    pub resource: String,
    /// Development mode: dev identity endpoints on, http issuer allowed.
    pub dev: bool,
    /// Whether the introspection endpoint is enabled.
    pub introspection: bool,
    /// UI languages offered.
    pub ui_locales: Vec<String>,
    /// How often the signing keys are reloaded from the store, seconds.
    pub key_reload_interval_secs: u64,
}

/// Everything a handler may reach.
pub struct AppState {
    /// Settings.
    pub settings: ServerSettings,
    /// The database.
    pub store: Store,
    keyset: RwLock<Arc<Keyset>>,
    /// Pre-rendered authorization-server metadata (JSON).
    pub as_metadata_json: String,
    /// Pre-rendered protected-resource metadata (JSON).
    pub pr_metadata_json: String,
}

impl AppState {
    /// Build the state. The documents are rendered once here.
    pub fn new(settings: ServerSettings, store: Store, keyset: Keyset) -> Arc<AppState> {
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
        Arc::new(AppState {
            as_metadata_json: serde_json::to_string(&as_meta).unwrap_or_default(),
            pr_metadata_json: serde_json::to_string(&pr_meta).unwrap_or_default(),
            settings,
            store,
            keyset: RwLock::new(Arc::new(keyset)),
        })
    }

    /// The current keyset.
    pub fn keyset(&self) -> Arc<Keyset> {
        match self.keyset.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replace the keyset (after a reload from the store).
    pub fn set_keyset(&self, ks: Keyset) {
        let mut g = match self.keyset.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *g = Arc::new(ks);
    }
}
