//! "Forgot password?" (issue 13, part 2): `GET`/`POST /account/reset`,
//! `POST /account/reset/confirm`.
//!
//! 1. The person gives a handle, a DID or an email address. The answer is
//!    the same page whether or not it names an account, and it is sent
//!    before anything depends on the account: the lookup, the code and the
//!    message happen afterwards in a background task. Nothing is sent for
//!    an unknown identifier, a disabled account, an account without an
//!    address, an address shared by several accounts (use the handle), or
//!    within a minute of the previous code.
//! 2. The code from the message, with the new password (twice), sets the
//!    password. A wrong, expired or spent code, or an identifier that names
//!    no account, gets one and the same refusal and counts as a failed
//!    sign-in (rate limits of [`super::super::rate_limit`], keyed by DID or
//!    by the identifier as for passwords). "Sign out every device and app"
//!    (ticked by default) then signs the account out of every browser and
//!    ends every app's session and approval, as the password page's
//!    "revoke every app" does. A right code also proves the address:
//!    it is recorded as verified.
//!
//! A `request_uri` carried from the authorization sign-in page leads back
//! to that request afterwards (when it still exists on this browser).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use atauth_core::email_code::{EmailCodePurpose, CODE_DIGITS};
use atauth_core::identity::AccountRef;
use atauth_core::ids::RequestId;
use atauth_core::metadata::paths;
use atauth_core::password::{hash_password, PasswordError, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};
use atauth_core::store::{
    Account, AccountStore, DeviceStore, EmailCodeStore, RequestStore, StoreResult,
};
use atauth_store::Store;
use serde_json::{json, Value};

use super::super::credentials;
use super::super::email_code::{self, SendError};
use super::super::headers::FormAction;
use super::super::pages::PageError;
use super::super::request::db;
use super::apps::revoke_access;
use super::{see_other, with_cookie, Visitor, HOME_PATH};
use crate::state::AppState;

/// The account an identifier names, if it may reset its password: a DID,
/// a handle, or an email address held by exactly one account; active, with
/// an address.
pub fn find_account(store: &Store, identifier: &str) -> StoreResult<Option<Account>> {
    let found = if identifier.contains('@') && !identifier.starts_with("did:") {
        let mut all = store.accounts_with_email(identifier)?;
        if all.len() > 1 {
            tracing::info!(
                accounts = all.len(),
                "password reset by an address several accounts share: nothing sent"
            );
            return Ok(None);
        }
        all.pop()
    } else {
        match AccountRef::parse(identifier) {
            Ok(AccountRef::Did(did)) => store.account_by_did(&did)?,
            Ok(AccountRef::Handle(handle)) => store.account_by_handle(&handle)?,
            Err(_) => None,
        }
    };
    Ok(found.filter(|a| a.is_active() && email_code::address(a).is_some()))
}

/// The `request_uri` to return to, when it has the form of one.
fn return_to(raw: Option<&str>) -> Option<String> {
    raw.and_then(RequestId::from_request_uri)
        .map(|id| id.request_uri())
}

/// Render one step of the reset pages.
fn render(v: &Visitor<'_>, step: &str, extra: Value, status: StatusCode) -> HttpResponse {
    let mut data = json!({
        "step": step,
        "error": null,
        "request_uri": null,
        "identifier": "",
        "sign_out_all": true,
        "signed_out": false,
        "back": null,
        "mail_enabled": v.state.deployment.mailer.is_enabled(),
        "digits": CODE_DIGITS,
        "min": MIN_PASSWORD_LEN,
        "max": MAX_PASSWORD_LEN,
    });
    if let (Value::Object(d), Value::Object(e)) = (&mut data, extra) {
        d.extend(e);
    }
    v.env()
        .render("account/reset.html", data, status, &FormAction::self_only())
}

