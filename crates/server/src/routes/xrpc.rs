//! The XRPC endpoints atauth answers itself (atproto.com/specs/xrpc), the
//! resource-server side of SPEC §8:
//!
//! - `GET /xrpc/com.atproto.server.getSession`: authenticated with a
//!   DPoP-bound access token through [`AuthenticatedCaller`];
//! - `GET /xrpc/com.atproto.server.describeServer`: public;
//! - `GET /xrpc/com.atproto.identity.resolveHandle`: public, for this
//!   server's accounts only (the handler lives in
//!   [`dev_identity`](super::dev_identity)); mounted in every mode.
//!
//! Roles: `all` serves the three; `resource` the first two
//! ([`configure_resource`]); `authorization` only `resolveHandle`
//! ([`configure_identity`]), where the accounts are.
//!
//! Errors: authentication failures keep the OAuth shape (401/403 with
//! `WWW-Authenticate: DPoP …`, the same code as JSON body, `DPoP-Nonce`;
//! SPEC §8); anything else uses the XRPC shape
//! `{"error":"InvalidRequest","message":"…"}`. Every authenticated answer
//! carries `DPoP-Nonce` (SPEC §7). CORS comes from [`crate::cors`].

use actix_web::http::header::{ALLOW, CACHE_CONTROL};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use atauth_core::store::AccountStore;
use atauth_resource::challenge::invalid_token;
use atauth_resource::{AuthError, AuthenticatedCaller, Permission, Verifier, VerifierProvider};
use serde::Serialize;

use super::dev_identity;
use crate::state::{AppState, Role};

/// `com.atproto.server.getSession`.
pub const GET_SESSION: &str = "/xrpc/com.atproto.server.getSession";
/// `com.atproto.server.describeServer`.
pub const DESCRIBE_SERVER: &str = "/xrpc/com.atproto.server.describeServer";
/// `com.atproto.identity.resolveHandle`.
pub const RESOLVE_HANDLE: &str = "/xrpc/com.atproto.identity.resolveHandle";

/// The extractor finds atauth's verifier in its state.
impl VerifierProvider for AppState {
    fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

/// Register every XRPC route (role `all`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    configure_resource(cfg);
    configure_identity(cfg);
}

/// The resource server's routes: `getSession` (through the verifier) and
/// `describeServer`.
pub fn configure_resource(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(GET_SESSION)
            .route(web::get().to(get_session))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource(DESCRIBE_SERVER)
            .route(web::get().to(describe_server))
            .default_service(not_allowed("GET")),
    );
}

/// `resolveHandle` for this server's accounts, where the accounts are.
/// Registered before the development routes, so that this one answers in
/// every mode.
pub fn configure_identity(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(RESOLVE_HANDLE)
            .route(web::get().to(dev_identity::resolve_handle))
            .default_service(not_allowed("GET")),
    );
}

/// An XRPC error body (atproto.com/specs/xrpc, "Error Responses"):
/// `{"error": <name>, "message": <text>}`.
pub fn xrpc_error(status: StatusCode, error: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "error": error, "message": message }))
}

/// 405 with `Allow` (SPEC §0), in the XRPC shape.
fn not_allowed(allow: &'static str) -> actix_web::Route {
    web::route().to(move || async move {
        let mut resp = xrpc_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "InvalidRequest",
            &format!("method not allowed on this endpoint; allowed: {allow}"),
        );
        resp.headers_mut().insert(
            ALLOW,
            actix_web::http::header::HeaderValue::from_static(allow),
        );
        resp
    })
}

/// The `com.atproto.server.getSession` output. `email` only with a scope
/// that grants it; `emailConfirmed` is left out: atauth does not track
/// email confirmation.
#[derive(Debug, Serialize)]
struct SessionView {
    did: String,
    handle: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    active: bool,
}

/// `GET /xrpc/com.atproto.server.getSession`: who the token belongs to.
/// Needs only the `atproto` scope; the email needs `transition:email` or
/// `account:email` (atproto OAuth "Scopes", atproto.com/specs/permission).
/// An account that is gone or disabled makes the token `invalid_token`.
pub async fn get_session(
    state: web::Data<AppState>,
    auth: AuthenticatedCaller<AppState>,
) -> Result<HttpResponse, AuthError> {
    auth.require(&Permission::Atproto)?;
    let store = state.store.clone();
    let did = auth.caller.did.clone();
    let inline = store.is_embedded();
    let account = match crate::blocking::run(inline, move || store.account_by_did(&did)).await {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "getSession: account lookup failed");
            return Ok(internal_error(&auth));
        }
        Err(e) => {
            tracing::error!(error = %e, "getSession: blocking task failed");
            return Ok(internal_error(&auth));
        }
    };
    let view = match account {
        Some(account) if account.is_active() => SessionView {
            did: account.did.to_string(),
            handle: account.handle.as_str().to_string(),
            email: account
                .email
                .filter(|_| auth.caller.has(&Permission::ReadEmail)),
            active: true,
        },
        None if state.deployment.role == Role::Resource => remote_session_view(&state, &auth).await,
        _ => {
            return Err(auth.refuse(invalid_token(
                "the account of this access token no longer exists or is disabled",
            )))
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header(auth.nonce_header())
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(view))
}

/// Role `resource` with its own database (the accounts live at the
/// authorization server): the DID is the verified token's `sub`, the handle
/// the one its DID document claims (`handle.invalid` when it cannot be
/// resolved, as atproto does for a handle that fails verification), no
/// email (this server does not hold it). When the database is shared with
/// the authorization server, the local account answers instead.
async fn remote_session_view(
    state: &AppState,
    auth: &AuthenticatedCaller<AppState>,
) -> SessionView {
    let did = &auth.caller.did;
    let handle = match state.identity.resolve_did(did).await {
        Ok(doc) => doc.handle().map(|h| h.as_str().to_string()),
        Err(e) => {
            tracing::warn!(did = %did, error = %e, "getSession: the DID document could not be resolved");
            None
        }
    };
    SessionView {
        did: did.to_string(),
        handle: handle.unwrap_or_else(|| "handle.invalid".into()),
        email: None,
        active: true,
    }
}

/// 500 in the XRPC shape, with the nonce.
fn internal_error(auth: &AuthenticatedCaller<AppState>) -> HttpResponse {
    let mut resp = xrpc_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalServerError",
        "Internal Server Error",
    );
    let (name, value) = auth.nonce_header();
    resp.headers_mut().insert(name, value);
    resp
}

/// `GET /xrpc/com.atproto.server.describeServer`: the lexicon requires
/// `did` and `availableUserDomains`. atauth creates no accounts over XRPC,
/// so no domains are offered and invite codes are "required".
pub async fn describe_server(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "did": did_web(&state.settings.resource),
        "availableUserDomains": [],
        "inviteCodeRequired": true,
        "links": {},
    }))
}

/// The did:web of an origin (w3c-ccg did:web "Create": the host, with a
/// port percent-encoded as `%3A`).
pub fn did_web(origin: &str) -> String {
    let host = url::Url::parse(origin)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_string();
            Some(match u.port() {
                Some(p) => format!("{host}%3A{p}"),
                None => host,
            })
        })
        .unwrap_or_default();
    format!("did:web:{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_web_encodes_the_port() {
        assert_eq!(did_web("https://auth.example"), "did:web:auth.example");
        assert_eq!(did_web("http://127.0.0.1:2583"), "did:web:127.0.0.1%3A2583");
    }
}
