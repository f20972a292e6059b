//! `atauth serve`

use std::net::TcpListener;

use anyhow::Context;
use atauth_core::keys::{generate_stored_key, Keyset};
use atauth_core::store::{KeyStore, StoreError};
use atauth_server::{
    build_metrics_server, build_server_with_limits, spawn_key_reloader, spawn_session_counter,
    AppState, Deployment, RemoteAuthorization, RemoteKeysPolicy, Role, ServerSettings,
};
use atauth_store::Store;
use clap::Args;

use std::time::Duration;

use atauth_core::client::auth::AssertionPolicy;
use atauth_core::metadata::Issuer;
use atauth_core::token::{TokenMode, TokenPolicy};
use atauth_server::clients::ClientResolverConfig;
use atauth_server::fetch::{CacheBounds, FetchPolicy};
use atauth_server::identity::IdentityConfig;

use crate::config::{self, Overrides, Settings};
use crate::GlobalArgs;

/// Flags of `atauth serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address
    /// is printed on standard output).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Issuer origin, e.g. https://auth.example.com (role resource: this
    /// server's own public origin).
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// Which parts to serve: all (default), authorization (an entryway's
    /// authorization server), resource (a PDS-side instance).
    #[arg(long, value_enum)]
    role: Option<config::Role>,
}

