//! `POST /oauth/par`, `POST /oauth/token`, `POST /oauth/revoke`: extract,
//! call core in order, map the error. Every answer carries a fresh
//! `DPoP-Nonce` (SPEC §7).

use std::sync::Arc;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use atauth_core::client::auth::{
    authenticate_client, requested_client_id, ClientAuth, ClientCredentials,
};
use atauth_core::consts::PAR_LIFETIME_SECS;
use atauth_core::dpop::{check_dpop_jkt, verify_proof, ProofInput, VerifiedProof};
use atauth_core::form::FormParams;
use atauth_core::ids::RequestId;
use atauth_core::store::{AuthorizationRequest, RequestStore};
use atauth_core::token::code_grant::{Caller, CodeGrantInput};
use atauth_core::token::grant::Grant;
use atauth_core::token::{dpop_key_differs_from_client_key, refresh_grant, revoke, TokenBundle};
use atauth_core::{par, OAuthError};

use super::form_body::{dpop_headers, read_form};
use crate::clients::ResolvedClient;
use crate::error::json_error_response;
use crate::metrics::KnownClient;
use crate::state::AppState;

/// Add `DPoP-Nonce` unless the error already carries one.
fn respond(state: &AppState, now: i64, result: Result<HttpResponse, OAuthError>) -> HttpResponse {
    match result {
        Ok(mut resp) => {
            if let Ok(v) = state.nonces.issue(now).parse() {
                resp.headers_mut().insert(
                    actix_web::http::header::HeaderName::from_static("dpop-nonce"),
                    v,
                );
            }
            resp
        }
        // Logged and counted once, by the observer middleware.
        Err(mut e) => {
            if !e
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("dpop-nonce"))
            {
                e = e.with_header("DPoP-Nonce", state.nonces.issue(now));
            }
            json_error_response(&e)
        }
    }
}

struct Prepared {
    params: FormParams,
    client: Arc<ResolvedClient>,
    dpop_headers: Vec<String>,
    url: String,
    method: String,
}

async fn prepare(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Prepared, OAuthError> {
    let params = read_form(req, payload).await?;
    let client_id = requested_client_id(params.get("client_id"), params.get("client_assertion"))?;
    // For the error log: the client named, even if it does not resolve.
    req.extensions_mut().insert(KnownClient(client_id.clone()));
    let client = state.clients.resolve(&client_id).await?;
    Ok(Prepared {
        params,
        client,
        dpop_headers: dpop_headers(req),
        // RFC 9449 §4.3 (9): compare with the URL clients were told about
        // (the issuer's origin), never with the Host header.
        url: state.settings.issuer.endpoint(req.path()),
        method: req.method().as_str().to_string(),
    })
}

fn proof(
    state: &AppState,
    p: &Prepared,
    now: i64,
    required: bool,
) -> Result<Option<VerifiedProof>, OAuthError> {
    if p.dpop_headers.is_empty() && !required {
        return Ok(None);
    }
    let headers: Vec<&str> = p.dpop_headers.iter().map(String::as_str).collect();
    let input = ProofInput {
        dpop_headers: &headers,
        method: &p.method,
        url: &p.url,
        access_token: None,
    };
    verify_proof(
        &input,
        now,
        &state.nonces,
        &*state.dpop_replay,
        &state.dpop_policy,
    )
    .map(Some)
}

/// Client authentication (RFC 6749 §2.3, RFC 7523 §3), the same at every
/// endpoint; a `jti` is remembered in the shared replay store.
fn client_auth(st: &AppState, p: &Prepared, now: i64) -> Result<ClientAuth, OAuthError> {
    authenticate_client(
        &p.client.client,
        p.client.keys(),
        credentials(&p.params),
        st.settings.issuer.as_str(),
        now,
        &st.settings.assertion,
        &st.store,
    )
}

/// Token and revocation endpoints: a DPoP proof is required (atproto
/// profile), the client authenticates, and its DPoP key differs from its
/// client key.
fn authenticate(
    st: &AppState,
    p: &Prepared,
    now: i64,
) -> Result<(VerifiedProof, ClientAuth), OAuthError> {
    let proof = proof(st, p, now, true)?
        .ok_or_else(|| OAuthError::invalid_dpop_proof("a DPoP proof is required"))?;
    let auth = client_auth(st, p, now)?;
    dpop_key_differs_from_client_key(&auth, &proof.jkt)?;
    Ok((proof, auth))
}

fn credentials(p: &FormParams) -> ClientCredentials<'_> {
    ClientCredentials {
        client_assertion_type: p.get("client_assertion_type"),
        client_assertion: p.get("client_assertion"),
    }
}

/// The shape every form endpoint shares: read the body and resolve the
/// client (async), run the endpoint's ordered checks where database work
/// belongs (`crate::blocking`), render the success, and put a fresh
/// `DPoP-Nonce` on whatever goes back.
async fn endpoint<T, F, R>(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    flow: F,
    render: R,
) -> HttpResponse
where
    T: Send + 'static,
    F: FnOnce(&AppState, &Prepared, i64) -> Result<T, OAuthError> + Send + 'static,
    R: FnOnce(T) -> HttpResponse,
{
    let now = state.now();
    let prepared = match prepare(&state, &req, payload).await {
        Ok(p) => p,
        Err(e) => return respond(&state, now, Err(e)),
    };
    let st = state.clone().into_inner();
    let inline = state.store.is_embedded();
    let result = crate::blocking::run(inline, move || flow(&st, &prepared, now))
        .await
        .unwrap_or_else(|e| Err(OAuthError::server_error(format!("blocking task: {e}"))));
    respond(&state, now, result.map(render))
}

