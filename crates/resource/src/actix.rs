//! The actix-web side: an extractor that authenticates a request, and the
//! error type that renders refusals.
//!
//! ```no_run
//! use actix_web::{web, App, HttpResponse};
//! use atauth_resource::{AuthError, AuthenticatedCaller, Permission, Verifier};
//!
//! async fn get_session(auth: AuthenticatedCaller) -> Result<HttpResponse, AuthError> {
//!     auth.require(&Permission::Atproto)?;
//!     Ok(HttpResponse::Ok()
//!         .insert_header(auth.nonce_header())
//!         .json(serde_json::json!({ "did": auth.caller.did })))
//! }
//!
//! fn routes(cfg: &mut web::ServiceConfig, verifier: Verifier) {
//!     cfg.app_data(web::Data::new(verifier))
//!         .route("/xrpc/com.atproto.server.getSession", web::get().to(get_session));
//! }
//! ```
//!
//! The extractor finds its [`Verifier`] through app data: a
//! `web::Data<Verifier>` for [`AuthenticatedCaller`], or any
//! `web::Data<P>` whose `P` implements [`VerifierProvider`] (atauth passes
//! its `AppState`) for `AuthenticatedCaller<P>`.
//!
//! Nonces on success: the handler adds [`AuthenticatedCaller::nonce_header`]
//! (or [`nonce_header`]) to its response; refusals made by the extractor
//! and by [`AuthenticatedCaller::require`] carry `DPoP-Nonce` already.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use atauth_core::OAuthError;

use crate::caller::{Caller, Permission};
use crate::challenge::{invalid_request, invalid_token, with_nonce};
use crate::verifier::{RequestParts, Verifier};

/// Gives the extractor the verifier held by an app-data value.
pub trait VerifierProvider: Send + Sync + 'static {
    /// The verifier.
    fn verifier(&self) -> &Verifier;
}

impl VerifierProvider for Verifier {
    fn verifier(&self) -> &Verifier {
        self
    }
}

/// `DPoP-Nonce: <current nonce>` for a response (RFC 9449 §9; SPEC §7:
/// every answer carries the nonce, successes included).
pub fn nonce_header(verifier: &Verifier, now: i64) -> (HeaderName, HeaderValue) {
    nonce_pair(&verifier.nonce(now))
}

fn nonce_pair(nonce: &str) -> (HeaderName, HeaderValue) {
    // A nonce is base64url, always a valid header value; an empty value is
    // the harmless fallback.
    let value = HeaderValue::from_str(nonce).unwrap_or_else(|_| HeaderValue::from_static(""));
    (HeaderName::from_static("dpop-nonce"), value)
}

/// A refusal, rendered as the RFC 6749 §5.2 JSON body with the error's
/// status and headers (`WWW-Authenticate`, `DPoP-Nonce`) and
/// `Cache-Control: no-store`.
#[derive(Debug)]
pub struct AuthError(pub OAuthError);

impl From<OAuthError> for AuthError {
    fn from(e: OAuthError) -> Self {
        AuthError(e)
    }
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        error_response(&self.0)
    }
}

/// The response for a resource-server error (also for handlers that
/// build their own responses).
pub fn error_response(e: &OAuthError) -> HttpResponse {
    if e.status >= 500 {
        tracing::error!(error = %e.error, detail = e.detail.as_deref().unwrap_or(""), "resource request failed");
    } else {
        tracing::info!(
            error = %e.error,
            description = e.error_description.as_deref().unwrap_or(""),
            "resource request refused"
        );
    }
    render_oauth_error(e)
}

/// The RFC 6749 §5.2 JSON body of an error with its status, its headers
/// (`WWW-Authenticate`, `DPoP-Nonce`, …) and `Cache-Control: no-store`
/// (RFC 6749 §5.1). No logging: callers decide that.
pub fn render_oauth_error(e: &OAuthError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = HttpResponse::build(status);
    resp.insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    for (k, v) in &e.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(v.as_str()),
        ) {
            resp.insert_header((name, value));
        }
    }
    resp.body(e.to_json())
}

/// An authenticated request: the extractor has verified the credentials,
/// the proof and the token (SPEC §8).
pub struct AuthenticatedCaller<P: VerifierProvider + ?Sized = Verifier> {
    /// Who is calling.
    pub caller: Caller,
    nonce: String,
    _provider: PhantomData<fn() -> Box<P>>,
}

impl<P: VerifierProvider + ?Sized> std::fmt::Debug for AuthenticatedCaller<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthenticatedCaller")
            .field("caller", &self.caller)
            .finish_non_exhaustive()
    }
}

