//! Discovery documents and the JWKS (SPEC §1, §2).

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{web, HttpResponse};
use atauth_core::consts::METADATA_MAX_AGE_SECS;

use crate::state::AppState;

fn cacheable_json(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((
            CACHE_CONTROL,
            format!("public, max-age={METADATA_MAX_AGE_SECS}"),
        ))
        .body(body)
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414 §3).
pub async fn as_metadata(state: web::Data<AppState>) -> HttpResponse {
    cacheable_json(state.as_metadata_json.clone())
}

/// `GET /.well-known/oauth-protected-resource` (RFC 9728 §3).
pub async fn pr_metadata(state: web::Data<AppState>) -> HttpResponse {
    cacheable_json(state.pr_metadata_json.clone())
}

/// `GET /oauth/jwks`: public keys only (RFC 7517 §5). Short cache so a
/// rotation is seen quickly.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let body = state.keyset().jwks().to_string();
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((CACHE_CONTROL, "public, max-age=60"))
        .body(body)
}
