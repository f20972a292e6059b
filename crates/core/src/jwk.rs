//! JSON Web Keys (RFC 7517) for P-256, and their thumbprints (RFC 7638).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::crypto::{Es256PublicKey, KeyError};

/// Members that only a private or symmetric JWK carries (RFC 7518 §6.2.2,
/// §6.3.2, §6.4.1). A public key must have none of them.
pub const PRIVATE_JWK_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a JWK was refused; the text names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JwkError(pub String);

/// A validated public P-256 JWK, parsed once.
#[derive(Debug, Clone)]
pub struct EcPublicJwk {
    /// The parsed key, ready to verify.
    pub key: Es256PublicKey,
    /// RFC 7638 SHA-256 thumbprint, base64url.
    pub thumbprint: String,
    /// The `kid` member, if present.
    pub kid: Option<String>,
}

impl EcPublicJwk {
    /// Parse a JWK given as a JSON object: `kty` "EC", `crv` "P-256", `x`
    /// and `y` 32 bytes each of base64url forming a point on the curve, and
    /// no private member (RFC 9449 §4.3 (7): "the jwk … does not contain a
    /// private key").
    pub fn from_json(obj: &Map<String, Value>) -> Result<Self, JwkError> {
        if let Some(m) = PRIVATE_JWK_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
            return Err(JwkError(format!(
                "jwk must be a public key; it carries the private member \"{m}\""
            )));
        }
        let s = |name: &str| obj.get(name).and_then(Value::as_str);
        if s("kty") != Some("EC") {
            return Err(JwkError("jwk kty must be \"EC\"".into()));
        }
        if s("crv") != Some("P-256") {
            return Err(JwkError("jwk crv must be \"P-256\"".into()));
        }
        let coord = |name: &str| -> Result<Vec<u8>, JwkError> {
            let v = s(name).ok_or_else(|| JwkError(format!("jwk is missing \"{name}\"")))?;
            B64.decode(v)
                .map_err(|_| JwkError(format!("jwk \"{name}\" is not base64url")))
        };
        let x = coord("x")?;
        let y = coord("y")?;
        let key = Es256PublicKey::from_coordinates(&x, &y)
            .map_err(|e: KeyError| JwkError(format!("jwk: {e}")))?;
        let thumbprint = ec_thumbprint(key.x(), key.y());
        let kid = s("kid").map(str::to_string);
        Ok(EcPublicJwk {
            key,
            thumbprint,
            kid,
        })
    }
}

/// RFC 7638 §3.2: the thumbprint of an EC key is the SHA-256 of the JSON
/// object with exactly `crv`, `kty`, `x`, `y` in lexicographic order and no
/// white space, base64url-encoded.
pub fn ec_thumbprint(x: &[u8; 32], y: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        B64.encode(x),
        B64.encode(y)
    );
    B64.encode(Sha256::digest(canonical.as_bytes()))
}

/// The public JWK of a P-256 key as a JSON object, with optional `kid`,
/// `alg` and `use`.
pub fn ec_public_jwk(key: &Es256PublicKey, kid: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("kty".into(), "EC".into());
    m.insert("crv".into(), "P-256".into());
    m.insert("x".into(), B64.encode(key.x()).into());
    m.insert("y".into(), B64.encode(key.y()).into());
    if let Some(kid) = kid {
        m.insert("kid".into(), kid.into());
        m.insert("alg".into(), "ES256".into());
        m.insert("use".into(), "sig".into());
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Es256SigningKey;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    /// RFC 7638 §3.1's example is an RSA key; for EC the expected value was
    /// computed outside this code (Python hashlib over the canonical JSON)
    /// for the key of RFC 7517 Appendix A.1.
    #[test]
    fn thumbprint_of_rfc7517_example_key() {
        let jwk = obj(serde_json::json!({
            "kty":"EC","crv":"P-256",
            "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
            "use":"enc","kid":"1"
        }));
        let k = EcPublicJwk::from_json(&jwk).unwrap();
        assert_eq!(k.thumbprint, "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s");
        assert_eq!(k.kid.as_deref(), Some("1"));
    }

    #[test]
    fn round_trips_generated_key() {
        let sk = Es256SigningKey::from_pkcs8(&Es256SigningKey::generate_pkcs8().unwrap()).unwrap();
        let v = ec_public_jwk(sk.public_key(), Some("k1"));
        let k = EcPublicJwk::from_json(v.as_object().unwrap()).unwrap();
        assert_eq!(
            k.thumbprint,
            ec_thumbprint(sk.public_key().x(), sk.public_key().y())
        );
        assert_eq!(v["alg"], "ES256");
    }

    #[test]
    fn rejects_private_members() {
        for m in PRIVATE_JWK_MEMBERS {
            let mut j = obj(serde_json::json!({
                "kty":"EC","crv":"P-256",
                "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
                "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}));
            j.insert((*m).into(), "AAAA".into());
            let e = EcPublicJwk::from_json(&j).unwrap_err();
            assert!(e.0.contains(&format!("\"{m}\"")), "{e}");
        }
    }

    #[test]
    fn rejects_wrong_kty_crv_and_bad_points() {
        let base = serde_json::json!({"kty":"EC","crv":"P-256",
            "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"});
        for (k, v) in [
            ("kty", "RSA"),
            ("crv", "P-384"),
            ("x", "AAAA"),
            ("y", "!!!"),
            ("y", "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyQ"),
        ] {
            let mut j = obj(base.clone());
            j.insert(k.into(), v.into());
            assert!(EcPublicJwk::from_json(&j).is_err(), "{k}={v} accepted");
        }
    }
}
