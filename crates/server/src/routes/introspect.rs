//! `POST /oauth/introspect` (RFC 7662), mounted only when
//! `[introspection] enabled = true`: authenticate the caller (HTTP Basic,
//! `introspection:<secret>`), read the form, ask core. The rules are in
//! [`atauth_core::token::introspect`].

use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use actix_web::{web, HttpRequest, HttpResponse};
use atauth_core::token::introspect::{introspect as decide, Introspection};
use atauth_core::OAuthError;

use super::form_body::read_form;
use crate::error::json_error_response;
use crate::state::AppState;

/// `POST /oauth/introspect`.
pub async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let now = state.now();
    let result = answer(&state, &req, payload, now).await;
    match result {
        Ok(answer) => HttpResponse::Ok()
            .insert_header((CACHE_CONTROL, "no-store"))
            .insert_header((PRAGMA, "no-cache"))
            .insert_header((CONTENT_TYPE, "application/json"))
            .body(serde_json::to_string(&answer).unwrap_or_else(|_| "{\"active\":false}".into())),
        Err(e) => json_error_response(&e),
    }
}

async fn answer(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    payload: web::Payload,
    now: i64,
) -> Result<Introspection, OAuthError> {
    // The route exists only with a secret; without one, refuse everyone.
    let secret = state
        .deployment
        .introspection
        .clone()
        .ok_or_else(|| OAuthError::not_found("no such endpoint"))?;
    // RFC 7662 §2.1: authenticate before looking at the token, so an
    // unauthenticated caller learns nothing about any token.
    let mut auth = req.headers().get_all(AUTHORIZATION);
    let header = match (auth.next(), auth.next()) {
        (Some(v), None) => v.to_str().ok(),
        _ => None,
    };
    secret.check(header)?;
    let params = read_form(req, payload).await?;
    let st = state.clone().into_inner();
    web::block(move || {
        decide(
            &st.store,
            &*st.keyset(),
            st.settings.issuer.as_str(),
            params.get("token"),
            now,
        )
    })
    .await
    .unwrap_or_else(|e| Err(OAuthError::server_error(format!("blocking task: {e}"))))
}
