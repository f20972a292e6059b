//! `GET /account` (the accounts signed in on this browser and the sign-in
//! form), `POST /account/sign-in`, `POST /account/sign-out`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use atauth_core::store::{DeviceAccount, DeviceStore};
use serde_json::{json, Value};

use super::super::credentials::{self, Checked};
use super::super::device::{self, Visit};
use super::super::headers::FormAction;
use super::super::request::db;
use super::{page_url, query, see_other, view, with_cookie, Visitor, HOME_PATH, NEXT_PAGES};
use crate::state::AppState;

/// What the sign-in form shows again.
#[derive(Debug, Default)]
struct Form {
    identifier: String,
    remember: bool,
    next: Option<&'static str>,
}

/// The `next` page, if it is one a sign-in may continue to.
fn next_page(raw: Option<&str>) -> Option<&'static str> {
    NEXT_PAGES.iter().copied().find(|p| Some(*p) == raw)
}

/// The home page.
fn page(
    v: &Visitor<'_>,
    form: &Form,
    error: Option<String>,
    done: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let accounts: Vec<Value> = v
        .accounts
        .iter()
        .map(|c| view::account(c, v.manageable(c)))
        .collect();
    let data = json!({
        "accounts": accounts,
        "sign_in": {
            "identifier": form.identifier,
            "remember": form.remember,
            "next": form.next,
            "focus_password": !form.identifier.is_empty(),
        },
        "error": error,
        "done": done,
    });
    v.env()
        .render("account/home.html", data, status, &FormAction::self_only())
}

/// `GET /account`: creates the device (and its cookie) on a first visit,
/// so the sign-in form has a CSRF token.
pub async fn get(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let (v, secret) = match Visitor::get(&state, &req, true).await {
        Ok(Some(found)) => found,
        Ok(None) => return see_other(HOME_PATH),
        Err(e) => {
            let msgs = super::language(&state, &req, None);
            return super::error_page(&super::account_env(&state, msgs), &e);
        }
    };
    let q = query(&req);
    let form = Form {
        next: next_page(q.get("next")),
        ..Form::default()
    };
    let done = view::done_message(v.msgs, q.get("done"));
    let resp = page(&v, &form, None, done, StatusCode::OK);
    with_cookie(&state, resp, secret)
}

/// `POST /account/sign-in`: the password check of the authorization pages
/// (rate limits, equal work for unknown accounts), then the device secret
/// is rotated (new cookie: no session fixation) and the account signed in
/// on this browser; 303 to the account's page (or to `next`).
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let (v, form) = match Visitor::posted(&state, &req, payload).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let identifier = credentials::identifier(form.get("identifier"));
    let again = Form {
        identifier: identifier.clone().unwrap_or_default(),
        remember: form.get("remember").is_some(),
        next: next_page(form.get("next")),
    };
    let (Some(identifier), Some(password)) = (identifier, form.get("password")) else {
        let message = v.msgs.get("sign_in.missing").to_string();
        return page(&v, &again, Some(message), None, StatusCode::BAD_REQUEST);
    };
    let account = match credentials::check(&state, &req, &identifier, password.to_string()).await {
        Ok(Checked::Valid(account)) => *account,
        Ok(Checked::Invalid) => {
            tracing::info!("account pages: sign-in failed");
            let message = v.msgs.get("sign_in.failed").to_string();
            return page(&v, &again, Some(message), None, StatusCode::BAD_REQUEST);
        }
        Err(e) => return v.error(&e),
    };
    let link = DeviceAccount {
        device_id: v.device.id.clone(),
        did: account.did.clone(),
        authenticated_at: v.now,
        remember: again.remember,
    };
    let visit = Visit::of(&req);
    let (device_id, now) = (v.device.id.clone(), v.now);
    let rotated = db(&state, move |s| {
        let secret = device::rotate(s, &device_id)?;
        s.upsert_device_account(&link)?;
        s.touch_device(
            &device_id,
            now,
            visit.user_agent.as_deref(),
            visit.ip.as_deref(),
        )?;
        Ok(secret)
    })
    .await;
    let secret = match rotated {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            return v.error(&super::PageError::Forbidden("error.no_device"));
        }
        Err(e) => return v.error(&e),
    };
    tracing::info!(sub = %account.did, remember = again.remember, "account pages: signed in");
    let did = account.did.as_str();
    let location = match again.next {
        Some(next) => page_url(&format!("{HOME_PATH}/{next}"), did, None),
        None => format!("{HOME_PATH}?done=signed_in"),
    };
    with_cookie(&state, see_other(&location), Some(secret))
}

/// `POST /account/sign-out`: `account` is signed out of this browser (its
/// OAuth sessions are untouched: apps keep working).
pub async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let (v, form) = match Visitor::posted(&state, &req, payload).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    // Any account signed in here, fresh or not, may be signed out.
    let Some(c) = form
        .get("account")
        .and_then(|did| v.accounts.iter().find(|c| c.account.did.as_str() == did))
    else {
        return v.error(&super::PageError::Forbidden("error.account_not_signed_in"));
    };
    let (device_id, did) = (v.device.id.clone(), c.account.did.clone());
    if let Err(e) = db(&state, move |s| s.remove_device_account(&device_id, &did)).await {
        return v.error(&e);
    }
    tracing::info!(sub = %c.account.did, "account pages: signed out on this browser");
    see_other(&format!("{HOME_PATH}?done=signed_out"))
}
