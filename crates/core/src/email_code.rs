//! Email codes: short one-time codes mailed to an account's address, to
//! prove that the person at the keyboard reads that mailbox (issue 13,
//! parts 2, 5 and 7). One set of rules for every purpose: verifying the
//! address, resetting the password, and signing in with email as a second
//! factor.
//!
//! The rules, each enforced here once:
//! - **Random**: [`CODE_DIGITS`] decimal digits from the OS RNG
//!   (NIST SP 800-63B §5.1.3.1, "out-of-band authenticator": at least six
//!   digits, single use, short-lived).
//! - **Hashed at rest**: the store holds SHA-256 over the code's random id
//!   and the code ([`code_hash`]); a copy of the database yields no code.
//! - **Short-lived**: [`CODE_LIFETIME_SECS`] (10 minutes) from issue.
//! - **One live code per account and purpose**: issuing a new one replaces
//!   the old one (the store's contract).
//! - **Few attempts**: each try takes one of [`MAX_ATTEMPTS`] before the
//!   comparison, atomically in the store, so concurrent guesses cannot
//!   exceed the budget; past it even the right code is refused and a new
//!   code is needed.
//! - **Single use**: a matching code is consumed by a delete that only one
//!   of two racing redemptions wins.
//! - **Constant-time comparison** of the hashes (`subtle`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::identity::Did;
use crate::store::{EmailCodeStore, StoreResult, StoredEmailCode, VerifiedEmail};

/// Digits in a code. Policy: 8 (10^8 values; with [`MAX_ATTEMPTS`] per
/// code and the sign-in rate limits a guess is hopeless).
pub const CODE_DIGITS: usize = 8;
/// How long a code can be used, seconds. Policy: 10 minutes.
pub const CODE_LIFETIME_SECS: i64 = 600;
/// Tries per code, right or wrong, before a new code is needed. Policy.
pub const MAX_ATTEMPTS: u32 = 5;
/// Least time between two codes of one account and purpose, seconds: a
/// mailbox is not flooded by repeated requests, and the earlier code stays
/// good meanwhile. Policy: one minute.
pub const RESEND_INTERVAL_SECS: i64 = 60;

/// What a code is for. A code of one purpose never serves another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailCodePurpose {
    /// Prove the account's email address (then marked verified).
    VerifyEmail,
    /// Set a new password without the old one ("Forgot password?").
    ResetPassword,
    /// Email as a second factor at sign-in.
    SignIn,
}

impl EmailCodePurpose {
    /// Every purpose.
    pub const ALL: [EmailCodePurpose; 3] = [
        EmailCodePurpose::VerifyEmail,
        EmailCodePurpose::ResetPassword,
        EmailCodePurpose::SignIn,
    ];

    /// The stored name: `verify_email`, `reset_password`, `sign_in`.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailCodePurpose::VerifyEmail => "verify_email",
            EmailCodePurpose::ResetPassword => "reset_password",
            EmailCodePurpose::SignIn => "sign_in",
        }
    }

    /// The purpose of a stored name.
    pub fn parse(s: &str) -> Option<EmailCodePurpose> {
        EmailCodePurpose::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A code in clear, as mailed. Exists only between issue and the message;
/// `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailCode(String);

impl EmailCode {
    /// [`CODE_DIGITS`] random digits.
    pub fn generate() -> EmailCode {
        let mut rng = rand::rngs::OsRng;
        EmailCode(
            (0..CODE_DIGITS)
                .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
                .collect(),
        )
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For people: the digits in two groups of four (`1234 5678`).
    pub fn display(&self) -> String {
        let (a, b) = self.0.split_at(self.0.len() / 2);
        format!("{a} {b}")
    }
}

impl std::fmt::Debug for EmailCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmailCode(<redacted>)")
    }
}

/// The stored hash of `code` for the code record `id`: SHA-256 over a
/// label, the id (random per code, so it salts the hash) and the digits,
/// base64url.
pub fn code_hash(id: &str, code: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"atauth email code\0");
    h.update(id.as_bytes());
    h.update(b"\0");
    h.update(code.as_bytes());
    B64.encode(h.finalize())
}

