//! A confidential client's public keys: the `jwks` of its metadata or the
//! set fetched from its `jwks_uri`, parsed once.
//!
//! Keys this server cannot use (RSA, other curves, an `alg` other than
//! ES256, `use` other than `sig`, no `kid`) are skipped rather than refused:
//! a client may publish keys for other servers too. Keys carrying private
//! members are always refused, and so is a P-256 key that is not a valid
//! point.

use serde_json::{Map, Value};
use url::Url;

use super::client_id::ClientId;
use super::metadata::{
    rule_by_id, AuthMethod, ClientMetadata, CLIENT_ASSERTION_ALG, DOCUMENT_RULE,
};
use super::{quote, ClientError, RuleResult, Violation};
use crate::jwk::{EcPublicJwk, PRIVATE_JWK_MEMBERS};

/// One usable client key: an ES256 (P-256) public key with its `kid`.
#[derive(Debug, Clone)]
pub struct ClientJwk {
    /// The key id the assertion header names.
    pub kid: String,
    /// The key's `alg`, if the JWK states one (always ES256 when present).
    pub alg: Option<String>,
    /// The parsed key and its RFC 7638 thumbprint.
    pub key: EcPublicJwk,
}

/// A client's usable keys, parsed once and cached with the client.
#[derive(Debug, Clone, Default)]
pub struct ClientJwks {
    /// Usable keys, in document order; `kid`s are unique.
    pub keys: Vec<ClientJwk>,
}

impl ClientJwks {
    /// Parse a JWK Set (RFC 7517 §5) for client authentication: refuses
    /// private keys, invalid P-256 points, duplicate `kid`s among usable
    /// keys, and a set with no usable key. `field` names where the set came
    /// from (`jwks` or `jwks_uri`) in the error.
    pub fn from_json(value: &Value, field: &'static str) -> Result<ClientJwks, ClientError> {
        let fail = |id: &str, v: Violation| {
            let e = rule_by_id(id)
                .map_or_else(|| DOCUMENT_RULE.error(v.clone()), |r| r.error(v.clone()));
            ClientError { field, ..e }
        };
        let keys = shape(value).map_err(|v| fail("jwks.shape", v))?;
        public_only(keys).map_err(|v| fail("jwks.public_only", v))?;
        let usable = parse_keys(keys).map_err(|v| fail("jwks.keys_valid", v))?;
        if usable.is_empty() {
            return Err(fail("jwks.usable_key", no_usable_key()));
        }
        Ok(ClientJwks { keys: usable })
    }

    /// The key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<&ClientJwk> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Whether the set holds a key with this thumbprint (to end sessions
    /// whose key has disappeared, atproto OAuth spec, "Confidential Client
    /// Authentication").
    pub fn contains_thumbprint(&self, jkt: &str) -> bool {
        self.keys.iter().any(|k| k.key.thumbprint == jkt)
    }
}

/// RFC 7517 §5: a JWK Set is an object whose `keys` member is an array of
/// JWKs; each JWK is an object with a `kty` string (§4.1).
fn shape(value: &Value) -> Result<&Vec<Value>, Violation> {
    let fix = "publish {\"keys\": [{\"kty\": \"EC\", \"crv\": \"P-256\", \"x\": …, \"y\": …, \"kid\": …}]}";
    let Some(keys) = value
        .as_object()
        .and_then(|o| o.get("keys"))
        .and_then(Value::as_array)
    else {
        return Err(Violation::new("the JWK Set is not an object with a \"keys\" array").fix(fix));
    };
    for (i, k) in keys.iter().enumerate() {
        if !k.get("kty").is_some_and(Value::is_string) {
            return Err(Violation::new(format!(
                "keys[{i}] is not a JWK object with a \"kty\" string"
            ))
            .fix(fix));
        }
    }
    Ok(keys)
}

