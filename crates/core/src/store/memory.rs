//! [`MemoryStore`]: every storage port of core in process memory, for
//! tests and single-process embedding. Nothing survives a restart and
//! nothing is shared between processes.
//!
//! One mutex guards all tables, so each trait method is atomic with respect
//! to every other (above all `consume_code` and `rotate_refresh`, which
//! decide and write under the same lock). A poisoned lock is reported as
//! [`StoreError::Backend`], never a panic.
//!
//! Unlike the SQL backends it keeps no foreign key to accounts: sessions
//! and approvals may name a DID that has no account (handy in tests). A
//! sign-in still needs its device, as `delete_device` removes both.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::{
    Account, AccountStore, AuthorizationRequest, AuthorizedClient, AuthorizedClientStore,
    CodeConsumption, Device, DeviceAccount, DeviceStore, KeyStore, OAuthSession, RefreshLookup,
    RequestStore, SessionStore, StoreError, StoreResult, StoredKey, TrustedClient,
    TrustedClientStore,
};
use crate::identity::{Did, Handle};
use crate::replay::{MemoryReplayStore, ReplayStore};

#[derive(Debug, Default)]
struct Tables {
    accounts: HashMap<Did, Account>,
    keys: Vec<StoredKey>,
    requests: HashMap<String, AuthorizationRequest>,
    sessions: HashMap<String, OAuthSession>,
    devices: HashMap<String, Device>,
    /// Keyed by (device id, DID).
    device_accounts: HashMap<(String, Did), DeviceAccount>,
    /// Keyed by (DID, client id).
    authorized_clients: HashMap<(Did, String), AuthorizedClient>,
    /// Keyed by client id.
    trusted_clients: HashMap<String, TrustedClient>,
}

/// Every store trait of core, in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
    replay: MemoryReplayStore,
    /// Email codes and verified addresses (`memory_email.rs`).
    email: email::EmailTables,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> StoreResult<MutexGuard<'_, Tables>> {
        self.tables
            .lock()
            .map_err(|_| StoreError::Backend("memory store lock poisoned".into()))
    }

    /// How many authorization requests are stored (for tests).
    pub fn request_count(&self) -> StoreResult<usize> {
        Ok(self.lock()?.requests.len())
    }

    /// How many sessions are stored (for tests).
    pub fn session_count(&self) -> StoreResult<usize> {
        Ok(self.lock()?.sessions.len())
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Remove the entries `gone` selects and return how many went.
fn remove_where<K, V>(map: &mut HashMap<K, V>, gone: impl Fn(&V) -> bool) -> u64 {
    let before = map.len();
    map.retain(|_, v| !gone(v));
    count(before - map.len())
}

impl AccountStore for MemoryStore {
    fn create_account(&self, account: &Account) -> StoreResult<()> {
        let mut t = self.lock()?;
        if t.accounts.contains_key(&account.did) {
            return Err(StoreError::Conflict("did".into()));
        }
        // `Handle` is lowercase by construction: equality is case-insensitive.
        if t.accounts.values().any(|a| a.handle == account.handle) {
            return Err(StoreError::Conflict("handle".into()));
        }
        t.accounts.insert(account.did.clone(), account.clone());
        Ok(())
    }

    fn account_by_did(&self, did: &Did) -> StoreResult<Option<Account>> {
        Ok(self.lock()?.accounts.get(did).cloned())
    }

    fn account_by_handle(&self, handle: &Handle) -> StoreResult<Option<Account>> {
        Ok(self
            .lock()?
            .accounts
            .values()
            .find(|a| &a.handle == handle)
            .cloned())
    }

    fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        let mut all: Vec<Account> = self.lock()?.accounts.values().cloned().collect();
        all.sort_by(|a, b| {
            a.handle
                .as_str()
                .as_bytes()
                .cmp(b.handle.as_str().as_bytes())
        });
        Ok(all)
    }

    fn set_password_hash(&self, did: &Did, password_hash: &str) -> StoreResult<bool> {
        let mut t = self.lock()?;
        Ok(t.accounts
            .get_mut(did)
            .map(|a| a.password_hash = password_hash.to_string())
            .is_some())
    }

    fn set_disabled(&self, did: &Did, disabled_at: Option<i64>) -> StoreResult<bool> {
        let mut t = self.lock()?;
        Ok(t.accounts
            .get_mut(did)
            .map(|a| a.disabled_at = disabled_at)
            .is_some())
    }

    fn delete_account(&self, did: &Did) -> StoreResult<bool> {
        Ok(self.lock()?.accounts.remove(did).is_some())
    }
}

