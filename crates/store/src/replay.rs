//! `ReplayStore` for [`Store`].
//!
//! `check_and_insert` is one upsert: `INSERT … ON CONFLICT (namespace,
//! key) DO UPDATE SET expires_at = excluded.expires_at WHERE
//! replay.expires_at <= now`. A new key inserts; an expired one is
//! overwritten; an unexpired one matches the conflict but not the `WHERE`,
//! so nothing is written. The affected-row count (1 or 0) is the answer,
//! decided under the row's lock, so concurrent callers (in this process or
//! any other instance on the same database) get exactly one `true`.

use std::sync::atomic::Ordering;

use diesel::prelude::*;

use atauth_core::replay::ReplayStore;
use atauth_core::store::StoreResult;

use crate::cached::ReplayUpsert;
use crate::codec;
use crate::conn::{per_backend, AnyConnection};
use crate::error;
use crate::schema::replay::dsl as rp;
use crate::Store;

/// One call in this many (the first included) first purges expired
/// entries, so the table stays the size of the live windows without a
/// separate job.
pub(crate) const PURGE_EVERY: u64 = 256;

/// Delete every entry with `expires_at <= now`.
fn purge(conn: &mut AnyConnection, now: i64) -> StoreResult<u64> {
    let n = diesel::delete(rp::replay.filter(rp::expires_at.le(now)))
        .execute(conn)
        .map_err(|e| error::query("purging expired replay entries", e))?;
    Ok(codec::count(n))
}

impl Store {
    /// Delete every replay entry that has expired by `now` (`expires_at <=
    /// now`) and return how many. `check_and_insert` already does this
    /// every few hundred calls; this is for a maintenance job or a test.
    pub fn purge_expired_replay(&self, now: i64) -> StoreResult<u64> {
        let mut conn = self.conn()?;
        purge(&mut conn, now)
    }
}

impl ReplayStore for Store {
    fn check_and_insert(
        &self,
        namespace: &str,
        key: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let mut conn = self.conn()?;
        if self.replay_calls.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY == 0 {
            // Housekeeping only: an expired entry counts as new whether or
            // not it is purged, so a failure here does not fail the check.
            if let Err(e) = purge(&mut conn, now) {
                tracing::warn!(error = %e, "could not purge expired replay entries");
            }
        }
        let upsert = ReplayUpsert {
            namespace,
            key,
            expires_at,
            now,
        };
        let n = per_backend!(&mut *conn, c => upsert.execute(c))
            .map_err(|e| error::query("recording a one-time value", e))?;
        Ok(n == 1)
    }
}
