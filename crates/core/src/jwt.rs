//! Compact JWS (RFC 7515 §7.1) with ES256, over the crypto seam.
//!
//! The server's own tokens are always ES256 and signed with a cached,
//! pre-parsed key: signing and verifying here avoids re-parsing the key on
//! every call (jsonwebtoken's API takes key bytes per call). jsonwebtoken
//! is used where arbitrary client algorithms must be accepted.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::crypto::{Es256PublicKey, KeyError};
use crate::keys::{Keyset, SIGNING_ALG};

/// Maximum size of a JWT we are willing to parse. Policy: tokens and
/// proofs are a few hundred bytes; 8 KiB leaves room and bounds work.
pub const MAX_JWT_LEN: usize = 8192;

/// Why a JWT was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url parts of JSON, or too long.
    #[error("malformed JWT: {0}")]
    Malformed(&'static str),
    /// `typ` is not the expected one.
    #[error("unexpected JWT typ")]
    WrongType,
    /// `alg` is not ES256.
    #[error("unsupported JWT alg")]
    UnsupportedAlg,
    /// `kid` missing or not one of ours.
    #[error("unknown signing key")]
    UnknownKey,
    /// Signature does not verify.
    #[error("invalid signature")]
    BadSignature,
}

/// A JOSE header as we read it. Unknown members are kept out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct JoseHeader {
    /// Algorithm.
    pub alg: String,
    /// Type (`at+jwt`, `dpop+jwt`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

/// The three parts of a compact JWS, split and decoded once.
#[derive(Debug, Clone)]
pub struct CompactJws<'a> {
    /// `header.payload`, the signing input.
    pub signing_input: &'a str,
    /// Decoded header bytes (JSON).
    pub header_json: Vec<u8>,
    /// Decoded payload bytes (JSON).
    pub payload_json: Vec<u8>,
    /// Decoded signature.
    pub signature: Vec<u8>,
}

impl<'a> CompactJws<'a> {
    /// Split and base64url-decode a compact JWS (RFC 7515 §7.1).
    pub fn parse(token: &'a str) -> Result<Self, JwtError> {
        if token.len() > MAX_JWT_LEN {
            return Err(JwtError::Malformed("too long"));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed("expected three dot-separated parts"));
        };
        let dec =
            |x: &str, what: &'static str| B64.decode(x).map_err(|_| JwtError::Malformed(what));
        Ok(CompactJws {
            signing_input: &token[..h.len() + 1 + p.len()],
            header_json: dec(h, "header is not base64url")?,
            payload_json: dec(p, "payload is not base64url")?,
            signature: dec(s, "signature is not base64url")?,
        })
    }
}

/// Sign `claims` as a compact JWS with the keyset's current key.
pub fn sign<C: Serialize>(keyset: &Keyset, typ: &str, claims: &C) -> Result<String, KeyError> {
    let key = keyset.current();
    let header = JoseHeader {
        alg: SIGNING_ALG.into(),
        typ: Some(typ.into()),
        kid: Some(key.kid.clone()),
    };
    let h = serde_json::to_vec(&header).map_err(|_| KeyError::SigningFailed)?;
    let c = serde_json::to_vec(claims).map_err(|_| KeyError::SigningFailed)?;
    let mut out = String::with_capacity((h.len() + c.len()) * 4 / 3 + 100);
    B64.encode_string(&h, &mut out);
    out.push('.');
    B64.encode_string(&c, &mut out);
    let sig = key.signing.sign(out.as_bytes())?;
    out.push('.');
    B64.encode_string(&sig, &mut out);
    Ok(out)
}

/// Verify a JWS ES256 signature over the parsed token with a given key.
pub fn verify_with(key: &Es256PublicKey, jws: &CompactJws<'_>) -> Result<(), JwtError> {
    if key.verify(jws.signing_input.as_bytes(), &jws.signature) {
        Ok(())
    } else {
        Err(JwtError::BadSignature)
    }
}

/// Public keys that verify the server's JWS signatures, found by `kid`.
///
/// Implemented by the server's own [`Keyset`] (which also holds the private
/// halves) and by [`PublicKeyset`](crate::keys::PublicKeyset), a set parsed
/// from a published JWKS: a resource server on another host verifies
/// tokens with the latter (SPEC §2, entryway deployments).
pub trait VerifyingKeys {
    /// The public key with this `kid`, if the set holds it.
    fn key(&self, kid: &str) -> Option<&Es256PublicKey>;
}

impl VerifyingKeys for Keyset {
    fn key(&self, kid: &str) -> Option<&Es256PublicKey> {
        self.by_kid(kid).map(|k| k.public())
    }
}

/// The `kid` of a compact JWS's header, read without verifying anything:
/// a resource server uses it to decide whether its copy of the issuer's
/// keys is stale before verifying. `None` for anything malformed.
pub fn peek_kid(token: &str) -> Option<String> {
    if token.len() > MAX_JWT_LEN {
        return None;
    }
    let header = token.split('.').next()?;
    let bytes = B64.decode(header).ok()?;
    let header: JoseHeader = serde_json::from_slice(&bytes).ok()?;
    header.kid
}

/// Verify a token signed by one of the keyset's keys, with the expected
/// `typ`, and decode its claims. Claim checks (`exp`, `iss`, `aud`) are the
/// caller's: they depend on the token kind.
pub fn verify<C: DeserializeOwned>(
    keyset: &Keyset,
    token: &str,
    expected_typ: &str,
) -> Result<(JoseHeader, C), JwtError> {
    verify_with_keys(keyset, token, expected_typ)
}

