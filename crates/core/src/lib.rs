//! atauth-core: the rules of AT Protocol OAuth, free of IO.
//!
//! Every protocol rule lives here once, named after the spec concept, with
//! its section reference in the doc comment. Flows take ports (traits) for
//! storage, and take the current time as an argument.

pub mod client;
pub mod consts;
pub mod crypto;
pub mod dpop;
pub mod email_code;
pub mod error;
pub mod form;
pub mod identity;
pub mod ids;
pub mod jwk;
pub mod jwt;
pub mod keys;
pub mod metadata;
pub mod par;
pub mod password;
pub mod pkce;
pub mod replay;
pub mod scope;
pub mod store;
pub mod token;

pub use error::{ErrorCode, OAuthError};
