//! Fixtures shared by the benches: one key pair and one token per algorithm,
//! the trivial inner service, and the requests sent through the layers.
//!
//! The keys in `benches/keys/` were made with `openssl genpkey` (RSA 2048,
//! P-256, Ed25519); the HMAC secret is ASCII because jwt-authorizer takes
//! secrets as `&str`.

#![allow(dead_code)] // each bench uses a part

use std::convert::Infallible;
use std::path::Path;

use http::header::{AUTHORIZATION, HeaderValue};
use http::{Request, Response};
use tower_jwt_auth::{
    Algorithm, JwtConfig, NoCustomClaims, SigningKey, TokenIssuer, Verifier, VerifyingKey,
};

pub const ISSUER: &str = "bench-issuer";
pub const AUDIENCE: &str = "bench-api";
pub const HMAC_SECRET: &str = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

/// The claims type every contender decodes into.
pub type BenchClaims = tower_jwt_auth::Claims<NoCustomClaims>;

/// One algorithm's keys and a valid access token signed with them.
pub struct Fixture {
    pub name: &'static str,
    pub algorithm: Algorithm,
    /// PEM text of the public key (`None` for HMAC).
    pub public_pem: Option<String>,
    pub verifying: fn() -> VerifyingKey,
    pub token: String,
    /// `Bearer <token>`, built once and cloned per request (a cheap
    /// reference-count increment) for every contender alike.
    pub bearer: HeaderValue,
    /// The issuer of `token` (day-long tokens), for benches that need many
    /// distinct ones.
    pub issuer: TokenIssuer,
}

fn keys_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/keys"))
}

fn pem(file: &str) -> String {
    std::fs::read_to_string(keys_dir().join(file))
        .unwrap_or_else(|e| panic!("benches/keys/{file}: {e}"))
}

pub fn config() -> JwtConfig {
    JwtConfig::new().issuer(ISSUER).audience(AUDIENCE)
}

fn verifying_hs256() -> VerifyingKey {
    VerifyingKey::hmac(Algorithm::HS256, HMAC_SECRET.as_bytes()).unwrap()
}
fn verifying_rs256() -> VerifyingKey {
    VerifyingKey::from_pem(Algorithm::RS256, pem("rs256-public.pem").as_bytes()).unwrap()
}
fn verifying_es256() -> VerifyingKey {
    VerifyingKey::from_pem(Algorithm::ES256, pem("es256-public.pem").as_bytes()).unwrap()
}
fn verifying_eddsa() -> VerifyingKey {
    VerifyingKey::from_pem(Algorithm::EdDSA, pem("eddsa-public.pem").as_bytes()).unwrap()
}

/// The four algorithms of the comparison.
pub fn fixtures() -> Vec<Fixture> {
    let signing = |alg, file: &str| SigningKey::from_pem(alg, pem(file).as_bytes()).unwrap();
    [
        (
            "HS256",
            Algorithm::HS256,
            SigningKey::hmac(Algorithm::HS256, HMAC_SECRET.as_bytes()).unwrap(),
            None,
            verifying_hs256 as fn() -> VerifyingKey,
        ),
        (
            "RS256",
            Algorithm::RS256,
            signing(Algorithm::RS256, "rs256-private.pem"),
            Some(pem("rs256-public.pem")),
            verifying_rs256,
        ),
        (
            "ES256",
            Algorithm::ES256,
            signing(Algorithm::ES256, "es256-private.pem"),
            Some(pem("es256-public.pem")),
            verifying_es256,
        ),
        (
            "EdDSA",
            Algorithm::EdDSA,
            signing(Algorithm::EdDSA, "eddsa-private.pem"),
            Some(pem("eddsa-public.pem")),
            verifying_eddsa,
        ),
    ]
    .into_iter()
    .map(|(name, algorithm, signing, public_pem, verifying)| {
        // A day-long token, so a long run never sees it expire.
        let issuer = TokenIssuer::new(
            signing,
            config().access_ttl(std::time::Duration::from_secs(86_400)),
        );
        let token = issuer.access_token("alice", &NoCustomClaims {}).unwrap();
        let bearer = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        Fixture {
            name,
            algorithm,
            public_pem,
            verifying,
            token,
            bearer,
            issuer,
        }
    })
    .collect()
}

