//! The ES256 seam: the one place that signs and verifies P-256 ECDSA.
//!
//! Every PAR and token request verifies a DPoP proof, every token request
//! signs an access token, and a PDS verifies a proof and a token per call,
//! so this is the hot path. The default backend is aws-lc-rs (about 5×
//! faster than pure-Rust `p256` on the reference machine, see
//! ARCHITECTURE.md); the `pure-rust` feature swaps in `p256`'s ECDSA for
//! builds that cannot link C. Key generation, PKCS#8 and JWK conversion and
//! on-curve validation always use `p256`.
//!
//! Keys are parsed once into these types and then reused: never re-parse a
//! key per request.

use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};

#[cfg(all(feature = "pure-rust", feature = "aws-lc"))]
compile_error!("enable exactly one ES256 backend: `aws-lc` (default) or `pure-rust`");
#[cfg(not(any(feature = "pure-rust", feature = "aws-lc")))]
compile_error!("enable one ES256 backend: `aws-lc` (default) or `pure-rust`");

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The coordinates are not a point on P-256 (or not 32 bytes each).
    #[error("not a valid P-256 public key")]
    InvalidPublicKey,
    /// The private key is not a valid PKCS#8 P-256 key.
    #[error("not a valid P-256 PKCS#8 private key")]
    InvalidPrivateKey,
    /// Signing failed inside the backend.
    #[error("signing failed")]
    SigningFailed,
}

/// A P-256 public key, validated on the curve and pre-parsed for the backend.
#[derive(Clone)]
pub struct Es256PublicKey {
    x: [u8; 32],
    y: [u8; 32],
    #[cfg(feature = "aws-lc")]
    parsed: aws_lc_rs::signature::ParsedPublicKey,
    #[cfg(feature = "pure-rust")]
    parsed: p256::ecdsa::VerifyingKey,
}

impl std::fmt::Debug for Es256PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Es256PublicKey").finish_non_exhaustive()
    }
}

impl Es256PublicKey {
    /// Build from the affine coordinates (a JWK's decoded `x` and `y`).
    /// Rejects anything that is not a point on P-256 (RFC 7518 §6.2.1).
    pub fn from_coordinates(x: &[u8], y: &[u8]) -> Result<Self, KeyError> {
        let x: [u8; 32] = x.try_into().map_err(|_| KeyError::InvalidPublicKey)?;
        let y: [u8; 32] = y.try_into().map_err(|_| KeyError::InvalidPublicKey)?;
        let point = p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
        // p256 validates that the point is on the curve and not the identity.
        let pk = p256::PublicKey::from_sec1_bytes(point.as_bytes())
            .map_err(|_| KeyError::InvalidPublicKey)?;
        Self::from_p256(&pk)
    }

    fn from_p256(pk: &p256::PublicKey) -> Result<Self, KeyError> {
        let point = pk.to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(KeyError::InvalidPublicKey);
        };
        let mut xa = [0u8; 32];
        let mut ya = [0u8; 32];
        xa.copy_from_slice(x);
        ya.copy_from_slice(y);
        #[cfg(feature = "aws-lc")]
        let parsed = aws_lc_rs::signature::ParsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            point.as_bytes(),
        )
        .map_err(|_| KeyError::InvalidPublicKey)?;
        #[cfg(feature = "pure-rust")]
        let parsed = p256::ecdsa::VerifyingKey::from(pk);
        Ok(Es256PublicKey {
            x: xa,
            y: ya,
            parsed,
        })
    }

    /// The x coordinate (32 bytes, big-endian).
    pub fn x(&self) -> &[u8; 32] {
        &self.x
    }

    /// The y coordinate (32 bytes, big-endian).
    pub fn y(&self) -> &[u8; 32] {
        &self.y
    }

    /// Verify a JWS ES256 signature (RFC 7518 §3.4: the 64-byte `R || S`
    /// form, not DER) over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        if signature.len() != 64 {
            return false;
        }
        #[cfg(feature = "aws-lc")]
        {
            self.parsed.verify_sig(message, signature).is_ok()
        }
        #[cfg(feature = "pure-rust")]
        {
            use p256::ecdsa::signature::Verifier;
            match p256::ecdsa::Signature::from_slice(signature) {
                Ok(sig) => self.parsed.verify(message, &sig).is_ok(),
                Err(_) => false,
            }
        }
    }
}

