//! Browser pages: the authorization flow (sign-in, account chooser,
//! consent, the way back to the client), and the account pages
//! ([`account`]: connected apps, devices, password).
//!
//! Routes:
//!
//! | route | what |
//! |---|---|
//! | `GET /oauth/authorize` | entry: checks the pushed request, binds it to the device, shows the next step ([`authorize`]) |
//! | `POST /oauth/authorize/sign-in` | handle or DID + password ([`sign_in`]) |
//! | `POST /oauth/authorize/select` | pick a signed-in account ([`select`]) |
//! | `POST /oauth/authorize/consent` | approve or deny ([`consent`]) |
//! | `GET /static/ui.css`, `GET /static/form-post.js` | embedded assets |
//! | `/account…`, `GET /.well-known/change-password` | the account pages ([`account`]) |
//!
//! Every POST carries `request_uri` and `csrf` as hidden fields and is
//! checked in the same order before it acts ([`request::load_post`]):
//! origin → body → device cookie → CSRF token → request (bound to this
//! device, unexpired, no code) → client. Every HTML answer carries the
//! security headers of [`headers`].

pub mod account;
mod authorize;
mod consent;
mod credentials;
pub mod csrf;
pub mod device;
pub mod email_code;
pub mod flow;
pub mod headers;
pub mod i18n;
mod pages;
pub mod rate_limit;
mod redirect;
mod request;
mod select;
mod sign_in;
mod templates;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use atauth_core::metadata::paths;

pub use rate_limit::RateLimitPolicy;

use crate::state::ServerSettings;

/// `POST /oauth/authorize/sign-in`.
pub const SIGN_IN_PATH: &str = "/oauth/authorize/sign-in";
/// `POST /oauth/authorize/select`.
pub const SELECT_PATH: &str = "/oauth/authorize/select";
/// `POST /oauth/authorize/consent`.
pub const CONSENT_PATH: &str = "/oauth/authorize/consent";

/// How long a sign-in without "remember this device" lets the account be
/// used without the password. Policy: one hour.
pub const SIGN_IN_FRESH_SECS: i64 = 3600;

/// UI policy.
#[derive(Debug, Clone)]
pub struct UiPolicy {
    /// See [`SIGN_IN_FRESH_SECS`].
    pub sign_in_fresh_secs: i64,
    /// Sign-in rate limits.
    pub rate_limit: RateLimitPolicy,
    /// Whether the device cookie is `Secure` (false only for an http
    /// issuer, i.e. development).
    pub secure_cookies: bool,
}

impl UiPolicy {
    /// The defaults for these settings.
    pub fn for_settings(settings: &ServerSettings) -> UiPolicy {
        UiPolicy {
            sign_in_fresh_secs: SIGN_IN_FRESH_SECS,
            rate_limit: RateLimitPolicy::default(),
            secure_cookies: !settings.issuer.as_str().starts_with("http://"),
        }
    }
}

/// Everything the pages need that lives as long as the process.
#[derive(Debug)]
pub struct Ui {
    templates: templates::Templates,
    catalogue: i18n::Catalogue,
    csrf: csrf::Csrf,
    limiter: rate_limit::RateLimiter,
    policy: UiPolicy,
}

impl Ui {
    /// Build the UI for these settings: templates compiled, catalogues of
    /// the configured languages loaded, the CSRF key derived from the shared
    /// nonce secret (or random).
    pub fn new(settings: &ServerSettings) -> Ui {
        Ui::with_policy(settings, UiPolicy::for_settings(settings))
    }

    /// Build the UI with an explicit policy.
    pub fn with_policy(settings: &ServerSettings, policy: UiPolicy) -> Ui {
        Ui {
            templates: templates::Templates::new(),
            catalogue: i18n::Catalogue::load(&settings.ui_locales),
            csrf: csrf::Csrf::new(settings.nonce_secret.as_ref()),
            limiter: rate_limit::RateLimiter::new(policy.rate_limit.clone()),
            policy,
        }
    }

    /// Whether the embedded templates compiled (a start-up check).
    pub fn check(&self) -> Result<(), String> {
        self.templates.check()
    }

    /// The policy in force.
    pub fn policy(&self) -> &UiPolicy {
        &self.policy
    }
}

fn method_not_allowed(allow: &'static str) -> actix_web::Route {
    web::route().to(move || async move {
        HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, allow))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("method not allowed")
    })
}

const CSS: &str = include_str!("../../../../templates/static/ui.css");
const FORM_POST_JS: &str = include_str!("../../../../templates/static/form-post.js");

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

/// Register the browser routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(paths::AUTHORIZE)
            .route(web::get().to(authorize::get))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource(SIGN_IN_PATH)
            .route(web::post().to(sign_in::post))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(SELECT_PATH)
            .route(web::post().to(select::post))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource(CONSENT_PATH)
            .route(web::post().to(consent::post))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/static/ui.css")
            .route(web::get().to(|| async { asset("text/css; charset=utf-8", CSS) }))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/static/form-post.js")
            .route(
                web::get().to(|| async { asset("text/javascript; charset=utf-8", FORM_POST_JS) }),
            )
            .default_service(method_not_allowed("GET")),
    );
    account::configure(cfg);
}
