//! The SSRF-safe fetcher.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use url::{Host, Url};

use super::ip::is_allowed_ip;
use super::resolve::{FilteringResolver, HostResolver, ResolveRefusal, SystemResolver};
use super::{Accept, BoxFuture, Fetch, FetchError, Fetched};

/// What outbound fetches may do. One policy per [`SafeFetcher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPolicy {
    /// Total time for one fetch: resolution, connection, headers and body.
    /// Default 5 s (SPEC §3: "short timeout").
    pub timeout: Duration,
    /// Largest body accepted. Default 64 KiB (SPEC §3: the draft
    /// recommends 5 KB, the reference allows 512 KiB; local policy).
    pub max_body_bytes: usize,
    /// Also allow loopback addresses (127.0.0.0/8, ::1). Tests and `--dev`
    /// only; default false; logged with `warn!` when on.
    pub allow_loopback: bool,
    /// Also allow plain `http`. Tests and `--dev` only; default false.
    pub allow_http: bool,
    /// The `User-Agent` sent. Default `atauth/<version>`.
    pub user_agent: String,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            timeout: Duration::from_secs(5),
            max_body_bytes: 64 * 1024,
            allow_loopback: false,
            allow_http: false,
            user_agent: format!("atauth/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// The one outbound HTTP client (ARCHITECTURE "Outbound HTTP"). Cheap to
/// share behind an `Arc`; all fetching in the server goes through it.
pub struct SafeFetcher {
    client: reqwest::Client,
    policy: FetchPolicy,
}

impl std::fmt::Debug for SafeFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SafeFetcher")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl SafeFetcher {
    /// A fetcher resolving names with the operating system's resolver.
    pub fn new(policy: FetchPolicy) -> Result<SafeFetcher, FetchError> {
        Self::with_resolver(policy, Arc::new(SystemResolver))
    }

    /// A fetcher resolving names through `resolver` (tests map names to
    /// chosen addresses). Every answer is still filtered.
    pub fn with_resolver(
        policy: FetchPolicy,
        resolver: Arc<dyn HostResolver>,
    ) -> Result<SafeFetcher, FetchError> {
        if policy.allow_loopback {
            tracing::warn!(
                "outbound fetches may reach LOOPBACK addresses (allow_loopback is on): \
                 for tests and development only, never in production"
            );
        }
        if policy.allow_http {
            tracing::warn!("outbound fetches may use plain HTTP (allow_http is on): for tests and development only");
        }
        let client = reqwest::Client::builder()
            // SPEC §3: no redirects; a 3xx comes back as a response and is refused.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve names itself, bypassing the filter.
            .no_proxy()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            .https_only(!policy.allow_http)
            .user_agent(policy.user_agent.clone())
            .referer(false)
            .dns_resolver(FilteringResolver {
                inner: resolver,
                allow_loopback: policy.allow_loopback,
            })
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        Ok(SafeFetcher { client, policy })
    }

    /// The policy in force.
    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// The checks that need no network: scheme, credentials, and an IP
    /// literal host. Host names are checked after resolution.
    pub fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        match url.scheme() {
            "https" => {}
            "http" if self.policy.allow_http => {}
            other => return Err(FetchError::Scheme(other.to_string())),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::InvalidUrl("the URL carries credentials".into()));
        }
        // The url crate (WHATWG URL Standard, IPv4 parser) already turns
        // decimal, octal and hex hosts (`2130706433`, `0177.0.0.1`,
        // `0x7f.1`) into `Host::Ipv4`, so they are judged here as addresses.
        let ip: Option<IpAddr> = match url.host() {
            None => return Err(FetchError::InvalidUrl("the URL has no host".into())),
            Some(Host::Ipv4(v4)) => Some(v4.into()),
            Some(Host::Ipv6(v6)) => Some(v6.into()),
            Some(Host::Domain(d)) => d.parse().ok(),
        };
        if let Some(ip) = ip {
            if !is_allowed_ip(ip, self.policy.allow_loopback) {
                return Err(FetchError::NonPublicAddress);
            }
        }
        Ok(())
    }

    /// GET `url` under the policy. Logs the URL and outcome at debug.
    pub async fn get(&self, url: &Url, accept: Accept) -> Result<Fetched, FetchError> {
        let result =
            match tokio::time::timeout(self.policy.timeout, self.get_inner(url, accept)).await {
                Ok(r) => r,
                Err(_) => Err(FetchError::Timeout),
            };
        match &result {
            Ok(f) => tracing::debug!(url = %url, bytes = f.body.len(), "fetch ok"),
            Err(e) => tracing::debug!(url = %url, error = %e, "fetch refused or failed"),
        }
        result
    }

    async fn get_inner(&self, url: &Url, accept: Accept) -> Result<Fetched, FetchError> {
        self.check_url(url)?;
        let mut resp = self
            .client
            .get(url.clone())
            .header(ACCEPT, accept.header_value())
            .send()
            .await
            .map_err(map_reqwest_error)?;

        let status = resp.status().as_u16();
        if resp.status().is_redirection() {
            return Err(FetchError::Redirect(status));
        }
        if status != 200 {
            return Err(FetchError::Status(status));
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("(unreadable)"));
        if !content_type.is_some_and(|ct| accept.allows(ct)) {
            return Err(FetchError::ContentType {
                got: content_type.map_or_else(|| "none".to_string(), |ct| truncate(ct, 80)),
                expected: accept.header_value(),
            });
        }
        let cache_control = resp
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);

        let cap = self.policy.max_body_bytes;
        if resp.content_length().is_some_and(|n| n > cap as u64) {
            return Err(FetchError::TooLarge(cap));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(map_reqwest_error)? {
            if body.len() + chunk.len() > cap {
                // Dropping the response aborts the connection mid-body.
                return Err(FetchError::TooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            url: url.clone(),
            body,
            cache_control,
        })
    }
}