/// atproto OAuth spec, "Confidential Client Authentication": clients
/// "publish one or more client authentication keys (public key)"; a member
/// of [`PRIVATE_JWK_MEMBERS`] means the private key (or a symmetric secret)
/// has been published.
fn public_only(keys: &[Value]) -> RuleResult {
    for (i, k) in keys.iter().enumerate() {
        if let Some(m) = PRIVATE_JWK_MEMBERS.iter().find(|m| k.get(**m).is_some()) {
            return Err(Violation::new(format!("keys[{i}] carries the private member \"{m}\": the private key is published")).fix("remove the key now, rotate it (it is compromised), and publish only public members"));
        }
    }
    Ok(())
}

/// Parse every P-256 key (refusing invalid points) and collect the usable
/// ones; refuse duplicate `kid`s among them (RFC 7517 §4.5: keys in a set
/// "SHOULD use distinct `kid` values"; here the assertion names its key by
/// `kid`, so duplicates would make the choice ambiguous). Keys with private
/// members are left to [`public_only`].
fn parse_keys(keys: &[Value]) -> Result<Vec<ClientJwk>, Violation> {
    let mut usable: Vec<ClientJwk> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let Some(obj) = k.as_object() else { continue };
        if !is_p256(obj) || PRIVATE_JWK_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
            continue;
        }
        let key = EcPublicJwk::from_json(obj).map_err(|e| {
            Violation::new(format!("keys[{i}] is not a valid P-256 key: {e}"))
                .fix("publish the key's exact public x and y coordinates")
        })?;
        let s = |name: &str| obj.get(name).and_then(Value::as_str);
        let usable_alg = s("alg").is_none_or(|a| a == CLIENT_ASSERTION_ALG);
        let usable_use = s("use").is_none_or(|u| u == "sig");
        let usable_ops = obj
            .get("key_ops")
            .and_then(Value::as_array)
            .is_none_or(|ops| ops.iter().any(|o| o.as_str() == Some("verify")));
        let Some(kid) = key
            .kid
            .clone()
            .filter(|_| usable_alg && usable_use && usable_ops)
        else {
            continue;
        };
        if usable.iter().any(|u| u.kid == kid) {
            return Err(
                Violation::new(format!("two signing keys share the kid {}", quote(&kid)))
                    .fix("give each key its own kid"),
            );
        }
        usable.push(ClientJwk {
            kid,
            alg: s("alg").map(str::to_string),
            key,
        });
    }
    Ok(usable)
}

fn is_p256(obj: &Map<String, Value>) -> bool {
    obj.get("kty").and_then(Value::as_str) == Some("EC")
        && obj.get("crv").and_then(Value::as_str) == Some("P-256")
}

fn no_usable_key() -> Violation {
    Violation::new("the JWK Set holds no usable signing key (an EC P-256 key with a kid, alg ES256 or none, use sig or none)").fix("publish the client's P-256 public key with a \"kid\"")
}

fn confidential(doc: &ClientMetadata) -> bool {
    AuthMethod::from_field(doc.token_endpoint_auth_method.as_deref())
        == Some(AuthMethod::PrivateKeyJwt)
}

/// RFC 7517 §5: `jwks` is a JWK Set, an object with a `keys` array of JWK
/// objects.
pub(crate) fn rule_shape(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    doc.jwks.as_ref().map_or(Ok(()), |v| shape(v).map(|_| ()))
}

/// atproto OAuth spec, "Confidential Client Authentication": the keys are
/// public keys; a JWK with private members is refused.
pub(crate) fn rule_public_only(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    match doc.jwks.as_ref().map(shape) {
        Some(Ok(keys)) => public_only(keys),
        _ => Ok(()),
    }
}

/// RFC 7518 §6.2.1 (a P-256 key is a point on the curve) and RFC 7517 §4.5
/// (distinct `kid`s).
pub(crate) fn rule_keys_valid(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    match doc.jwks.as_ref().map(shape) {
        Some(Ok(keys)) => parse_keys(keys).map(|_| ()),
        _ => Ok(()),
    }
}