/// [`verify`] with any set of public keys (RFC 7515 §5.2): ES256 only, the
/// expected `typ`, the key named by `kid` taken from `keys`, the signature
/// checked before the claims are decoded.
pub fn verify_with_keys<C: DeserializeOwned, K: VerifyingKeys + ?Sized>(
    keys: &K,
    token: &str,
    expected_typ: &str,
) -> Result<(JoseHeader, C), JwtError> {
    let jws = CompactJws::parse(token)?;
    let header: JoseHeader = serde_json::from_slice(&jws.header_json)
        .map_err(|_| JwtError::Malformed("header is not a JOSE header"))?;
    if header.alg != SIGNING_ALG {
        return Err(JwtError::UnsupportedAlg);
    }
    if !header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case(expected_typ))
    {
        return Err(JwtError::WrongType);
    }
    let key = header
        .kid
        .as_deref()
        .and_then(|k| keys.key(k))
        .ok_or(JwtError::UnknownKey)?;
    verify_with(key, &jws)?;
    let claims = serde_json::from_slice(&jws.payload_json)
        .map_err(|_| JwtError::Malformed("claims are not the expected JSON"))?;
    Ok((header, claims))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::generate_stored_key;
    use serde_json::{json, Value};

    #[test]
    fn sign_verify_round_trip() {
        let ks = Keyset::from_stored(&[generate_stored_key(1).unwrap()]).unwrap();
        let t = sign(&ks, "at+jwt", &json!({"sub":"did:plc:x"})).unwrap();
        let (h, c): (JoseHeader, Value) = verify(&ks, &t, "at+jwt").unwrap();
        assert_eq!(h.kid.as_deref(), Some(ks.current().kid.as_str()));
        assert_eq!(c["sub"], "did:plc:x");
    }

    #[test]
    fn old_key_still_verifies_after_rotation_and_new_key_signs() {
        let old = generate_stored_key(1).unwrap();
        let ks1 = Keyset::from_stored(std::slice::from_ref(&old)).unwrap();
        let t_old = sign(&ks1, "at+jwt", &json!({"n":1})).unwrap();
        let new = generate_stored_key(2).unwrap();
        let ks2 = Keyset::from_stored(&[old.clone(), new.clone()]).unwrap();
        assert!(verify::<Value>(&ks2, &t_old, "at+jwt").is_ok());
        let t_new = sign(&ks2, "at+jwt", &json!({"n":2})).unwrap();
        let (h, _): (JoseHeader, Value) = verify(&ks2, &t_new, "at+jwt").unwrap();
        assert_eq!(h.kid.unwrap(), new.kid);
    }

    #[test]
    fn rejects_wrong_typ_unknown_key_and_tampering() {
        let ks = Keyset::from_stored(&[generate_stored_key(1).unwrap()]).unwrap();
        let other = Keyset::from_stored(&[generate_stored_key(1).unwrap()]).unwrap();
        let t = sign(&ks, "at+jwt", &json!({"a":1})).unwrap();
        assert_eq!(
            verify::<Value>(&ks, &t, "dpop+jwt").unwrap_err(),
            JwtError::WrongType
        );
        assert_eq!(
            verify::<Value>(&other, &t, "at+jwt").unwrap_err(),
            JwtError::UnknownKey
        );
        let parts: Vec<&str> = t.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], B64.encode(br#"{"a":2}"#), parts[2]);
        assert_eq!(
            verify::<Value>(&ks, &forged, "at+jwt").unwrap_err(),
            JwtError::BadSignature
        );
        assert!(matches!(
            verify::<Value>(&ks, "a.b", "at+jwt"),
            Err(JwtError::Malformed(_))
        ));
        assert!(matches!(
            verify::<Value>(&ks, &"a".repeat(9000), "at+jwt"),
            Err(JwtError::Malformed(_))
        ));
    }

    #[test]
    fn public_keyset_from_the_jwks_verifies_and_peek_reads_the_kid() {
        let ks = Keyset::from_stored(&[generate_stored_key(1).unwrap()]).unwrap();
        let public = crate::keys::PublicKeyset::from_jwks(&ks.jwks()).unwrap();
        let t = sign(&ks, "at+jwt", &json!({"sub":"did:plc:x"})).unwrap();
        let (_, c): (JoseHeader, Value) = verify_with_keys(&public, &t, "at+jwt").unwrap();
        assert_eq!(c["sub"], "did:plc:x");
        assert_eq!(peek_kid(&t).as_deref(), Some(ks.current().kid.as_str()));
        assert_eq!(peek_kid("not a jwt"), None);
        let other = Keyset::from_stored(&[generate_stored_key(1).unwrap()]).unwrap();
        let other_public = crate::keys::PublicKeyset::from_jwks(&other.jwks()).unwrap();
        assert_eq!(
            verify_with_keys::<Value, _>(&other_public, &t, "at+jwt").unwrap_err(),
            JwtError::UnknownKey
        );
    }

    #[test]
    fn rejects_alg_none() {
        let ks = Keyset::from_stored(&[generate_stored_key(1).unwrap()]).unwrap();
        let h = B64.encode(format!(
            r#"{{"alg":"none","typ":"at+jwt","kid":"{}"}}"#,
            ks.current().kid
        ));
        let t = format!("{h}.{}.", B64.encode(b"{}"));
        assert_eq!(
            verify::<Value>(&ks, &t, "at+jwt").unwrap_err(),
            JwtError::UnsupportedAlg
        );
    }
}
