//! Server-provided DPoP nonces (RFC 9449 §8, §9).
//!
//! A nonce is `base64url(HMAC-SHA256(secret, counter))` where `counter` is
//! the current time divided into [`DPOP_NONCE_STEP_SECS`] steps, written as
//! a big-endian u64. Nothing is stored and no timer runs: the nonce is
//! derived from the clock on each use, so every instance that shares the
//! secret issues and accepts the same values (an entryway and its PDSes, or
//! several replicas behind one origin). This is the reference design
//! (`@atproto/oauth-provider` dpop-nonce.ts) and yields the same nonces for
//! the same secret and a 60 s step.
//!
//! The previous, current and next counters are accepted: the next one
//! absorbs clock drift between instances sharing the secret, the previous
//! one lets a client keep a nonce across a rotation (SPEC §7: a client
//! whose nonce is merely "previous" is not refused). A nonce issued at the
//! very start of its step is therefore accepted for at most 2 steps after
//! it was issued, and a nonce issued by an instance one step ahead for at
//! most 3: always under the 5 minutes SPEC §7 allows.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use crate::consts::DPOP_NONCE_STEP_SECS;

/// HMAC-SHA256 block size (RFC 2104 §2: `B` = 64 bytes for SHA-256).
const HMAC_BLOCK_BYTES: usize = 64;

/// Issues and checks DPoP nonces. Cheap to clone; the secret never appears
/// in `Debug` output.
#[derive(Clone)]
pub struct Nonces {
    /// HMAC state keyed with the secret, cloned per computation.
    mac: Hmac<Sha256>,
}

/// The outcome of [`Nonces::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// The nonce of the step before the current one.
    Previous,
    /// The nonce of the current step.
    Current,
    /// The nonce of the step after the current one (an instance whose
    /// clock runs slightly ahead issued it).
    Next,
    /// Not a nonce of any accepted step: stale, forged, or from another
    /// secret.
    Invalid,
}

impl NonceCheck {
    /// Whether the nonce is accepted.
    pub fn is_valid(self) -> bool {
        self != NonceCheck::Invalid
    }
}

impl fmt::Debug for Nonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Nonces { secret: <redacted> }")
    }
}

impl Nonces {
    /// Nonces derived from a 32-byte secret. Instances configured with the
    /// same secret agree on every nonce.
    pub fn new(secret: [u8; 32]) -> Self {
        // RFC 2104 §2: a key shorter than the block size is padded with
        // zeros to `B` bytes, so this is HMAC keyed with the 32-byte secret
        // (the test `padded_key_is_plain_hmac` checks it) without a fallible
        // constructor.
        let mut key = [0u8; HMAC_BLOCK_BYTES];
        for (k, s) in key.iter_mut().zip(secret.iter()) {
            *k = *s;
        }
        Nonces {
            mac: <Hmac<Sha256> as hmac::digest::KeyInit>::new(&key.into()),
        }
    }

    /// Nonces from a random secret (OsRng). For development and single
    /// instances only: nonces do not survive a restart and are not shared
    /// with other instances, so clients see one extra `use_dpop_nonce`
    /// round trip after each restart.
    pub fn random() -> Self {
        use rand::RngCore;
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        Self::new(secret)
    }

    /// The nonce to hand out at `now` (Unix seconds), for the `DPoP-Nonce`
    /// header (RFC 9449 §8: "Nonce values MUST be unpredictable": without
    /// the secret they are).
    pub fn issue(&self, now: i64) -> String {
        self.compute(counter(now))
    }

    /// Check a nonce a client sent at `now`. Compares against the previous,
    /// current and next step in constant time, without short-circuiting.
    pub fn check(&self, nonce: &str, now: i64) -> NonceCheck {
        let c = counter(now);
        let given = nonce.as_bytes();
        let matches = |step: i64| -> Choice { given.ct_eq(self.compute(step).as_bytes()) };
        let previous = matches(c.wrapping_sub(1));
        let current = matches(c);
        let next = matches(c.wrapping_add(1));
        if bool::from(current) {
            NonceCheck::Current
        } else if bool::from(previous) {
            NonceCheck::Previous
        } else if bool::from(next) {
            NonceCheck::Next
        } else {
            NonceCheck::Invalid
        }
    }