/// The code step: the form for the code and the new password.
fn code_step(
    v: &Visitor<'_>,
    identifier: &str,
    request_uri: Option<&str>,
    sign_out_all: bool,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    render(
        v,
        "code",
        json!({
            "identifier": identifier,
            "request_uri": request_uri,
            "sign_out_all": sign_out_all,
            "error": error,
        }),
        status,
    )
}

/// `GET /account/reset[?request_uri=…]`: creates the device (and its
/// cookie) on a first visit, for the CSRF token.
pub async fn get(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let (v, secret) = match Visitor::get(&state, &req, true).await {
        Ok(Some(found)) => found,
        Ok(None) => return see_other(HOME_PATH),
        Err(e) => {
            let msgs = super::language(&state, &req, None);
            return super::error_page(&super::account_env(&state, msgs), &e);
        }
    };
    let q = super::query(&req);
    let resp = render(
        &v,
        "ask",
        json!({ "request_uri": return_to(q.get("request_uri")) }),
        StatusCode::OK,
    );
    with_cookie(&state, resp, secret)
}

/// `POST /account/reset`: `identifier` (handle, DID or email), optional
/// `request_uri`. Answers the code step at once, the same for everyone.
pub async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let (v, form) = match Visitor::posted(&state, &req, payload).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let request_uri = return_to(form.get("request_uri"));
    if !state.deployment.mailer.is_enabled() {
        return render(
            &v,
            "ask",
            json!({ "request_uri": request_uri }),
            StatusCode::SERVICE_UNAVAILABLE,
        );
    }
    let Some(identifier) = credentials::identifier(form.get("identifier")) else {
        let error = v.msgs.get("reset.missing").to_string();
        return render(
            &v,
            "ask",
            json!({ "request_uri": request_uri, "error": error }),
            StatusCode::BAD_REQUEST,
        );
    };
    // The rest happens after the answer: its time and content do not
    // depend on whether the identifier names an account.
    let background = state.clone();
    let (ident, lang) = (identifier.clone(), v.msgs.lang);
    actix_web::rt::spawn(async move {
        send_reset_code(&background, &ident, lang).await;
    });
    code_step(
        &v,
        &identifier,
        request_uri.as_deref(),
        true,
        None,
        StatusCode::OK,
    )
}

/// Look the identifier up and mail a reset code when it names an account
/// that may reset (see [`find_account`]). Logs, never answers.
async fn send_reset_code(state: &AppState, identifier: &str, lang: &'static str) {
    let ident = identifier.to_string();
    let account = match db(state, move |s| find_account(s, &ident)).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            tracing::info!("password reset asked for no resettable account: nothing sent");
            return;
        }
        Err(e) => {
            tracing::error!(error = ?e, "password reset: account lookup failed");
            return;
        }
    };
    match email_code::send(state, &account, EmailCodePurpose::ResetPassword, lang).await {
        Ok(_) => tracing::info!(sub = %account.did, "password reset code queued"),
        Err(SendError::TooSoon) | Err(SendError::NoEmail) => {}
        Err(SendError::Mail(e)) => {
            tracing::error!(sub = %account.did, error = %e, "password reset code not sent")
        }
        Err(SendError::Page(e)) => {
            tracing::error!(sub = %account.did, error = ?e, "password reset code not sent")
        }
    }
}

