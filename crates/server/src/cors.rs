//! CORS for the endpoints browser clients call cross-origin.
//!
//! SPEC §7: `Access-Control-Allow-Origin: *` on every response of the
//! OAuth and XRPC endpoints, errors included (a `use_dpop_nonce` answer
//! without it reads as a network failure and is never retried); preflights
//! answered 2xx naming `Content-Type, DPoP, Authorization` explicitly (`*`
//! does not cover `Authorization`); `DPoP-Nonce` and `WWW-Authenticate`
//! exposed. No credentials are ever allowed: these endpoints authenticate
//! with DPoP and tokens, not cookies.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

/// Headers a browser client may send.
pub const ALLOW_HEADERS: &str = "Content-Type, DPoP, Authorization, Accept, Accept-Language, atproto-proxy, atproto-accept-labelers";
/// Headers a browser client may read.
pub const EXPOSE_HEADERS: &str = "DPoP-Nonce, WWW-Authenticate, Retry-After";
/// How long a preflight may be cached. Policy.
pub const MAX_AGE_SECS: &str = "600";

/// Whether a path gets CORS: OAuth endpoints, the well-known documents,
/// the JWKS and XRPC. The browser pages (authorize, account) do not.
pub fn is_cors_path(path: &str) -> bool {
    path.starts_with("/.well-known/oauth-")
        || path.starts_with("/xrpc/")
        || path.starts_with("/plc/")
        || path.starts_with("/did:")
        || path.starts_with("/did%3A")
        || matches!(
            path,
            "/oauth/par" | "/oauth/token" | "/oauth/revoke" | "/oauth/introspect" | "/oauth/jwks"
        )
}

/// Middleware: answer preflights and add CORS headers to every response
/// (success or error) of the CORS paths.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if !is_cors_path(req.path()) {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    }
    let is_preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if is_preflight {
        let resp = HttpResponse::NoContent()
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
            .insert_header((header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, MAX_AGE_SECS))
            .finish();
        return Ok(req.into_response(resp).map_into_boxed_body());
    }
    // Errors raised by handlers are already turned into responses here, so
    // the headers below land on them too.
    let mut res = next.call(req).await?.map_into_boxed_body();
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    Ok(res)
}