impl KeyStore for MemoryStore {
    fn insert_signing_key(&self, key: &StoredKey) -> StoreResult<()> {
        let mut t = self.lock()?;
        if t.keys.iter().any(|k| k.kid == key.kid) {
            return Err(StoreError::Conflict("kid".into()));
        }
        t.keys.push(key.clone());
        Ok(())
    }

    fn list_signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        let mut keys = self.lock()?.keys.clone();
        keys.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.kid.as_bytes().cmp(b.kid.as_bytes()))
        });
        Ok(keys)
    }
}

impl RequestStore for MemoryStore {
    fn create_request(&self, request: &AuthorizationRequest) -> StoreResult<()> {
        let mut t = self.lock()?;
        if t.requests.contains_key(&request.id) {
            return Err(StoreError::Conflict("id".into()));
        }
        if let Some(h) = &request.code_hash {
            if t.requests.values().any(|r| r.code_hash.as_ref() == Some(h)) {
                return Err(StoreError::Conflict("code_hash".into()));
            }
        }
        t.requests.insert(request.id.clone(), request.clone());
        Ok(())
    }

    fn get_request(&self, id: &str) -> StoreResult<Option<AuthorizationRequest>> {
        Ok(self.lock()?.requests.get(id).cloned())
    }

    fn bind_device(&self, id: &str, device_id: &str) -> StoreResult<bool> {
        let mut t = self.lock()?;
        let Some(r) = t.requests.get_mut(id) else {
            return Ok(false);
        };
        if r.code_hash.is_some() {
            return Ok(false);
        }
        match &r.device_id {
            Some(d) => Ok(d == device_id),
            None => {
                r.device_id = Some(device_id.to_string());
                Ok(true)
            }
        }
    }

    fn issue_code(
        &self,
        id: &str,
        sub: &Did,
        code_hash: &str,
        code_expires_at: i64,
    ) -> StoreResult<bool> {
        let mut t = self.lock()?;
        if t.requests.get(id).is_none_or(|r| r.code_hash.is_some()) {
            return Ok(false);
        }
        if t.requests
            .values()
            .any(|r| r.code_hash.as_deref() == Some(code_hash))
        {
            return Err(StoreError::Conflict("code_hash".into()));
        }
        let Some(r) = t.requests.get_mut(id) else {
            return Ok(false);
        };
        r.sub = Some(sub.clone());
        r.code_hash = Some(code_hash.to_string());
        r.expires_at = code_expires_at;
        Ok(true)
    }

    fn consume_code(&self, code_hash: &str, now: i64) -> StoreResult<CodeConsumption> {
        let mut t = self.lock()?;
        let Some(r) = t
            .requests
            .values_mut()
            .find(|r| r.code_hash.as_deref() == Some(code_hash))
        else {
            return Ok(CodeConsumption::Unknown);
        };
        // Decided and written under one lock: exactly one caller wins.
        if r.consumed_at.is_none() && now < r.expires_at {
            r.consumed_at = Some(now);
            Ok(CodeConsumption::Consumed(r.clone()))
        } else {
            Ok(CodeConsumption::Reused(r.clone()))
        }
    }

    fn delete_request(&self, id: &str) -> StoreResult<bool> {
        Ok(self.lock()?.requests.remove(id).is_some())
    }

    fn purge_expired_requests(&self, now: i64, grace_secs: i64) -> StoreResult<u64> {
        let cutoff = now.saturating_sub(grace_secs);
        Ok(remove_where(&mut self.lock()?.requests, |r| {
            r.expires_at < cutoff
        }))
    }
}

impl SessionStore for MemoryStore {
    fn create_session(&self, session: &OAuthSession) -> StoreResult<()> {
        let mut t = self.lock()?;
        if t.sessions.contains_key(&session.id) {
            return Err(StoreError::Conflict("id".into()));
        }
        if let Some(h) = &session.refresh_hash {
            if t.sessions
                .values()
                .any(|s| s.refresh_hash.as_ref() == Some(h))
            {
                return Err(StoreError::Conflict("refresh_hash".into()));
            }
        }
        t.sessions.insert(session.id.clone(), session.clone());
        Ok(())
    }

    fn session_by_id(&self, id: &str) -> StoreResult<Option<OAuthSession>> {
        Ok(self.lock()?.sessions.get(id).cloned())
    }

    fn find_refresh(&self, refresh_hash: &str) -> StoreResult<RefreshLookup> {
        let t = self.lock()?;
        if let Some(s) = t
            .sessions
            .values()
            .find(|s| s.refresh_hash.as_deref() == Some(refresh_hash))
        {
            return Ok(RefreshLookup::Current(s.clone()));
        }
        match t
            .sessions
            .values()
            .find(|s| s.previous_refresh_hash.as_deref() == Some(refresh_hash))
        {
            Some(s) => Ok(RefreshLookup::Previous(s.clone())),
            None => Ok(RefreshLookup::Unknown),
        }
    }

