//! Email codes on the pages (issue 13): sending one (issue, store its
//! hash, queue the message) and checking one typed by a person, under the
//! sign-in rate limits of [`super::rate_limit`].
//!
//! The rules themselves are `atauth_core::email_code`. Here: a wrong,
//! expired, spent or missing code counts as a failed sign-in against the
//! client IP and the account (DID), exactly as a wrong password does; while
//! either is locked out the code is not even looked at (429 with
//! `Retry-After`); a right code clears the account's count.
//!
//! Used by the account pages (email verification, password reset) and by
//! the sign-in's second factor (purpose `SignIn`).

use actix_web::HttpRequest;
use atauth_core::email_code::{self, CodeRefusal, EmailCodePurpose};
use atauth_core::identity::Did;
use atauth_core::store::{Account, EmailCodeStore, StoreResult, StoredEmailCode};
use atauth_store::Store;

use super::device;
use super::pages::PageError;
use super::rate_limit::{retry_after_secs, LimitKey};
use super::request::db;
use crate::mail::{MailContent, MailError, Receipt};
use crate::state::AppState;

/// Why a code was not sent.
#[derive(Debug)]
pub enum SendError {
    /// The account has no email address.
    NoEmail,
    /// A code of this purpose went out less than
    /// `atauth_core::email_code::RESEND_INTERVAL_SECS` ago; it is still
    /// good, and no new one was sent.
    TooSoon,
    /// Mail is off, or the message could not be queued (logged).
    Mail(MailError),
    /// The store failed (logged by the caller as a page error).
    Page(PageError),
}

/// The account's address, when it has a usable one.
pub fn address(account: &Account) -> Option<&str> {
    account
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
}

/// Issue a code of `purpose` for `account`, store its hash (replacing the
/// account's earlier code of that purpose) and queue the message in
/// `lang`. Returns at once with the [`Receipt`] of the first delivery
/// attempt; never waits on the mail server. At most one code per
/// account and purpose a minute ([`SendError::TooSoon`]).
pub async fn send(
    state: &AppState,
    account: &Account,
    purpose: EmailCodePurpose,
    lang: &str,
) -> Result<Receipt, SendError> {
    let mailer = &state.deployment.mailer;
    if !mailer.is_enabled() {
        return Err(SendError::Mail(MailError::Disabled));
    }
    let email = address(account).ok_or(SendError::NoEmail)?.to_string();
    let (did, now, to) = (account.did.clone(), state.now(), email.clone());
    let issued = db(state, move |s| {
        if !email_code::may_issue(s.email_code(&did, purpose)?.as_ref(), now) {
            return Ok(None);
        }
        let issued = email_code::issue(&did, purpose, &to, now);
        s.purge_email_codes(now)?;
        s.put_email_code(&issued.record)?;
        Ok(Some(issued))
    })
    .await
    .map_err(SendError::Page)?;
    let Some(issued) = issued else {
        tracing::info!(sub = %account.did, purpose = purpose.as_str(), "email code not sent: the last one is less than a minute old");
        return Err(SendError::TooSoon);
    };
    let content = MailContent::Code {
        purpose,
        code: issued.code,
        handle: account.handle.as_str().to_string(),
    };
    let receipt = match mailer.send(&email, lang, &content) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(sub = %account.did, kind = content.kind(), error = %e, "could not queue an email code");
            // Nothing will carry this code: withdraw it, so that asking
            // again is not refused as too soon.
            let id = issued.record.id;
            if let Err(e) = db(state, move |s| s.consume_email_code(&id)).await {
                tracing::error!(error = ?e, "could not withdraw an unsent email code");
            }
            return Err(SendError::Mail(e));
        }
    };
    tracing::info!(sub = %account.did, kind = content.kind(), "email code queued");
    Ok(receipt)
}

/// Check `presented` as the account's code of `purpose`, consuming it when
/// right. `Err(PageError::RateLimited)` while the IP or the account is
/// locked out.
pub async fn redeem(
    state: &AppState,
    req: &HttpRequest,
    did: &Did,
    purpose: EmailCodePurpose,
    presented: &str,
) -> Result<Result<StoredEmailCode, CodeRefusal>, PageError> {
    let (d, p, now) = (did.clone(), presented.to_string(), state.now());
    limited(state, req, did, purpose, move |s| {
        email_code::redeem(s, &d, purpose, &p, now)
    })
    .await
}

/// Check a `VerifyEmail` code and, when right, record the account's
/// current address as verified (see `atauth_core::email_code::verify_email`).
/// Returns the verified address.
pub async fn verify_email(
    state: &AppState,
    req: &HttpRequest,
    did: &Did,
    presented: &str,
) -> Result<Result<String, CodeRefusal>, PageError> {
    let (d, p, now) = (did.clone(), presented.to_string(), state.now());
    limited(state, req, did, EmailCodePurpose::VerifyEmail, move |s| {
        email_code::verify_email(s, &d, &p, now)
    })
    .await
}

/// Count a failed code check for an identifier that names no account, so
/// that unknown and known identifiers meet the same limits; `key` is the
/// normalised identifier. `Err(RateLimited)` when already locked out.
pub fn refuse_unknown(state: &AppState, req: &HttpRequest, key: &str) -> Result<(), PageError> {
    let keys = [ip_key(req), LimitKey::Account(key.to_string())];
    if let Err(wait) = state.ui.limiter.check(&keys) {
        state.metrics.sign_in_rate_limited();
        return Err(PageError::RateLimited(retry_after_secs(wait)));
    }
    state.metrics.sign_in_failure();
    for k in &keys {
        state.ui.limiter.record_failure(k);
    }
    Ok(())
}

fn ip_key(req: &HttpRequest) -> LimitKey {
    LimitKey::Ip(device::client_ip(req).unwrap_or_else(|| "unknown".into()))
}

/// Run a code check under the rate limits.
async fn limited<T, F>(
    state: &AppState,
    req: &HttpRequest,
    did: &Did,
    purpose: EmailCodePurpose,
    check: F,
) -> Result<Result<T, CodeRefusal>, PageError>
where
    F: FnOnce(&Store) -> StoreResult<Result<T, CodeRefusal>> + Send + 'static,
    T: Send + 'static,
{
    let ip = ip_key(req);
    let account = LimitKey::Account(did.as_str().to_string());
    if let Err(wait) = state.ui.limiter.check(&[ip.clone(), account.clone()]) {
        state.metrics.sign_in_rate_limited();
        return Err(PageError::RateLimited(retry_after_secs(wait)));
    }
    let outcome = db(state, check).await?;
    match &outcome {
        Ok(_) => state.ui.limiter.reset(&account),
        Err(refusal) => {
            tracing::info!(sub = %did, purpose = purpose.as_str(), refusal = ?refusal, "email code refused");
            state.metrics.sign_in_failure();
            state.ui.limiter.record_failure(&ip);
            state.ui.limiter.record_failure(&account);
        }
    }
    Ok(outcome)
}
