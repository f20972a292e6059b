//! Where database work runs: on the request's own thread when the store is
//! embedded (SQLite: microseconds, serialised in-process by the store), on
//! actix's blocking pool otherwise (PostgreSQL: network round trips that
//! must not stall a worker). Handing every call to another thread and back
//! cost more than the call itself on SQLite (two context switches and a
//! wake-up per request, measured in BENCHMARKS.md).

use actix_web::error::BlockingError;
use actix_web::web;

/// Run `f`, inline if `inline`, else on the blocking pool.
pub async fn run<T, F>(inline: bool, f: F) -> Result<T, BlockingError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if inline {
        Ok(f())
    } else {
        web::block(f).await
    }
}