    fn rotate_refresh(
        &self,
        id: &str,
        expected_hash: &str,
        new_hash: &str,
        new_expires_at: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let mut t = self.lock()?;
        // Compare and swap under the lock: of concurrent rotations from one
        // hash, only the first still finds it current.
        if t.sessions
            .get(id)
            .is_none_or(|s| s.refresh_hash.as_deref() != Some(expected_hash))
        {
            return Ok(false);
        }
        if t.sessions
            .values()
            .any(|s| s.refresh_hash.as_deref() == Some(new_hash))
        {
            return Err(StoreError::Conflict("refresh_hash".into()));
        }
        let Some(s) = t.sessions.get_mut(id) else {
            return Ok(false);
        };
        s.previous_refresh_hash = Some(expected_hash.to_string());
        s.refresh_hash = Some(new_hash.to_string());
        s.refresh_expires_at = Some(new_expires_at);
        s.rotated_at = Some(now);
        s.last_used_at = now;
        Ok(true)
    }

    fn touch_session(&self, id: &str, now: i64) -> StoreResult<()> {
        if let Some(s) = self.lock()?.sessions.get_mut(id) {
            s.last_used_at = now;
        }
        Ok(())
    }

    fn delete_session(&self, id: &str) -> StoreResult<u64> {
        Ok(count(usize::from(
            self.lock()?.sessions.remove(id).is_some(),
        )))
    }

    fn delete_sessions_for_request(&self, request_id: &str) -> StoreResult<u64> {
        Ok(remove_where(&mut self.lock()?.sessions, |s| {
            s.request_id == request_id
        }))
    }

    fn delete_sessions_for(&self, did: &Did, client_id: Option<&str>) -> StoreResult<u64> {
        Ok(remove_where(&mut self.lock()?.sessions, |s| {
            &s.did == did && client_id.is_none_or(|c| s.client_id == c)
        }))
    }

    fn list_sessions(
        &self,
        did: Option<&Did>,
        client_id: Option<&str>,
    ) -> StoreResult<Vec<OAuthSession>> {
        let t = self.lock()?;
        let mut out: Vec<OAuthSession> = t
            .sessions
            .values()
            .filter(|s| {
                did.is_none_or(|d| &s.did == d) && client_id.is_none_or(|c| s.client_id == c)
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(out)
    }

    fn purge_expired_sessions(&self, now: i64) -> StoreResult<u64> {
        Ok(remove_where(&mut self.lock()?.sessions, |s| {
            s.expires_at <= now
        }))
    }
}

impl DeviceStore for MemoryStore {
    fn create_device(&self, device: &Device) -> StoreResult<()> {
        let mut t = self.lock()?;
        if t.devices.contains_key(&device.id) {
            return Err(StoreError::Conflict("id".into()));
        }
        if t.devices
            .values()
            .any(|d| d.secret_hash == device.secret_hash)
        {
            return Err(StoreError::Conflict("secret_hash".into()));
        }
        t.devices.insert(device.id.clone(), device.clone());
        Ok(())
    }

    fn device_by_secret(&self, secret_hash: &str) -> StoreResult<Option<Device>> {
        Ok(self
            .lock()?
            .devices
            .values()
            .find(|d| d.secret_hash == secret_hash)
            .cloned())
    }

    fn rotate_device_secret(&self, id: &str, new_secret_hash: &str) -> StoreResult<bool> {
        let mut t = self.lock()?;
        if t.devices
            .values()
            .any(|d| d.secret_hash == new_secret_hash && d.id != id)
        {
            return Err(StoreError::Conflict("secret_hash".into()));
        }
        Ok(t.devices
            .get_mut(id)
            .map(|d| d.secret_hash = new_secret_hash.to_string())
            .is_some())
    }

    fn touch_device(
        &self,
        id: &str,
        now: i64,
        user_agent: Option<&str>,
        ip: Option<&str>,
    ) -> StoreResult<()> {
        if let Some(d) = self.lock()?.devices.get_mut(id) {
            d.last_seen_at = now;
            d.user_agent = user_agent.map(str::to_string);
            d.ip = ip.map(str::to_string);
        }
        Ok(())
    }

    fn delete_device(&self, id: &str) -> StoreResult<bool> {
        let mut t = self.lock()?;
        t.device_accounts
            .retain(|(device_id, _), _| device_id != id);
        Ok(t.devices.remove(id).is_some())
    }

    fn upsert_device_account(&self, account: &DeviceAccount) -> StoreResult<()> {
        let mut t = self.lock()?;
        // As the SQL backends' foreign keys do: a sign-in needs its device.
        if !t.devices.contains_key(&account.device_id) {
            return Err(StoreError::Backend(
                "signing an account in: the device does not exist".into(),
            ));
        }
        t.device_accounts.insert(
            (account.device_id.clone(), account.did.clone()),
            account.clone(),
        );
        Ok(())
    }

    fn remove_device_account(&self, device_id: &str, did: &Did) -> StoreResult<bool> {
        Ok(self
            .lock()?
            .device_accounts
            .remove(&(device_id.to_string(), did.clone()))
            .is_some())
    }

    fn device_accounts(&self, device_id: &str) -> StoreResult<Vec<DeviceAccount>> {
        let t = self.lock()?;
        let mut out: Vec<DeviceAccount> = t
            .device_accounts
            .values()
            .filter(|a| a.device_id == device_id)
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            b.authenticated_at
                .cmp(&a.authenticated_at)
                .then_with(|| a.did.cmp(&b.did))
        });
        Ok(out)
    }

