//! `EmailCodeStore` for [`Store`].

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use atauth_core::email_code::EmailCodePurpose;
use atauth_core::identity::Did;
use atauth_core::store::{
    Account, AccountStore, EmailCodeStore, StoreError, StoreResult, StoredEmailCode, VerifiedEmail,
};

use crate::conn::per_backend;
use crate::error;
use crate::schema::{accounts, email_codes, email_verifications};
use crate::Store;

diesel::define_sql_function! {
    /// SQL `lower()`: ASCII on SQLite, Unicode on PostgreSQL.
    fn lower(x: Nullable<Text>) -> Nullable<Text>;
}

/// An `email_codes` row, as read and as written.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = email_codes)]
struct CodeRow {
    id: String,
    did: String,
    purpose: String,
    email: String,
    code_hash: String,
    created_at: i64,
    expires_at: i64,
    attempts: i64,
}

impl CodeRow {
    fn of(c: &StoredEmailCode) -> CodeRow {
        CodeRow {
            id: c.id.clone(),
            did: c.did.as_str().to_string(),
            purpose: c.purpose.as_str().to_string(),
            email: c.email.clone(),
            code_hash: c.code_hash.clone(),
            created_at: c.created_at,
            expires_at: c.expires_at,
            attempts: i64::from(c.attempts),
        }
    }

    /// Check the stored values; a bad one is corrupt data.
    fn into_code(self) -> StoreResult<StoredEmailCode> {
        let did = Did::parse(&self.did).map_err(|e| {
            StoreError::Backend(format!("email_codes.did holds an invalid DID: {e}"))
        })?;
        let purpose = EmailCodePurpose::parse(&self.purpose).ok_or_else(|| {
            StoreError::Backend(format!(
                "email_codes.purpose of {} holds an unknown purpose",
                self.id
            ))
        })?;
        Ok(StoredEmailCode {
            id: self.id,
            did,
            purpose,
            email: self.email,
            code_hash: self.code_hash,
            created_at: self.created_at,
            expires_at: self.expires_at,
            attempts: u32::try_from(self.attempts.max(0)).unwrap_or(u32::MAX),
        })
    }
}

/// An `email_verifications` row.
#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = email_verifications)]
struct VerificationRow {
    did: String,
    email: String,
    verified_at: i64,
}

impl EmailCodeStore for Store {
    fn put_email_code(&self, code: &StoredEmailCode) -> StoreResult<()> {
        let row = CodeRow::of(code);
        let mut conn = self.conn()?;
        // One statement: the account's earlier code of this purpose is
        // replaced in place (id, hash, times and attempts all new).
        per_backend!(&mut *conn, c => diesel::insert_into(email_codes::table)
            .values(&row)
            .on_conflict((email_codes::did, email_codes::purpose))
            .do_update()
            .set((
                // Listed one by one: a derived changeset leaves out the
                // primary key, and the id must be new too.
                email_codes::id.eq(&row.id),
                email_codes::email.eq(&row.email),
                email_codes::code_hash.eq(&row.code_hash),
                email_codes::created_at.eq(row.created_at),
                email_codes::expires_at.eq(row.expires_at),
                email_codes::attempts.eq(row.attempts),
            ))
            .execute(c))
        .map_err(|e| {
            error::write(
                "storing an email code",
                "email_codes",
                e,
                &[("id", "email_codes_pkey")],
                Some("no such account"),
            )
        })?;
        Ok(())
    }

    fn email_code(
        &self,
        did: &Did,
        purpose: EmailCodePurpose,
    ) -> StoreResult<Option<StoredEmailCode>> {
        let mut conn = self.conn()?;
        email_codes::table
            .filter(email_codes::did.eq(did.as_str()))
            .filter(email_codes::purpose.eq(purpose.as_str()))
            .select(CodeRow::as_select())
            .get_result(&mut *conn)
            .optional()
            .map_err(|e| error::query("reading an email code", e))?
            .map(CodeRow::into_code)
            .transpose()
    }

    fn take_email_code_attempt(&self, id: &str, max: u32) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        // The condition and the increment are one statement: concurrent
        // callers cannot both take the last attempt.
        let n = diesel::update(
            email_codes::table
                .filter(email_codes::id.eq(id))
                .filter(email_codes::attempts.lt(i64::from(max))),
        )
        .set(email_codes::attempts.eq(email_codes::attempts + 1))
        .execute(&mut *conn)
        .map_err(|e| error::query("taking an email code attempt", e))?;
        Ok(n > 0)
    }

    fn consume_email_code(&self, id: &str) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        let n = diesel::delete(email_codes::table.find(id))
            .execute(&mut *conn)
            .map_err(|e| error::query("consuming an email code", e))?;
        Ok(n > 0)
    }

    fn delete_email_codes(&self, did: &Did) -> StoreResult<u64> {
        let mut conn = self.conn()?;
        let n = diesel::delete(email_codes::table.filter(email_codes::did.eq(did.as_str())))
            .execute(&mut *conn)
            .map_err(|e| error::query("deleting an account's email codes", e))?;
        Ok(n as u64)
    }

    fn purge_email_codes(&self, now: i64) -> StoreResult<u64> {
        let mut conn = self.conn()?;
        let n = diesel::delete(email_codes::table.filter(email_codes::expires_at.le(now)))
            .execute(&mut *conn)
            .map_err(|e| error::query("purging expired email codes", e))?;
        Ok(n as u64)
    }

    fn set_verified_email(&self, did: &Did, email: &str, now: i64) -> StoreResult<()> {
        let row = VerificationRow {
            did: did.as_str().to_string(),
            email: email.to_string(),
            verified_at: now,
        };
        let mut conn = self.conn()?;
        per_backend!(&mut *conn, c => diesel::insert_into(email_verifications::table)
            .values(&row)
            .on_conflict(email_verifications::did)
            .do_update()
            .set(&row)
            .execute(c))
        .map_err(|e| {
            error::write(
                "recording a verified email",
                "email_verifications",
                e,
                &[],
                Some("no such account"),
            )
        })?;
        Ok(())
    }

    fn verified_email(&self, did: &Did) -> StoreResult<Option<VerifiedEmail>> {
        let mut conn = self.conn()?;
        let row = email_verifications::table
            .find(did.as_str())
            .select(VerificationRow::as_select())
            .get_result(&mut *conn)
            .optional()
            .map_err(|e| error::query("reading a verified email", e))?;
        Ok(row.map(|r| VerifiedEmail {
            did: did.clone(),
            email: r.email,
            verified_at: r.verified_at,
        }))
    }

    fn accounts_with_email(&self, email: &str) -> StoreResult<Vec<Account>> {
        let dids: Vec<String> = {
            let mut conn = self.conn()?;
            accounts::table
                .filter(lower(accounts::email).eq(lower(Some(email))))
                .order(accounts::handle.asc())
                .select(accounts::did)
                .load(&mut *conn)
                .map_err(|e| error::query("finding accounts by email", e))?
        };
        let mut found = Vec::with_capacity(dids.len());
        for did in dids {
            let did = Did::parse(&did).map_err(|e| {
                StoreError::Backend(format!("accounts.did holds an invalid DID: {e}"))
            })?;
            // Gone since the query: skip it.
            if let Some(a) = self.account_by_did(&did)? {
                found.push(a);
            }
        }
        Ok(found)
    }
}
