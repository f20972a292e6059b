//! Where DPoP proof `jti`s are remembered (RFC 9449 §11.1).
//!
//! Every request to PAR, the token endpoint and the XRPC endpoints carries
//! a fresh proof, so its `jti` is the one write most requests make. With a
//! shared database (PostgreSQL, several instances) it must be remembered
//! there: a proof refused by one instance must be refused by all. With an
//! embedded database and nonces keyed per process (no `dpop.nonce_secret`),
//! it is remembered in memory instead, and that is as strong:
//!
//! - one process serves the database, so there is no other instance to
//!   tell;
//! - every endpoint requires a server nonce (RFC 9449 §8, §9), and this
//!   process's nonces are keyed by a secret drawn at start, so no proof made
//!   before a restart verifies after it: the memory lost in a crash holds
//!   nothing that could be replayed.
//!
//! Client-assertion `jti`s (RFC 7523 §3) and PKCE challenges are not
//! protected by a nonce; they always stay in the database.

use atauth_core::replay::{MemoryReplayStore, ReplayStore, NS_DPOP};
use atauth_core::store::StoreResult;
use atauth_store::Store;

/// The replay store for DPoP proofs; other namespaces go to the database.
#[derive(Debug)]
pub enum DpopReplay {
    /// Embedded database, per-process nonces: DPoP `jti`s in memory.
    Local {
        /// DPoP proofs.
        proofs: MemoryReplayStore,
        /// Everything else.
        store: Store,
    },
    /// Everything in the database.
    Shared(Store),
}

impl DpopReplay {
    /// Choose by the module rules: memory only when `store` is embedded
    /// and the nonce secret is drawn per process.
    pub fn new(store: Store, nonces_per_process: bool) -> DpopReplay {
        if store.is_embedded() && nonces_per_process {
            DpopReplay::Local {
                proofs: MemoryReplayStore::default(),
                store,
            }
        } else {
            DpopReplay::Shared(store)
        }
    }

    /// Whether DPoP proofs are remembered in memory.
    pub fn proofs_in_memory(&self) -> bool {
        matches!(self, DpopReplay::Local { .. })
    }
}

impl ReplayStore for DpopReplay {
    fn check_and_insert(
        &self,
        namespace: &str,
        key: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<bool> {
        match self {
            DpopReplay::Local { proofs, .. } if namespace == NS_DPOP => {
                proofs.check_and_insert(namespace, key, expires_at, now)
            }
            DpopReplay::Local { store, .. } | DpopReplay::Shared(store) => {
                store.check_and_insert(namespace, key, expires_at, now)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atauth_core::replay::NS_CLIENT_ASSERTION;

    fn sqlite() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store =
            Store::open(dir.path().join("a.sqlite").to_str().expect("utf-8")).expect("open");
        store.migrate().expect("migrate");
        (dir, store)
    }

    #[test]
    fn embedded_with_per_process_nonces_keeps_proofs_in_memory() {
        let (_dir, store) = sqlite();
        let replay = DpopReplay::new(store.clone(), true);
        assert!(replay.proofs_in_memory());
        assert!(replay.check_and_insert(NS_DPOP, "j1", 200, 100).unwrap());
        assert!(!replay.check_and_insert(NS_DPOP, "j1", 200, 150).unwrap());
        // Not written to the database: a fresh router over the same file
        // (a restart) has never seen it; the per-process nonce is what
        // refuses the old proof then.
        assert!(store.check_and_insert(NS_DPOP, "j1", 200, 150).unwrap());
    }

    #[test]
    fn client_assertions_always_go_to_the_database() {
        let (_dir, store) = sqlite();
        let replay = DpopReplay::new(store.clone(), true);
        assert!(replay
            .check_and_insert(NS_CLIENT_ASSERTION, "a1", 200, 100)
            .unwrap());
        // The database saw it: the same key is a replay there.
        assert!(!store
            .check_and_insert(NS_CLIENT_ASSERTION, "a1", 200, 150)
            .unwrap());
    }

    #[test]
    fn a_shared_nonce_secret_keeps_proofs_in_the_database() {
        let (_dir, store) = sqlite();
        let replay = DpopReplay::new(store.clone(), false);
        assert!(!replay.proofs_in_memory());
        assert!(replay.check_and_insert(NS_DPOP, "j2", 200, 100).unwrap());
        assert!(!store.check_and_insert(NS_DPOP, "j2", 200, 150).unwrap());
    }
}