    fn devices_of_account(&self, did: &Did) -> StoreResult<Vec<(Device, DeviceAccount)>> {
        let t = self.lock()?;
        let mut out: Vec<(Device, DeviceAccount)> = t
            .device_accounts
            .values()
            .filter(|a| &a.did == did)
            .filter_map(|a| t.devices.get(&a.device_id).map(|d| (d.clone(), a.clone())))
            .collect();
        out.sort_by(|(da, a), (db, b)| {
            b.authenticated_at
                .cmp(&a.authenticated_at)
                .then_with(|| da.id.cmp(&db.id))
        });
        Ok(out)
    }
}

impl AuthorizedClientStore for MemoryStore {
    fn authorized_client(
        &self,
        did: &Did,
        client_id: &str,
    ) -> StoreResult<Option<AuthorizedClient>> {
        Ok(self
            .lock()?
            .authorized_clients
            .get(&(did.clone(), client_id.to_string()))
            .cloned())
    }

    fn upsert_authorized_client(
        &self,
        did: &Did,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> StoreResult<()> {
        let mut t = self.lock()?;
        let entry = t
            .authorized_clients
            .entry((did.clone(), client_id.to_string()))
            .or_insert_with(|| AuthorizedClient {
                did: did.clone(),
                client_id: client_id.to_string(),
                scope: String::new(),
                created_at: now,
                updated_at: now,
            });
        entry.scope = scope.to_string();
        entry.updated_at = now;
        Ok(())
    }

    fn forget_authorized_client(&self, did: &Did, client_id: &str) -> StoreResult<bool> {
        Ok(self
            .lock()?
            .authorized_clients
            .remove(&(did.clone(), client_id.to_string()))
            .is_some())
    }

    fn authorized_clients(&self, did: &Did) -> StoreResult<Vec<AuthorizedClient>> {
        let t = self.lock()?;
        let mut out: Vec<AuthorizedClient> = t
            .authorized_clients
            .values()
            .filter(|c| &c.did == did)
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| a.client_id.cmp(&b.client_id))
        });
        Ok(out)
    }
}

impl TrustedClientStore for MemoryStore {
    fn add_trusted_client(&self, client_id: &str, now: i64) -> StoreResult<bool> {
        let mut t = self.lock()?;
        if t.trusted_clients.contains_key(client_id) {
            return Ok(false);
        }
        t.trusted_clients.insert(
            client_id.to_string(),
            TrustedClient {
                client_id: client_id.to_string(),
                created_at: now,
            },
        );
        Ok(true)
    }

    fn remove_trusted_client(&self, client_id: &str) -> StoreResult<bool> {
        Ok(self.lock()?.trusted_clients.remove(client_id).is_some())
    }

    fn is_trusted_client(&self, client_id: &str) -> StoreResult<bool> {
        Ok(self.lock()?.trusted_clients.contains_key(client_id))
    }

    fn trusted_clients(&self) -> StoreResult<Vec<TrustedClient>> {
        let mut all: Vec<TrustedClient> = self.lock()?.trusted_clients.values().cloned().collect();
        all.sort_by(|a, b| a.client_id.as_bytes().cmp(b.client_id.as_bytes()));
        Ok(all)
    }
}

impl ReplayStore for MemoryStore {
    fn check_and_insert(
        &self,
        namespace: &str,
        key: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<bool> {
        self.replay
            .check_and_insert(namespace, key, expires_at, now)
    }
}

#[path = "memory_email.rs"]
mod email;

#[cfg(test)]
#[path = "memory_tests.rs"]
mod tests;
