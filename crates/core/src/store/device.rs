//! Browser devices (the sign-in cookie), the accounts signed in on each,
//! and what each account has approved for each client.

use super::StoreResult;
use crate::identity::Did;

/// A browser that has visited the sign-in pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// `DeviceId` string (`dev-…`), public.
    pub id: String,
    /// SHA-256 of the cookie secret.
    pub secret_hash: String,
    /// Last seen user agent (truncated by the caller).
    pub user_agent: Option<String>,
    /// Last seen client IP.
    pub ip: Option<String>,
    /// First seen.
    pub created_at: i64,
    /// Last seen.
    pub last_seen_at: i64,
}

/// An account signed in on a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAccount {
    /// The device.
    pub device_id: String,
    /// The account.
    pub did: Did,
    /// When the password was last checked on this device.
    pub authenticated_at: i64,
    /// Whether the user asked to stay signed in.
    pub remember: bool,
}

/// What an account approved for a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedClient {
    /// The account.
    pub did: Did,
    /// The client.
    pub client_id: String,
    /// Scopes approved, normalised, space-separated.
    pub scope: String,
    /// First approval.
    pub created_at: i64,
    /// Last approval.
    pub updated_at: i64,
}

/// Devices and their signed-in accounts.
///
/// Contract:
/// - `create_device` inserts; `device_by_secret` finds by secret hash.
/// - `rotate_device_secret` replaces the secret hash (sign-in rotates the
///   cookie: no session fixation); the old hash no longer finds the device.
/// - `touch_device` updates last seen, user agent and IP.
/// - `upsert_device_account` signs an account in (or refreshes
///   `authenticated_at`/`remember`); `remove_device_account` signs it out.
/// - `device_accounts` lists a device's accounts, most recent first.
/// - `devices_of_account` lists the devices an account is signed in on.
/// - `delete_device` removes a device and its sign-ins.
pub trait DeviceStore {
    /// Insert a device.
    fn create_device(&self, device: &Device) -> StoreResult<()>;
    /// Find by cookie secret hash.
    fn device_by_secret(&self, secret_hash: &str) -> StoreResult<Option<Device>>;
    /// Replace the cookie secret hash. False if no such device.
    fn rotate_device_secret(&self, id: &str, new_secret_hash: &str) -> StoreResult<bool>;
    /// Record a visit.
    fn touch_device(
        &self,
        id: &str,
        now: i64,
        user_agent: Option<&str>,
        ip: Option<&str>,
    ) -> StoreResult<()>;
    /// Delete a device and its sign-ins.
    fn delete_device(&self, id: &str) -> StoreResult<bool>;
    /// Sign an account in on a device.
    fn upsert_device_account(&self, account: &DeviceAccount) -> StoreResult<()>;
    /// Sign an account out of a device.
    fn remove_device_account(&self, device_id: &str, did: &Did) -> StoreResult<bool>;
    /// Accounts on a device.
    fn device_accounts(&self, device_id: &str) -> StoreResult<Vec<DeviceAccount>>;
    /// Devices of an account, with the sign-in record.
    fn devices_of_account(&self, did: &Did) -> StoreResult<Vec<(Device, DeviceAccount)>>;
}

/// Remembered consent.
///
/// Contract: `upsert_authorized_client` records (or replaces the scope of)
/// an approval, keeping `created_at` of the first; `authorized_client`
/// reads it; `forget_authorized_client` deletes it (true if it existed);
/// `authorized_clients` lists an account's approvals, newest first.
pub trait AuthorizedClientStore {
    /// Read an approval.
    fn authorized_client(
        &self,
        did: &Did,
        client_id: &str,
    ) -> StoreResult<Option<AuthorizedClient>>;
    /// Record an approval.
    fn upsert_authorized_client(
        &self,
        did: &Did,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> StoreResult<()>;
    /// Forget an approval.
    fn forget_authorized_client(&self, did: &Did, client_id: &str) -> StoreResult<bool>;
    /// An account's approvals.
    fn authorized_clients(&self, did: &Did) -> StoreResult<Vec<AuthorizedClient>>;
}
