//! atauth-server: the actix-web application.
//!
//! Routes and thin handlers; protocol rules live in `atauth-core`.

pub mod blocking;
pub mod clients;
pub mod cors;
pub mod error;
pub mod fetch;
pub mod identity;
pub mod limits;
pub mod mail;
pub mod metrics;
pub mod remote;
pub mod replay;
pub mod routes;
pub mod state;
pub mod ui;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use atauth_core::keys::Keyset;
use atauth_core::store::KeyStore;

pub use atauth_resource::RemoteKeysPolicy;
pub use metrics::{build_metrics_server, spawn_session_counter, Metrics};
pub use state::{AppState, Deployment, RemoteAuthorization, Role, ServerSettings};

/// Build the HTTP server on an already-bound listener (port 0 in tests),
/// with the default [`limits::Limits`].
pub fn build_server(
    state: Arc<AppState>,
    listener: TcpListener,
    workers: Option<usize>,
) -> std::io::Result<Server> {
    build_server_with_limits(state, listener, workers, limits::Limits::default())
}

/// [`build_server`] with the given request limits (`[limits]`).
pub fn build_server_with_limits(
    state: Arc<AppState>,
    listener: TcpListener,
    workers: Option<usize>,
    limits: limits::Limits,
) -> std::io::Result<Server> {
    let routes = routes::RouteOptions::of(&state);
    let data = web::Data::from(state);
    let enforcer = web::Data::new(limits::Enforcer::new(limits.clone()));
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(enforcer.clone())
            // Inside CORS and the observer: refusals get CORS headers and
            // are counted.
            .wrap(from_fn(limits::enforce))
            .wrap(from_fn(cors::cors))
            // Inside the root span: its logs carry the request id.
            .wrap(from_fn(metrics::observe))
            .wrap(tracing_actix_web::TracingLogger::default())
            .configure(|cfg| routes::configure_for(cfg, routes))
            .default_service(web::to(routes::not_found))
    })
    .client_request_timeout(limits.client_request_timeout)
    .client_disconnect_timeout(limits.client_disconnect_timeout)
    .keep_alive(limits.keep_alive)
    .max_connections(limits.max_connections)
    .listen(listener)?;
    if let Some(w) = workers {
        server = server.workers(w);
    }
    Ok(server.run())
}

/// Reload the signing keys from the store every `interval`, so that a
/// `atauth keys rotate` run against the same database takes effect without
/// a restart. A failed reload keeps the current keys and logs an error.
pub fn spawn_key_reloader(state: Arc<AppState>) {
    let interval = Duration::from_secs(state.settings.key_reload_interval_secs.max(1));
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(interval);
        tick.tick().await;
        loop {
            tick.tick().await;
            let store = state.store.clone();
            match web::block(move || store.list_signing_keys()).await {
                Ok(Ok(stored)) => match Keyset::from_stored(&stored) {
                    Ok(ks) => {
                        if ks.current().kid != state.keyset().current().kid
                            || ks.keys().len() != state.keyset().keys().len()
                        {
                            tracing::info!(current_kid = %ks.current().kid, keys = ks.keys().len(), "signing keys reloaded");
                        }
                        state.set_keyset(ks);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "signing keys in the store are unusable; keeping the loaded keys")
                    }
                },
                Ok(Err(e)) => tracing::error!(error = %e, "could not reload signing keys"),
                Err(e) => tracing::error!(error = %e, "could not reload signing keys"),
            }
        }
    });
}
