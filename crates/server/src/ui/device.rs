//! Browser devices: the `atauth-device` cookie.
//!
//! The cookie holds a [`DeviceSecret`] (256 random bits); the store keeps
//! only its SHA-256 hash, with the user agent (truncated) and the IP. A
//! device is created on the first visit to the authorization endpoint; its
//! secret is rotated (a new cookie value) on every successful sign-in, so a
//! secret planted before sign-in is worthless after it (no session
//! fixation). The cookie is `HttpOnly`, `SameSite=Lax`, `Path=/`, and
//! `Secure` unless the issuer is http (development).

use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
use atauth_core::ids::{DeviceId, DeviceSecret};
use atauth_core::store::{Device, DeviceStore, StoreResult};

/// The cookie's name.
pub const COOKIE: &str = "atauth-device";
/// How long the browser keeps the cookie. Policy: a year; sign-ins that
/// were not remembered expire much sooner (see `UiPolicy`).
pub const COOKIE_MAX_AGE_SECS: i64 = 365 * 24 * 3600;
/// Longest user agent stored. Policy.
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// What is recorded about a visit.
#[derive(Debug, Clone, Default)]
pub struct Visit {
    /// The user agent, truncated.
    pub user_agent: Option<String>,
    /// The peer IP (the socket's address: forwarding headers are not
    /// trusted).
    pub ip: Option<String>,
}

impl Visit {
    /// Read from a request.
    pub fn of(req: &HttpRequest) -> Visit {
        let user_agent = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(MAX_USER_AGENT_CHARS).collect::<String>())
            .filter(|s| !s.is_empty());
        Visit {
            user_agent,
            ip: client_ip(req),
        }
    }
}

/// The client's IP: the TCP peer. Behind a reverse proxy this is the
/// proxy; trusting `X-Forwarded-For` would need a configured proxy list.
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

/// The secret the browser sent, if it is well formed.
pub fn secret_from(req: &HttpRequest) -> Option<DeviceSecret> {
    req.cookie(COOKIE)
        .and_then(|c| DeviceSecret::parse(c.value()))
}

/// The device a secret names.
pub fn find(store: &impl DeviceStore, secret: &DeviceSecret) -> StoreResult<Option<Device>> {
    store.device_by_secret(&secret.hash())
}

/// Create a device for a first visit.
pub fn create(
    store: &impl DeviceStore,
    now: i64,
    visit: &Visit,
) -> StoreResult<(Device, DeviceSecret)> {
    let secret = DeviceSecret::generate();
    let device = Device {
        id: DeviceId::generate().as_str().to_string(),
        secret_hash: secret.hash(),
        user_agent: visit.user_agent.clone(),
        ip: visit.ip.clone(),
        created_at: now,
        last_seen_at: now,
    };
    store.create_device(&device)?;
    Ok((device, secret))
}

/// Give a device a new secret (sign-in). `None` if the device is gone.
pub fn rotate(store: &impl DeviceStore, device_id: &str) -> StoreResult<Option<DeviceSecret>> {
    let secret = DeviceSecret::generate();
    Ok(store
        .rotate_device_secret(device_id, &secret.hash())?
        .then_some(secret))
}

/// The cookie carrying a secret.
pub fn cookie(secret: &DeviceSecret, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE, secret.as_str().to_string())
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::seconds(
            COOKIE_MAX_AGE_SECS,
        ))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_attributes() {
        let s = DeviceSecret::generate();
        let c = cookie(&s, true).to_string();
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure", "Max-Age="] {
            assert!(c.contains(attr), "{c} lacks {attr}");
        }
        assert!(!cookie(&s, false).to_string().contains("Secure"));
    }

    #[test]
    fn user_agent_is_truncated_on_a_char_boundary() {
        let ua = "é".repeat(1000);
        let req = actix_web::test::TestRequest::get()
            .insert_header(("User-Agent", ua.as_str()))
            .to_http_request();
        // Non-ASCII header values are not readable as str: nothing stored.
        assert_eq!(Visit::of(&req).user_agent, None);
        let req = actix_web::test::TestRequest::get()
            .insert_header(("User-Agent", "x".repeat(1000)))
            .to_http_request();
        assert_eq!(
            Visit::of(&req).user_agent.map(|s| s.len()),
            Some(MAX_USER_AGENT_CHARS)
        );
    }
}
