//! Email verification (issue 13, part 2): `GET /account/email`,
//! `POST /account/email/send`, `POST /account/email/verify`.
//!
//! The page shows the account's address and whether it is verified; "Send
//! a code" mails a `VerifyEmail` code (at most one a minute); the code,
//! typed back, marks the address verified (`atauth_core::email_code`).
//! Wrong codes count toward the sign-in rate limits. Sending never makes
//! the page fail: when the first delivery attempt fails the page says the
//! code could not be sent (503), and the queue keeps trying.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use atauth_core::email_code::{is_email_verified, EmailCodePurpose, CODE_DIGITS};
use atauth_core::store::EmailCodeStore;
use serde_json::json;

use super::super::email_code::{self, SendError};
use super::super::flow::Candidate;
use super::super::headers::FormAction;
use super::super::pages::PageError;
use super::super::request::db;
use super::{page_url, query, see_other, view, Visitor, EMAIL_PATH, HOME_PATH};
use crate::mail::{Delivery, FIRST_ATTEMPT_WAIT};
use crate::state::AppState;

/// The email page of an account.
async fn page(
    v: &Visitor<'_>,
    c: &Candidate,
    error: Option<String>,
    done: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let did = c.account.did.clone();
    let verified = match db(v.state, move |s| s.verified_email(&did)).await {
        Ok(found) => found,
        Err(e) => return v.error(&e),
    };
    let address = email_code::address(&c.account);
    let data = json!({
        "account": view::account(c, true),
        "section": "email",
        "address": address,
        "verified": is_email_verified(address, verified.as_ref()),
        "mail_enabled": v.state.deployment.mailer.is_enabled(),
        "digits": CODE_DIGITS,
        "error": error,
        "done": done,
    });
    v.env()
        .render("account/email.html", data, status, &FormAction::self_only())
}

/// `GET /account/email[?account=DID]`.
pub async fn get(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let v = match Visitor::get(&state, &req, false).await {
        Ok(Some((v, _))) => v,
        Ok(None) => return see_other(&format!("{HOME_PATH}?next=email")),
        Err(e) => {
            let msgs = super::language(&state, &req, None);
            return super::error_page(&super::account_env(&state, msgs), &e);
        }
    };
    let q = query(&req);
    let Some(c) = v.selected(q.get("account")).cloned() else {
        return see_other(&format!("{HOME_PATH}?next=email"));
    };
    let done = view::done_message(v.msgs, q.get("done"));
    page(&v, &c, None, done, StatusCode::OK).await
}

/// `POST /account/email/send`: `account`.
pub async fn send(
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
    let could_not_send = |v: &Visitor<'_>| v.msgs.get("email.could_not_send").to_string();
    match email_code::send(
        &state,
        &c.account,
        EmailCodePurpose::VerifyEmail,
        v.msgs.lang,
    )
    .await
    {
        Ok(receipt) => match receipt.first_attempt(FIRST_ATTEMPT_WAIT).await {
            Delivery::Sent | Delivery::Pending => see_other(&page_url(
                EMAIL_PATH,
                c.account.did.as_str(),
                Some("email_code_sent"),
            )),
            Delivery::Failed => {
                let msg = could_not_send(&v);
                page(&v, &c, Some(msg), None, StatusCode::SERVICE_UNAVAILABLE).await
            }
        },
        Err(SendError::TooSoon) => {
            let msg = v.msgs.get("email.too_soon").to_string();
            page(&v, &c, Some(msg), None, StatusCode::TOO_MANY_REQUESTS).await
        }
        Err(SendError::NoEmail) => {
            let msg = v.msgs.get("email.no_address").to_string();
            page(&v, &c, Some(msg), None, StatusCode::BAD_REQUEST).await
        }
        Err(SendError::Mail(_)) => {
            let msg = could_not_send(&v);
            page(&v, &c, Some(msg), None, StatusCode::SERVICE_UNAVAILABLE).await
        }
        Err(SendError::Page(e)) => v.error(&e),
    }
}

/// `POST /account/email/verify`: `account`, `code`.
pub async fn verify(
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
    let typed = form.get("code").unwrap_or_default();
    match email_code::verify_email(&state, &req, &c.account.did, typed).await {
        Ok(Ok(_)) => {
            tracing::info!(sub = %c.account.did, "account pages: email address verified");
            see_other(&page_url(
                EMAIL_PATH,
                c.account.did.as_str(),
                Some("email_verified"),
            ))
        }
        Ok(Err(_)) => {
            let msg = v.msgs.get("email.wrong_code").to_string();
            page(&v, &c, Some(msg), None, StatusCode::BAD_REQUEST).await
        }
        Err(e) => v.error(&e),
    }
}
