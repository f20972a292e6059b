//! Route table. Handlers stay thin: extract, call core, map the error.

pub mod dev_identity;
pub mod documents;
pub mod form_body;
pub mod health;
pub mod introspect;
pub mod oauth;
pub mod xrpc;

use actix_web::{web, HttpResponse};
use atauth_core::metadata::paths;
use atauth_core::OAuthError;

use crate::error::routing_error_response;
use crate::state::{AppState, Role};

/// 405 with `Allow` for a resource's unsupported methods (SPEC §0).
fn not_allowed(allow: &'static str) -> actix_web::Route {
    web::route()
        .to(move || async move { routing_error_response(&OAuthError::method_not_allowed(allow)) })
}

/// JSON 404 for every unknown path.
pub async fn not_found() -> HttpResponse {
    routing_error_response(&OAuthError::not_found("no such endpoint"))
}

/// What the route table depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteOptions {
    /// Development mode: the development identity endpoints.
    pub dev: bool,
    /// Which routes are served.
    pub role: Role,
    /// `POST /oauth/introspect` is on.
    pub introspection: bool,
}

impl RouteOptions {
    /// The options of a built state.
    pub fn of(state: &AppState) -> RouteOptions {
        RouteOptions {
            dev: state.settings.dev,
            role: state.deployment.role,
            introspection: state.settings.introspection,
        }
    }
}

/// Register every route of role `all` without introspection. `dev`
/// mounts the development identity endpoints.
pub fn configure(cfg: &mut web::ServiceConfig, dev: bool) {
    configure_for(
        cfg,
        RouteOptions {
            dev,
            role: Role::All,
            introspection: false,
        },
    );
}

/// Register the routes of a role (issue 6, entryway mode):
///
/// - every role: `/health`, `/xrpc/_health`;
/// - authorization server (`all`, `authorization`): the AS metadata, the
///   JWKS, PAR, token, revoke, introspect (when on), the pages,
///   `resolveHandle` for its accounts, and in dev the identity endpoints;
/// - resource server (`all`, `resource`): the protected-resource document,
///   `getSession`, `describeServer`.
///
/// Anything else is the JSON 404.
pub fn configure_for(cfg: &mut web::ServiceConfig, opts: RouteOptions) {
    cfg.service(
        web::resource("/health")
            .route(web::get().to(health::health))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/xrpc/_health")
            .route(web::get().to(health::health))
            .default_service(not_allowed("GET")),
    );
    if opts.role.serves_resource() {
        cfg.service(
            web::resource(paths::PR_METADATA)
                .route(web::get().to(documents::pr_metadata))
                .default_service(not_allowed("GET")),
        );
        xrpc::configure_resource(cfg);
    }
    if !opts.role.serves_authorization() {
        return;
    }
    cfg.service(
        web::resource(paths::AS_METADATA)
            .route(web::get().to(documents::as_metadata))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource(paths::JWKS)
            .route(web::get().to(documents::jwks))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource(paths::PAR)
            .route(web::post().to(oauth::par))
            .default_service(not_allowed("POST")),
    )
    .service(
        web::resource(paths::TOKEN)
            .route(web::post().to(oauth::token))
            .default_service(not_allowed("POST")),
    )
    .service(
        web::resource(paths::REVOKE)
            .route(web::post().to(oauth::revoke))
            .default_service(not_allowed("POST")),
    );
    if opts.introspection {
        cfg.service(
            web::resource(paths::INTROSPECT)
                .route(web::post().to(introspect::introspect))
                .default_service(not_allowed("POST")),
        );
    }
    crate::ui::configure(cfg);
    xrpc::configure_identity(cfg);

    if opts.dev {
        cfg.service(
            web::resource("/plc/{did:.*}")
                .route(web::get().to(dev_identity::plc_document))
                .default_service(not_allowed("GET")),
        )
        .service(
            web::resource("/{did:did(:|%3[Aa])plc(:|%3[Aa])[a-z2-7]+}")
                .route(web::get().to(dev_identity::plc_document))
                .default_service(not_allowed("GET")),
        );
    }
}
