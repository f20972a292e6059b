//! `SessionStore` for [`Store`].
//!
//! Refresh rotation is one compare-and-swap `UPDATE … WHERE id = ? AND
//! refresh_hash = ?`: the condition is evaluated under the row's write
//! lock, so of concurrent rotations from one hash exactly one matches.

use diesel::prelude::*;

use atauth_core::identity::Did;
use atauth_core::store::{OAuthSession, RefreshLookup, SessionStore, StoreError, StoreResult};

use crate::cached::RotateRefresh;
use crate::codec;
use crate::conn::per_backend;
use crate::error;
use crate::schema::oauth_sessions::{self, dsl as s};
use crate::Store;

const TABLE: &str = "oauth_sessions";

/// The unique columns, with their PostgreSQL constraint names.
const UNIQUE_KEYS: &[(&str, &str)] = &[
    ("id", "oauth_sessions_pkey"),
    ("refresh_hash", "oauth_sessions_refresh_hash_key"),
];

/// What a foreign-key violation on insert means.
const NO_ACCOUNT: &str = "the session's DID is not an account";

/// An `oauth_sessions` row as read, before its DID and JSON are checked.
#[derive(Queryable, Selectable)]
#[diesel(table_name = oauth_sessions)]
struct SessionRow {
    id: String,
    did: String,
    client_id: String,
    client_auth: String,
    scope: String,
    dpop_jkt: String,
    request_id: String,
    created_at: i64,
    expires_at: i64,
    refresh_hash: Option<String>,
    refresh_expires_at: Option<i64>,
    previous_refresh_hash: Option<String>,
    rotated_at: Option<i64>,
    last_used_at: i64,
}

impl SessionRow {
    fn into_session(self) -> StoreResult<OAuthSession> {
        let did = codec::did("oauth_sessions.did", &self.id, &self.did)?;
        let client_auth =
            codec::from_json("oauth_sessions.client_auth", &self.id, &self.client_auth)?;
        Ok(OAuthSession {
            id: self.id,
            did,
            client_id: self.client_id,
            client_auth,
            scope: self.scope,
            dpop_jkt: self.dpop_jkt,
            request_id: self.request_id,
            created_at: self.created_at,
            expires_at: self.expires_at,
            refresh_hash: self.refresh_hash,
            refresh_expires_at: self.refresh_expires_at,
            previous_refresh_hash: self.previous_refresh_hash,
            rotated_at: self.rotated_at,
            last_used_at: self.last_used_at,
        })
    }
}

/// An `oauth_sessions` row to insert.
#[derive(Insertable)]
#[diesel(table_name = oauth_sessions)]
struct NewSession<'a> {
    id: &'a str,
    did: &'a str,
    client_id: &'a str,
    client_auth: String,
    scope: &'a str,
    dpop_jkt: &'a str,
    request_id: &'a str,
    created_at: i64,
    expires_at: i64,
    refresh_hash: Option<&'a str>,
    refresh_expires_at: Option<i64>,
    previous_refresh_hash: Option<&'a str>,
    rotated_at: Option<i64>,
    last_used_at: i64,
}

fn into_sessions(rows: Vec<SessionRow>) -> StoreResult<Vec<OAuthSession>> {
    rows.into_iter().map(SessionRow::into_session).collect()
}

impl SessionStore for Store {
    fn create_session(&self, session: &OAuthSession) -> StoreResult<()> {
        let what = "creating an OAuth session";
        let row = NewSession {
            id: &session.id,
            did: session.did.as_str(),
            client_id: &session.client_id,
            client_auth: codec::to_json("oauth_sessions.client_auth", &session.client_auth)?,
            scope: &session.scope,
            dpop_jkt: &session.dpop_jkt,
            request_id: &session.request_id,
            created_at: session.created_at,
            expires_at: session.expires_at,
            refresh_hash: session.refresh_hash.as_deref(),
            refresh_expires_at: session.refresh_expires_at,
            previous_refresh_hash: session.previous_refresh_hash.as_deref(),
            rotated_at: session.rotated_at,
            last_used_at: session.last_used_at,
        };
        let mut conn = self.conn()?;
        match diesel::insert_into(s::oauth_sessions)
            .values(&row)
            .execute(&mut *conn)
        {
            Ok(_) => Ok(()),
            Err(e) if error::unique_violation(&e).is_some() => {
                // The id wins when both collide, whichever index the
                // backend checked first.
                let id_taken =
                    diesel::select(diesel::dsl::exists(s::oauth_sessions.find(&session.id)))
                        .get_result::<bool>(&mut *conn)
                        .map_err(|e| error::query("checking an OAuth session conflict", e))?;
                if id_taken {
                    Err(StoreError::Conflict("id".into()))
                } else {
                    Err(error::write(what, TABLE, e, UNIQUE_KEYS, None))
                }
            }
            Err(e) => Err(error::write(what, TABLE, e, UNIQUE_KEYS, Some(NO_ACCOUNT))),
        }
    }

