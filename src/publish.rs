//! Publishing this issuer's public keys and metadata, so other services
//! verify our tokens the way they verify any identity provider's: by
//! discovery and a JWK Set, not by copying PEM files.
//!
//! * [`JwkSet`]: the public keys as an RFC 7517 JWK Set — `kty`, the key's
//!   members, `alg`, `use: "sig"` and `kid` (the RFC 7638 thumbprint unless
//!   the key is named) — served by [`JwkSet::service`] with
//!   `Cache-Control: public, max-age=…` and an `ETag` (and `304` for a
//!   matching `If-None-Match`). HMAC secrets are never published: an HS*
//!   issuer has no JWK Set.
//! * [`IssuerMetadata`]: the discovery document (`issuer`, `jwks_uri`,
//!   `token_endpoint` where the refresh service is mounted), served at both
//!   `/.well-known/openid-configuration` and
//!   `/.well-known/oauth-authorization-server`.
//! * [`ProtectedResourceMetadata`]: RFC 9728, for resource servers.
//!
//! ```
//! use std::time::Duration;
//! use tower_jwt_auth::publish::JwkSet;
//! use tower_jwt_auth::{Algorithm, SigningKey};
//!
//! # let pem = include_bytes!("../tests/keys/es256_private.pem");
//! let key = SigningKey::from_pem(Algorithm::ES256, pem)?;
//! let jwks = JwkSet::new(&key, [], Duration::from_secs(300)).expect("an asymmetric key");
//! let document: serde_json::Value = serde_json::from_slice(jwks.document())?;
//! assert_eq!(document["keys"][0]["kid"], key.thumbprint().unwrap());
//! assert_eq!(document["keys"][0]["use"], "sig");
//! assert!(JwkSet::new(&SigningKey::hmac(Algorithm::HS256, &[7; 32])?, [], Duration::ZERO).is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;

use crate::dpop::{DpopMode, DpopPolicy};
use crate::keys::{SigningKey, VerifyingKey, algorithm_name};

/// The media type of a JWK Set (RFC 7517 §8.5).
pub const JWK_SET_CONTENT_TYPE: &str = "application/jwk-set+json";

/// The public keys of an issuer as an RFC 7517 JWK Set, ready to serve.
#[derive(Clone)]
pub struct JwkSet {
    served: Arc<Served>,
}

impl fmt::Debug for JwkSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwkSet")
            .field("etag", &self.served.etag)
            .finish_non_exhaustive()
    }
}

impl JwkSet {
    /// The set of `current`'s public key and the `retired` keys that still
    /// verify, each bound to its algorithm. `max_age` is what verifiers may
    /// cache it for: publish a next key at least that long before signing
    /// with it, and keep a retired key here at least that long after its
    /// last token expired. `None` when `current` is an HMAC key (a secret is
    /// never published).
    pub fn new<'k>(
        current: &SigningKey,
        retired: impl IntoIterator<Item = &'k VerifyingKey>,
        max_age: Duration,
    ) -> Option<Self> {
        let mut keys = vec![current.public_jwk()?];
        for key in retired {
            let Some(jwk) = key.public_jwk() else {
                continue;
            };
            if !keys.iter().any(|k| k.common.key_id == jwk.common.key_id) {
                keys.push(jwk);
            }
        }
        let document =
            serde_json::to_vec(&serde_json::json!({ "keys": keys })).expect("a JWK Set serializes");
        Some(Self {
            served: Arc::new(Served::json(
                document,
                JWK_SET_CONTENT_TYPE,
                &format!("public, max-age={}", max_age.as_secs()),
            )),
        })
    }

    /// The document's bytes.
    pub fn document(&self) -> &[u8] {
        &self.served.body
    }

    /// A tower service answering `GET` and `HEAD` with the set.
    pub fn service(&self) -> PublishService {
        PublishService {
            served: Arc::clone(&self.served),
        }
    }
}

/// The metadata of this crate as an issuer: only what holds for it.
///
/// ```
/// use tower_jwt_auth::publish::IssuerMetadata;
///
/// let metadata = IssuerMetadata::new("https://auth.example.com", "https://auth.example.com/.well-known/jwks.json")
///     .token_endpoint("https://auth.example.com/auth/refresh");
/// let document: serde_json::Value = serde_json::from_slice(metadata.document())?;
/// assert_eq!(document["issuer"], "https://auth.example.com");
/// assert_eq!(document["grant_types_supported"][0], "refresh_token");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct IssuerMetadata {
    fields: MetadataFields,
    served: Arc<Served>,
}

#[derive(Clone, Debug, Serialize)]
struct MetadataFields {
    issuer: String,
    jwks_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_types_supported: Option<[&'static str; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    introspection_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    introspection_endpoint_auth_methods_supported: Option<[&'static str; 1]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dpop_signing_alg_values_supported: Vec<&'static str>,
}

