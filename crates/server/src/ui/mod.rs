//! Browser pages: authorization (sign-in, account chooser, consent) and,
//! later, the account pages. Being written.

use actix_web::web;

/// Register the browser routes.
pub fn configure(_cfg: &mut web::ServiceConfig) {}
