//! atauth-core: the rules of AT Protocol OAuth, free of IO.
//!
//! Every protocol rule lives here once, named after the spec concept, with
//! its section reference in the doc comment. Flows take ports (traits) for
//! storage, and take the current time as an argument.

pub mod consts;
pub mod crypto;
pub mod error;
pub mod identity;
pub mod jwk;
pub mod jwt;
pub mod keys;
pub mod metadata;
pub mod password;
pub mod store;

pub use error::{ErrorCode, OAuthError};
