//! `RequestStore` for [`Store`].
//!
//! Every state change is one conditional statement, so concurrent callers
//! never act on a row another has changed since they read it: the
//! condition is evaluated under the row's write lock (PostgreSQL re-checks
//! it on the newest row version; SQLite runs one writer at a time).

use diesel::prelude::*;

use atauth_core::identity::Did;
use atauth_core::store::{
    AuthorizationRequest, CodeConsumption, RequestStore, StoreError, StoreResult,
};

use crate::codec;
use crate::conn::per_backend;
use crate::error;
use crate::schema::authorization_requests::{self, dsl as r};
use crate::Store;

const TABLE: &str = "authorization_requests";

/// The unique columns, with their PostgreSQL constraint names.
const UNIQUE_KEYS: &[(&str, &str)] = &[
    ("id", "authorization_requests_pkey"),
    ("code_hash", "authorization_requests_code_hash_key"),
];

/// An `authorization_requests` row as read, before its JSON and DID are
/// checked.
#[derive(Queryable, Selectable)]
#[diesel(table_name = authorization_requests)]
struct RequestRow {
    id: String,
    client_id: String,
    client_auth: String,
    params: String,
    created_at: i64,
    expires_at: i64,
    device_id: Option<String>,
    sub: Option<String>,
    code_hash: Option<String>,
    consumed_at: Option<i64>,
}

impl RequestRow {
    fn into_request(self) -> StoreResult<AuthorizationRequest> {
        let client_auth = codec::from_json(
            "authorization_requests.client_auth",
            &self.id,
            &self.client_auth,
        )?;
        let params = codec::from_json("authorization_requests.params", &self.id, &self.params)?;
        let sub = self
            .sub
            .as_deref()
            .map(|s| codec::did("authorization_requests.sub", &self.id, s))
            .transpose()?;
        Ok(AuthorizationRequest {
            id: self.id,
            client_id: self.client_id,
            client_auth,
            params,
            created_at: self.created_at,
            expires_at: self.expires_at,
            device_id: self.device_id,
            sub,
            code_hash: self.code_hash,
            consumed_at: self.consumed_at,
        })
    }
}

/// An `authorization_requests` row to insert.
#[derive(Insertable)]
#[diesel(table_name = authorization_requests)]
struct NewRequest<'a> {
    id: &'a str,
    client_id: &'a str,
    client_auth: String,
    params: String,
    created_at: i64,
    expires_at: i64,
    device_id: Option<&'a str>,
    sub: Option<&'a str>,
    code_hash: Option<&'a str>,
    consumed_at: Option<i64>,
}

impl RequestStore for Store {
    fn create_request(&self, request: &AuthorizationRequest) -> StoreResult<()> {
        let what = "creating an authorization request";
        let row = NewRequest {
            id: &request.id,
            client_id: &request.client_id,
            client_auth: codec::to_json(
                "authorization_requests.client_auth",
                &request.client_auth,
            )?,
            params: codec::to_json("authorization_requests.params", &request.params)?,
            created_at: request.created_at,
            expires_at: request.expires_at,
            device_id: request.device_id.as_deref(),
            sub: request.sub.as_ref().map(Did::as_str),
            code_hash: request.code_hash.as_deref(),
            consumed_at: request.consumed_at,
        };
        let mut conn = self.conn()?;
        match diesel::insert_into(r::authorization_requests)
            .values(&row)
            .execute(&mut *conn)
        {
            Ok(_) => Ok(()),
            Err(e) if error::unique_violation(&e).is_some() => {
                // The id wins when both collide, whichever index the
                // backend checked first.
                let id_taken = diesel::select(diesel::dsl::exists(
                    r::authorization_requests.find(&request.id),
                ))
                .get_result::<bool>(&mut *conn)
                .map_err(|e| error::query("checking an authorization request conflict", e))?;
                if id_taken {
                    Err(StoreError::Conflict("id".into()))
                } else {
                    Err(error::write(what, TABLE, e, UNIQUE_KEYS, None))
                }
            }
            Err(e) => Err(error::query(what, e)),
        }
    }

    fn get_request(&self, id: &str) -> StoreResult<Option<AuthorizationRequest>> {
        let mut conn = self.conn()?;
        r::authorization_requests
            .find(id)
            .select(RequestRow::as_select())
            .get_result(&mut *conn)
            .optional()
            .map_err(|e| error::query("reading an authorization request", e))?
            .map(RequestRow::into_request)
            .transpose()
    }

    fn bind_device(&self, id: &str, device_id: &str) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        let n = diesel::update(
            r::authorization_requests
                .find(id)
                .filter(r::code_hash.is_null())
                .filter(r::device_id.is_null().or(r::device_id.eq(device_id))),
        )
        .set(r::device_id.eq(device_id))
        .execute(&mut *conn)
        .map_err(|e| error::query("binding an authorization request to a device", e))?;
        Ok(n == 1)
    }

    fn issue_code(
        &self,
        id: &str,
        sub: &Did,
        code_hash: &str,
        code_expires_at: i64,
    ) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        let n = diesel::update(
            r::authorization_requests
                .find(id)
                .filter(r::code_hash.is_null()),
        )
        .set((
            r::sub.eq(sub.as_str()),
            r::code_hash.eq(code_hash),
            r::expires_at.eq(code_expires_at),
        ))
        .execute(&mut *conn)
        .map_err(|e| {
            error::write(
                "issuing an authorization code",
                TABLE,
                e,
                &UNIQUE_KEYS[1..],
                None,
            )
        })?;
        Ok(n == 1)
    }

    fn consume_code(&self, code_hash: &str, now: i64) -> StoreResult<CodeConsumption> {
        let mut conn = self.conn()?;
        // One statement decides: it marks the code consumed only if it is
        // unconsumed and unexpired, and returns the row if it did.
        let consume = diesel::update(
            r::authorization_requests
                .filter(r::code_hash.eq(code_hash))
                .filter(r::consumed_at.is_null())
                .filter(r::expires_at.gt(now)),
        )
        .set(r::consumed_at.eq(now));
        // `RETURNING` through each backend's own connection: the
        // multi-backend cannot load a `Selectable` from it.
        let consumed = per_backend!(&mut *conn, c => consume
            .returning(RequestRow::as_returning())
            .get_result(c)
            .optional())
        .map_err(|e| error::query("consuming an authorization code", e))?;
        if let Some(row) = consumed {
            return row.into_request().map(CodeConsumption::Consumed);
        }
        // Not ours to consume: already consumed, expired, or unknown.
        let existing = r::authorization_requests
            .filter(r::code_hash.eq(code_hash))
            .select(RequestRow::as_select())
            .get_result(&mut *conn)
            .optional()
            .map_err(|e| error::query("reading a used authorization code", e))?;
        match existing {
            Some(row) => row.into_request().map(CodeConsumption::Reused),
            None => Ok(CodeConsumption::Unknown),
        }
    }

    fn delete_request(&self, id: &str) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        let n = diesel::delete(r::authorization_requests.find(id))
            .execute(&mut *conn)
            .map_err(|e| error::query("deleting an authorization request", e))?;
        Ok(n > 0)
    }

    fn purge_expired_requests(&self, now: i64, grace_secs: i64) -> StoreResult<u64> {
        let cutoff = now.saturating_sub(grace_secs);
        let mut conn = self.conn()?;
        let n = diesel::delete(r::authorization_requests.filter(r::expires_at.lt(cutoff)))
            .execute(&mut *conn)
            .map_err(|e| error::query("purging expired authorization requests", e))?;
        Ok(codec::count(n))
    }
}
