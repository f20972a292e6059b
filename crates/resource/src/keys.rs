//! Where the verifier finds the issuer's signing keys.
//!
//! An access token is an ES256 `at+jwt` signed with one of the
//! authorization server's keys (RFC 9068 §2.1, §4: the resource server
//! "MUST validate the signature of all incoming JWT access tokens …
//! using the keys published by the authorization server"). The key set
//! changes on rotation, so the verifier asks a [`KeySource`] on every call
//! and never keeps a copy of its own.

use std::sync::{Arc, RwLock};

use atauth_core::keys::Keyset;

/// The issuer's current keyset, asked for on every verification.
///
/// - atauth itself passes its live keyset ([`LiveKeyset`], replaced when the
///   keys are reloaded after `atauth keys rotate`).
/// - A PDS behind a remote atauth (entryway mode) will plug in a set built
///   from the JWKS it fetches from the authorization server. Note:
///   [`atauth_core::jwt::verify`] takes a [`Keyset`], which holds private
///   keys; a public-only key set needs a core change first (see the crate
///   documentation, "Remote mode").
pub trait KeySource: Send + Sync {
    /// The keys that verify tokens now. Cheap: an `Arc` clone.
    fn keyset(&self) -> Arc<Keyset>;
}

impl<K: KeySource + ?Sized> KeySource for Arc<K> {
    fn keyset(&self) -> Arc<Keyset> {
        (**self).keyset()
    }
}

/// A keyset that can be replaced while it is shared: the server holds one,
/// signs with [`LiveKeyset::current`], swaps it with
/// [`LiveKeyset::replace`] on reload, and gives the same `Arc` to its
/// [`Verifier`](crate::Verifier) as the [`KeySource`].
#[derive(Debug)]
pub struct LiveKeyset {
    inner: RwLock<Arc<Keyset>>,
}

impl LiveKeyset {
    /// Start with `keyset`.
    pub fn new(keyset: Keyset) -> Self {
        LiveKeyset {
            inner: RwLock::new(Arc::new(keyset)),
        }
    }

    /// The keyset in use now. A poisoned lock still yields the last value:
    /// a keyset is replaced whole, never left half-written.
    pub fn current(&self) -> Arc<Keyset> {
        match self.inner.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replace the keyset; calls already holding the old one finish with it.
    pub fn replace(&self, keyset: Keyset) {
        let mut g = match self.inner.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *g = Arc::new(keyset);
    }
}

impl KeySource for LiveKeyset {
    fn keyset(&self) -> Arc<Keyset> {
        self.current()
    }
}