/// What a person typed, as digits: spaces and hyphens are dropped (codes
/// are shown grouped); anything else than exactly [`CODE_DIGITS`] ASCII
/// digits is `None`.
pub fn normalize_input(input: &str) -> Option<String> {
    let digits: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .take(CODE_DIGITS + 1)
        .collect();
    (digits.len() == CODE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// A freshly issued code: the digits to mail and the record to store.
#[derive(Debug)]
pub struct IssuedCode {
    /// The digits, for the message only.
    pub code: EmailCode,
    /// What the store keeps (the hash, never the digits).
    pub record: StoredEmailCode,
}

/// Issue a code for `did` and `purpose`, to be mailed to `email`. Nothing is
/// stored: pass the record to [`EmailCodeStore::put_email_code`] (or use
/// [`issue_and_store`]).
pub fn issue(did: &Did, purpose: EmailCodePurpose, email: &str, now: i64) -> IssuedCode {
    let code = EmailCode::generate();
    let mut id_bytes = [0u8; 16];
    rand::Rng::fill(&mut rand::rngs::OsRng, &mut id_bytes);
    let id = format!("ec-{}", B64.encode(id_bytes));
    let record = StoredEmailCode {
        code_hash: code_hash(&id, code.as_str()),
        id,
        did: did.clone(),
        purpose,
        email: email.to_string(),
        created_at: now,
        expires_at: now + CODE_LIFETIME_SECS,
        attempts: 0,
    };
    IssuedCode { code, record }
}

/// Whether a new code may be issued now, given the account's current code
/// of that purpose: not within [`RESEND_INTERVAL_SECS`] of the last one
/// (unless that one is spent: used up attempts).
pub fn may_issue(current: Option<&StoredEmailCode>, now: i64) -> bool {
    match current {
        None => true,
        Some(c) => c.attempts >= MAX_ATTEMPTS || now - c.created_at >= RESEND_INTERVAL_SECS,
    }
}

/// Issue a code and store it (replacing the account's earlier code of the
/// same purpose); expired codes of every account are purged on the way.
pub fn issue_and_store(
    store: &impl EmailCodeStore,
    did: &Did,
    purpose: EmailCodePurpose,
    email: &str,
    now: i64,
) -> StoreResult<EmailCode> {
    let issued = issue(did, purpose, email, now);
    store.purge_email_codes(now)?;
    store.put_email_code(&issued.record)?;
    Ok(issued.code)
}

/// Why a presented code was refused. The pages show one message for all
/// of them; the distinction is for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    /// No live code of this purpose for the account (never sent, already
    /// used, or replaced).
    NoCode,
    /// The code's ten minutes are over.
    Expired,
    /// Its attempts are used up: a new code is needed.
    Exhausted,
    /// Not the code (or not digits at all). One attempt was spent.
    Wrong,
}

/// Redeem a code typed by a person, in the order of the module rules:
/// the live code of `did` and `purpose` → unexpired → one attempt taken
/// (atomically; none left: `Exhausted`) → constant-time comparison →
/// consumed (only one redemption wins). On success the consumed record is
/// returned (its `email` is the address the code was sent to).
pub fn redeem(
    store: &impl EmailCodeStore,
    did: &Did,
    purpose: EmailCodePurpose,
    presented: &str,
    now: i64,
) -> StoreResult<Result<StoredEmailCode, CodeRefusal>> {
    let Some(record) = store.email_code(did, purpose)? else {
        return Ok(Err(CodeRefusal::NoCode));
    };
    if now >= record.expires_at {
        return Ok(Err(CodeRefusal::Expired));
    }
    if !store.take_email_code_attempt(&record.id, MAX_ATTEMPTS)? {
        return Ok(Err(CodeRefusal::Exhausted));
    }
    // Malformed input is compared too (as an impossible value), so its
    // cost and its attempt are those of a wrong code.
    let digits = normalize_input(presented).unwrap_or_default();
    let presented_hash = code_hash(&record.id, &digits);
    let matches: bool = presented_hash
        .as_bytes()
        .ct_eq(record.code_hash.as_bytes())
        .into();
    if !matches || digits.is_empty() {
        return Ok(Err(CodeRefusal::Wrong));
    }
    if !store.consume_email_code(&record.id)? {
        return Ok(Err(CodeRefusal::NoCode));
    }
    Ok(Ok(record))
}

/// Whether the account's current address is verified: the verified address
/// recorded for it equals its email (ASCII case and surrounding spaces
/// ignored). Changing the
/// address therefore needs a new verification.
pub fn is_email_verified(email: Option<&str>, verified: Option<&VerifiedEmail>) -> bool {
    match (email, verified) {
        (Some(e), Some(v)) => !e.trim().is_empty() && e.trim().eq_ignore_ascii_case(v.email.trim()),
        _ => false,
    }
}

/// Redeem a `VerifyEmail` code and, when it is right and was sent to the
/// account's current address, record that address as verified. Returns
/// the refusal otherwise (a code sent to an address the account no longer
/// has counts as [`CodeRefusal::NoCode`]).
pub fn verify_email(
    store: &(impl EmailCodeStore + crate::store::AccountStore),
    did: &Did,
    presented: &str,
    now: i64,
) -> StoreResult<Result<String, CodeRefusal>> {
    let record = match redeem(store, did, EmailCodePurpose::VerifyEmail, presented, now)? {
        Ok(r) => r,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let current = store.account_by_did(did)?.and_then(|a| a.email);
    match current {
        Some(e) if e.trim().eq_ignore_ascii_case(record.email.trim()) => {
            let e = e.trim().to_string();
            store.set_verified_email(did, &e, now)?;
            Ok(Ok(e))
        }
        _ => Ok(Err(CodeRefusal::NoCode)),
    }
}

#[cfg(test)]
#[path = "email_code_tests.rs"]
mod tests;