impl Fixture {
    /// This crate's verifier with the default settings.
    pub fn verifier(&self) -> Verifier {
        Verifier::new((self.verifying)(), config())
    }

    /// `jsonwebtoken`'s key and validation for the same checks this crate
    /// makes (issuer, audience, `exp`, `sub`).
    pub fn jsonwebtoken(&self) -> (jsonwebtoken::DecodingKey, jsonwebtoken::Validation) {
        use jsonwebtoken::DecodingKey;
        let key = match (self.algorithm, &self.public_pem) {
            (Algorithm::HS256, _) => DecodingKey::from_secret(HMAC_SECRET.as_bytes()),
            (Algorithm::RS256, Some(pem)) => DecodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
            (Algorithm::ES256, Some(pem)) => DecodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
            (Algorithm::EdDSA, Some(pem)) => DecodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
            _ => unreachable!(),
        };
        let mut validation = jsonwebtoken::Validation::new(self.algorithm);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub"]);
        (key, validation)
    }

    /// `n` distinct valid access tokens (distinct `jti`s), for as many clients.
    pub fn distinct_tokens(&self, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                self.issuer
                    .access_token(&format!("client-{i}"), &NoCustomClaims {})
                    .unwrap()
            })
            .collect()
    }

    /// A request carrying this fixture's token.
    pub fn request(&self) -> Request<axum::body::Body> {
        let mut request = Request::new(axum::body::Body::empty());
        request
            .headers_mut()
            .insert(AUTHORIZATION, self.bearer.clone());
        request
    }
}

/// The inner service every layer wraps: answers 200 with an empty body of
/// the body type the layer's rejections need.
pub fn inner<B: Default + Send + 'static>() -> impl tower::Service<
    Request<axum::body::Body>,
    Response = Response<B>,
    Error = Infallible,
    Future: Send + 'static,
> + Clone
+ Send
+ 'static {
    tower::service_fn(|_request: Request<axum::body::Body>| async {
        Ok::<_, Infallible>(Response::new(B::default()))
    })
}

/// The peer: jwt-authorizer's layer for the same key and checks.
pub async fn peer_layer(
    fixture: &Fixture,
) -> jwt_authorizer::layer::AuthorizationLayer<BenchClaims> {
    use jwt_authorizer::{IntoLayer as _, JwtAuthorizer, Validation};
    let builder = match (fixture.algorithm, &fixture.public_pem) {
        (Algorithm::HS256, _) => JwtAuthorizer::<BenchClaims>::from_secret(HMAC_SECRET),
        (Algorithm::RS256, Some(pem)) => JwtAuthorizer::from_rsa_pem_text(pem),
        (Algorithm::ES256, Some(pem)) => JwtAuthorizer::from_ec_pem_text(pem),
        (Algorithm::EdDSA, Some(pem)) => JwtAuthorizer::from_ed_pem_text(pem),
        _ => unreachable!(),
    };
    builder
        .validation(Validation::new().iss(&[ISSUER]).aud(&[AUDIENCE]))
        .build()
        .await
        .expect("jwt-authorizer builds")
        .into_layer()
}

/// The body type of jwt-authorizer's rejections (it is on axum 0.7).
pub type PeerBody = axum_core_04::body::Body;

/// A `RedisStore` on `REDIS_URL` (default the local Redis), or `None`, with
/// a note, when none answers within 3 s.
pub fn redis_store(rt: &tokio::runtime::Runtime) -> Option<tower_jwt_auth::RedisStore> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("tower-jwt-auth-bench:{}:", std::process::id());
    let connect = tower_jwt_auth::RedisStore::builder(url.clone())
        .prefix(prefix)
        .connect();
    match rt
        .block_on(async { tokio::time::timeout(std::time::Duration::from_secs(3), connect).await })
    {
        Ok(Ok(store)) => Some(store),
        Ok(Err(error)) => {
            eprintln!("layer/redis skipped: {url}: {error}");
            None
        }
        Err(_) => {
            eprintln!("layer/redis skipped: {url} did not answer within 3 s");
            None
        }
    }
}

/// A single-threaded runtime: one request at a time, as the benches measure.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Criterion with short runs (0.5 s warm-up, 2 s and 40 samples per bench),
/// so a whole comparison takes minutes; `--measurement-time` overrides it.
pub fn short_runs() -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .sample_size(40)
}
