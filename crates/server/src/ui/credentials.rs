//! Checking a password, shared by the authorization sign-in and the
//! account pages (sign-in, password change, revoking every app).
//!
//! In order: the identifier names an account (or not); the rate limit of
//! the client IP and of the account is checked (429 + `Retry-After`, no
//! password work); argon2id verification runs on the blocking pool. An
//! unknown identifier, an unparseable one and a disabled account burn the
//! same work as a real verification and fail the same way as a wrong
//! password. A failure counts against the IP and the account; a success
//! clears the account's count (see [`super::rate_limit`]).

use actix_web::{web, HttpRequest};
use atauth_core::identity::AccountRef;
use atauth_core::password::{burn_verification, verify_password};
use atauth_core::store::{Account, AccountStore, StoreError};

use super::device;
use super::pages::PageError;
use super::rate_limit::{retry_after_secs, LimitKey};
use super::request::db;
use crate::state::AppState;

/// Longest identifier read. Policy (handles are ≤ 253, DIDs ≤ 2 KiB but
/// account DIDs are short).
pub const MAX_IDENTIFIER_LEN: usize = 256;

/// The outcome of a password check.
#[derive(Debug)]
pub enum Checked {
    /// The password is right for this active account.
    Valid(Box<Account>),
    /// Wrong password, unknown identifier or disabled account: the caller
    /// shows the same message for all three.
    Invalid,
}

/// The identifier as read from a form: trimmed, at most
/// [`MAX_IDENTIFIER_LEN`] characters, `None` when empty.
pub fn identifier(raw: Option<&str>) -> Option<String> {
    raw.map(|s| {
        s.trim()
            .chars()
            .take(MAX_IDENTIFIER_LEN)
            .collect::<String>()
    })
    .filter(|s| !s.is_empty())
}

/// The account an identifier names, and the rate-limit key for it: the
/// DID when the account exists, the normalised identifier otherwise.
fn lookup(
    store: &atauth_store::Store,
    identifier: &str,
) -> Result<(Option<Account>, String), StoreError> {
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

/// Check `password` for the account `identifier` (a handle or a DID) names.
/// `Err(PageError::RateLimited)` while the IP or the account is locked out.
pub async fn check(
    state: &AppState,
    req: &HttpRequest,
    identifier: &str,
    password: String,
) -> Result<Checked, PageError> {
    let ident = identifier.to_string();
    let (account, account_key) = db(state, move |s| lookup(s, &ident)).await?;
    let ip_key = LimitKey::Ip(device::client_ip(req).unwrap_or_else(|| "unknown".into()));
    let account_key = LimitKey::Account(account_key);
    if let Err(wait) = state
        .ui
        .limiter
        .check(&[ip_key.clone(), account_key.clone()])
    {
        state.metrics.sign_in_rate_limited();
        return Err(PageError::RateLimited(retry_after_secs(wait)));
    }

    let candidate = account.filter(Account::is_active);
    let hash = candidate.as_ref().map(|a| a.password_hash.clone());
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
    match candidate.filter(|_| verified) {
        Some(account) => {
            state.ui.limiter.reset(&account_key);
            Ok(Checked::Valid(Box::new(account)))
        }
        None => {
            state.metrics.sign_in_failure();
            state.ui.limiter.record_failure(&ip_key);
            state.ui.limiter.record_failure(&account_key);
            Ok(Checked::Invalid)
        }
    }
}
