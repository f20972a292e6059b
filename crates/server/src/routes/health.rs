//! `GET /health`: liveness plus a database round trip.

use actix_web::{web, HttpResponse};

use crate::state::AppState;

/// 200 `{"status":"ok"}` when the database answers; 503 otherwise.
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    let db_ok = web::block(move || store.ping()).await;
    match db_ok {
        Ok(Ok(())) => HttpResponse::Ok().json(serde_json::json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
        })),
        _ => {
            tracing::error!("health check: database unavailable");
            HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": "unavailable"}))
        }
    }
}