/// atproto OAuth spec, "Confidential Client Authentication": "Clients and
/// Authorization Servers currently must support the `ES256` cryptographic
/// system", and the session is bound to the key's `kid`: an inline `jwks`
/// of a `private_key_jwt` client needs a P-256 key with a `kid`.
pub(crate) fn rule_usable_key(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    if !confidential(doc) {
        return Ok(());
    }
    match doc.jwks.as_ref().map(shape) {
        Some(Ok(keys)) => match parse_keys(keys) {
            Ok(usable) if usable.is_empty() => Err(no_usable_key()),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// atproto OAuth spec, "Confidential Client Authentication": "A `jwks_uri`
/// URL must be a valid fully qualified URL with `https://` scheme."
pub(crate) fn rule_jwks_uri_https(_id: &ClientId, doc: &ClientMetadata) -> RuleResult {
    let Some(raw) = doc.jwks_uri.as_deref() else {
        return Ok(());
    };
    match Url::parse(raw) {
        Ok(u) if u.scheme() == "https" && u.host().is_some() && u.fragment().is_none() => Ok(()),
        Ok(_) => Err(Violation::new(format!(
            "jwks_uri {} is not an https URL without fragment",
            quote(raw)
        ))
        .fix("serve the JWK Set over https")),
        Err(e) => Err(
            Violation::new(format!("jwks_uri {} is not a URL ({e})", quote(raw)))
                .fix("use the absolute https URL of the JWK Set"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Es256SigningKey;
    use crate::jwk::ec_public_jwk;
    use serde_json::json;

    fn key_json(kid: Option<&str>) -> Value {
        let sk = Es256SigningKey::from_pkcs8(&Es256SigningKey::generate_pkcs8().unwrap()).unwrap();
        ec_public_jwk(sk.public_key(), kid)
    }

    #[test]
    fn parses_usable_keys_and_skips_others() {
        let mut no_alg = key_json(Some("b"));
        no_alg.as_object_mut().unwrap().remove("alg");
        let set = json!({"keys": [
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "rsa"},
            key_json(None),
            key_json(Some("a")),
            no_alg,
        ]});
        let jwks = ClientJwks::from_json(&set, "jwks").unwrap();
        let kids: Vec<&str> = jwks.keys.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids, ["a", "b"]);
        assert!(jwks.find("a").is_some());
        assert!(jwks.find("rsa").is_none());
        assert!(jwks.contains_thumbprint(&jwks.keys[0].key.thumbprint));
    }

    #[test]
    fn rejects_private_key_naming_field() {
        let mut k = key_json(Some("a"));
        k.as_object_mut().unwrap().insert("d".into(), "AAAA".into());
        let e = ClientJwks::from_json(&json!({"keys": [k]}), "jwks_uri").unwrap_err();
        assert_eq!(e.rule_id, "jwks.public_only");
        assert_eq!(e.field, "jwks_uri");
    }

    #[test]
    fn rejects_duplicate_kids_and_bad_shape_and_empty_sets() {
        let dup = json!({"keys": [key_json(Some("a")), key_json(Some("a"))]});
        assert_eq!(
            ClientJwks::from_json(&dup, "jwks").unwrap_err().rule_id,
            "jwks.keys_valid"
        );
        assert_eq!(
            ClientJwks::from_json(&json!([1]), "jwks")
                .unwrap_err()
                .rule_id,
            "jwks.shape"
        );
        assert_eq!(
            ClientJwks::from_json(&json!({"keys": [{"x": 1}]}), "jwks")
                .unwrap_err()
                .rule_id,
            "jwks.shape"
        );
        assert_eq!(
            ClientJwks::from_json(&json!({"keys": []}), "jwks")
                .unwrap_err()
                .rule_id,
            "jwks.usable_key"
        );
        let off_curve = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k",
            "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyQ"}]});
        assert_eq!(
            ClientJwks::from_json(&off_curve, "jwks")
                .unwrap_err()
                .rule_id,
            "jwks.keys_valid"
        );
    }

    #[test]
    fn skips_keys_for_other_uses() {
        let mut enc = key_json(Some("enc"));
        enc.as_object_mut()
            .unwrap()
            .insert("use".into(), "enc".into());
        let mut es384 = key_json(Some("es384"));
        es384
            .as_object_mut()
            .unwrap()
            .insert("alg".into(), "ES384".into());
        let e = ClientJwks::from_json(&json!({"keys": [enc, es384]}), "jwks").unwrap_err();
        assert_eq!(e.rule_id, "jwks.usable_key");
    }
}
