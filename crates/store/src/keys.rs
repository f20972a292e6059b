//! `KeyStore` for [`Store`].

use diesel::prelude::*;

use atauth_core::store::{KeyStore, StoreError, StoreResult, StoredKey};

use crate::error;
use crate::schema::signing_keys;
use crate::Store;

/// A `signing_keys` row as read.
#[derive(Queryable, Selectable)]
#[diesel(table_name = signing_keys)]
struct KeyRow {
    kid: String,
    alg: String,
    private_pkcs8: Vec<u8>,
    created_at: i64,
}

/// A `signing_keys` row to insert, borrowing the key.
#[derive(Insertable)]
#[diesel(table_name = signing_keys)]
struct NewKey<'a> {
    kid: &'a str,
    alg: &'a str,
    private_pkcs8: &'a [u8],
    created_at: i64,
}

impl From<KeyRow> for StoredKey {
    fn from(row: KeyRow) -> StoredKey {
        StoredKey {
            kid: row.kid,
            alg: row.alg,
            private_pkcs8: row.private_pkcs8,
            created_at: row.created_at,
        }
    }
}

impl KeyStore for Store {
    fn insert_signing_key(&self, key: &StoredKey) -> StoreResult<()> {
        let mut conn = self.conn()?;
        let row = NewKey {
            kid: &key.kid,
            alg: &key.alg,
            private_pkcs8: &key.private_pkcs8,
            created_at: key.created_at,
        };
        // A plain INSERT: an existing kid is an error, never an update.
        match diesel::insert_into(signing_keys::table)
            .values(&row)
            .execute(&mut *conn)
        {
            Ok(_) => Ok(()),
            Err(e) if error::unique_violation(&e).is_some() => {
                Err(StoreError::Conflict("kid".into()))
            }
            Err(e) => Err(error::query("inserting a signing key", e)),
        }
    }

    fn list_signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        let mut conn = self.conn()?;
        let rows = signing_keys::table
            .order((signing_keys::created_at.asc(), signing_keys::kid.asc()))
            .select(KeyRow::as_select())
            .load(&mut *conn)
            .map_err(|e| error::query("listing signing keys", e))?;
        Ok(rows.into_iter().map(StoredKey::from).collect())
    }
}
