//! [`EmailCodeStore`] for [`MemoryStore`]: its own mutex, so each call is
//! atomic (attempts and consumption decide and write under one lock).
//! Like the rest of the memory store it keeps no foreign key to accounts.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::MemoryStore;
use crate::email_code::EmailCodePurpose;
use crate::identity::Did;
use crate::store::{
    Account, AccountStore, EmailCodeStore, StoreError, StoreResult, StoredEmailCode, VerifiedEmail,
};

#[derive(Debug, Default)]
struct Tables {
    /// Keyed by code id.
    codes: HashMap<String, StoredEmailCode>,
    verified: HashMap<Did, VerifiedEmail>,
}

/// The email tables of a [`MemoryStore`].
#[derive(Debug, Default)]
pub(super) struct EmailTables(Mutex<Tables>);

impl EmailTables {
    fn lock(&self) -> StoreResult<MutexGuard<'_, Tables>> {
        self.0
            .lock()
            .map_err(|_| StoreError::Backend("memory store lock poisoned".into()))
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl EmailCodeStore for MemoryStore {
    fn put_email_code(&self, code: &StoredEmailCode) -> StoreResult<()> {
        let mut t = self.email.lock()?;
        if t.codes.contains_key(&code.id) {
            return Err(StoreError::Conflict("id".into()));
        }
        t.codes
            .retain(|_, c| !(c.did == code.did && c.purpose == code.purpose));
        t.codes.insert(code.id.clone(), code.clone());
        Ok(())
    }

    fn email_code(
        &self,
        did: &Did,
        purpose: EmailCodePurpose,
    ) -> StoreResult<Option<StoredEmailCode>> {
        Ok(self
            .email
            .lock()?
            .codes
            .values()
            .find(|c| &c.did == did && c.purpose == purpose)
            .cloned())
    }

    fn take_email_code_attempt(&self, id: &str, max: u32) -> StoreResult<bool> {
        let mut t = self.email.lock()?;
        match t.codes.get_mut(id) {
            Some(c) if c.attempts < max => {
                c.attempts += 1;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn consume_email_code(&self, id: &str) -> StoreResult<bool> {
        Ok(self.email.lock()?.codes.remove(id).is_some())
    }

    fn delete_email_codes(&self, did: &Did) -> StoreResult<u64> {
        let mut t = self.email.lock()?;
        let before = t.codes.len();
        t.codes.retain(|_, c| &c.did != did);
        Ok(count(before - t.codes.len()))
    }

    fn purge_email_codes(&self, now: i64) -> StoreResult<u64> {
        let mut t = self.email.lock()?;
        let before = t.codes.len();
        t.codes.retain(|_, c| c.expires_at > now);
        Ok(count(before - t.codes.len()))
    }

    fn set_verified_email(&self, did: &Did, email: &str, now: i64) -> StoreResult<()> {
        self.email.lock()?.verified.insert(
            did.clone(),
            VerifiedEmail {
                did: did.clone(),
                email: email.to_string(),
                verified_at: now,
            },
        );
        Ok(())
    }

    fn verified_email(&self, did: &Did) -> StoreResult<Option<VerifiedEmail>> {
        Ok(self.email.lock()?.verified.get(did).cloned())
    }

    fn accounts_with_email(&self, email: &str) -> StoreResult<Vec<Account>> {
        Ok(self
            .list_accounts()?
            .into_iter()
            .filter(|a| {
                a.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
            })
            .collect())
    }
}
