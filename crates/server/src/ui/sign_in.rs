//! `POST /oauth/authorize/sign-in`: handle or DID + password.
//!
//! After the POST checks ([`load_post`]): the rate limit (429 +
//! `Retry-After`, no password work), then argon2id verification on the
//! blocking pool. An unknown identifier, an unparseable one and a disabled
//! account all burn the same work as a real verification and get the very
//! same page as a wrong password. On success: the device's secret is
//! rotated (new cookie), the account is signed in on the device
//! (`remember` as ticked), and the flow goes on to consent.
//!
//! `login_hint` limits the sign-in to the hinted account: a correct
//! password for another account signs nothing in.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use atauth_core::identity::AccountRef;
use atauth_core::password::{burn_verification, verify_password};
use atauth_core::store::{Account, AccountStore, DeviceAccount, DeviceStore};

use super::consent::{flow_input, proceed};
use super::device::{self, Visit};
use super::flow::{self, Candidate};
use super::pages::{self, PageEnv, PageError, SignInForm};
use super::rate_limit::{retry_after_secs, LimitKey};
use super::request::{candidates, db, load_post, Pending};
use crate::state::AppState;

/// Longest identifier read. Policy (handles are ≤ 253, DIDs ≤ 2 KiB but
/// account DIDs are short).
const MAX_IDENTIFIER_LEN: usize = 256;

/// The account an identifier names, and the rate-limit key for it: the
/// DID when the account exists, the normalised identifier otherwise.
fn lookup(
    store: &atauth_store::Store,
    identifier: &str,
) -> Result<(Option<Account>, String), atauth_core::store::StoreError> {
    let account = match AccountRef::parse(identifier) {
        Ok(AccountRef::Did(did)) => store.account_by_did(&did)?,
        Ok(AccountRef::Handle(handle)) => store.account_by_handle(&handle)?,
        Err(_) => None,
    };
    let key = match &account {
        Some(a) => a.did.as_str().to_string(),
        None => identifier.trim().to_ascii_lowercase(),
    };
    Ok((account, key))
}

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
    let identifier: Option<String> = posted
        .form
        .get("identifier")
        .map(|s| {
            s.trim()
                .chars()
                .take(MAX_IDENTIFIER_LEN)
                .collect::<String>()
        })
        .filter(|s| !s.is_empty());
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

    let ident = identifier.clone();
    let (account, account_key) = match db(&state, move |s| lookup(s, &ident)).await {
        Ok(v) => v,
        Err(e) => return pages::error_page(&env, &e),
    };
    let ip_key = LimitKey::Ip(device::client_ip(&req).unwrap_or_else(|| "unknown".into()));
    let account_key = LimitKey::Account(account_key);
    if let Err(wait) = state
        .ui
        .limiter
        .check(&[ip_key.clone(), account_key.clone()])
    {
        return pages::error_page(&env, &PageError::RateLimited(retry_after_secs(wait)));
    }

    let candidate_account = account.filter(Account::is_active);
    let hash = candidate_account.as_ref().map(|a| a.password_hash.clone());
    let verified = web::block(move || match hash {
        Some(h) => verify_password(&password, &h).unwrap_or_else(|e| {
            tracing::error!(error = %e, "stored password hash is unusable");
            false
        }),
        None => {
            burn_verification(&password);
            false
        }
    })
    .await
    .unwrap_or(false);
    let Some(account) = candidate_account.filter(|_| verified) else {
        state.ui.limiter.record_failure(&ip_key);
        state.ui.limiter.record_failure(&account_key);
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
    };
    state.ui.limiter.reset(&account_key);

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
