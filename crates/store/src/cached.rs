//! Hot-path writes as statements diesel keeps prepared.
//!
//! diesel never caches an `UPDATE` built with its DSL (a changeset may
//! differ from one call to the next), so every refresh rotation compiled
//! its statement anew: a few percent of a token request's CPU. The
//! statements here have fixed SQL and typed binds, and a static query id,
//! so each connection compiles them once.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Text};
use diesel::{QueryResult, RunQueryDsl};

/// `UPDATE oauth_sessions SET refresh_hash = new, previous_refresh_hash =
/// expected, refresh_expires_at, rotated_at = now, last_used_at = now
/// WHERE id = ? AND refresh_hash = expected`: the compare-and-swap of a
/// refresh rotation (`crate::sessions`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RotateRefresh<'a> {
    pub id: &'a str,
    pub expected_hash: &'a str,
    pub new_hash: &'a str,
    pub new_expires_at: i64,
    pub now: i64,
}

impl QueryId for RotateRefresh<'_> {
    type QueryId = RotateRefresh<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB> QueryFragment<DB> for RotateRefresh<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<BigInt>,
    str: ToSql<Text, DB>,
    i64: ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE oauth_sessions SET refresh_hash = ");
        out.push_bind_param::<Text, str>(self.new_hash)?;
        out.push_sql(", previous_refresh_hash = ");
        out.push_bind_param::<Text, str>(self.expected_hash)?;
        out.push_sql(", refresh_expires_at = ");
        out.push_bind_param::<BigInt, i64>(&self.new_expires_at)?;
        out.push_sql(", rotated_at = ");
        out.push_bind_param::<BigInt, i64>(&self.now)?;
        out.push_sql(", last_used_at = ");
        out.push_bind_param::<BigInt, i64>(&self.now)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, str>(self.id)?;
        out.push_sql(" AND refresh_hash = ");
        out.push_bind_param::<Text, str>(self.expected_hash)?;
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for RotateRefresh<'_> {}

/// `INSERT INTO replay … ON CONFLICT (namespace, key) DO UPDATE SET
/// expires_at = excluded.expires_at WHERE replay.expires_at <= now`: the
/// one-statement check-and-insert of `crate::replay` (PostgreSQL and
/// SQLite spell it the same way). diesel's own upsert is never cached.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReplayUpsert<'a> {
    pub namespace: &'a str,
    pub key: &'a str,
    pub expires_at: i64,
    pub now: i64,
}

impl QueryId for ReplayUpsert<'_> {
    type QueryId = ReplayUpsert<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB> QueryFragment<DB> for ReplayUpsert<'_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<BigInt>,
    str: ToSql<Text, DB>,
    i64: ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("INSERT INTO replay (namespace, key, expires_at) VALUES (");
        out.push_bind_param::<Text, str>(self.namespace)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, str>(self.key)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, i64>(&self.expires_at)?;
        out.push_sql(
            ") ON CONFLICT (namespace, key) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE replay.expires_at <= ",
        );
        out.push_bind_param::<BigInt, i64>(&self.now)?;
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for ReplayUpsert<'_> {}
