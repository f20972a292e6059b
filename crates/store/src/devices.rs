//! `DeviceStore` and `AuthorizedClientStore` for [`Store`].

use diesel::prelude::*;
use diesel::upsert::excluded;

use atauth_core::identity::Did;
use atauth_core::store::{
    AuthorizedClient, AuthorizedClientStore, Device, DeviceAccount, DeviceStore, StoreError,
    StoreResult,
};

use crate::codec;
use crate::conn::per_backend;
use crate::error;
use crate::schema::authorized_clients::{self, dsl as ac};
use crate::schema::device_accounts::{self, dsl as da};
use crate::schema::devices::{self, dsl as d};
use crate::Store;

/// The unique columns of `devices`, with their PostgreSQL constraint names.
const DEVICE_KEYS: &[(&str, &str)] = &[
    ("id", "devices_pkey"),
    ("secret_hash", "devices_secret_hash_key"),
];

/// A `devices` row, as read and as inserted.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = devices)]
struct DeviceRow {
    id: String,
    secret_hash: String,
    user_agent: Option<String>,
    ip: Option<String>,
    created_at: i64,
    last_seen_at: i64,
}

impl From<DeviceRow> for Device {
    fn from(row: DeviceRow) -> Device {
        Device {
            id: row.id,
            secret_hash: row.secret_hash,
            user_agent: row.user_agent,
            ip: row.ip,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
        }
    }
}

/// A `device_accounts` row as read, before its DID is checked.
#[derive(Queryable, Selectable)]
#[diesel(table_name = device_accounts)]
struct DeviceAccountRow {
    device_id: String,
    did: String,
    authenticated_at: i64,
    remember: bool,
}

impl DeviceAccountRow {
    fn into_device_account(self) -> StoreResult<DeviceAccount> {
        let row = format!("device {}", self.device_id);
        Ok(DeviceAccount {
            did: codec::did("device_accounts.did", &row, &self.did)?,
            device_id: self.device_id,
            authenticated_at: self.authenticated_at,
            remember: self.remember,
        })
    }
}

/// A `device_accounts` row to insert.
#[derive(Insertable)]
#[diesel(table_name = device_accounts)]
struct NewDeviceAccount<'a> {
    device_id: &'a str,
    did: &'a str,
    authenticated_at: i64,
    remember: bool,
}

/// An `authorized_clients` row as read, before its DID is checked.
#[derive(Queryable, Selectable)]
#[diesel(table_name = authorized_clients)]
struct AuthorizedClientRow {
    did: String,
    client_id: String,
    scope: String,
    created_at: i64,
    updated_at: i64,
}

impl AuthorizedClientRow {
    fn into_authorized_client(self) -> StoreResult<AuthorizedClient> {
        let row = format!("client {}", self.client_id);
        Ok(AuthorizedClient {
            did: codec::did("authorized_clients.did", &row, &self.did)?,
            client_id: self.client_id,
            scope: self.scope,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// An `authorized_clients` row to insert.
#[derive(Insertable)]
#[diesel(table_name = authorized_clients)]
struct NewAuthorizedClient<'a> {
    did: &'a str,
    client_id: &'a str,
    scope: &'a str,
    created_at: i64,
    updated_at: i64,
}

impl DeviceStore for Store {
    fn create_device(&self, device: &Device) -> StoreResult<()> {
        let what = "creating a device";
        let row = DeviceRow {
            id: device.id.clone(),
            secret_hash: device.secret_hash.clone(),
            user_agent: device.user_agent.clone(),
            ip: device.ip.clone(),
            created_at: device.created_at,
            last_seen_at: device.last_seen_at,
        };
        let mut conn = self.conn()?;
        match diesel::insert_into(d::devices)
            .values(&row)
            .execute(&mut *conn)
        {
            Ok(_) => Ok(()),
            Err(e) if error::unique_violation(&e).is_some() => {
                // The id wins when both collide, whichever index the
                // backend checked first.
                let id_taken = diesel::select(diesel::dsl::exists(d::devices.find(&device.id)))
                    .get_result::<bool>(&mut *conn)
                    .map_err(|e| error::query("checking a device conflict", e))?;
                if id_taken {
                    Err(StoreError::Conflict("id".into()))
                } else {
                    Err(error::write(what, "devices", e, DEVICE_KEYS, None))
                }
            }
            Err(e) => Err(error::query(what, e)),
        }
    }

    fn device_by_secret(&self, secret_hash: &str) -> StoreResult<Option<Device>> {
        let mut conn = self.conn()?;
        let row = d::devices
            .filter(d::secret_hash.eq(secret_hash))
            .select(DeviceRow::as_select())
            .get_result(&mut *conn)
            .optional()
            .map_err(|e| error::query("reading a device by secret", e))?;
        Ok(row.map(Device::from))
    }

    fn rotate_device_secret(&self, id: &str, new_secret_hash: &str) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        let n = diesel::update(d::devices.find(id))
            .set(d::secret_hash.eq(new_secret_hash))
            .execute(&mut *conn)
            .map_err(|e| {
                error::write(
                    "rotating a device secret",
                    "devices",
                    e,
                    &DEVICE_KEYS[1..],
                    None,
                )
            })?;
        Ok(n > 0)
    }

    fn touch_device(
        &self,
        id: &str,
        now: i64,
        user_agent: Option<&str>,
        ip: Option<&str>,
    ) -> StoreResult<()> {
        let mut conn = self.conn()?;
        diesel::update(d::devices.find(id))
            .set((
                d::last_seen_at.eq(now),
                d::user_agent.eq(user_agent),
                d::ip.eq(ip),
            ))
            .execute(&mut *conn)
            .map_err(|e| error::query("recording a device visit", e))?;
        Ok(())
    }

    fn delete_device(&self, id: &str) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        // Its sign-ins go with it (ON DELETE CASCADE).
        let n = diesel::delete(d::devices.find(id))
            .execute(&mut *conn)
            .map_err(|e| error::query("deleting a device", e))?;
        Ok(n > 0)
    }

    fn upsert_device_account(&self, account: &DeviceAccount) -> StoreResult<()> {
        let row = NewDeviceAccount {
            device_id: &account.device_id,
            did: account.did.as_str(),
            authenticated_at: account.authenticated_at,
            remember: account.remember,
        };
        let mut conn = self.conn()?;
        per_backend!(&mut *conn, c => diesel::insert_into(da::device_accounts)
            .values(&row)
            .on_conflict((da::device_id, da::did))
            .do_update()
            .set((
                da::authenticated_at.eq(excluded(da::authenticated_at)),
                da::remember.eq(excluded(da::remember)),
            ))
            .execute(c))
        .map_err(|e| {
            error::write(
                "signing an account in on a device",
                "device_accounts",
                e,
                &[],
                Some("the device or the account does not exist"),
            )
        })?;
        Ok(())
    }

    fn remove_device_account(&self, device_id: &str, did: &Did) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        let n = diesel::delete(device_accounts::table.find((device_id, did.as_str())))
            .execute(&mut *conn)
            .map_err(|e| error::query("signing an account out of a device", e))?;
        Ok(n > 0)
    }

