//! Development-only identity endpoints, so that a real client on this
//! machine can resolve an account with no outside network:
//!
//! - `GET /xrpc/com.atproto.identity.resolveHandle?handle=…` for this
//!   server's accounts (the same answer a PDS gives);
//! - `GET /plc/{did}` and `GET /{did}`: a PLC-directory-shaped DID
//!   document naming this server as the account's `#atproto_pds` service.
//!   Clients build the directory URL as `new URL("/" + did, directory)`, which
//!   drops any path of the directory, so the root form is what they use. The DID may arrive
//!   with raw or `%3A`-encoded colons (INTEROP.md: atrium requests raw).
//!
//! `/plc/{did}` is mounted only with `--dev`; in production, DIDs are
//! resolved through the configured PLC directory and did:web.
//! `resolveHandle` answers in every mode (registered by
//! [`xrpc`](super::xrpc), ahead of the development routes).

use actix_web::{web, HttpRequest, HttpResponse};
use atauth_core::identity::{Did, Handle};
use atauth_core::store::AccountStore;
use serde::Deserialize;

use crate::state::AppState;

/// Query of `com.atproto.identity.resolveHandle`.
#[derive(Debug, Deserialize)]
pub struct ResolveHandleQuery {
    handle: Option<String>,
}

fn xrpc_error(status: u16, error: &str, message: &str) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .json(serde_json::json!({ "error": error, "message": message }))
}

/// `GET /xrpc/com.atproto.identity.resolveHandle`.
pub async fn resolve_handle(
    state: web::Data<AppState>,
    q: web::Query<ResolveHandleQuery>,
) -> HttpResponse {
    let Some(raw) = q.handle.as_deref() else {
        return xrpc_error(
            400,
            "InvalidRequest",
            "Params must have the property \"handle\"",
        );
    };
    let Ok(handle) = Handle::parse(raw) else {
        return xrpc_error(400, "InvalidRequest", "handle must be a valid handle");
    };
    let store = state.store.clone();
    match web::block(move || store.account_by_handle(&handle)).await {
        Ok(Ok(Some(acc))) if acc.is_active() => {
            HttpResponse::Ok().json(serde_json::json!({ "did": acc.did }))
        }
        Ok(Ok(_)) => xrpc_error(400, "InvalidRequest", "Unable to resolve handle"),
        _ => xrpc_error(500, "InternalServerError", "Internal Server Error"),
    }
}

/// `GET /plc/{did}`: the DID document of one of this server's accounts.
pub async fn plc_document(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    // Take the raw path so both `did:plc:x` and `did%3Aplc%3Ax` work.
    let raw = req
        .path()
        .trim_start_matches("/plc/")
        .trim_start_matches('/');
    let decoded = raw.replace("%3A", ":").replace("%3a", ":");
    let Ok(did) = Did::parse(&decoded) else {
        return HttpResponse::NotFound()
            .json(serde_json::json!({ "message": "DID not registered" }));
    };
    let store = state.store.clone();
    let lookup = did.clone();
    let account = match web::block(move || store.account_by_did(&lookup)).await {
        Ok(Ok(a)) => a,
        _ => return xrpc_error(500, "InternalServerError", "Internal Server Error"),
    };
    let Some(account) = account.filter(|a| a.is_active()) else {
        return HttpResponse::NotFound()
            .json(serde_json::json!({ "message": format!("DID not registered: {did}") }));
    };
    let keyset = state.keyset();
    let key = keyset.current().public();
    let doc = did_document(
        &account.did,
        &account.handle,
        &state.settings.resource,
        key.x(),
        key.y(),
    );
    HttpResponse::Ok()
        .content_type("application/did+ld+json")
        .body(doc.to_string())
}

/// A DID document in the shape the PLC directory serves
/// (atproto.com/specs/did): `alsoKnownAs` with the handle, an `#atproto`
/// Multikey verification method, and the `#atproto_pds` service.
pub fn did_document(
    did: &Did,
    handle: &Handle,
    pds: &str,
    x: &[u8; 32],
    y: &[u8; 32],
) -> serde_json::Value {
    serde_json::json!({
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/multikey/v1"
        ],
        "id": did,
        "alsoKnownAs": [format!("at://{handle}")],
        "verificationMethod": [{
            "id": format!("{did}#atproto"),
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": p256_multikey(x, y),
        }],
        "service": [{
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": pds,
        }]
    })
}

/// Multikey encoding of a P-256 public key: `z` + base58btc(multicodec
/// `p256-pub` (0x1200, varint `80 24`) + compressed SEC1 point)
/// (atproto.com/specs/cryptography).
pub fn p256_multikey(x: &[u8; 32], y: &[u8; 32]) -> String {
    let mut bytes = Vec::with_capacity(35);
    bytes.extend_from_slice(&[0x80, 0x24]);
    bytes.push(if y[31] & 1 == 0 { 0x02 } else { 0x03 });
    bytes.extend_from_slice(x);
    format!("z{}", bs58::encode(bytes).into_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multikey_has_p256_prefix() {
        // Every base58btc P-256 multikey starts with "zDn".
        let k = p256_multikey(&[7u8; 32], &[1u8; 32]);
        assert!(k.starts_with("zDn"), "{k}");
    }
}