/// The names of the algorithms a DPoP policy accepts in proofs; none when
/// DPoP is off.
fn dpop_algs(policy: &DpopPolicy) -> Vec<&'static str> {
    if policy.mode() == DpopMode::Off {
        return Vec::new();
    }
    policy
        .config
        .accepted_algorithms()
        .iter()
        .filter_map(|&alg| algorithm_name(alg))
        .collect()
}

impl IssuerMetadata {
    /// `issuer` exactly as minted into `iss`, and where its JWK Set is.
    pub fn new(issuer: impl Into<String>, jwks_uri: impl Into<String>) -> Self {
        Self::from_fields(MetadataFields {
            issuer: issuer.into(),
            jwks_uri: jwks_uri.into(),
            token_endpoint: None,
            grant_types_supported: None,
            introspection_endpoint: None,
            introspection_endpoint_auth_methods_supported: None,
            dpop_signing_alg_values_supported: Vec::new(),
        })
    }

    /// The token endpoint issues DPoP-bound tokens under `policy` (the one
    /// given to [`SessionManager::dpop`](crate::SessionManager::dpop)):
    /// names `dpop_signing_alg_values_supported` (RFC 9449 §5.1); nothing
    /// when DPoP is off.
    #[must_use]
    pub fn dpop(mut self, policy: &DpopPolicy) -> Self {
        self.fields.dpop_signing_alg_values_supported = dpop_algs(policy);
        Self::from_fields(self.fields)
    }

    /// Where the refresh service is mounted (grant type `refresh_token`).
    #[must_use]
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.fields.token_endpoint = Some(url.into());
        self.fields.grant_types_supported = Some(["refresh_token"]);
        Self::from_fields(self.fields)
    }

    /// Where an RFC 7662 introspection endpoint for these tokens is mounted
    /// (an `IntrospectionService`, feature `introspection`): named with the
    /// one client authentication it takes, `client_secret_basic`.
    #[must_use]
    pub fn introspection_endpoint(mut self, url: impl Into<String>) -> Self {
        self.fields.introspection_endpoint = Some(url.into());
        self.fields.introspection_endpoint_auth_methods_supported = Some(["client_secret_basic"]);
        Self::from_fields(self.fields)
    }

    fn from_fields(fields: MetadataFields) -> Self {
        let document = serde_json::to_vec(&fields).expect("metadata serializes");
        Self {
            served: Arc::new(Served::json(
                document,
                "application/json",
                "public, max-age=3600",
            )),
            fields,
        }
    }

    /// The document's bytes.
    pub fn document(&self) -> &[u8] {
        &self.served.body
    }

    /// A tower service answering `GET` and `HEAD` with the document; mount
    /// it at `/.well-known/openid-configuration` and
    /// `/.well-known/oauth-authorization-server`.
    pub fn service(&self) -> PublishService {
        PublishService {
            served: Arc::clone(&self.served),
        }
    }
}

/// RFC 9728 protected-resource metadata: what a resource server tells
/// clients (MCP clients among them) about itself — its identifier, the
/// authorization servers whose tokens it accepts, its scopes, and how it
/// takes a bearer token. Serve it at `/.well-known/oauth-protected-resource`
/// and point challenges at it with
/// [`JwtAuthLayer::resource_metadata`](crate::JwtAuthLayer::resource_metadata).
///
/// ```
/// use tower_jwt_auth::publish::ProtectedResourceMetadata;
///
/// let metadata = ProtectedResourceMetadata::new("https://api.example.com")
///     .authorization_server("https://auth.example.com")
///     .scopes(["read:ping"]);
/// let document: serde_json::Value = serde_json::from_slice(metadata.document())?;
/// assert_eq!(document["authorization_servers"][0], "https://auth.example.com");
/// assert_eq!(document["bearer_methods_supported"][0], "header");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ProtectedResourceMetadata {
    fields: ResourceFields,
    served: Arc<Served>,
}

#[derive(Clone, Debug, Serialize)]
struct ResourceFields {
    resource: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authorization_servers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    scopes_supported: Vec<String>,
    bearer_methods_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dpop_signing_alg_values_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dpop_bound_access_tokens_required: bool,
}

impl ProtectedResourceMetadata {
    /// Metadata for the resource identified by `resource` (its URL, which
    /// tokens name in `aud`), taking bearer tokens in the `Authorization`
    /// header.
    pub fn new(resource: impl Into<String>) -> Self {
        Self::from_fields(ResourceFields {
            resource: resource.into(),
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            bearer_methods_supported: vec!["header"],
            dpop_signing_alg_values_supported: Vec::new(),
            dpop_bound_access_tokens_required: false,
        })
    }

