//! Cross-site request forgery protection of the browser forms (SPEC §5
//! "Pages": CSRF protection on every form).
//!
//! Two independent checks on every POST, both before anything is read
//! from or written to the store:
//!
//! 1. **Origin.** `Sec-Fetch-Site` (sent by current browsers whatever the
//!    referrer policy), when present, must be `same-origin` (or `none`, a
//!    navigation the user started). `Origin`, when present, must be this
//!    issuer's origin, or `null`: with `Referrer-Policy: no-referrer` a
//!    browser sends `Origin: null` even on its own same-origin form posts
//!    (Fetch standard, "append a request `Origin` header"), so `null` alone
//!    is neither proof nor disproof and the token decides.
//! 2. **Token.** Every form carries `csrf` = base64url(HMAC-SHA256(key,
//!    device id ‖ request id)). Only this server can compute it, it is
//!    worthless for another browser (device) or another authorization
//!    request, and it survives the device secret's rotation at sign-in (the
//!    device id does not change). The key is random per process, or derived
//!    from the shared DPoP nonce secret when one is configured, so that
//!    several instances behind one load balancer accept each other's forms.
//!
//! The device cookie itself is `SameSite=Lax`, so a cross-site POST does
//! not even carry it.

use actix_web::http::header::ORIGIN;
use actix_web::HttpRequest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Label separating the derived CSRF key from other uses of a shared secret.
const KEY_LABEL: &[u8] = b"atauth ui csrf key v1";

/// The CSRF token key.
pub struct Csrf {
    key: [u8; 32],
}

impl std::fmt::Debug for Csrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Csrf(<key>)")
    }
}

impl Csrf {
    /// A key derived from a secret shared by instances, or a random one.
    pub fn new(shared_secret: Option<&[u8; 32]>) -> Csrf {
        let mut key = [0u8; 32];
        match shared_secret.and_then(|s| HmacSha256::new_from_slice(s).ok()) {
            Some(mut mac) => {
                mac.update(KEY_LABEL);
                key.copy_from_slice(&mac.finalize().into_bytes());
            }
            None => rand::rngs::OsRng.fill_bytes(&mut key),
        }
        Csrf { key }
    }

    fn mac(&self, device_id: &str, request_id: &str) -> Option<HmacSha256> {
        let mut mac = HmacSha256::new_from_slice(&self.key).ok()?;
        mac.update(b"csrf\0");
        mac.update(device_id.as_bytes());
        mac.update(b"\0");
        mac.update(request_id.as_bytes());
        Some(mac)
    }

    /// The token for one device and one authorization request.
    pub fn token(&self, device_id: &str, request_id: &str) -> String {
        self.mac(device_id, request_id)
            .map(|m| B64.encode(m.finalize().into_bytes()))
            .unwrap_or_default()
    }

    /// Constant-time check of a submitted token.
    pub fn verify(&self, device_id: &str, request_id: &str, token: Option<&str>) -> bool {
        let Some(raw) = token.and_then(|t| B64.decode(t).ok()) else {
            return false;
        };
        self.mac(device_id, request_id)
            .map(|m| m.verify_slice(&raw).is_ok())
            .unwrap_or(false)
    }
}

/// Check 1 above: false for a request that says it comes from elsewhere.
pub fn same_origin(req: &HttpRequest, issuer_origin: &str) -> bool {
    let header = |name: &str| {
        let mut values = req.headers().get_all(name);
        let first = values.next();
        match (first, values.next()) {
            (None, _) => Ok(None),
            (Some(v), None) => v
                .to_str()
                .map(|s| Some(s.trim().to_string()))
                .map_err(|_| ()),
            // Repeated: not something a browser does.
            (Some(_), Some(_)) => Err(()),
        }
    };
    match header("sec-fetch-site") {
        Ok(None) => {}
        Ok(Some(site))
            if site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none") => {}
        _ => return false,
    }
    match header(ORIGIN.as_str()) {
        Ok(None) => true,
        Ok(Some(origin)) => origin == "null" || origin.eq_ignore_ascii_case(issuer_origin),
        Err(()) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn token_binds_device_and_request() {
        let c = Csrf::new(None);
        let t = c.token("dev-a", "req-1");
        assert!(c.verify("dev-a", "req-1", Some(&t)));
        assert!(!c.verify("dev-b", "req-1", Some(&t)));
        assert!(!c.verify("dev-a", "req-2", Some(&t)));
        assert!(!c.verify("dev-a", "req-1", None));
        assert!(!c.verify("dev-a", "req-1", Some("")));
        assert!(!c.verify("dev-a", "req-1", Some("!!not base64")));
        assert!(
            !Csrf::new(None).verify("dev-a", "req-1", Some(&t)),
            "another process key"
        );
    }

    #[test]
    fn shared_secret_gives_the_same_key() {
        let s = [7u8; 32];
        let t = Csrf::new(Some(&s)).token("dev-a", "req-1");
        assert!(Csrf::new(Some(&s)).verify("dev-a", "req-1", Some(&t)));
    }

    #[test]
    fn origin_checks() {
        let issuer = "https://auth.example.com";
        let ok = |headers: &[(&str, &str)]| {
            let mut r = TestRequest::post();
            for (n, v) in headers {
                r = r.append_header((*n, *v));
            }
            same_origin(&r.to_http_request(), issuer)
        };
        assert!(ok(&[]));
        assert!(ok(&[("Origin", "https://auth.example.com")]));
        assert!(ok(&[("Origin", "null"), ("Sec-Fetch-Site", "same-origin")]));
        assert!(!ok(&[("Origin", "https://evil.example")]));
        assert!(!ok(&[("Sec-Fetch-Site", "cross-site")]));
        assert!(!ok(&[("Sec-Fetch-Site", "same-site")]));
        assert!(!ok(&[("Origin", "null"), ("Sec-Fetch-Site", "cross-site")]));
        assert!(!ok(&[
            ("Origin", "https://auth.example.com"),
            ("Origin", "https://evil.example")
        ]));
    }
}
