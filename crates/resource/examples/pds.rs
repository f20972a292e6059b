//! A Rust PDS accepting the tokens of a remote atauth (entryway mode):
//! the protected-resource document naming the authorization server, and
//! one XRPC endpoint behind the `AuthenticatedCaller` extractor.
//!
//! ```text
//! PDS_ORIGIN=http://localhost:2584 AUTH_SERVER=http://localhost:2583 \
//! INTROSPECTION_SECRET=<the AS's [introspection] secret> \
//! NONCE_SECRET=<the AS's [dpop] nonce_secret, 64 hex> \
//!   cargo run -p atauth-resource --example pds
//! ```
//!
//! Without `INTROSPECTION_SECRET` the PDS runs stateless: a revoked
//! session's access token is accepted until it expires. Without
//! `NONCE_SECRET` it keeps nonces of its own (clients retry once).

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use atauth_core::dpop::Nonces;
use atauth_core::metadata::{Issuer, ProtectedResourceMetadata};
use atauth_core::replay::MemoryReplayStore;
use atauth_core::token::introspect::{Introspection, IntrospectionSecret};
use atauth_resource::{
    AuthError, AuthenticatedCaller, BoxFuture, Introspect, IntrospectionCheck, JwksFetch,
    Permission, RemoteKeys, RemoteKeysPolicy, Verifier,
};

/// The authorization server's JWKS over HTTP.
struct Jwks {
    http: reqwest::Client,
    url: String,
}

impl JwksFetch for Jwks {
    fn fetch_jwks(&self) -> BoxFuture<'_, Result<serde_json::Value, String>> {
        Box::pin(async move {
            let resp = self
                .http
                .get(&self.url)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !resp.status().is_success() {
                return Err(format!("status {}", resp.status()));
            }
            let body = resp.bytes().await.map_err(|e| e.to_string())?;
            serde_json::from_slice(&body).map_err(|e| e.to_string())
        })
    }
}

/// RFC 7662 at the authorization server, with its Basic credentials.
struct AsIntrospection {
    http: reqwest::Client,
    url: String,
    authorization: String,
}

impl Introspect for AsIntrospection {
    fn introspect<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Introspection, String>> {
        Box::pin(async move {
            // A JWT is made of URL-safe characters: no form encoding needed.
            let resp = self
                .http
                .post(&self.url)
                .header("Authorization", &self.authorization)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(format!("token={token}"))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !resp.status().is_success() {
                return Err(format!("status {}", resp.status()));
            }
            let body = resp.bytes().await.map_err(|e| e.to_string())?;
            serde_json::from_slice(&body).map_err(|e| e.to_string())
        })
    }
}

/// `com.atproto.server.getSession`: the extractor has checked the DPoP
/// proof, the token and (with introspection) the session.
async fn get_session(auth: AuthenticatedCaller) -> Result<HttpResponse, AuthError> {
    auth.require(&Permission::Atproto)?;
    // A real PDS looks the account up here; `auth.caller.has(&
    // Permission::ReadEmail)` says whether the email may be included.
    Ok(HttpResponse::Ok()
        .insert_header(auth.nonce_header())
        .json(serde_json::json!({
            "did": auth.caller.did,
            "handle": "handle.invalid",
            "active": true,
        })))
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

fn invalid(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let origin = var("PDS_ORIGIN", "http://localhost:2584");
    let issuer =
        Issuer::parse(&var("AUTH_SERVER", "http://localhost:2583"), true).map_err(invalid)?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(invalid)?;

    let keys = Arc::new(RemoteKeys::new(
        Jwks {
            http: http.clone(),
            url: issuer.endpoint("/oauth/jwks"),
        },
        RemoteKeysPolicy::default(),
    ));
    let nonces = match std::env::var("NONCE_SECRET").ok().and_then(|s| hex32(&s)) {
        Some(secret) => Nonces::new(secret),
        None => Nonces::random(),
    };
    // One process: an in-memory replay store. Several instances share one
    // (atauth-store's `Store` implements `ReplayStore` over SQL).
    let replay = Arc::new(MemoryReplayStore::new());
    let mut verifier = Verifier::new(issuer.as_str(), origin.clone(), keys, nonces, replay);
    if let Ok(secret) = std::env::var("INTROSPECTION_SECRET") {
        let secret = IntrospectionSecret::parse(&secret).map_err(invalid)?;
        let client = AsIntrospection {
            http,
            url: issuer.endpoint("/oauth/introspect"),
            authorization: secret.basic_authorization(),
        };
        verifier = verifier.with_token_check(Arc::new(IntrospectionCheck::new(client, 5)));
    }

    let resource_doc = serde_json::to_string(&ProtectedResourceMetadata::new(&origin, &issuer))
        .map_err(invalid)?;
    let verifier = web::Data::new(verifier);
    HttpServer::new(move || {
        let doc = resource_doc.clone();
        App::new()
            .app_data(verifier.clone())
            .route(
                "/.well-known/oauth-protected-resource",
                web::get().to(move || {
                    let doc = doc.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .insert_header(("Access-Control-Allow-Origin", "*"))
                            .body(doc)
                    }
                }),
            )
            .route(
                "/xrpc/com.atproto.server.getSession",
                web::get().to(get_session),
            )
    })
    .bind(("127.0.0.1", 2584))?
    .run()
    .await
}