/// A JSON body that must not be cached (RFC 6749 §5.1).
fn no_store_json(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((CONTENT_TYPE, "application/json"))
        .body(body)
}

/// `POST /oauth/par` (RFC 9126): 201 `{request_uri, expires_in}`.
pub async fn par(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    endpoint(state, req, payload, par_flow, |request_uri: String| {
        let body =
            serde_json::json!({ "request_uri": request_uri, "expires_in": PAR_LIFETIME_SECS });
        no_store_json(StatusCode::CREATED, body.to_string())
    })
    .await
}

/// PAR's checks in order (the list in `atauth_core::par`'s module docs).
fn par_flow(st: &AppState, p: &Prepared, now: i64) -> Result<String, OAuthError> {
    let proof = proof(st, p, now, false)?;
    let jkt = check_dpop_jkt(p.params.get("dpop_jkt"), proof.as_ref())?;
    let auth = client_auth(st, p, now)?;
    if let Some(j) = &jkt {
        dpop_key_differs_from_client_key(&auth, j)?;
    }
    let params = par::validate(&p.params, &p.client.client, jkt)?;
    par::challenge_unused(&st.store, &params.code_challenge, now)?;
    let id = RequestId::generate();
    let request = AuthorizationRequest {
        id: id.as_str().to_string(),
        client_id: p.client.client_id().as_str().to_string(),
        client_auth: auth,
        params,
        created_at: now,
        expires_at: now + PAR_LIFETIME_SECS,
        device_id: None,
        sub: None,
        code_hash: None,
        consumed_at: None,
    };
    st.store
        .create_request(&request)
        .map_err(|e| OAuthError::server_error(format!("store: {e}")))?;
    tracing::info!(client_id = %request.client_id, "pushed authorization request stored");
    Ok(id.request_uri())
}

/// `POST /oauth/token` (RFC 6749 §3.2): 200 with the token response and
/// `Pragma: no-cache` (RFC 6749 §5.1).
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    endpoint(state, req, payload, token_flow, |bundle: TokenBundle| {
        let mut resp = no_store_json(
            StatusCode::OK,
            serde_json::to_string(&bundle.response).unwrap_or_default(),
        );
        resp.headers_mut().insert(
            PRAGMA,
            actix_web::http::header::HeaderValue::from_static("no-cache"),
        );
        resp
    })
    .await
}

/// The token endpoint's checks in order (`atauth_core::token`'s module docs).
fn token_flow(st: &AppState, p: &Prepared, now: i64) -> Result<TokenBundle, OAuthError> {
    let grant = Grant::from_params(&p.params)?;
    // Every token request carries a DPoP proof (atproto profile).
    let (proof, auth) = authenticate(st, p, now)?;
    grant.declared_by(&p.client.client)?;
    let caller = Caller {
        client: &p.client.client,
        auth: &auth,
        dpop_jkt: &proof.jkt,
    };
    let keyset = st.keyset();
    let audience = st.settings.resource.as_str();
    let bundle = if grant == Grant::AuthorizationCode {
        let input = CodeGrantInput {
            code: p.params.get("code"),
            redirect_uri: p.params.get("redirect_uri"),
            code_verifier: p.params.get("code_verifier"),
        };
        atauth_core::token::code_grant::exchange(
            &st.store,
            &keyset,
            &st.settings.token,
            &caller,
            &input,
            audience,
            now,
        )?
    } else {
        let refresh_token = p.params.get("refresh_token");
        let keys = p.client.keys();
        refresh_grant::refresh(
            &st.store,
            &keyset,
            &st.settings.token,
            &caller,
            refresh_token,
            keys,
            audience,
            now,
        )?
    };
    tracing::info!(client_id = %p.client.client_id(), grant = grant.as_str(), session = %bundle.session_id, "tokens issued");
    Ok(bundle)
}

/// `POST /oauth/revoke` (RFC 7009): 200 `{}` for every well-formed,
/// authenticated request, known token or not.
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    endpoint(state, req, payload, revoke_flow, |()| {
        no_store_json(StatusCode::OK, "{}".into())
    })
    .await
}

/// Revocation's checks in order: DPoP proof, client authentication, then
/// the whole session of the token, if it is this client's.
fn revoke_flow(st: &AppState, p: &Prepared, now: i64) -> Result<(), OAuthError> {
    authenticate(st, p, now)?;
    let client_id = p.client.client_id().as_str();
    let outcome = revoke::revoke(&st.store, &st.keyset(), client_id, p.params.get("token"))?;
    if let revoke::Revocation::Session(id) = outcome {
        tracing::info!(client_id = %client_id, session = %id, "session revoked by the client");
    }
    Ok(())
}
