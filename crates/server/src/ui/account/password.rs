//! Password change: `GET`/`POST /account/password`.
//!
//! The current password is always required (checked as at sign-in: rate
//! limits, argon2id); the new one is hashed with argon2id and must meet the
//! length policy of `atauth_core::password`. Afterwards every other device
//! is signed out of this account (this browser stays signed in, its
//! sign-in refreshed), and with "also revoke every app" every OAuth session
//! of the account ends and every approval is forgotten.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use atauth_core::password::{hash_password, PasswordError, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};
use atauth_core::store::{AccountStore, DeviceStore};
use serde_json::json;

use super::super::credentials::{self, Checked};
use super::super::flow::Candidate;
use super::super::headers::FormAction;
use super::super::pages::PageError;
use super::super::request::db;
use super::apps::revoke_access;
use super::{page_url, query, see_other, view, Visitor, HOME_PATH, PASSWORD_PATH};
use crate::state::AppState;

/// The password page of an account.
fn page(
    v: &Visitor<'_>,
    c: &Candidate,
    revoke_apps: bool,
    error: Option<String>,
    done: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let data = json!({
        "account": view::account(c, true),
        "section": "password",
        "min": MIN_PASSWORD_LEN,
        "max": MAX_PASSWORD_LEN,
        "revoke_apps": revoke_apps,
        "error": error,
        "done": done,
    });
    v.env().render(
        "account/password.html",
        data,
        status,
        &FormAction::self_only(),
    )
}

/// `GET /account/password[?account=DID]`: without `account`, the only
/// manageable account, or the list of accounts to choose from.
pub async fn get(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let v = match Visitor::get(&state, &req, false).await {
        Ok(Some((v, _))) => v,
        Ok(None) => return see_other(&format!("{HOME_PATH}?next=password")),
        Err(e) => {
            let msgs = super::language(&state, &req, None);
            return super::error_page(&super::account_env(&state, msgs), &e);
        }
    };
    let q = query(&req);
    let Some(c) = v.selected(q.get("account")).cloned() else {
        return see_other(&format!("{HOME_PATH}?next=password"));
    };
    let done = view::done_message(v.msgs, q.get("done"));
    page(&v, &c, false, None, done, StatusCode::OK)
}

/// `POST /account/password`: `account`, `current`, `new`, `confirm`,
/// optional `revoke_apps`.
pub async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let (v, form) = match Visitor::posted(&state, &req, payload).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let Some(c) = v.account(form.get("account")).cloned() else {
        return v.error(&PageError::Forbidden("error.account_not_signed_in"));
    };
    let revoke_apps = form.get("revoke_apps").is_some();
    let refuse = |key: &str| {
        let message = v.msgs.fill(
            key,
            &[
                ("min", &MIN_PASSWORD_LEN.to_string()),
                ("max", &MAX_PASSWORD_LEN.to_string()),
            ],
        );
        page(
            &v,
            &c,
            revoke_apps,
            Some(message),
            None,
            StatusCode::BAD_REQUEST,
        )
    };
    let (Some(current), Some(new), Some(confirm)) =
        (form.get("current"), form.get("new"), form.get("confirm"))
    else {
        return refuse("password.missing");
    };
    if new != confirm {
        return refuse("password.mismatch");
    }
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&new.chars().count()) {
        return refuse("password.bad_length");
    }
    match credentials::check(&state, &req, c.account.did.as_str(), current.to_string()).await {
        Ok(Checked::Valid(_)) => {}
        Ok(Checked::Invalid) => {
            tracing::info!(sub = %c.account.did, "account pages: wrong current password");
            return refuse("password.wrong");
        }
        Err(e) => return v.error(&e),
    }
    let new = new.to_string();
    let hash = match web::block(move || hash_password(&new)).await {
        Ok(Ok(h)) => h,
        Ok(Err(PasswordError::BadLength)) => return refuse("password.bad_length"),
        Ok(Err(e)) => return v.error(&PageError::Server(format!("hashing: {e}"))),
        Err(e) => return v.error(&PageError::Server(format!("blocking task: {e}"))),
    };
    let did = c.account.did.clone();
    let mut link = c.link.clone();
    link.authenticated_at = v.now;
    let this_device = v.device.id.clone();
    let changed = db(&state, move |s| {
        if !s.set_password_hash(&did, &hash)? {
            return Ok(None);
        }
        let mut others = 0u64;
        for (device, _) in s.devices_of_account(&did)? {
            if device.id != this_device {
                others += u64::from(s.remove_device_account(&device.id, &did)?);
            }
        }
        s.upsert_device_account(&link)?;
        let revoked = if revoke_apps {
            Some(revoke_access(s, &did, None)?)
        } else {
            None
        };
        Ok(Some((others, revoked)))
    })
    .await;
    match changed {
        Ok(Some((others, revoked))) => {
            tracing::info!(
                sub = %c.account.did,
                other_devices_signed_out = others,
                sessions_revoked = revoked.map(|r| r.0),
                "account pages: password changed"
            );
            let done = if revoke_apps {
                "password_changed_revoked"
            } else {
                "password_changed"
            };
            see_other(&page_url(PASSWORD_PATH, c.account.did.as_str(), Some(done)))
        }
        Ok(None) => v.error(&PageError::Forbidden("error.account_not_signed_in")),
        Err(e) => v.error(&e),
    }
}
