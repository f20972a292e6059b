//! Where the verifier finds the issuer's signing keys.
//!
//! An access token is an ES256 `at+jwt` signed with one of the
//! authorization server's keys (RFC 9068 §2.1, §4: the resource server
//! "MUST validate the signature of all incoming JWT access tokens …
//! using the keys published by the authorization server"). The key set
//! changes on rotation, so the verifier asks a [`KeySource`] on every call
//! and never keeps a copy of its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use atauth_core::jwt::VerifyingKeys;
use atauth_core::keys::Keyset;

/// A boxed, sendable future (the ports here are object-safe traits).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The issuer's public keys as a verifier sees them: the server's own
/// [`Keyset`] or a [`PublicKeyset`](atauth_core::keys::PublicKeyset)
/// parsed from its JWKS.
pub type IssuerKeys = Arc<dyn VerifyingKeys + Send + Sync>;

/// The issuer's current keys, asked for on every verification.
///
/// - atauth itself passes its live keyset ([`LiveKeyset`], replaced when the
///   keys are reloaded after `atauth keys rotate`).
/// - A PDS behind a remote atauth (entryway mode) passes
///   [`RemoteKeys`](crate::RemoteKeys), fed from the JWKS it fetches from
///   the authorization server and refreshed when a token names an unknown
///   `kid`.
pub trait KeySource: Send + Sync {
    /// The keys that verify tokens now. Cheap: an `Arc` clone.
    fn keys(&self) -> IssuerKeys;

    /// Called before a verification with the `kid` the token names, from
    /// async code: a source whose keys live elsewhere fetches them here
    /// (verification itself is synchronous). The default does nothing.
    fn prepare<'a>(&'a self, kid: &'a str) -> BoxFuture<'a, ()> {
        let _ = kid;
        Box::pin(std::future::ready(()))
    }
}

impl<K: KeySource + ?Sized> KeySource for Arc<K> {
    fn keys(&self) -> IssuerKeys {
        (**self).keys()
    }

    fn prepare<'a>(&'a self, kid: &'a str) -> BoxFuture<'a, ()> {
        (**self).prepare(kid)
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
    fn keys(&self) -> IssuerKeys {
        self.current()
    }
}
