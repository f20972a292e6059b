//! The server's ES256 keyset: the newest key signs, every key verifies, so
//! a rotation (`atauth keys rotate`) never breaks tokens already issued.

use serde_json::Value;

use crate::crypto::{Es256PublicKey, Es256SigningKey, KeyError};
use crate::jwk::{ec_public_jwk, ec_thumbprint, EcPublicJwk, PRIVATE_JWK_MEMBERS};
use crate::store::StoredKey;

/// The one algorithm the server signs with (atproto profile: ES256).
pub const SIGNING_ALG: &str = "ES256";

/// One parsed key of the keyset.
#[derive(Debug)]
pub struct KeyEntry {
    /// Key id.
    pub kid: String,
    /// Creation time, Unix seconds.
    pub created_at: i64,
    /// The parsed private key.
    pub signing: Es256SigningKey,
}

impl KeyEntry {
    /// The public key.
    pub fn public(&self) -> &Es256PublicKey {
        self.signing.public_key()
    }
}

/// Why a keyset could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysetError {
    /// No key is stored.
    #[error("the key store holds no signing key")]
    Empty,
    /// A stored key could not be parsed; the server must stop rather than
    /// replace it.
    #[error("signing key {kid} is unreadable: {reason}")]
    Corrupt {
        /// The key's id.
        kid: String,
        /// What was wrong.
        reason: String,
    },
}

/// A loaded keyset. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Keyset {
    /// Oldest first; the last one signs.
    keys: Vec<KeyEntry>,
}

impl Keyset {
    /// Parse stored keys. Any unreadable key is an error: a corrupt key
    /// store stops the server with a clear message and is never silently
    /// replaced.
    pub fn from_stored(stored: &[StoredKey]) -> Result<Keyset, KeysetError> {
        if stored.is_empty() {
            return Err(KeysetError::Empty);
        }
        let mut keys = Vec::with_capacity(stored.len());
        for s in stored {
            if s.alg != SIGNING_ALG {
                return Err(KeysetError::Corrupt {
                    kid: s.kid.clone(),
                    reason: format!("unsupported alg {}", s.alg),
                });
            }
            let signing = Es256SigningKey::from_pkcs8(&s.private_pkcs8).map_err(|e| {
                KeysetError::Corrupt {
                    kid: s.kid.clone(),
                    reason: e.to_string(),
                }
            })?;
            keys.push(KeyEntry {
                kid: s.kid.clone(),
                created_at: s.created_at,
                signing,
            });
        }
        keys.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.kid.cmp(&b.kid))
        });
        Ok(Keyset { keys })
    }

    /// The key that signs new tokens: the newest.
    pub fn current(&self) -> &KeyEntry {
        // `from_stored` refuses an empty list, so there is always a last key.
        &self.keys[self.keys.len() - 1]
    }

    /// The key with this id, for verification.
    pub fn by_kid(&self, kid: &str) -> Option<&KeyEntry> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Every key, oldest first.
    pub fn keys(&self) -> &[KeyEntry] {
        &self.keys
    }

    /// The public JWKS (RFC 7517 §5): public members only, newest first so
    /// that clients that take the first key take the current one.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .rev()
            .map(|k| ec_public_jwk(k.public(), Some(&k.kid)))
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

/// Why a published JWK Set was refused as an issuer's key set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the authorization server's JWKS is unusable: {0}")]
pub struct PublicKeysetError(pub String);

/// An issuer's public keys, parsed once from its JWKS (RFC 7517 §5): what a
/// resource server on another host verifies access tokens with (SPEC §2,
/// entryway deployments). Holds no private key.
#[derive(Debug, Clone, Default)]
pub struct PublicKeyset {
    keys: Vec<(String, Es256PublicKey)>,
}

