//! Storage ports. Each trait states its contract in its doc comments; the
//! contract suite in `atauth-store` (store/tests/contract.rs) tests every
//! implementation against exactly these sentences.
//!
//! Traits are synchronous: implementations talk to an embedded or pooled
//! database and callers in async code run them on a blocking thread.
//! Timestamps are Unix seconds (`i64`), read from the clock at the edge.

use crate::identity::{Did, Handle};

mod device;
mod email;
pub mod memory;
mod request;
mod session;
mod trusted;

pub use device::{AuthorizedClient, AuthorizedClientStore, Device, DeviceAccount, DeviceStore};
pub use email::{EmailCodeStore, StoredEmailCode, VerifiedEmail};
pub use request::{AuthorizationParams, AuthorizationRequest, CodeConsumption, RequestStore};
pub use session::{OAuthSession, RefreshLookup, SessionStore};
pub use trusted::{TrustedClient, TrustedClientStore};

/// A storage failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the text names what collided
    /// (e.g. "handle", "did", "kid").
    #[error("already exists: {0}")]
    Conflict(String),
    /// The backend failed (connection, I/O, corrupt data). The text is for
    /// the log only.
    #[error("storage backend error: {0}")]
    Backend(String),
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account's DID; its primary key.
    pub did: Did,
    /// The account's handle, lowercase.
    pub handle: Handle,
    /// Optional email address.
    pub email: Option<String>,
    /// argon2id PHC string. Never logged.
    pub password_hash: String,
    /// When the account was created.
    pub created_at: i64,
    /// When the account was disabled, if it is.
    pub disabled_at: Option<i64>,
}

impl Account {
    /// Whether the account may sign in.
    pub fn is_active(&self) -> bool {
        self.disabled_at.is_none()
    }
}

/// Accounts: the people who sign in.
pub trait AccountStore {
    /// Insert a new account. Fails with `Conflict("did")` when the DID
    /// exists and `Conflict("handle")` when the handle exists (handles are
    /// stored lowercase, so uniqueness is case-insensitive); when both
    /// collide the DID wins (`Conflict("did")`). Nothing is written on
    /// failure. Emails need not be unique.
    fn create_account(&self, account: &Account) -> StoreResult<()>;

    /// The account with this DID, if any.
    fn account_by_did(&self, did: &Did) -> StoreResult<Option<Account>>;

    /// The account with this handle, if any.
    fn account_by_handle(&self, handle: &Handle) -> StoreResult<Option<Account>>;

    /// Every account, ordered by handle (byte order, whatever the locale).
    fn list_accounts(&self) -> StoreResult<Vec<Account>>;

    /// Replace the password hash. Returns false if no such account.
    fn set_password_hash(&self, did: &Did, password_hash: &str) -> StoreResult<bool>;

    /// Set or clear the disabled timestamp. Returns false if no such account.
    fn set_disabled(&self, did: &Did, disabled_at: Option<i64>) -> StoreResult<bool>;

    /// Delete the account. Returns false if there was none.
    fn delete_account(&self, did: &Did) -> StoreResult<bool>;
}

/// A signing key as stored: the private key is PKCS#8 DER.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Key id, unique, published in the JWKS and JWT headers.
    pub kid: String,
    /// JWS algorithm; always "ES256" today.
    pub alg: String,
    /// PKCS#8 DER of the private key. Never logged.
    pub private_pkcs8: Vec<u8>,
    /// When the key was created; the newest key signs.
    pub created_at: i64,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_pkcs8", &"<redacted>")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// The server's own signing keys.
pub trait KeyStore {
    /// Add a key. Fails with `Conflict("kid")` if the kid exists. Keys are
    /// never updated or silently replaced.
    fn insert_signing_key(&self, key: &StoredKey) -> StoreResult<()>;

    /// Every stored key, oldest first (ties broken by kid, byte order).
    fn list_signing_keys(&self) -> StoreResult<Vec<StoredKey>>;
}