/// Run the server until it is stopped (SIGINT/SIGTERM stop it gracefully).
pub fn run(global: &GlobalArgs, args: &ServeArgs) -> anyhow::Result<()> {
    let s = super::settings(
        global,
        Overrides {
            listen: args.listen.clone(),
            issuer: args.issuer.clone(),
            role: args.role,
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
    let mut deployment = deployment(&s);
    let keyset = if deployment.role.serves_authorization() {
        load_or_create_keys(&store)?
    } else {
        // Role resource signs nothing: tokens are verified with the remote
        // authorization server's keys. The state still holds a keyset; this
        // one lives in memory only, is never published and never signs.
        let key = generate_stored_key(now()).context("cannot generate a key")?;
        Keyset::from_stored(&[key]).context("cannot load a generated key")?
    };
    let listener =
        TcpListener::bind(s.listen).with_context(|| format!("cannot listen on {}", s.listen))?;
    let addr = listener.local_addr()?;
    // Metrics only on their own listener, and only when configured.
    let metrics_listener = match s.metrics_listen {
        Some(a) => {
            let l = TcpListener::bind(a)
                .with_context(|| format!("cannot listen on {a} (metrics.listen)"))?;
            Some(l)
        }
        None => None,
    };
    let issuer = s.issuer_for_port(addr.port())?;
    // The PDS origin: the tokens' `aud` (authorization roles), or this
    // server's own origin and expected `aud` (role resource).
    let resource = s.pds_url.clone().unwrap_or_else(|| issuer.to_string());
    let settings = server_settings(&s, issuer.clone(), resource)?;
    if deployment.role.serves_authorization() {
        deployment.mailer = mailer(&s, &issuer, &settings.ui_locales)?;
    }
    let role = deployment.role;
    match &deployment.remote {
        Some(r) => tracing::info!(
            origin = %settings.resource,
            authorization_server = %r.issuer,
            listen = %addr,
            database = store.backend_name(),
            mode = ?deployment.token_mode,
            "starting atauth as a resource server"
        ),
        None => tracing::info!(
            issuer = %issuer,
            role = ?role,
            listen = %addr,
            database = store.backend_name(),
            signing_kid = %keyset.current().kid,
            mode = ?deployment.token_mode,
            introspection = deployment.introspection.is_some(),
            "starting atauth"
        ),
    }
    if role == Role::Authorization && s.pds_url.is_none() {
        tracing::warn!("role authorization without [pds] url: tokens name this host as their audience, which serves no resource routes; set [pds] url to the PDS origin");
    }
    if deployment.token_mode == TokenMode::Stateless && role.serves_resource() {
        tracing::warn!(
            exposure_secs = s.tokens.access_token_lifetime_secs,
            "stateless mode: a revoked session's access tokens are accepted until they expire"
        );
    }
    let state = AppState::for_deployment(settings, deployment, store, keyset)
        .context("cannot set up the outbound HTTP client")?;
    let workers = s.workers;
    let limits = s.limits.clone();
    let session_count_interval = Duration::from_secs(s.session_count_interval_secs);
    actix_web::rt::System::new().block_on(async move {
        if role.serves_authorization() {
            spawn_key_reloader(state.clone());
        }
        if let Some(keys) = state.remote_keys.clone() {
            // Best effort: the first request fetches again if this fails.
            actix_web::rt::spawn(async move {
                keys.refresh().await;
            });
        }
        let metrics_server = match metrics_listener {
            Some(l) => {
                let metrics_addr = l.local_addr()?;
                spawn_session_counter(state.clone(), session_count_interval);
                let server = build_metrics_server(state.metrics.clone(), l)?;
                tracing::info!(listen = %metrics_addr, "metrics served at /metrics");
                if !metrics_addr.ip().is_loopback() {
                    tracing::warn!(listen = %metrics_addr, "the metrics listener is not on loopback: make sure only monitoring can reach it");
                }
                let handle = server.handle();
                actix_web::rt::spawn(server);
                Some((handle, metrics_addr))
            }
            None => None,
        };
        let server = build_server_with_limits(state, listener, workers, limits)?;
        // The first line is what scripts and tests read.
        println!("atauth listening on http://{addr} issuer {issuer}");
        if let Some((_, metrics_addr)) = &metrics_server {
            println!("atauth metrics on http://{metrics_addr}/metrics");
        }
        let result = server.await;
        // The public server has stopped (signal): stop the metrics one too.
        if let Some((m, _)) = metrics_server {
            m.stop(true).await;
        }
        result
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
            allow_loopback_http_documents: s.dev,
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

/// Cut the deployment (role, token mode, introspection, remote
/// authorization server) from the validated configuration.
fn deployment(s: &Settings) -> Deployment {
    let d = &s.deployment;
    Deployment {
        role: match d.role {
            config::Role::All => Role::All,
            config::Role::Authorization => Role::Authorization,
            config::Role::Resource => Role::Resource,
        },
        token_mode: d.token_mode,
        introspection: d.introspection.clone(),
        mailer: Default::default(),
        remote: d.remote.as_ref().map(|r| RemoteAuthorization {
            issuer: r.authorization_server.clone(),
            jwks_url: r.jwks_url.clone(),
            keys_policy: RemoteKeysPolicy::default(),
            introspection: r.introspection.clone(),
            introspection_cache_secs: r.introspection_cache_secs,
        }),
    }
}

/// Start the mail queue of `[mail]` (off when it is off).
fn mailer(
    s: &Settings,
    issuer: &Issuer,
    languages: &[String],
) -> anyhow::Result<atauth_server::mail::Mailer> {
    use atauth_server::mail::{MailSettings, MailTransport, Mailer};
    let m = &s.mail;
    let transport = match &m.destination {
        config::MailDestination::Off => MailTransport::Disabled,
        config::MailDestination::Smtp(url) => MailTransport::Smtp { url: url.clone() },
        config::MailDestination::Files => MailTransport::File {
            dir: config::MailSettings::files_dir(&s.data_dir),
        },
    };
    match &transport {
        MailTransport::Disabled => tracing::info!(
            "mail is off: email codes and password reset are unavailable ([mail] smtp_url)"
        ),
        MailTransport::Smtp { .. } => tracing::info!(from = %m.from, "mail goes through SMTP"),
        MailTransport::File { dir } => {
            tracing::warn!(dir = %dir.display(), "development mailer: messages are written to files, not sent")
        }
    }
    let settings = MailSettings {
        transport,
        from: m.from.clone(),
        timeout: Duration::from_secs(m.timeout_secs),
        max_attempts: m.max_attempts,
        ..MailSettings::default()
    };
    Mailer::start(&settings, issuer.as_str(), languages).context("[mail]")
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