impl<P: VerifierProvider + ?Sized> AuthenticatedCaller<P> {
    /// `insufficient_scope` (403, `WWW-Authenticate`, `DPoP-Nonce`) unless
    /// the token grants `permission`.
    pub fn require(&self, permission: &Permission) -> Result<(), AuthError> {
        self.caller
            .require(permission)
            .map_err(|e| AuthError(with_nonce(e, || self.nonce.clone())))
    }

    /// Like [`Caller::require_scope`], with `DPoP-Nonce` on the refusal.
    pub fn require_scope(&self, any_of: &[&str]) -> Result<(), AuthError> {
        self.caller
            .require_scope(any_of)
            .map_err(|e| AuthError(with_nonce(e, || self.nonce.clone())))
    }

    /// Add `DPoP-Nonce` to a refusal the handler makes after
    /// authentication.
    pub fn refuse(&self, err: OAuthError) -> AuthError {
        AuthError(with_nonce(err, || self.nonce.clone()))
    }

    /// The `DPoP-Nonce` header for the success response.
    pub fn nonce_header(&self) -> (HeaderName, HeaderValue) {
        nonce_pair(&self.nonce)
    }
}

/// The request's parts, owned so that verification can run on a blocking
/// thread.
struct OwnedParts {
    method: String,
    url: String,
    authorization: Option<String>,
    dpop_headers: Vec<String>,
}

/// Read the parts the verifier needs. Header values that are not visible
/// ASCII cannot be credentials or proofs and are refused here.
fn owned_parts(req: &HttpRequest, verifier: &Verifier) -> Result<OwnedParts, OAuthError> {
    let mut auth = req.headers().get_all(header::AUTHORIZATION);
    let authorization = match (auth.next(), auth.next()) {
        (None, _) => None,
        (Some(v), None) => Some(
            v.to_str()
                .map_err(|_| {
                    invalid_token("the Authorization header is not ASCII text (RFC 9110 §11.6.2)")
                })?
                .to_string(),
        ),
        (Some(_), Some(_)) => {
            return Err(invalid_request(
                "more than one Authorization header (RFC 9110 §11.6.2, RFC 6750 §3.1)",
            ))
        }
    };
    let dpop_headers = req
        .headers()
        .get_all("dpop")
        .map(|v| {
            v.to_str().map(str::to_string).map_err(|_| {
                atauth_core::dpop::resource_server_error(OAuthError::invalid_dpop_proof(
                    "the DPoP header is not ASCII text (RFC 9449 §4.3 (2))",
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path(), |pq| pq.as_str());
    Ok(OwnedParts {
        method: req.method().as_str().to_string(),
        // SPEC §7, RFC 9449 §4.3 (9): the configured public origin, never
        // the Host header.
        url: verifier.request_url(path_and_query),
        authorization,
        dpop_headers,
    })
}

impl<P: VerifierProvider + ?Sized> FromRequest for AuthenticatedCaller<P> {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AuthError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let provider = req.app_data::<web::Data<P>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let Some(provider) = provider else {
                return Err(AuthError(OAuthError::server_error(
                    "AuthenticatedCaller: no verifier in the app data",
                )));
            };
            let now = provider.verifier().now();
            let parts = owned_parts(&req, provider.verifier())
                .map_err(|e| AuthError(provider.verifier().refuse(e, now)))?;
            // Network first (a remote key source may fetch the issuer's
            // keys), then the local checks, then the remote session check.
            provider
                .verifier()
                .prepare(parts.authorization.as_deref())
                .await;
            let authorization = parts.authorization.clone();
            // The replay store and the session check may hit a database:
            // on the blocking pool unless the verifier says they are cheap.
            let blocking = provider.clone();
            let local = move || {
                let v = blocking.verifier();
                let dpop: Vec<&str> = parts.dpop_headers.iter().map(String::as_str).collect();
                let input = RequestParts {
                    method: &parts.method,
                    url: &parts.url,
                    authorization: parts.authorization.as_deref(),
                    dpop_headers: &dpop,
                };
                v.verify_local(&input, now)
            };
            let outcome = if provider.verifier().inline_store() {
                local()
            } else {
                web::block(local).await.unwrap_or_else(|e| {
                    Err(OAuthError::server_error(format!("blocking task: {e}")))
                })
            };
            let outcome = match outcome {
                Ok(caller) => {
                    let token = crate::verifier::dpop_credentials(authorization.as_deref())
                        .unwrap_or_default();
                    provider
                        .verifier()
                        .confirm(token, &caller, now)
                        .await
                        .map(|()| caller)
                }
                Err(e) => Err(e),
            };
            match outcome {
                Ok(caller) => Ok(AuthenticatedCaller {
                    caller,
                    nonce: provider.verifier().nonce(now),
                    _provider: PhantomData,
                }),
                Err(e) => Err(AuthError(provider.verifier().refuse(e, now))),
            }
        })
    }
}
