//! A cache of validated documents in front of the fetcher.
//!
//! SPEC §3: "never cache a failure or an invalid document; honour HTTP
//! caching within the server's own bounds; coalesce concurrent fetches of
//! one URL". moka's `try_get_with` runs one init future per key while the
//! other callers wait for its result, and stores nothing when it fails; the
//! per-entry lifetime comes from `Cache-Control` through an `Expiry`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::future::Cache;
use moka::Expiry;
use url::Url;

use super::{Accept, Fetch, FetchError};

/// How long documents stay cached, and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheBounds {
    /// Shortest lifetime, also used for `no-store` / `no-cache`. Default 60 s.
    pub min_ttl: Duration,
    /// Longest lifetime, whatever `max-age` says. Default 3600 s.
    pub max_ttl: Duration,
    /// Lifetime when the response has no usable `max-age`. Default 600 s.
    pub default_ttl: Duration,
    /// Most entries kept. Default 10 000.
    pub max_entries: u64,
}

impl Default for CacheBounds {
    fn default() -> Self {
        CacheBounds {
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(3600),
            default_ttl: Duration::from_secs(600),
            max_entries: 10_000,
        }
    }
}

impl CacheBounds {
    fn clamp(&self, d: Duration) -> Duration {
        // Not Duration::clamp: that panics when min > max.
        d.max(self.min_ttl).min(self.max_ttl)
    }
}

/// The lifetime of a response with this `Cache-Control` header, within the
/// bounds. `no-store` and `no-cache` give the minimum (the server still
/// needs the document for the request in progress, and a short reuse spares
/// the origin); `s-maxage` wins over `max-age` (RFC 9111 §5.2.2.10: this is
/// a cache shared by all users); no usable age gives the default.
pub fn cache_ttl(cache_control: Option<&str>, bounds: &CacheBounds) -> Duration {
    let Some(cc) = cache_control else {
        return bounds.clamp(bounds.default_ttl);
    };
    let mut max_age = None;
    let mut s_maxage = None;
    for directive in cc.split(',') {
        let directive = directive.trim();
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (directive, None),
        };
        let seconds = value.and_then(|v| v.parse::<u64>().ok());
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return bounds.min_ttl;
        } else if name.eq_ignore_ascii_case("max-age") {
            max_age = seconds;
        } else if name.eq_ignore_ascii_case("s-maxage") {
            s_maxage = seconds;
        }
    }
    match s_maxage.or(max_age) {
        Some(s) => bounds.clamp(Duration::from_secs(s)),
        None => bounds.clamp(bounds.default_ttl),
    }
}

/// Why [`JsonCache::get_or_fetch`] failed. Nothing is cached in either case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError<E> {
    /// The fetch itself failed.
    #[error("{0}")]
    Fetch(FetchError),
    /// The document was fetched but the validator refused it.
    #[error("{0}")]
    Invalid(E),
}

struct Entry<T> {
    value: Arc<T>,
    ttl: Duration,
}

impl<T> Clone for Entry<T> {
    fn clone(&self) -> Self {
        Entry {
            value: self.value.clone(),
            ttl: self.ttl,
        }
    }
}

struct PerEntryTtl;

impl<T> Expiry<String, Entry<T>> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Entry<T>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Validated documents by URL. `T` is what the validator makes of the body
/// (client metadata, a key set, a DID document), never raw JSON.
pub struct JsonCache<T> {
    fetcher: Arc<dyn Fetch>,
    accept: Accept,
    bounds: CacheBounds,
    cache: Cache<String, Entry<T>>,
}

impl<T> std::fmt::Debug for JsonCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonCache")
            .field("accept", &self.accept)
            .field("bounds", &self.bounds)
            .field("entries", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

impl<T: Send + Sync + 'static> JsonCache<T> {
    /// A cache fetching through `fetcher` with the given accepted types.
    pub fn new(fetcher: Arc<dyn Fetch>, accept: Accept, bounds: CacheBounds) -> Self {
        let cache = Cache::builder()
            .max_capacity(bounds.max_entries)
            .expire_after(PerEntryTtl)
            .build();
        JsonCache {
            fetcher,
            accept,
            bounds,
            cache,
        }
    }

    /// The cached value for `url`, or fetch it, run `validate` on the body
    /// and cache the result for the lifetime `Cache-Control` gives (within
    /// the bounds). A failed fetch or a refused document is returned and not
    /// cached, so the next call fetches again. Concurrent calls for one URL
    /// share one fetch (and its outcome).
    pub async fn get_or_fetch<E, F>(&self, url: &Url, validate: F) -> Result<Arc<T>, CacheError<E>>
    where
        F: FnOnce(&[u8]) -> Result<T, E> + Send,
        E: Clone + Send + Sync + 'static,
    {
        let fetcher = self.fetcher.clone();
        let accept = self.accept;
        let bounds = self.bounds;
        let target = url.clone();
        let init = async move {
            let fetched = fetcher
                .fetch(target, accept)
                .await
                .map_err(CacheError::Fetch)?;
            let value = validate(&fetched.body).map_err(CacheError::Invalid)?;
            let ttl = cache_ttl(fetched.cache_control.as_deref(), &bounds);
            tracing::debug!(url = %fetched.url, ttl_secs = ttl.as_secs(), "document validated and cached");
            Ok(Entry {
                value: Arc::new(value),
                ttl,
            })
        };
        self.cache
            .try_get_with(url.as_str().to_string(), init)
            .await
            .map(|e| e.value)
            .map_err(|e: Arc<CacheError<E>>| (*e).clone())
    }

    /// The cached value for `url`, without fetching.
    pub async fn get_cached(&self, url: &Url) -> Option<Arc<T>> {
        self.cache.get(url.as_str()).await.map(|e| e.value)
    }

    /// Drop the entry for `url`, so the next lookup fetches again.
    pub async fn invalidate(&self, url: &Url) {
        self.cache.invalidate(url.as_str()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn ttl_from_cache_control_within_bounds() {
        let b = CacheBounds::default();
        let table: &[(Option<&str>, u64)] = &[
            (None, 600),
            (Some(""), 600),
            (Some("public"), 600),
            (Some("max-age=300"), 300),
            (Some("public, max-age=120"), 120),
            (Some("Max-Age=\"900\""), 900),
            (Some("max-age=5"), 60),
            (Some("max-age=0"), 60),
            (Some("max-age=999999"), 3600),
            (Some("max-age=abc"), 600),
            (Some("max-age=-5"), 600),
            (Some("no-store"), 60),
            (Some("max-age=3000, no-cache"), 60),
            (Some("No-Store"), 60),
            (Some("max-age=100, s-maxage=2000"), 2000),
        ];
        for (cc, want) in table {
            assert_eq!(cache_ttl(*cc, &b), secs(*want), "{cc:?}");
        }
    }

    #[test]
    fn inverted_bounds_do_not_panic() {
        let b = CacheBounds {
            min_ttl: secs(100),
            max_ttl: secs(10),
            ..CacheBounds::default()
        };
        assert_eq!(cache_ttl(Some("max-age=50"), &b), secs(10));
    }
}
