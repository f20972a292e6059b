//! DNS resolution for outbound fetches, with every answer filtered.
//!
//! The HTTP client connects only to the addresses this resolver returns, so
//! filtering here checks the address actually connected to: a name that
//! resolves (or re-resolves, DNS rebinding) to a private address fails.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use super::ip::is_allowed_ip;

/// A boxed, sendable future (the resolver traits are object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Turns a host name into addresses. Injectable so tests can map names to
/// chosen addresses; production uses [`SystemResolver`].
pub trait HostResolver: Send + Sync + 'static {
    /// All addresses `host` resolves to.
    fn lookup(&self, host: String) -> BoxFuture<'static, io::Result<Vec<IpAddr>>>;
}

/// The operating system's resolver, through `tokio::net::lookup_host`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl HostResolver for SystemResolver {
    fn lookup(&self, host: String) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// A fixed table of names to addresses, for tests. Unknown names fail.
#[derive(Debug, Default, Clone)]
pub struct StaticResolver {
    map: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Map `host` (case-insensitive) to `addrs`.
    pub fn with(mut self, host: &str, addrs: &[IpAddr]) -> Self {
        self.map.insert(host.to_ascii_lowercase(), addrs.to_vec());
        self
    }
}

impl HostResolver for StaticResolver {
    fn lookup(&self, host: String) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        let found = self.map.get(&host.to_ascii_lowercase()).cloned();
        Box::pin(async move {
            found.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "name not in the static resolver table",
                )
            })
        })
    }
}

/// The resolver refused a name because of what it resolved to. Found again
/// in the HTTP client's error chain to report the right [`super::FetchError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveRefusal {
    /// At least one address is not public unicast (nor allowed loopback).
    #[error("the host resolves to a non-public address")]
    NonPublic,
    /// The name resolved to nothing.
    #[error("the host resolves to no address")]
    NoAddress,
}

/// The `reqwest` DNS resolver: looks up through a [`HostResolver`] and
/// refuses the name if ANY address is not allowed.
///
/// Refusing on any (rather than dropping the bad ones and connecting to the
/// rest) is what bluesky-social/atproto does in
/// packages/internal/fetch-node/src/unicast.ts (`unicastLookup`:
/// `ips.some(isNotUnicast)` fails the lookup). A name that mixes public and
/// private answers is either misconfigured or an attack (rebinding with
/// round-robin answers), and a legitimate client-metadata host has no reason
/// to publish a private address.
pub(crate) struct FilteringResolver {
    pub(crate) inner: Arc<dyn HostResolver>,
    pub(crate) allow_loopback: bool,
}

impl reqwest::dns::Resolve for FilteringResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let lookup = self.inner.lookup(host.clone());
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let ips = lookup.await?;
            let addrs = filter_addresses(&host, &ips, allow_loopback)?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The socket addresses to connect to (port 0: the client fills in the
/// URL's port), or why the name is refused.
pub(crate) fn filter_addresses(
    host: &str,
    ips: &[IpAddr],
    allow_loopback: bool,
) -> Result<Vec<SocketAddr>, ResolveRefusal> {
    if ips.is_empty() {
        tracing::debug!(host, "fetch refused: name resolves to no address");
        return Err(ResolveRefusal::NoAddress);
    }
    if let Some(bad) = ips.iter().find(|ip| !is_allowed_ip(**ip, allow_loopback)) {
        // The address goes to the debug log only, never to a client.
        tracing::debug!(host, address = %bad, "fetch refused: name resolves to a non-public address");
        return Err(ResolveRefusal::NonPublic);
    }
    Ok(ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn rejects_any_non_public_answer() {
        let mixed = ips(&["93.184.216.34", "10.0.0.1"]);
        assert_eq!(
            filter_addresses("x", &mixed, false),
            Err(ResolveRefusal::NonPublic)
        );
        assert_eq!(
            filter_addresses("x", &mixed, true),
            Err(ResolveRefusal::NonPublic)
        );
    }

    #[test]
    fn rejects_empty_answer() {
        assert_eq!(
            filter_addresses("x", &[], false),
            Err(ResolveRefusal::NoAddress)
        );
    }

    #[test]
    fn loopback_answer_needs_allow_loopback() {
        let lo = ips(&["127.0.0.1", "::1"]);
        assert_eq!(
            filter_addresses("x", &lo, false),
            Err(ResolveRefusal::NonPublic)
        );
        assert_eq!(filter_addresses("x", &lo, true).unwrap().len(), 2);
    }

    #[test]
    fn public_answers_pass_with_port_zero() {
        let got = filter_addresses("x", &ips(&["8.8.8.8", "2001:4860:4860::8888"]), false).unwrap();
        assert!(got
            .iter()
            .all(|a| a.port() == 0 && crate::fetch::is_public_ip(a.ip())));
    }

    #[tokio::test]
    async fn static_resolver_maps_case_insensitively_and_fails_unknown() {
        let r = StaticResolver::new().with("Evil.Example", &ips(&["10.0.0.1"]));
        assert_eq!(
            r.lookup("evil.example".into()).await.unwrap(),
            ips(&["10.0.0.1"])
        );
        assert!(r.lookup("other.example".into()).await.is_err());
    }
}
