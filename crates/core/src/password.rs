//! Password hashing: argon2id (RFC 9106) with the argon2 crate's default
//! parameters (19 MiB, 2 passes, 1 lane: OWASP's recommended minimum).

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};

/// Minimum password length accepted when setting a password. Policy.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Maximum password length accepted (bounds hashing work per request). Policy.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Why a password could not be set or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// The new password breaks the length policy.
    #[error("password must be between {MIN_PASSWORD_LEN} and {MAX_PASSWORD_LEN} characters")]
    BadLength,
    /// The stored hash could not be parsed (corrupt row).
    #[error("stored password hash is malformed")]
    MalformedHash,
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Hash a new password with argon2id and a random salt; returns the PHC string.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&n) {
        return Err(PasswordError::BadLength);
    }
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// Check a password against a stored PHC hash. Overlong input is refused
/// without hashing it in full (it cannot match a stored password).
pub fn verify_password(password: &str, phc: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(|_| PasswordError::MalformedHash)?;
    if password.len() > MAX_PASSWORD_LEN * 4 {
        return Ok(false);
    }
    Ok(hasher()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// Spend the same work as a real verification, for unknown accounts, so the
/// response time does not reveal whether an account exists.
pub fn burn_verification(password: &str) {
    // A fixed hash of a random password made with the same parameters.
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2hVv0eiKD7CVoJgkYG9TvOAnzXBKOWYRC9v9IVVkzfM";
    let _ = verify_password(password, DUMMY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_argon2id_and_verifies() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(verify_password("correct horse", &h).unwrap());
        assert!(!verify_password("wrong horse!", &h).unwrap());
    }

    #[test]
    fn salts_differ() {
        assert_ne!(
            hash_password("samepassword").unwrap(),
            hash_password("samepassword").unwrap()
        );
    }

    #[test]
    fn rejects_short_password() {
        assert_eq!(hash_password("short"), Err(PasswordError::BadLength));
    }

    #[test]
    fn rejects_malformed_hash() {
        assert_eq!(
            verify_password("x", "not a hash"),
            Err(PasswordError::MalformedHash)
        );
    }

    #[test]
    fn dummy_hash_parses() {
        // If the constant were malformed, burn_verification would do no work.
        assert!(PasswordHash::new(
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2hVv0eiKD7CVoJgkYG9TvOAnzXBKOWYRC9v9IVVkzfM"
        )
        .is_ok());
        burn_verification("whatever");
    }
}
