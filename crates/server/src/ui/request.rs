//! Finding and re-checking the authorization request behind a page.
//!
//! `GET /oauth/authorize` checks that the request exists, belongs to the
//! `client_id` in the URL, is unexpired and has no code, then binds it to
//! the browser's device. Every POST re-checks the same, and that the
//! request is bound to *this* device, after the CSRF checks. Every failure
//! is an error page: the client and redirect URI are not trusted yet.

use std::sync::Arc;

use actix_web::{web, HttpRequest};
use atauth_core::form::FormParams;
use atauth_core::ids::RequestId;
use atauth_core::store::{
    AccountStore, AuthorizationRequest, Device, DeviceStore, RequestStore, StoreError,
};
use atauth_core::ErrorCode;
use atauth_store::Store;

use super::csrf;
use super::device;
use super::flow::Candidate;
use super::i18n::Messages;
use super::pages::PageError;
use crate::clients::ResolvedClient;
use crate::routes::form_body::read_form;
use crate::state::AppState;

/// A verified request on a known device.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The request's id.
    pub id: RequestId,
    /// The request.
    pub request: AuthorizationRequest,
    /// Its client, resolved for display and the consent rules.
    pub client: Arc<ResolvedClient>,
    /// The browser's device.
    pub device: Device,
}

/// Run store calls on the blocking pool.
pub async fn db<T, F>(state: &AppState, f: F) -> Result<T, PageError>
where
    F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    let store = state.store.clone();
    match web::block(move || f(&store)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(PageError::store(e)),
        Err(e) => Err(PageError::Server(format!("blocking task: {e}"))),
    }
}

/// The checks every use of a stored request repeats.
pub fn check_request(
    request: Option<AuthorizationRequest>,
    now: i64,
) -> Result<AuthorizationRequest, PageError> {
    let r = request.ok_or(PageError::BadRequest("error.request_unknown"))?;
    if r.code_hash.is_some() {
        return Err(PageError::BadRequest("error.request_used"));
    }
    if now >= r.expires_at {
        return Err(PageError::BadRequest("error.request_expired"));
    }
    Ok(r)
}

/// Resolve the request's client; a failure is the error page naming the
/// rule that failed.
pub async fn resolve_client(
    state: &AppState,
    client_id: &str,
) -> Result<Arc<ResolvedClient>, PageError> {
    state
        .clients
        .resolve(client_id)
        .await
        .map_err(|e| match e.error {
            ErrorCode::ServerError => PageError::Server(e.detail.unwrap_or_default()),
            _ => PageError::Client(e.error_description.unwrap_or_else(|| e.error.to_string())),
        })
}

/// The language for a page: the request's `ui_locales`, then
/// `Accept-Language`.
pub fn language<'s>(
    state: &'s AppState,
    req: &HttpRequest,
    ui_locales: Option<&str>,
) -> &'s Messages {
    let accept = req
        .headers()
        .get(actix_web::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    state.ui.catalogue.negotiate(ui_locales, accept)
}

/// A POST, checked: origin, body, device, CSRF token, then the request
/// (bound to this device, unexpired, no code) and its client. Nothing is
/// written before all of this passed.
pub struct Posted {
    /// The form.
    pub form: FormParams,
    /// The verified request.
    pub pending: Pending,
}

/// Check a POST as [`Posted`] says. The error comes with the messages to
/// show it in (the request's language once it is known).
pub async fn load_post<'s>(
    state: &'s AppState,
    req: &HttpRequest,
    payload: web::Payload,
    now: i64,
) -> Result<(Posted, &'s Messages), (PageError, &'s Messages)> {
    let fallback = language(state, req, None);
    if !csrf::same_origin(req, state.settings.issuer.as_str()) {
        return Err((PageError::Forbidden("error.csrf"), fallback));
    }
    let form = read_form(req, payload).await.map_err(|e| {
        let err = if e.status == 413 {
            PageError::TooLarge
        } else {
            PageError::BadRequest("error.bad_form")
        };
        (err, fallback)
    })?;
    let id = form
        .get("request_uri")
        .and_then(RequestId::from_request_uri);
    let Some(secret) = device::secret_from(req) else {
        return Err((PageError::Forbidden("error.no_device"), fallback));
    };
    let Some(id) = id else {
        return Err((PageError::Forbidden("error.csrf"), fallback));
    };
    let rid = id.as_str().to_string();
    let (device, request) = db(state, move |s| {
        let device = device::find(s, &secret)?;
        let request = match &device {
            Some(_) => s.get_request(&rid)?,
            None => None,
        };
        Ok((device, request))
    })
    .await
    .map_err(|e| (e, fallback))?;
    let Some(device) = device else {
        return Err((PageError::Forbidden("error.no_device"), fallback));
    };
    if !state
        .ui
        .csrf
        .verify(&device.id, id.as_str(), form.get("csrf"))
    {
        return Err((PageError::Forbidden("error.csrf"), fallback));
    }
    let request = check_request(request, now).map_err(|e| (e, fallback))?;
    let msgs = language(state, req, request.params.ui_locales.as_deref());
    if request.device_id.as_deref() != Some(device.id.as_str()) {
        return Err((PageError::BadRequest("error.request_other_device"), msgs));
    }
    let client = resolve_client(state, &request.client_id)
        .await
        .map_err(|e| (e, msgs))?;
    Ok((
        Posted {
            form,
            pending: Pending {
                id,
                request,
                client,
                device,
            },
        },
        msgs,
    ))
}

/// The active accounts signed in on a device, most recent first.
pub fn candidates(store: &Store, device_id: &str) -> Result<Vec<Candidate>, StoreError> {
    let mut out = Vec::new();
    for link in store.device_accounts(device_id)? {
        if let Some(account) = store.account_by_did(&link.did)? {
            if account.is_active() {
                out.push(Candidate { account, link });
            }
        }
    }
    Ok(out)
}
