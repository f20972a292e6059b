//! DPoP proofs (RFC 9449) and PKCE, signed with atauth-core's ES256 seam.

use atauth_core::crypto::Es256SigningKey;
use atauth_core::jwk::ec_public_jwk;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// `n` random bytes, base64url.
pub fn random_b64(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut b);
    B64.encode(b)
}

/// A PKCE pair (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    let verifier = random_b64(32);
    let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The `ath` of an access token.
pub fn ath(token: &str) -> String {
    B64.encode(Sha256::digest(token.as_bytes()))
}

/// Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `application/x-www-form-urlencoded` body of `form`.
pub fn form_body(form: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in form {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A DPoP key with its encoded protected header.
pub struct DpopKey {
    key: Es256SigningKey,
    /// base64url of the JOSE header (constant per key).
    header_b64: String,
}

impl DpopKey {
    /// A fresh P-256 key.
    pub fn generate() -> anyhow::Result<DpopKey> {
        let der = Es256SigningKey::generate_pkcs8()
            .map_err(|e| anyhow::anyhow!("cannot generate a DPoP key: {e:?}"))?;
        let key = Es256SigningKey::from_pkcs8(&der)
            .map_err(|e| anyhow::anyhow!("cannot load a DPoP key: {e:?}"))?;
        let jwk = ec_public_jwk(key.public_key(), None);
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
        let header_b64 = B64.encode(header.to_string());
        Ok(DpopKey { key, header_b64 })
    }

    /// A proof for `method` + `htu`, with `nonce` and `ath` if given.
    pub fn proof(&self, method: &str, htu: &str, nonce: Option<&str>, ath: Option<&str>) -> String {
        let mut claims = json!({ "jti": random_b64(16), "htm": method, "htu": htu, "iat": now() });
        if let Some(n) = nonce {
            claims["nonce"] = Value::from(n);
        }
        if let Some(a) = ath {
            claims["ath"] = Value::from(a);
        }
        let input = format!("{}.{}", self.header_b64, B64.encode(claims.to_string()));
        // Signing a message with a valid key does not fail; should it,
        // the server rejects the empty signature and the error is counted.
        let sig = self.key.sign(input.as_bytes()).unwrap_or_default();
        format!("{input}.{}", B64.encode(sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_has_three_parts_and_claims() {
        let k = DpopKey::generate().unwrap();
        let p = k.proof("POST", "http://localhost/x", Some("n1"), Some("a1"));
        let parts: Vec<&str> = p.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["nonce"], "n1");
        assert_eq!(claims["ath"], "a1");
        let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["typ"], "dpop+jwt");
    }

    #[test]
    fn form_is_encoded() {
        assert_eq!(form_body(&[("a", "b c"), ("d", "&")]), "a=b+c&d=%26");
    }
}