    fn device_accounts(&self, device_id: &str) -> StoreResult<Vec<DeviceAccount>> {
        let mut conn = self.conn()?;
        let rows = da::device_accounts
            .filter(da::device_id.eq(device_id))
            .order((da::authenticated_at.desc(), da::did.asc()))
            .select(DeviceAccountRow::as_select())
            .load(&mut *conn)
            .map_err(|e| error::query("listing the accounts on a device", e))?;
        rows.into_iter()
            .map(DeviceAccountRow::into_device_account)
            .collect()
    }

    fn devices_of_account(&self, did: &Did) -> StoreResult<Vec<(Device, DeviceAccount)>> {
        let mut conn = self.conn()?;
        let rows = da::device_accounts
            .inner_join(d::devices)
            .filter(da::did.eq(did.as_str()))
            .order((da::authenticated_at.desc(), d::id.asc()))
            .select((DeviceRow::as_select(), DeviceAccountRow::as_select()))
            .load::<(DeviceRow, DeviceAccountRow)>(&mut *conn)
            .map_err(|e| error::query("listing the devices of an account", e))?;
        rows.into_iter()
            .map(|(device, sign_in)| Ok((Device::from(device), sign_in.into_device_account()?)))
            .collect()
    }
}

impl AuthorizedClientStore for Store {
    fn authorized_client(
        &self,
        did: &Did,
        client_id: &str,
    ) -> StoreResult<Option<AuthorizedClient>> {
        let mut conn = self.conn()?;
        ac::authorized_clients
            .find((did.as_str(), client_id))
            .select(AuthorizedClientRow::as_select())
            .get_result(&mut *conn)
            .optional()
            .map_err(|e| error::query("reading an authorized client", e))?
            .map(AuthorizedClientRow::into_authorized_client)
            .transpose()
    }

    fn upsert_authorized_client(
        &self,
        did: &Did,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> StoreResult<()> {
        let row = NewAuthorizedClient {
            did: did.as_str(),
            client_id,
            scope,
            created_at: now,
            updated_at: now,
        };
        let mut conn = self.conn()?;
        // One statement: a first approval inserts, a later one replaces
        // the scope and keeps `created_at`.
        per_backend!(&mut *conn, c => diesel::insert_into(ac::authorized_clients)
            .values(&row)
            .on_conflict((ac::did, ac::client_id))
            .do_update()
            .set((
                ac::scope.eq(excluded(ac::scope)),
                ac::updated_at.eq(excluded(ac::updated_at)),
            ))
            .execute(c))
        .map_err(|e| {
            error::write(
                "recording an authorized client",
                "authorized_clients",
                e,
                &[],
                Some("the DID is not an account"),
            )
        })?;
        Ok(())
    }

    fn forget_authorized_client(&self, did: &Did, client_id: &str) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        let n = diesel::delete(ac::authorized_clients.find((did.as_str(), client_id)))
            .execute(&mut *conn)
            .map_err(|e| error::query("forgetting an authorized client", e))?;
        Ok(n > 0)
    }

    fn authorized_clients(&self, did: &Did) -> StoreResult<Vec<AuthorizedClient>> {
        let mut conn = self.conn()?;
        let rows = ac::authorized_clients
            .filter(ac::did.eq(did.as_str()))
            .order((ac::updated_at.desc(), ac::client_id.asc()))
            .select(AuthorizedClientRow::as_select())
            .load(&mut *conn)
            .map_err(|e| error::query("listing an account's authorized clients", e))?;
        rows.into_iter()
            .map(AuthorizedClientRow::into_authorized_client)
            .collect()
    }
}
