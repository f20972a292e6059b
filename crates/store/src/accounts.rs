//! `AccountStore` for [`Store`].

use diesel::prelude::*;

use atauth_core::identity::{Did, Handle};
use atauth_core::store::{Account, AccountStore, StoreError, StoreResult};

use crate::conn::AnyConnection;
use crate::error;
use crate::schema::accounts;
use crate::Store;

/// An `accounts` row as read, before its identifiers are checked.
#[derive(Queryable, Selectable)]
#[diesel(table_name = accounts)]
struct AccountRow {
    did: String,
    handle: String,
    email: Option<String>,
    password_hash: String,
    created_at: i64,
    disabled_at: Option<i64>,
}

impl AccountRow {
    /// Check the stored identifiers; a bad one is corrupt data, reported
    /// by table and column (and the row's DID when that one is valid).
    fn into_account(self) -> StoreResult<Account> {
        let did = Did::parse(&self.did)
            .map_err(|e| StoreError::Backend(format!("accounts.did holds an invalid DID: {e}")))?;
        let handle = Handle::parse(&self.handle).map_err(|e| {
            StoreError::Backend(format!(
                "accounts.handle of {did} holds an invalid handle: {e}"
            ))
        })?;
        if handle.as_str() != self.handle {
            return Err(StoreError::Backend(format!(
                "accounts.handle of {did} is not in normalised (lowercase) form"
            )));
        }
        Ok(Account {
            did,
            handle,
            email: self.email,
            password_hash: self.password_hash,
            created_at: self.created_at,
            disabled_at: self.disabled_at,
        })
    }
}

/// An `accounts` row to insert.
#[derive(Insertable)]
#[diesel(table_name = accounts)]
struct NewAccount<'a> {
    did: &'a str,
    handle: &'a str,
    email: Option<&'a str>,
    password_hash: &'a str,
    created_at: i64,
    disabled_at: Option<i64>,
}

/// Whether an account with this DID exists.
fn did_exists(conn: &mut AnyConnection, did: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(accounts::table.find(did))).get_result(conn)
}

/// Whether an account with this handle exists.
fn handle_exists(conn: &mut AnyConnection, handle: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        accounts::table.filter(accounts::handle.eq(handle)),
    ))
    .get_result(conn)
}

/// Which uniqueness rule an insert broke. The single-statement insert
/// wrote nothing; look at what is there now so that a collision on both
/// reports "did" whatever order the backend checked its indexes in, and
/// fall back to the backend's own report if the row has since gone.
fn classify_conflict(
    conn: &mut AnyConnection,
    account: &Account,
    info: &(dyn diesel::result::DatabaseErrorInformation + Send + Sync),
) -> StoreError {
    let what = "checking an account conflict";
    match did_exists(conn, account.did.as_str()) {
        Ok(true) => return StoreError::Conflict("did".into()),
        Ok(false) => {}
        Err(e) => return error::query(what, e),
    }
    match handle_exists(conn, account.handle.as_str()) {
        Ok(true) => return StoreError::Conflict("handle".into()),
        Ok(false) => {}
        Err(e) => return error::query(what, e),
    }
    if error::violation_names(info, "accounts", "did", "accounts_pkey") {
        StoreError::Conflict("did".into())
    } else if error::violation_names(info, "accounts", "handle", "accounts_handle_key") {
        StoreError::Conflict("handle".into())
    } else {
        error::backend("creating an account", info.message())
    }
}

/// Rows returned by a read, checked.
fn into_accounts(rows: Vec<AccountRow>) -> StoreResult<Vec<Account>> {
    rows.into_iter().map(AccountRow::into_account).collect()
}

impl AccountStore for Store {
    fn create_account(&self, account: &Account) -> StoreResult<()> {
        let mut conn = self.conn()?;
        let row = NewAccount {
            did: account.did.as_str(),
            handle: account.handle.as_str(),
            email: account.email.as_deref(),
            password_hash: &account.password_hash,
            created_at: account.created_at,
            disabled_at: account.disabled_at,
        };
        match diesel::insert_into(accounts::table)
            .values(&row)
            .execute(&mut *conn)
        {
            Ok(_) => Ok(()),
            Err(e) => match error::unique_violation(&e) {
                Some(info) => Err(classify_conflict(&mut conn, account, info)),
                None => Err(error::query("creating an account", e)),
            },
        }
    }

    fn account_by_did(&self, did: &Did) -> StoreResult<Option<Account>> {
        let mut conn = self.conn()?;
        accounts::table
            .find(did.as_str())
            .select(AccountRow::as_select())
            .get_result(&mut *conn)
            .optional()
            .map_err(|e| error::query("reading an account by DID", e))?
            .map(AccountRow::into_account)
            .transpose()
    }

    fn account_by_handle(&self, handle: &Handle) -> StoreResult<Option<Account>> {
        let mut conn = self.conn()?;
        accounts::table
            .filter(accounts::handle.eq(handle.as_str()))
            .select(AccountRow::as_select())
            .get_result(&mut *conn)
            .optional()
            .map_err(|e| error::query("reading an account by handle", e))?
            .map(AccountRow::into_account)
            .transpose()
    }

    fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        let mut conn = self.conn()?;
        let rows = accounts::table
            .order(accounts::handle.asc())
            .select(AccountRow::as_select())
            .load(&mut *conn)
            .map_err(|e| error::query("listing accounts", e))?;
        into_accounts(rows)
    }

    fn set_password_hash(&self, did: &Did, password_hash: &str) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        let n = diesel::update(accounts::table.find(did.as_str()))
            .set(accounts::password_hash.eq(password_hash))
            .execute(&mut *conn)
            .map_err(|e| error::query("setting a password hash", e))?;
        Ok(n > 0)
    }

    fn set_disabled(&self, did: &Did, disabled_at: Option<i64>) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        let n = diesel::update(accounts::table.find(did.as_str()))
            .set(accounts::disabled_at.eq(disabled_at))
            .execute(&mut *conn)
            .map_err(|e| error::query("setting an account's disabled time", e))?;
        Ok(n > 0)
    }

    fn delete_account(&self, did: &Did) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        let n = diesel::delete(accounts::table.find(did.as_str()))
            .execute(&mut *conn)
            .map_err(|e| error::query("deleting an account", e))?;
        Ok(n > 0)
    }
}
