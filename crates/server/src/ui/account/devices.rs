//! Devices: `GET /account/devices`, `POST /account/devices/sign-out`.
//!
//! The browsers an account is signed in on (`DeviceStore::devices_of_account`),
//! this one marked. Signing another device out removes that device's
//! sign-in for this account only: its other accounts stay signed in, and
//! no OAuth session ends (apps keep working; revoke them on the apps page).
//! This browser is not signed out from the list: its form has no button
//! for it, and a POST naming it is refused; "Sign out on this browser" is
//! a separate button.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use atauth_core::store::DeviceStore;
use serde_json::{json, Value};

use super::super::flow::Candidate;
use super::super::headers::FormAction;
use super::super::pages::PageError;
use super::super::request::db;
use super::{page_url, query, see_other, view, Visitor, DEVICES_PATH, HOME_PATH};
use crate::state::AppState;

/// The devices page of an account.
async fn page(v: &Visitor<'_>, c: &Candidate, done: Option<String>) -> HttpResponse {
    let did = c.account.did.clone();
    let listed = match db(v.state, move |s| s.devices_of_account(&did)).await {
        Ok(l) => l,
        Err(e) => return v.error(&e),
    };
    let mut devices: Vec<Value> = listed
        .iter()
        .map(|(d, link)| {
            json!({
                "id": d.id,
                "current": d.id == v.device.id,
                "user_agent": d.user_agent,
                "ip": d.ip,
                "last_seen": view::utc(d.last_seen_at),
                "signed_in": view::utc(link.authenticated_at),
                "remember": link.remember,
            })
        })
        .collect();
    // This browser first.
    devices.sort_by_key(|d| !d["current"].as_bool().unwrap_or(false));
    let data = json!({
        "account": view::account(c, true),
        "section": "devices",
        "devices": devices,
        "done": done,
    });
    v.env().render(
        "account/devices.html",
        data,
        StatusCode::OK,
        &FormAction::self_only(),
    )
}

/// `GET /account/devices?account=DID`.
pub async fn get(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let v = match Visitor::get(&state, &req, false).await {
        Ok(Some((v, _))) => v,
        Ok(None) => return see_other(HOME_PATH),
        Err(e) => {
            let msgs = super::language(&state, &req, None);
            return super::error_page(&super::account_env(&state, msgs), &e);
        }
    };
    let q = query(&req);
    let Some(c) = v.selected(q.get("account")).cloned() else {
        return see_other(&format!("{HOME_PATH}?next=devices"));
    };
    let done = view::done_message(v.msgs, q.get("done"));
    page(&v, &c, done).await
}

/// `POST /account/devices/sign-out`: `account`, `device` (another
/// browser's id, as listed).
pub async fn sign_out(
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
    let Some(device_id) = form.get("device").map(str::to_string) else {
        return v.error(&PageError::BadRequest("error.bad_form"));
    };
    if device_id == v.device.id {
        return v.error(&PageError::BadRequest("error.current_device"));
    }
    let did = c.account.did.clone();
    let target = device_id.clone();
    match db(&state, move |s| s.remove_device_account(&target, &did)).await {
        Ok(removed) => {
            tracing::info!(sub = %c.account.did, device = %device_id, removed, "account pages: another device signed out");
            see_other(&page_url(
                DEVICES_PATH,
                c.account.did.as_str(),
                Some("device_signed_out"),
            ))
        }
        Err(e) => v.error(&e),
    }
}
