//! `atauth serve`

use std::net::TcpListener;

use anyhow::Context;
use atauth_core::keys::{generate_stored_key, Keyset};
use atauth_core::store::{KeyStore, StoreError};
use atauth_server::{build_server, spawn_key_reloader, AppState, ServerSettings};
use atauth_store::Store;
use clap::Args;

use std::time::Duration;

use atauth_core::client::auth::AssertionPolicy;
use atauth_core::metadata::Issuer;
use atauth_core::token::TokenPolicy;
use atauth_server::clients::ClientResolverConfig;
use atauth_server::fetch::{CacheBounds, FetchPolicy};
use atauth_server::identity::IdentityConfig;

use crate::config::{Overrides, Settings};
use crate::GlobalArgs;

/// Flags of `atauth serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address
    /// is printed on standard output).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Issuer origin, e.g. https://auth.example.com.
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
}

/// Run the server until it is stopped (SIGINT/SIGTERM stop it gracefully).
pub fn run(global: &GlobalArgs, args: &ServeArgs) -> anyhow::Result<()> {
    let s = super::settings(
        global,
        Overrides {
            listen: args.listen.clone(),
            issuer: args.issuer.clone(),
            ..Default::default()
        },
    )?;
    crate::logging::init(s.log_format);
    if s.dev {
        tracing::warn!("development mode: http issuer, loopback fetches and development identity endpoints are on; never use this in production");
    } else if s.fetch.allow_loopback {
        tracing::warn!("fetch.allow_loopback is on: client metadata may be fetched from this machine; use only for tests");
    }
    let store = super::open_store(&s)?;
    let keyset = load_or_create_keys(&store)?;
    let listener =
        TcpListener::bind(s.listen).with_context(|| format!("cannot listen on {}", s.listen))?;
    let addr = listener.local_addr()?;
    let issuer = s.issuer_for_port(addr.port())?;
    let resource = s.pds_url.clone().unwrap_or_else(|| issuer.to_string());
    let settings = server_settings(&s, issuer.clone(), resource)?;
    tracing::info!(
        issuer = %issuer,
        listen = %addr,
        database = store.backend_name(),
        signing_kid = %keyset.current().kid,
        "starting atauth"
    );
    let state =
        AppState::new(settings, store, keyset).context("cannot set up the outbound HTTP client")?;
    let workers = s.workers;
    actix_web::rt::System::new().block_on(async move {
        spawn_key_reloader(state.clone());
        let server = build_server(state, listener, workers)?;
        println!("atauth listening on http://{addr} issuer {issuer}");
        server.await
    })?;
    tracing::info!("atauth stopped");
    Ok(())
}

/// Cut the server's settings from the validated configuration.
fn server_settings(
    s: &Settings,
    issuer: Issuer,
    resource: String,
) -> anyhow::Result<ServerSettings> {
    let f = &s.fetch;
    let bounds = CacheBounds {
        min_ttl: Duration::from_secs(f.cache_min_secs),
        max_ttl: Duration::from_secs(f.cache_max_secs),
        default_ttl: Duration::from_secs(f.cache_default_secs),
        ..CacheBounds::default()
    };
    let t = &s.tokens;
    let mut token = TokenPolicy::defaults(issuer.as_str());
    token.access_lifetime_secs = t.access_token_lifetime_secs;
    token.public_session_secs = t.public_session_lifetime_secs;
    token.public_refresh_secs = t.public_refresh_lifetime_secs;
    token.confidential_session_secs = t.confidential_session_lifetime_secs;
    token.confidential_refresh_secs = t.confidential_refresh_lifetime_secs;
    token.refresh_grace_secs = t.refresh_retry_grace_secs;
    let plc = url::Url::parse(&s.plc_directory_url).context("identity.plc_directory_url")?;
    Ok(ServerSettings {
        issuer,
        resource,
        dev: s.dev,
        introspection: false,
        ui_locales: vec!["en".into(), "fr".into()],
        key_reload_interval_secs: s.key_reload_interval_secs,
        fetch: FetchPolicy {
            timeout: Duration::from_secs(f.timeout_secs),
            max_body_bytes: f.max_body_bytes,
            allow_loopback: f.allow_loopback,
            allow_http: s.dev,
            ..FetchPolicy::default()
        },
        clients: ClientResolverConfig {
            metadata_cache: bounds,
            jwks_cache: bounds,
            trusted: s.trusted_clients.iter().cloned().collect(),
            ..ClientResolverConfig::default()
        },
        identity: IdentityConfig {
            plc_directory: plc,
            ..IdentityConfig::default()
        },
        token,
        assertion: AssertionPolicy::default(),
        nonce_secret: s.nonce_secret,
    })
}

/// Load the signing keys; on a fresh store create the first one. An
/// unreadable key stops the server: keys are never silently replaced.
pub fn load_or_create_keys(store: &Store) -> anyhow::Result<Keyset> {
    let mut stored = store
        .list_signing_keys()
        .context("cannot read signing keys")?;
    if stored.is_empty() {
        let key = generate_stored_key(now()).context("cannot generate a signing key")?;
        match store.insert_signing_key(&key) {
            Ok(()) => tracing::info!(kid = %key.kid, "created the first signing key"),
            // Another instance created one at the same moment: use theirs.
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e).context("cannot store the new signing key"),
        }
        stored = store
            .list_signing_keys()
            .context("cannot read signing keys")?;
    }
    Keyset::from_stored(&stored)
        .context("the signing keys in the database are unusable; refusing to start (restore the database or its keys; atauth never replaces keys on its own)")
}

/// The current time, Unix seconds: read once at the edge.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