/// A P-256 private key, parsed once, that signs JWS ES256.
pub struct Es256SigningKey {
    public: Es256PublicKey,
    #[cfg(feature = "aws-lc")]
    pair: aws_lc_rs::signature::EcdsaKeyPair,
    #[cfg(feature = "pure-rust")]
    pair: p256::ecdsa::SigningKey,
}

impl std::fmt::Debug for Es256SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Es256SigningKey(<redacted>)")
    }
}

impl Es256SigningKey {
    /// Generate a fresh key; returns its PKCS#8 DER (for storage).
    pub fn generate_pkcs8() -> Result<Vec<u8>, KeyError> {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        secret
            .to_pkcs8_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|_| KeyError::InvalidPrivateKey)
    }

    /// Parse a PKCS#8 DER private key.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let secret =
            p256::SecretKey::from_pkcs8_der(der).map_err(|_| KeyError::InvalidPrivateKey)?;
        let public = Es256PublicKey::from_p256(&secret.public_key())?;
        #[cfg(feature = "aws-lc")]
        let pair = {
            // Re-encode through p256 so aws-lc always sees the canonical
            // PKCS#8 form, whatever produced the stored bytes.
            let canonical = secret
                .to_pkcs8_der()
                .map_err(|_| KeyError::InvalidPrivateKey)?;
            aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                canonical.as_bytes(),
            )
            .map_err(|_| KeyError::InvalidPrivateKey)?
        };
        #[cfg(feature = "pure-rust")]
        let pair = p256::ecdsa::SigningKey::from(&secret);
        Ok(Es256SigningKey { public, pair })
    }

    /// The matching public key.
    pub fn public_key(&self) -> &Es256PublicKey {
        &self.public
    }

    /// Sign `message`, returning the 64-byte JWS form (`R || S`).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        #[cfg(feature = "aws-lc")]
        {
            let rng = aws_lc_rs::rand::SystemRandom::new();
            self.pair
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::SigningFailed)
        }
        #[cfg(feature = "pure-rust")]
        {
            use p256::ecdsa::signature::Signer;
            let sig: p256::ecdsa::Signature = self
                .pair
                .try_sign(message)
                .map_err(|_| KeyError::SigningFailed)?;
            Ok(sig.to_bytes().to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Es256SigningKey {
        Es256SigningKey::from_pkcs8(&Es256SigningKey::generate_pkcs8().unwrap()).unwrap()
    }

    #[test]
    fn sign_then_verify() {
        let k = key();
        let sig = k.sign(b"hello").unwrap();
        assert_eq!(sig.len(), 64);
        assert!(k.public_key().verify(b"hello", &sig));
        assert!(!k.public_key().verify(b"hellp", &sig));
    }

    #[test]
    fn other_key_does_not_verify() {
        let sig = key().sign(b"m").unwrap();
        assert!(!key().public_key().verify(b"m", &sig));
    }

    #[test]
    fn rejects_der_signature_length() {
        let k = key();
        let mut sig = k.sign(b"m").unwrap();
        sig.push(0);
        assert!(!k.public_key().verify(b"m", &sig));
    }

    #[test]
    fn rejects_point_off_curve() {
        let k = key();
        let mut y = *k.public_key().y();
        y[31] ^= 1;
        assert_eq!(
            Es256PublicKey::from_coordinates(k.public_key().x(), &y).unwrap_err(),
            KeyError::InvalidPublicKey
        );
        assert!(Es256PublicKey::from_coordinates(&[0u8; 31], &y).is_err());
    }

    #[test]
    fn coordinates_round_trip() {
        let k = key();
        let p = Es256PublicKey::from_coordinates(k.public_key().x(), k.public_key().y()).unwrap();
        let sig = k.sign(b"abc").unwrap();
        assert!(p.verify(b"abc", &sig));
    }

    #[test]
    fn rejects_garbage_private_key() {
        assert_eq!(
            Es256SigningKey::from_pkcs8(b"garbage").unwrap_err(),
            KeyError::InvalidPrivateKey
        );
    }
}
