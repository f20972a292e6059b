//! Reading the form bodies of PAR, token and revoke (SPEC §0): the content
//! type must be `application/x-www-form-urlencoded`, the body is capped
//! (413 before it is read in full), and no parameter may repeat.

use actix_web::error::PayloadError;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest};
use atauth_core::consts::MAX_FORM_BODY_BYTES;
use atauth_core::form::FormParams;
use atauth_core::{ErrorCode, OAuthError};
use futures_util::StreamExt;

use crate::limits::{self, Enforcer};

/// The body cap in force for this request: `[limits] max_body_bytes`, at
/// most the form cap.
fn limit_of(req: &HttpRequest) -> usize {
    req.app_data::<web::Data<Enforcer>>()
        .map_or(MAX_FORM_BODY_BYTES, |e| {
            e.limits().max_body_bytes.min(MAX_FORM_BODY_BYTES)
        })
}

/// The body time limit in force for this request.
fn timeout_of(req: &HttpRequest) -> std::time::Duration {
    req.app_data::<web::Data<Enforcer>>()
        .map_or(limits::Limits::default().body_timeout, |e| {
            e.limits().body_timeout
        })
}

fn too_large() -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidRequest,
        format!("request body is larger than {MAX_FORM_BODY_BYTES} bytes"),
    )
    .with_status(413)
}

/// Read and parse a form body.
pub async fn read_form(
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<FormParams, OAuthError> {
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded (RFC 6749 §3.2, RFC 9126 §2.1)",
        ));
    }
    if let Some(len) = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > MAX_FORM_BODY_BYTES {
            return Err(too_large());
        }
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        // `crate::limits` caps every body in size and time.
        let chunk = chunk.map_err(|e| match e {
            PayloadError::Overflow => limits::body_too_large(limit_of(req)),
            e if limits::is_body_timeout(&e) => limits::body_too_slow(timeout_of(req)),
            e => OAuthError::invalid_request("could not read the request body")
                .with_detail(e.to_string()),
        })?;
        if body.len() + chunk.len() > MAX_FORM_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    FormParams::parse(&body)
}

/// Every value of the `DPoP` header (RFC 9449 §4.3 (1) needs to see
/// duplicates).
pub fn dpop_headers(req: &HttpRequest) -> Vec<String> {
    req.headers()
        .get_all("DPoP")
        .map(|v| {
            v.to_str()
                .map(str::to_string)
                .unwrap_or_else(|_| "\u{0}".to_string())
        })
        .collect()
}
