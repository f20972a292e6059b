//! Access tokens whose signature already verified.
//!
//! A client sends the same access token with every call until it expires
//! (RFC 9068 tokens here live minutes), and checking its ES256 signature
//! is half the signature work of a resource request. The signature of a
//! given token string cannot change, so its verification is remembered,
//! keyed by the token's SHA-256: a later request with the same token skips
//! the signature and the JSON parsing and gets the same claims. Everything
//! else is still checked every time by the verifier (`iss`, `aud`, `exp`,
//! `cnf.jkt` against this request's proof, the session in stateful mode),
//! and a remembered token whose key has left the issuer's key set is
//! verified again, so it is refused at once when a key is withdrawn.
//! Only successes are remembered.

use std::sync::Arc;
use std::time::Duration;

use atauth_core::ids::secret_hash;
use atauth_core::token::AccessTokenClaims;
use atauth_core::OAuthError;

use crate::keys::KeySource;
use crate::verifier::verify_token_signature;

/// Longest a verification is remembered: longer than any access token
/// lives (the issuer caps them at 30 minutes), so in practice a token is
/// verified once.
const REMEMBER_FOR: Duration = Duration::from_secs(30 * 60);

/// Tokens remembered at most; beyond it the least used are forgotten.
pub const DEFAULT_CAPACITY: u64 = 10_000;

#[derive(Debug)]
struct Verified {
    kid: String,
    claims: AccessTokenClaims,
}

/// The cache of verified tokens.
#[derive(Clone)]
pub(crate) struct VerifiedTokens {
    cache: moka::sync::Cache<String, Arc<Verified>>,
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens")
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

impl VerifiedTokens {
    pub(crate) fn new(capacity: u64) -> VerifiedTokens {
        VerifiedTokens {
            cache: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(REMEMBER_FOR)
                .build(),
        }
    }

    /// The claims of `token` if its signature verifies with the issuer's
    /// current keys (RFC 9068 §4), from memory when it did before.
    pub(crate) fn claims(
        &self,
        keys: &Arc<dyn KeySource>,
        token: &str,
    ) -> Result<AccessTokenClaims, OAuthError> {
        let hash = secret_hash(token);
        let keyset = keys.keys();
        if let Some(v) = self.cache.get(&hash) {
            if keyset.key(&v.kid).is_some() {
                return Ok(v.claims.clone());
            }
        }
        let (kid, claims) = verify_token_signature(&*keyset, token)?;
        self.cache.insert(
            hash,
            Arc::new(Verified {
                kid,
                claims: claims.clone(),
            }),
        );
        Ok(claims)
    }
}