    fn session_by_id(&self, id: &str) -> StoreResult<Option<OAuthSession>> {
        let mut conn = self.conn()?;
        s::oauth_sessions
            .find(id)
            .select(SessionRow::as_select())
            .get_result(&mut *conn)
            .optional()
            .map_err(|e| error::query("reading an OAuth session", e))?
            .map(SessionRow::into_session)
            .transpose()
    }

    fn find_refresh(&self, refresh_hash: &str) -> StoreResult<RefreshLookup> {
        let mut conn = self.conn()?;
        // The current token first (its unique index), then the replaced
        // one. A rotation between the two reads cannot make a current token
        // look unknown: if the first read missed it, it was already replaced
        // and the second finds it, unless a second rotation replaced it too,
        // and then it is unknown by rule (one previous slot).
        let current = s::oauth_sessions
            .filter(s::refresh_hash.eq(refresh_hash))
            .select(SessionRow::as_select())
            .get_result(&mut *conn)
            .optional()
            .map_err(|e| error::query("looking up a refresh token", e))?;
        if let Some(row) = current {
            return row.into_session().map(RefreshLookup::Current);
        }
        let previous = s::oauth_sessions
            .filter(s::previous_refresh_hash.eq(refresh_hash))
            .order(s::id.asc())
            .select(SessionRow::as_select())
            .get_result(&mut *conn)
            .optional()
            .map_err(|e| error::query("looking up a replaced refresh token", e))?;
        match previous {
            Some(row) => row.into_session().map(RefreshLookup::Previous),
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
        let mut conn = self.conn()?;
        let rotate = RotateRefresh {
            id,
            expected_hash,
            new_hash,
            new_expires_at,
            now,
        };
        let n = per_backend!(&mut *conn, c => rotate.execute(c)).map_err(|e| {
            error::write(
                "rotating a refresh token",
                TABLE,
                e,
                &UNIQUE_KEYS[1..],
                None,
            )
        })?;
        Ok(n == 1)
    }

    fn touch_session(&self, id: &str, now: i64) -> StoreResult<()> {
        let mut conn = self.conn()?;
        diesel::update(s::oauth_sessions.find(id))
            .set(s::last_used_at.eq(now))
            .execute(&mut *conn)
            .map_err(|e| error::query("recording use of an OAuth session", e))?;
        Ok(())
    }

    fn delete_session(&self, id: &str) -> StoreResult<u64> {
        let mut conn = self.conn()?;
        let n = diesel::delete(s::oauth_sessions.find(id))
            .execute(&mut *conn)
            .map_err(|e| error::query("deleting an OAuth session", e))?;
        Ok(codec::count(n))
    }

    fn delete_sessions_for_request(&self, request_id: &str) -> StoreResult<u64> {
        let mut conn = self.conn()?;
        let n = diesel::delete(s::oauth_sessions.filter(s::request_id.eq(request_id)))
            .execute(&mut *conn)
            .map_err(|e| error::query("deleting the OAuth sessions of a request", e))?;
        Ok(codec::count(n))
    }

    fn delete_sessions_for(&self, did: &Did, client_id: Option<&str>) -> StoreResult<u64> {
        let mut conn = self.conn()?;
        let mut query = diesel::delete(s::oauth_sessions)
            .filter(s::did.eq(did.as_str()))
            .into_boxed();
        if let Some(client_id) = client_id {
            query = query.filter(s::client_id.eq(client_id));
        }
        let n = query
            .execute(&mut *conn)
            .map_err(|e| error::query("deleting an account's OAuth sessions", e))?;
        Ok(codec::count(n))
    }

    fn list_sessions(
        &self,
        did: Option<&Did>,
        client_id: Option<&str>,
    ) -> StoreResult<Vec<OAuthSession>> {
        let mut conn = self.conn()?;
        let mut query = s::oauth_sessions
            .select(SessionRow::as_select())
            .order((s::created_at.desc(), s::id.asc()))
            .into_boxed();
        if let Some(did) = did {
            query = query.filter(s::did.eq(did.as_str()));
        }
        if let Some(client_id) = client_id {
            query = query.filter(s::client_id.eq(client_id));
        }
        let rows = query
            .load(&mut *conn)
            .map_err(|e| error::query("listing OAuth sessions", e))?;
        into_sessions(rows)
    }

    fn purge_expired_sessions(&self, now: i64) -> StoreResult<u64> {
        let mut conn = self.conn()?;
        let n = diesel::delete(s::oauth_sessions.filter(s::expires_at.le(now)))
            .execute(&mut *conn)
            .map_err(|e| error::query("purging expired OAuth sessions", e))?;
        Ok(codec::count(n))
    }
}
