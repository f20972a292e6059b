//! `TrustedClientStore` for [`Store`].

use diesel::prelude::*;

use atauth_core::store::{StoreResult, TrustedClient, TrustedClientStore};

use crate::conn::per_backend;
use crate::error;
use crate::schema::trusted_clients::dsl as tc;
use crate::Store;

/// A `trusted_clients` row, as read and as inserted.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::trusted_clients)]
struct TrustedClientRow {
    client_id: String,
    created_at: i64,
}

impl TrustedClientStore for Store {
    fn add_trusted_client(&self, client_id: &str, now: i64) -> StoreResult<bool> {
        let row = TrustedClientRow {
            client_id: client_id.to_owned(),
            created_at: now,
        };
        let mut conn = self.conn()?;
        // One statement: an existing row is left as it is (its created_at
        // kept), and the count says which happened.
        let n = per_backend!(&mut *conn, c => diesel::insert_into(tc::trusted_clients)
            .values(&row)
            .on_conflict(tc::client_id)
            .do_nothing()
            .execute(c))
        .map_err(|e| error::query("adding a trusted client", e))?;
        Ok(n > 0)
    }

    fn remove_trusted_client(&self, client_id: &str) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        let n = diesel::delete(tc::trusted_clients.find(client_id))
            .execute(&mut *conn)
            .map_err(|e| error::query("removing a trusted client", e))?;
        Ok(n > 0)
    }

    fn is_trusted_client(&self, client_id: &str) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        diesel::select(diesel::dsl::exists(tc::trusted_clients.find(client_id)))
            .get_result::<bool>(&mut *conn)
            .map_err(|e| error::query("reading a trusted client", e))
    }

    fn trusted_clients(&self) -> StoreResult<Vec<TrustedClient>> {
        let mut conn = self.conn()?;
        let rows = tc::trusted_clients
            .order(tc::client_id.asc())
            .select(TrustedClientRow::as_select())
            .load(&mut *conn)
            .map_err(|e| error::query("listing trusted clients", e))?;
        Ok(rows
            .into_iter()
            .map(|r| TrustedClient {
                client_id: r.client_id,
                created_at: r.created_at,
            })
            .collect())
    }
}