    fn compute(&self, counter: i64) -> String {
        let mut mac = self.mac.clone();
        // The counter as an unsigned 64-bit big-endian integer; a negative
        // counter (a clock before 1970) wraps, which is harmless.
        mac.update(&(counter as u64).to_be_bytes());
        B64.encode(mac.finalize().into_bytes())
    }
}

/// The rotation step `now` falls in.
fn counter(now: i64) -> i64 {
    now.div_euclid(DPOP_NONCE_STEP_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: i64 = DPOP_NONCE_STEP_SECS;
    /// A fixed "now" at the start of a step.
    const T0: i64 = 1_700_000_040;

    fn nonces() -> Nonces {
        Nonces::new([7u8; 32])
    }

    #[test]
    fn padded_key_is_plain_hmac() {
        let mut plain = Hmac::<Sha256>::new_from_slice(&[7u8; 32]).unwrap();
        plain.update(&(T0 / STEP).to_be_bytes());
        assert_eq!(
            nonces().issue(T0),
            B64.encode(plain.finalize().into_bytes())
        );
    }

    /// Known answer computed outside this code (Python: `hmac.new(bytes([7]*32),
    /// (28333334).to_bytes(8, "big"), "sha256")`, base64url without padding),
    /// so another implementation sharing the secret can check agreement.
    #[test]
    fn matches_known_answer() {
        assert_eq!(T0 / STEP, 28_333_334);
        assert_eq!(
            nonces().issue(T0),
            "bgS55OAAvkB22chBeq9S9793n4zJ3B-bD5Ts-Q3AL5o"
        );
    }

    #[test]
    fn same_secret_same_nonces_across_instances() {
        assert_eq!(nonces().issue(T0), nonces().issue(T0 + STEP - 1));
        assert_eq!(nonces().check(&nonces().issue(T0), T0), NonceCheck::Current);
    }

    #[test]
    fn rotates_every_step() {
        assert_ne!(nonces().issue(T0), nonces().issue(T0 + STEP));
    }

    #[test]
    fn accepts_previous_current_and_next_step() {
        let n = nonces();
        let issued = n.issue(T0);
        assert_eq!(n.check(&issued, T0 + STEP), NonceCheck::Previous);
        assert_eq!(n.check(&issued, T0 - STEP), NonceCheck::Next);
        assert!(n.check(&issued, T0 + 2 * STEP - 1).is_valid());
    }

    #[test]
    fn rejects_nonce_two_steps_old() {
        let n = nonces();
        assert_eq!(n.check(&n.issue(T0), T0 + 2 * STEP), NonceCheck::Invalid);
    }

    #[test]
    fn rejects_nonce_two_steps_ahead() {
        let n = nonces();
        assert_eq!(n.check(&n.issue(T0 + 2 * STEP), T0), NonceCheck::Invalid);
    }

    #[test]
    fn rejects_nonce_of_another_secret() {
        let other = Nonces::new([8u8; 32]);
        assert_eq!(nonces().check(&other.issue(T0), T0), NonceCheck::Invalid);
    }

    #[test]
    fn rejects_forged_and_empty_nonces() {
        let n = nonces();
        let mut forged = n.issue(T0);
        forged.replace_range(0..1, if forged.starts_with('A') { "B" } else { "A" });
        assert_eq!(n.check(&forged, T0), NonceCheck::Invalid);
        assert_eq!(n.check("", T0), NonceCheck::Invalid);
        assert_eq!(n.check(&"A".repeat(10_000), T0), NonceCheck::Invalid);
    }

    #[test]
    fn random_instances_disagree() {
        assert_ne!(Nonces::random().issue(T0), Nonces::random().issue(T0));
    }

    #[test]
    fn debug_hides_secret() {
        let s = format!("{:?}", nonces());
        assert_eq!(s, "Nonces { secret: <redacted> }");
    }

    #[test]
    fn negative_time_does_not_panic() {
        let n = nonces();
        assert!(n.check(&n.issue(-1), -1).is_valid());
        assert!(n.check(&n.issue(i64::MIN), i64::MIN).is_valid());
        assert!(n.check(&n.issue(i64::MAX), i64::MAX).is_valid());
    }
}