impl Fetch for SafeFetcher {
    fn fetch(&self, url: Url, accept: Accept) -> BoxFuture<'_, Result<Fetched, FetchError>> {
        Box::pin(async move { self.get(&url, accept).await })
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Map a client error to the rule it broke; the resolver's refusal is found
/// in the error's source chain.
fn map_reqwest_error(e: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(refusal) = err.downcast_ref::<ResolveRefusal>() {
            return match refusal {
                ResolveRefusal::NonPublic => FetchError::NonPublicResolution,
                ResolveRefusal::NoAddress => FetchError::Connect,
            };
        }
        source = err.source();
    }
    if e.is_timeout() {
        FetchError::Timeout
    } else if e.is_connect() {
        FetchError::Connect
    } else if e.is_body() || e.is_decode() {
        FetchError::Transport("the response body could not be read".into())
    } else {
        FetchError::Transport("the request could not be completed".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetcher(allow_loopback: bool, allow_http: bool) -> SafeFetcher {
        SafeFetcher::new(FetchPolicy {
            allow_loopback,
            allow_http,
            ..FetchPolicy::default()
        })
        .unwrap()
    }

    fn check(f: &SafeFetcher, url: &str) -> Result<(), FetchError> {
        f.check_url(&Url::parse(url).unwrap())
    }

    #[test]
    fn url_crate_normalises_integer_hosts_to_ipv4() {
        for (input, host) in [
            ("https://2130706433/", "127.0.0.1"),
            ("https://0x7f000001/", "127.0.0.1"),
            ("https://0x7f.1/", "127.0.0.1"),
            ("https://0177.0.0.1/", "127.0.0.1"),
            ("https://127.1/", "127.0.0.1"),
            ("https://017700000001/", "127.0.0.1"),
            ("https://127.0.0.1./", "127.0.0.1"),
            ("https://0/", "0.0.0.0"),
            ("https://167772161/", "10.0.0.1"),
            ("https://[::ffff:7f00:1]/", "[::ffff:7f00:1]"),
        ] {
            let u = Url::parse(input).unwrap();
            assert!(
                matches!(u.host(), Some(Host::Ipv4(_)) | Some(Host::Ipv6(_))),
                "{input}"
            );
            assert_eq!(u.host_str(), Some(host), "{input}");
        }
    }

    #[test]
    fn rejects_non_public_ip_literals() {
        let f = fetcher(false, false);
        for url in [
            "https://127.0.0.1/",
            "https://0.0.0.0/",
            "https://10.0.0.1/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://100.64.0.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/",
            "https://[::]/",
            "https://[fc00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://2130706433/",
            "https://0177.0.0.1/",
            "https://0x7f000001/",
            "https://0x7f.1/",
        ] {
            assert_eq!(check(&f, url), Err(FetchError::NonPublicAddress), "{url}");
        }
        assert_eq!(check(&f, "https://8.8.8.8/"), Ok(()));
        assert_eq!(check(&f, "https://example.com/"), Ok(()));
    }

    #[test]
    fn allow_loopback_adds_only_loopback() {
        let f = fetcher(true, false);
        assert_eq!(check(&f, "https://127.0.0.1/"), Ok(()));
        assert_eq!(check(&f, "https://[::1]/"), Ok(()));
        for url in [
            "https://0.0.0.0/",
            "https://10.0.0.1/",
            "https://169.254.169.254/",
            "https://[fe80::1]/",
        ] {
            assert_eq!(check(&f, url), Err(FetchError::NonPublicAddress), "{url}");
        }
    }

    #[test]
    fn rejects_http_unless_allowed_and_other_schemes_always() {
        let strict = fetcher(false, false);
        assert_eq!(
            check(&strict, "http://example.com/"),
            Err(FetchError::Scheme("http".into()))
        );
        assert_eq!(
            check(&strict, "file:///etc/passwd"),
            Err(FetchError::Scheme("file".into()))
        );
        let dev = fetcher(false, true);
        assert_eq!(check(&dev, "http://example.com/"), Ok(()));
        assert_eq!(
            check(&dev, "ftp://example.com/"),
            Err(FetchError::Scheme("ftp".into()))
        );
    }

    #[test]
    fn rejects_credentials_in_url() {
        let f = fetcher(false, false);
        assert!(matches!(
            check(&f, "https://user:pw@example.com/"),
            Err(FetchError::InvalidUrl(_))
        ));
        assert!(matches!(
            check(&f, "https://user@example.com/"),
            Err(FetchError::InvalidUrl(_))
        ));
    }
}
