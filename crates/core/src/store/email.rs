//! Email codes and verified addresses (issue 13): the storage half of
//! [`crate::email_code`], whose rules decide what these calls mean.

use super::{Account, StoreResult};
use crate::email_code::EmailCodePurpose;
use crate::identity::Did;

/// An email code as stored: its hash, never its digits.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredEmailCode {
    /// Random id, unique; salts [`crate::email_code::code_hash`].
    pub id: String,
    /// The account.
    pub did: Did,
    /// What the code is for.
    pub purpose: EmailCodePurpose,
    /// The address it was sent to.
    pub email: String,
    /// `code_hash(id, digits)`. Never logged.
    pub code_hash: String,
    /// When it was issued.
    pub created_at: i64,
    /// At or after this it is refused.
    pub expires_at: i64,
    /// Tries taken so far.
    pub attempts: u32,
}

impl std::fmt::Debug for StoredEmailCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredEmailCode")
            .field("id", &self.id)
            .field("did", &self.did)
            .field("purpose", &self.purpose)
            .field("code_hash", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// The address an account proved it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEmail {
    /// The account.
    pub did: Did,
    /// The address, as it was when verified.
    pub email: String,
    /// When.
    pub verified_at: i64,
}

/// Email codes and verified addresses.
///
/// Contract:
/// - `put_email_code` stores a code and removes every earlier code of the
///   same account and purpose (one live code per account and purpose);
///   codes of other purposes or accounts are untouched. With a SQL backend
///   the account must exist.
/// - `email_code` returns the account's code of that purpose, expired or
///   not, with its attempts so far; `None` when there is none.
/// - `take_email_code_attempt(id, max)` adds one to the code's attempts
///   and returns true when it had fewer than `max`; otherwise (or when the
///   code is gone) it changes nothing and returns false. It is atomic: of
///   `n` concurrent calls on a code with `k` attempts, at most `max - k`
///   return true.
/// - `consume_email_code(id)` deletes the code and returns whether it was
///   there: of two concurrent calls exactly one returns true.
/// - `delete_email_codes(did)` deletes every code of the account and
///   returns how many went.
/// - `purge_email_codes(now)` deletes every code with `expires_at <= now`
///   and returns how many went.
/// - `set_verified_email` records (or replaces) the account's verified
///   address; `verified_email` reads it.
/// - `accounts_with_email` lists the accounts whose email equals the
///   given one, ignoring the case of ASCII letters, ordered by handle.
/// - Deleting the account deletes its codes and its verified address.
pub trait EmailCodeStore {
    /// Store a code, replacing the earlier one of its account and purpose.
    fn put_email_code(&self, code: &StoredEmailCode) -> StoreResult<()>;
    /// The account's code of this purpose.
    fn email_code(
        &self,
        did: &Did,
        purpose: EmailCodePurpose,
    ) -> StoreResult<Option<StoredEmailCode>>;
    /// Take one attempt on a code, if it has one left.
    fn take_email_code_attempt(&self, id: &str, max: u32) -> StoreResult<bool>;
    /// Delete a code; whether it was there.
    fn consume_email_code(&self, id: &str) -> StoreResult<bool>;
    /// Delete every code of an account.
    fn delete_email_codes(&self, did: &Did) -> StoreResult<u64>;
    /// Delete the expired codes.
    fn purge_email_codes(&self, now: i64) -> StoreResult<u64>;
    /// Record the account's verified address.
    fn set_verified_email(&self, did: &Did, email: &str, now: i64) -> StoreResult<()>;
    /// The account's verified address, if any.
    fn verified_email(&self, did: &Did) -> StoreResult<Option<VerifiedEmail>>;
    /// The accounts with this email.
    fn accounts_with_email(&self, email: &str) -> StoreResult<Vec<Account>>;
}