impl PublicKeyset {
    /// Parse a JWK Set as atauth publishes it (`/oauth/jwks`). Keys this
    /// verifier cannot use are skipped: not EC P-256, an `alg` other than
    /// ES256, a `use` other than `sig`, or no `kid` (tokens name their key by
    /// `kid`). Refused outright: a set that is not `{"keys": [...]}`, a key
    /// with a private member (RFC 7517 §5: a published set holds public keys;
    /// a private key there means the issuer is compromised), a P-256 key that
    /// is not a point on the curve, duplicate `kid`s, and a set with no
    /// usable key (the caller then keeps the set it had).
    pub fn from_jwks(value: &Value) -> Result<PublicKeyset, PublicKeysetError> {
        let err = |m: String| PublicKeysetError(m);
        let keys = value.get("keys").and_then(Value::as_array).ok_or_else(|| {
            err("not an object with a \"keys\" array (RFC 7517 section 5)".into())
        })?;
        let mut out: Vec<(String, Es256PublicKey)> = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let Some(obj) = k.as_object() else {
                return Err(err(format!("keys[{i}] is not a JSON object")));
            };
            if let Some(m) = PRIVATE_JWK_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
                return Err(err(format!("keys[{i}] carries the private member \"{m}\"")));
            }
            let s = |name: &str| obj.get(name).and_then(Value::as_str);
            let usable = s("kty") == Some("EC")
                && s("crv") == Some("P-256")
                && s("alg").is_none_or(|a| a == SIGNING_ALG)
                && s("use").is_none_or(|u| u == "sig");
            let Some(kid) = s("kid").filter(|_| usable) else {
                continue;
            };
            let jwk = EcPublicJwk::from_json(obj).map_err(|e| err(format!("keys[{i}]: {e}")))?;
            if out.iter().any(|(k, _)| k == kid) {
                return Err(err(format!("two keys share the kid {kid:?}")));
            }
            out.push((kid.to_string(), jwk.key));
        }
        if out.is_empty() {
            return Err(err("no EC P-256 ES256 signing key with a kid".into()));
        }
        Ok(PublicKeyset { keys: out })
    }

    /// Whether the set holds a key with this `kid`.
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.iter().any(|(k, _)| k == kid)
    }

    /// The `kid`s, in document order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(k, _)| k.as_str())
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty (only [`PublicKeyset::default`] is).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl crate::jwt::VerifyingKeys for PublicKeyset {
    fn key(&self, kid: &str) -> Option<&Es256PublicKey> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, key)| key)
    }
}

/// Make a new signing key ready to store. Its kid is the first 16
/// characters of its RFC 7638 thumbprint, so it is stable and unique.
pub fn generate_stored_key(now: i64) -> Result<StoredKey, KeyError> {
    let der = Es256SigningKey::generate_pkcs8()?;
    let parsed = Es256SigningKey::from_pkcs8(&der)?;
    let tp = ec_thumbprint(parsed.public_key().x(), parsed.public_key().y());
    Ok(StoredKey {
        kid: tp[..16].to_string(),
        alg: SIGNING_ALG.into(),
        private_pkcs8: der,
        created_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_key_signs_and_jwks_is_public_only() {
        let a = generate_stored_key(100).unwrap();
        let b = generate_stored_key(200).unwrap();
        let ks = Keyset::from_stored(&[b.clone(), a.clone()]).unwrap();
        assert_eq!(ks.current().kid, b.kid);
        assert!(ks.by_kid(&a.kid).is_some());
        let jwks = ks.jwks();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0]["kid"], b.kid.as_str());
        for k in keys {
            for m in crate::jwk::PRIVATE_JWK_MEMBERS {
                assert!(k.get(*m).is_none(), "jwks leaks {m}");
            }
            assert_eq!(k["kty"], "EC");
        }
    }

    #[test]
    fn public_keyset_keeps_usable_keys_and_refuses_private_ones() {
        let a = generate_stored_key(100).unwrap();
        let b = generate_stored_key(200).unwrap();
        let ks = Keyset::from_stored(&[a.clone(), b.clone()]).unwrap();
        let mut jwks = ks.jwks();
        let keys = jwks["keys"].as_array_mut().unwrap();
        keys.push(serde_json::json!({"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "rsa"}));
        let mut no_kid = keys[0].clone();
        no_kid.as_object_mut().unwrap().remove("kid");
        keys.push(no_kid);
        let public = PublicKeyset::from_jwks(&jwks).unwrap();
        assert_eq!(public.len(), 2);
        assert!(public.contains(&a.kid) && public.contains(&b.kid));
        assert!(!public.contains("rsa"));

        let mut leaked = ks.jwks();
        leaked["keys"][0]["d"] = "AAAA".into();
        assert!(PublicKeyset::from_jwks(&leaked)
            .unwrap_err()
            .0
            .contains("\"d\""));
        let mut dup = ks.jwks();
        let first = dup["keys"][0].clone();
        dup["keys"].as_array_mut().unwrap().push(first);
        assert!(PublicKeyset::from_jwks(&dup).is_err());
        for bad in [
            serde_json::json!({"keys": []}),
            serde_json::json!([1]),
            serde_json::json!({"keys": [1]}),
        ] {
            assert!(PublicKeyset::from_jwks(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_empty_and_corrupt_keysets() {
        assert_eq!(Keyset::from_stored(&[]).unwrap_err(), KeysetError::Empty);
        let mut bad = generate_stored_key(1).unwrap();
        bad.private_pkcs8.truncate(10);
        assert!(matches!(
            Keyset::from_stored(&[bad]),
            Err(KeysetError::Corrupt { .. })
        ));
    }
}
