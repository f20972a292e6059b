//! Route table. Handlers stay thin: extract, call core, map the error.

pub mod dev_identity;
pub mod documents;
pub mod form_body;
pub mod health;
pub mod oauth;
pub mod xrpc;

use actix_web::{web, HttpResponse};
use atauth_core::metadata::paths;
use atauth_core::OAuthError;

use crate::error::json_error_response;

/// 405 with `Allow` for a resource's unsupported methods (SPEC §0).
fn not_allowed(allow: &'static str) -> actix_web::Route {
    web::route()
        .to(move || async move { json_error_response(&OAuthError::method_not_allowed(allow)) })
}

/// JSON 404 for every unknown path.
pub async fn not_found() -> HttpResponse {
    json_error_response(&OAuthError::not_found("no such endpoint"))
}

/// Register every route. `dev` mounts the development identity endpoints.
pub fn configure(cfg: &mut web::ServiceConfig, dev: bool) {
    cfg.service(
        web::resource(paths::AS_METADATA)
            .route(web::get().to(documents::as_metadata))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource(paths::PR_METADATA)
            .route(web::get().to(documents::pr_metadata))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource(paths::JWKS)
            .route(web::get().to(documents::jwks))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/health")
            .route(web::get().to(health::health))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/xrpc/_health")
            .route(web::get().to(health::health))
            .default_service(not_allowed("GET")),
    );

    cfg.service(
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
    crate::ui::configure(cfg);
    xrpc::configure(cfg);

    if dev {
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