    /// The resource takes DPoP-bound tokens under `policy` (the one given
    /// to [`JwtAuthLayer::dpop`](crate::JwtAuthLayer::dpop)): names
    /// `dpop_signing_alg_values_supported`, and
    /// `dpop_bound_access_tokens_required: true` in required mode (RFC 9728
    /// §2); nothing when DPoP is off.
    #[must_use]
    pub fn dpop(mut self, policy: &DpopPolicy) -> Self {
        self.fields.dpop_signing_alg_values_supported = dpop_algs(policy);
        self.fields.dpop_bound_access_tokens_required = policy.mode() == DpopMode::Required;
        Self::from_fields(self.fields)
    }

    /// An issuer whose tokens this resource accepts.
    #[must_use]
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.fields.authorization_servers.push(issuer.into());
        Self::from_fields(self.fields)
    }

    /// The scopes this resource understands.
    #[must_use]
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fields
            .scopes_supported
            .extend(scopes.into_iter().map(Into::into));
        Self::from_fields(self.fields)
    }

    /// How bearer tokens may be sent (RFC 9728 §2: `header`, `body`,
    /// `query`); default `header`.
    #[must_use]
    pub fn bearer_methods(mut self, methods: &[&'static str]) -> Self {
        self.fields.bearer_methods_supported = methods.to_vec();
        Self::from_fields(self.fields)
    }

    fn from_fields(fields: ResourceFields) -> Self {
        let document = serde_json::to_vec(&fields).expect("metadata serializes");
        Self {
            served: Arc::new(Served::json(
                document,
                "application/json",
                "public, max-age=3600",
            )),
            fields,
        }
    }

    /// The document's bytes.
    pub fn document(&self) -> &[u8] {
        &self.served.body
    }

    /// A tower service answering `GET` and `HEAD` with the document.
    pub fn service(&self) -> PublishService {
        PublishService {
            served: Arc::clone(&self.served),
        }
    }
}

/// A fixed JSON document with its validators.
#[derive(Debug)]
struct Served {
    body: Bytes,
    content_type: HeaderValue,
    cache_control: HeaderValue,
    etag: HeaderValue,
}

impl Served {
    fn json(body: Vec<u8>, content_type: &'static str, cache_control: &str) -> Self {
        let etag = format!(
            "\"{}\"",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest(&body))
        );
        Self {
            body: Bytes::from(body),
            content_type: HeaderValue::from_static(content_type),
            cache_control: HeaderValue::from_str(cache_control).expect("a header value"),
            etag: HeaderValue::from_str(&etag).expect("a header value"),
        }
    }

    fn respond<B>(&self, request: &Request<B>) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::default());
        if request.method() != Method::GET && request.method() != Method::HEAD {
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, self.cache_control.clone());
        headers.insert(header::ETAG, self.etag.clone());
        let unchanged = request
            .headers()
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|tag| {
                let tag = tag.trim();
                tag == "*" || tag.trim_start_matches("W/") == self.etag
            });
        if unchanged {
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            return response;
        }
        headers.insert(header::CONTENT_TYPE, self.content_type.clone());
        if request.method() == Method::GET {
            *response.body_mut() = Full::new(self.body.clone());
        }
        response
    }
}