/// `POST /account/reset/confirm`: `identifier`, `code`, `new`, `confirm`,
/// optional `sign_out_all` and `request_uri`.
pub async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let (v, form) = match Visitor::posted(&state, &req, payload).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let request_uri = return_to(form.get("request_uri"));
    let sign_out_all = form.get("sign_out_all").is_some();
    let identifier = credentials::identifier(form.get("identifier")).unwrap_or_default();
    let refuse = |key: &str, status: StatusCode| {
        let message = v.msgs.fill(
            key,
            &[
                ("min", &MIN_PASSWORD_LEN.to_string()),
                ("max", &MAX_PASSWORD_LEN.to_string()),
            ],
        );
        code_step(
            &v,
            &identifier,
            request_uri.as_deref(),
            sign_out_all,
            Some(message),
            status,
        )
    };
    let (Some(code), Some(new), Some(confirm)) =
        (form.get("code"), form.get("new"), form.get("confirm"))
    else {
        return refuse("reset.missing_code", StatusCode::BAD_REQUEST);
    };
    if identifier.is_empty() {
        return refuse("reset.missing_code", StatusCode::BAD_REQUEST);
    }
    if new != confirm {
        return refuse("password.mismatch", StatusCode::BAD_REQUEST);
    }
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&new.chars().count()) {
        return refuse("password.bad_length", StatusCode::BAD_REQUEST);
    }
    let ident = identifier.clone();
    let account = match db(&state, move |s| find_account(s, &ident)).await {
        Ok(a) => a,
        Err(e) => return v.error(&e),
    };
    let Some(account) = account else {
        let key = identifier.to_ascii_lowercase();
        return match email_code::refuse_unknown(&state, &req, &key) {
            Ok(()) => refuse("reset.wrong_code", StatusCode::BAD_REQUEST),
            Err(e) => v.error(&e),
        };
    };
    let did = account.did.clone();
    let record =
        match email_code::redeem(&state, &req, &did, EmailCodePurpose::ResetPassword, code).await {
            Ok(Ok(record)) => record,
            Ok(Err(_)) => return refuse("reset.wrong_code", StatusCode::BAD_REQUEST),
            Err(e) => return v.error(&e),
        };
    let new = new.to_string();
    let hash = match web::block(move || hash_password(&new)).await {
        Ok(Ok(h)) => h,
        Ok(Err(PasswordError::BadLength)) => {
            return refuse("password.bad_length", StatusCode::BAD_REQUEST)
        }
        Ok(Err(e)) => return v.error(&PageError::Server(format!("hashing: {e}"))),
        Err(e) => return v.error(&PageError::Server(format!("blocking task: {e}"))),
    };
    let (now, email) = (v.now, account.email.clone());
    let changed = db(&state, move |s| {
        if !s.set_password_hash(&did, &hash)? {
            return Ok(None);
        }
        if email
            .as_deref()
            .is_some_and(|e| e.trim().eq_ignore_ascii_case(record.email.trim()))
        {
            s.set_verified_email(&did, &record.email, now)?;
        }
        if !sign_out_all {
            return Ok(Some((0, None)));
        }
        let mut devices = 0u64;
        for (device, _) in s.devices_of_account(&did)? {
            devices += u64::from(s.remove_device_account(&device.id, &did)?);
        }
        Ok(Some((devices, Some(revoke_access(s, &did, None)?))))
    })
    .await;
    let (devices, revoked) = match changed {
        Ok(Some(done)) => done,
        Ok(None) => return refuse("reset.wrong_code", StatusCode::BAD_REQUEST),
        Err(e) => return v.error(&e),
    };
    tracing::info!(
        sub = %account.did,
        devices_signed_out = devices,
        sessions_revoked = revoked.map(|r| r.0),
        "password reset with an email code"
    );
    let back = match request_uri {
        Some(uri) => authorization_link(&state, &v, &uri).await,
        None => None,
    };
    render(
        &v,
        "done",
        json!({
            "signed_out": sign_out_all,
            "back": back,
        }),
        StatusCode::OK,
    )
}

/// The link back into an authorization request still pending on this
/// browser, if it is one.
async fn authorization_link(state: &AppState, v: &Visitor<'_>, uri: &str) -> Option<String> {
    let id = RequestId::from_request_uri(uri)?;
    let device = v.device.id.clone();
    let now = v.now;
    let request = db(state, move |s| s.get_request(id.as_str()))
        .await
        .ok()
        .flatten()?;
    let usable = request.code_hash.is_none()
        && now < request.expires_at
        && request.device_id.as_deref().is_none_or(|d| d == device);
    usable.then(|| {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &request.client_id)
            .append_pair("request_uri", uri)
            .finish();
        format!("{}?{q}", paths::AUTHORIZE)
    })
}
