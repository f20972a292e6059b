//! `POST /oauth/authorize/sign-in`: handle or DID + password.
//!
//! After the POST checks ([`load_post`]), the password check of
//! [`super::credentials`]: the rate limit (429 + `Retry-After`, no password
//! work), then argon2id verification on the blocking pool. An unknown identifier, an unparseable one and a disabled
//! account all burn the same work as a real verification and get the very
//! same page as a wrong password. On success: the device's secret is
//! rotated (new cookie), the account is signed in on the device
//! (`remember` as ticked), and the flow goes on to consent.
//!
//! `login_hint` limits the sign-in to the hinted account: a correct
//! password for another account signs nothing in.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use atauth_core::store::{DeviceAccount, DeviceStore};

use super::consent::{flow_input, proceed};
use super::credentials::{self, Checked};
use super::device::{self, Visit};
use super::flow::{self, Candidate};
use super::pages::{self, PageEnv, PageError, SignInForm};
use super::request::{candidates, db, load_post, Pending};
use crate::state::AppState;

/// Re-show the form with a message: the chooser when accounts are usable
/// here (the form is inside it), the sign-in page otherwise. What is shown
/// depends only on the device and the request, never on whether the
/// identifier named an account.
async fn again(
    state: &AppState,
    env: &PageEnv<'_>,
    p: &Pending,
    form: &SignInForm,
    message: String,
    now: i64,
) -> HttpResponse {
    let device_id = p.device.id.clone();
    let cands = match db(state, move |s| candidates(s, &device_id)).await {
        Ok(c) => c,
        Err(e) => return pages::error_page(env, &e),
    };
    let usable = flow::usable_accounts(&flow_input(state, p, now), &cands);
    if usable.is_empty() {
        pages::sign_in(env, p, form, Some(message), StatusCode::BAD_REQUEST)
    } else {
        pages::chooser(
            env,
            p,
            &usable,
            form,
            Some(message),
            StatusCode::BAD_REQUEST,
        )
    }
}

/// `POST /oauth/authorize/sign-in`.
pub async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let now = state.now();
    let (posted, msgs) = match load_post(&state, &req, payload, now).await {
        Ok(v) => v,
        Err((e, msgs)) => return pages::error_page(&PageEnv::bare(&state, msgs), &e),
    };
    let p = &posted.pending;
    let env = PageEnv::for_request(&state, msgs, p);
    let hint = p.request.params.login_hint.clone();
    let identifier = credentials::identifier(posted.form.get("identifier"));
    let password = posted.form.get("password").map(str::to_string);
    let remember = posted.form.get("remember").is_some();
    let form = SignInForm {
        identifier: hint
            .clone()
            .or_else(|| identifier.clone())
            .unwrap_or_default(),
        locked: hint.is_some(),
        remember,
    };
    let (Some(identifier), Some(password)) = (identifier, password) else {
        return again(
            &state,
            &env,
            p,
            &form,
            msgs.get("sign_in.missing").to_string(),
            now,
        )
        .await;
    };

    let account = match credentials::check(&state, &req, &identifier, password).await {
        Ok(Checked::Valid(account)) => *account,
        Ok(Checked::Invalid) => {
            tracing::info!(client_id = %p.request.client_id, "sign-in failed");
            return again(
                &state,
                &env,
                p,
                &form,
                msgs.get("sign_in.failed").to_string(),
                now,
            )
            .await;
        }
        Err(e) => return pages::error_page(&env, &e),
    };

    if !flow::matches_hint(&account, hint.as_deref()) {
        let client = env
            .common
            .get("client")
            .and_then(|c| c.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or("");
        let message = msgs.fill(
            "sign_in.wrong_account",
            &[
                ("client", client),
                ("account", hint.as_deref().unwrap_or("")),
            ],
        );
        return again(&state, &env, p, &form, message, now).await;
    }

    let link = DeviceAccount {
        device_id: p.device.id.clone(),
        did: account.did.clone(),
        authenticated_at: now,
        remember,
    };
    let visit = Visit::of(&req);
    let stored_link = link.clone();
    let device_id = p.device.id.clone();
    let rotated = db(&state, move |s| {
        let secret = device::rotate(s, &device_id)?;
        s.upsert_device_account(&stored_link)?;
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
        Ok(None) => return pages::error_page(&env, &PageError::Forbidden("error.no_device")),
        Err(e) => return pages::error_page(&env, &e),
    };
    tracing::info!(client_id = %p.request.client_id, sub = %account.did, remember, "signed in");
    let candidate = Candidate { account, link };
    let mut resp = proceed(&state, &env, p, &candidate, now).await;
    if let Err(e) = resp.add_cookie(&device::cookie(&secret, state.ui.policy.secure_cookies)) {
        tracing::error!(error = %e, "could not set the device cookie");
    }
    resp
}