/// A 64-bit FNV-1a of the document: an `ETag` needs only to change when the
/// document does.
fn digest(body: &[u8]) -> [u8; 8] {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in body {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash.to_be_bytes()
}

/// The tower service of [`JwkSet::service`] and [`IssuerMetadata::service`].
#[derive(Clone, Debug)]
#[must_use]
pub struct PublishService {
    served: Arc<Served>,
}

impl<B> tower_service::Service<Request<B>> for PublishService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(self.served.respond(&request)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Algorithm;
    use tower_service::Service as _;

    const ES256: &[u8] = include_bytes!("../tests/keys/es256_private.pem");
    const ES256_PUBLIC: &[u8] = include_bytes!("../tests/keys/es256_public.pem");
    const ES256_NEXT_PUBLIC: &[u8] = include_bytes!("../tests/keys/es256_next_public.pem");

    fn get(service: &mut PublishService, if_none_match: Option<&str>) -> Response<Full<Bytes>> {
        let mut request = Request::get("/.well-known/jwks.json");
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        let future = service.call(request.body(()).unwrap());
        futures_util::FutureExt::now_or_never(future)
            .unwrap()
            .unwrap()
    }

    fn json(document: &[u8]) -> serde_json::Value {
        serde_json::from_slice(document).unwrap()
    }

    #[test]
    fn issuer_metadata_names_the_dpop_algorithms_unless_dpop_is_off() {
        use crate::dpop::DpopConfig;
        let plain = IssuerMetadata::new("https://a.example", "https://a.example/jwks");
        assert!(
            json(plain.document())
                .get("dpop_signing_alg_values_supported")
                .is_none()
        );
        let config = DpopConfig::new()
            .algorithms([Algorithm::ES256, Algorithm::EdDSA])
            .unwrap();
        let dpop = plain.clone().dpop(&DpopPolicy::allowed().config(config));
        assert_eq!(
            json(dpop.document())["dpop_signing_alg_values_supported"],
            serde_json::json!(["ES256", "EdDSA"])
        );
        let off = plain.dpop(&DpopPolicy::off());
        assert!(
            json(off.document())
                .get("dpop_signing_alg_values_supported")
                .is_none()
        );
    }

    #[test]
    fn resource_metadata_says_dpop_bound_tokens_are_required_only_in_required_mode() {
        let resource = ProtectedResourceMetadata::new("https://api.example");
        let required = json(resource.clone().dpop(&DpopPolicy::required()).document());
        assert_eq!(required["dpop_bound_access_tokens_required"], true);
        assert_eq!(required["dpop_signing_alg_values_supported"][0], "ES256");
        let allowed = json(resource.clone().dpop(&DpopPolicy::allowed()).document());
        assert!(allowed.get("dpop_bound_access_tokens_required").is_none());
        assert_eq!(allowed["dpop_signing_alg_values_supported"][0], "ES256");
        let off = json(resource.dpop(&DpopPolicy::off()).document());
        assert!(off.get("dpop_signing_alg_values_supported").is_none());
        assert!(off.get("dpop_bound_access_tokens_required").is_none());
    }

    #[test]
    fn the_jwk_set_lists_current_and_retired_keys_once_each_with_cache_headers() {
        let current = SigningKey::from_pem(Algorithm::ES256, ES256).unwrap();
        let same = VerifyingKey::from_pem(Algorithm::ES256, ES256_PUBLIC).unwrap();
        let retired = VerifyingKey::from_pem(Algorithm::ES256, ES256_NEXT_PUBLIC).unwrap();
        let set = JwkSet::new(&current, [&same, &retired], Duration::from_secs(90)).unwrap();
        let document: serde_json::Value = serde_json::from_slice(set.document()).unwrap();
        let keys = document["keys"].as_array().unwrap();
        assert_eq!(
            keys.len(),
            2,
            "the current key's public half is listed once"
        );
        assert_eq!(keys[0]["kid"], current.thumbprint().unwrap());
        assert_eq!(keys[1]["alg"], "ES256");
        assert!(keys.iter().all(|k| k.get("d").is_none()), "nothing private");

        let mut service = set.service();
        let response = get(&mut service, None);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "public, max-age=90"
        );
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            JWK_SET_CONTENT_TYPE
        );
        let etag = response.headers()[header::ETAG]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            get(&mut service, Some(&etag)).status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            get(&mut service, Some("\"other\"")).status(),
            StatusCode::OK
        );
    }

    #[test]
    fn the_thumbprint_of_a_signing_key_and_of_its_public_key_agree() {
        let current = SigningKey::from_pem(Algorithm::ES256, ES256).unwrap();
        let public = VerifyingKey::from_pem(Algorithm::ES256, ES256_PUBLIC).unwrap();
        assert_eq!(
            current.public_jwk().unwrap().common.key_id,
            public.public_jwk().unwrap().common.key_id
        );
    }

    #[test]
    fn rfc7638_example_thumbprint_matches() {
        // RFC 7638 §3.1.
        let jwk: crate::Jwk = serde_json::from_str(r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#).unwrap();
        let key = VerifyingKey::from_jwk(Algorithm::RS256, &jwk).unwrap();
        let unnamed = VerifyingKey::from_decoding_key(
            Algorithm::RS256,
            &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
        )
        .unwrap();
        assert_eq!(
            key.public_jwk().unwrap().common.key_id.as_deref(),
            Some("2011-04-29")
        );
        assert_eq!(
            unnamed.public_jwk().unwrap().common.key_id.as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn only_get_and_head_are_answered() {
        let metadata = IssuerMetadata::new("https://a.test", "https://a.test/jwks");
        let mut service = metadata.service();
        let future = service.call(Request::post("/").body(()).unwrap());
        let response = futures_util::FutureExt::now_or_never(future)
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        let document: serde_json::Value = serde_json::from_slice(metadata.document()).unwrap();
        assert!(
            document.get("token_endpoint").is_none(),
            "claims nothing not mounted"
        );
        assert!(
            document
                .get("id_token_signing_alg_values_supported")
                .is_none()
        );
    }
}
