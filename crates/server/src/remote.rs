//! The HTTP side of role `resource` (entryway mode, issue 6): the
//! authorization server's JWKS, fetched through the SSRF-safe fetcher, and
//! its introspection endpoint (RFC 7662), called with the configured
//! secret. The rules (when to refetch, what to cache, what an answer means)
//! live in atauth-resource; these are the adapters.

use std::sync::Arc;

use atauth_core::token::introspect::{Introspection, IntrospectionSecret};
use atauth_resource::{BoxFuture, Introspect, JwksFetch};
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde_json::Value;
use url::Url;

use crate::fetch::{Accept, Fetch, FetchError, FetchPolicy};

/// Largest introspection answer read. Policy: an answer is a few hundred
/// bytes.
pub const MAX_INTROSPECTION_BYTES: usize = 16 * 1024;

/// [`JwksFetch`] through the server's [`Fetch`] (https only, public
/// addresses only unless the policy allows loopback, no redirects, size
/// cap, timeout).
pub struct FetchedJwks {
    fetcher: Arc<dyn Fetch>,
    url: Url,
}

impl std::fmt::Debug for FetchedJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedJwks")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl FetchedJwks {
    /// Fetch `url` through `fetcher`.
    pub fn new(fetcher: Arc<dyn Fetch>, url: Url) -> Self {
        FetchedJwks { fetcher, url }
    }
}

impl JwksFetch for FetchedJwks {
    fn fetch_jwks(&self) -> BoxFuture<'_, Result<Value, String>> {
        Box::pin(async move {
            let fetched = self
                .fetcher
                .fetch(self.url.clone(), Accept::JWK_SET)
                .await
                .map_err(|e| format!("{}: {e}", self.url))?;
            serde_json::from_slice(&fetched.body)
                .map_err(|e| format!("{}: not JSON: {e}", self.url))
        })
    }
}

/// [`Introspect`] over HTTP: `POST <url>` with `token=<access token>`,
/// HTTP Basic credentials (`introspection:<secret>`), no redirects, the
/// fetch timeout, https unless the fetch policy allows http (development).
/// The URL is the operator's configuration, not user input.
pub struct HttpIntrospection {
    client: reqwest::Client,
    url: Url,
    authorization: String,
}

impl std::fmt::Debug for HttpIntrospection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpIntrospection")
            .field("url", &self.url.as_str())
            .field("authorization", &"<redacted>")
            .finish()
    }
}

impl HttpIntrospection {
    /// A client for the endpoint at `url`.
    pub fn new(
        policy: &FetchPolicy,
        url: Url,
        secret: IntrospectionSecret,
    ) -> Result<HttpIntrospection, FetchError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            .https_only(!policy.allow_http)
            .user_agent(policy.user_agent.clone())
            .referer(false)
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        Ok(HttpIntrospection {
            client,
            url,
            authorization: secret.basic_authorization(),
        })
    }

    async fn call(&self, token: &str) -> Result<Introspection, String> {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        let resp = self
            .client
            .post(self.url.clone())
            .header(AUTHORIZATION, &self.authorization)
            .header(ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{}: {}", self.url, e.without_url()))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(format!("{}: status {status}", self.url));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_INTROSPECTION_BYTES as u64)
        {
            return Err(format!("{}: answer too large", self.url));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| format!("{}: {}", self.url, e.without_url()))?;
        if bytes.len() > MAX_INTROSPECTION_BYTES {
            return Err(format!("{}: answer too large", self.url));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: not an RFC 7662 answer: {e}", self.url))
    }
}

impl Introspect for HttpIntrospection {
    fn introspect<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Introspection, String>> {
        Box::pin(self.call(token))
    }
}
