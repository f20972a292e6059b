//! The server's ES256 keyset: the newest key signs, every key verifies, so
//! a rotation (`atauth keys rotate`) never breaks tokens already issued.

use serde_json::Value;

use crate::crypto::{Es256PublicKey, Es256SigningKey, KeyError};
use crate::jwk::{ec_public_jwk, ec_thumbprint};
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
