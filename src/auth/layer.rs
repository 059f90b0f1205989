//! [`JwtAuthLayer`]: the settings of the authenticating middleware (verifier,
//! token source, revocation store, CSRF, rejection), shared by its services.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use tower_layer::Layer;

use super::{JwtAuth, Shared};
use crate::claims::NoCustomClaims;
use crate::csrf::CsrfProtection;
use crate::dpop::DpopPolicy;
use crate::mtls::CertificateSource;
use crate::rejection::DefaultRejection;
use crate::revocation::RevocationStore;
use crate::source::TokenSource;
use crate::verify::Verifier;

/// Authenticates every request with a JWT access token; see the
/// [module docs](crate::auth) for what it checks.
///
/// `T` is the type of the application's custom claims (default: none), `R`
/// builds rejection responses (default: RFC 6750 / gRPC).
#[must_use]
pub struct JwtAuthLayer<T = NoCustomClaims, R = DefaultRejection> {
    shared: Arc<Shared>,
    rejection: R,
    _claims: PhantomData<fn() -> T>,
}

// ===== impl JwtAuthLayer =====

impl JwtAuthLayer {
    /// A layer verifying with `verifier`, reading `Authorization: Bearer`,
    /// revocations from a fresh [`MemoryStore`](crate::MemoryStore), failing
    /// closed, with no custom claims.
    pub fn new(verifier: Verifier) -> Self {
        Self {
            shared: Arc::new(Shared::new(verifier)),
            rejection: DefaultRejection,
            _claims: PhantomData,
        }
    }
}

impl<T, R> JwtAuthLayer<T, R> {
    /// Decode the application's claims as `U` (handlers then take `Claims<U>`).
    pub fn claims<U>(self) -> JwtAuthLayer<U, R> {
        JwtAuthLayer {
            shared: self.shared,
            rejection: self.rejection,
            _claims: PhantomData,
        }
    }

    /// Check revocations in `store` (share it with the refresh service).
    /// The store learns this layer's leeway, so revocations are kept that
    /// long past their token's expiry (see [`RevocationStore::note_leeway`]).
    pub fn store(self, store: impl RevocationStore) -> Self {
        self.shared_store(Arc::new(store))
    }

    /// As [`store`](Self::store), for a store already behind an `Arc`.
    pub fn shared_store(mut self, store: Arc<dyn RevocationStore>) -> Self {
        store.note_leeway(self.shared.verifier.max_leeway_secs());
        Arc::make_mut(&mut self.shared).store = store;
        self
    }

    /// Where to read the token from, in order (default: `Authorization: Bearer`).
    pub fn sources(mut self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        Arc::make_mut(&mut self.shared).sources = sources.into_iter().collect();
        self
    }

    /// The CSRF proof demanded when the credential came from a cookie and the
    /// method is unsafe (see [`crate::csrf`]). Without one, such requests are
    /// refused (403): a cookie alone never authorizes a state change.
    pub fn csrf(mut self, csrf: CsrfProtection) -> Self {
        Arc::make_mut(&mut self.shared).csrf = Some(csrf);
        self
    }

    /// How DPoP-bound tokens (RFC 9449) are taken: the mode, the origin
    /// request URIs are built from, nonces, the replay store. The default is
    /// [`DpopPolicy::allowed`]: bearer tokens as before, a DPoP-bound token
    /// only with a valid proof, never as `Bearer`; without an
    /// [`origin`](DpopPolicy::origin) every DPoP request is refused.
    /// See `docs/dpop.md`.
    pub fn dpop(mut self, policy: DpopPolicy) -> Self {
        let shared = Arc::make_mut(&mut self.shared);
        shared.senders = std::mem::take(&mut shared.senders).with_policy(policy);
        self
    }

    /// Where the client certificate of a certificate-bound token
    /// (`cnf["x5t#S256"]`, RFC 8705) comes from (default: the
    /// [`ClientCertificate`](crate::mtls::ClientCertificate) request
    /// extension). A bound token without its certificate is refused.
    pub fn client_certificates(mut self, source: CertificateSource) -> Self {
        let shared = Arc::make_mut(&mut self.shared);
        shared.senders = std::mem::take(&mut shared.senders).with_certificates(source);
        self
    }

    /// The layer's DPoP policy.
    pub fn dpop_policy(&self) -> &DpopPolicy {
        self.shared.senders.policy()
    }

    /// The `realm` of the `WWW-Authenticate` challenge.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.shared).realm = Some(Arc::from(realm.into()));
        self
    }

    /// Name this resource's RFC 9728 metadata in every 401 challenge
    /// (`resource_metadata="<url>"`), so clients (MCP clients, for one) find
    /// which authorization servers to get a token from; serve the document
    /// with [`ProtectedResourceMetadata`](crate::publish::ProtectedResourceMetadata).
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.shared).resource_metadata = Some(Arc::from(url.into()));
        self
    }

    /// Optional authentication: a request with no credential at all passes
    /// through without claims; a bad credential is still rejected.
    pub fn optional(mut self, optional: bool) -> Self {
        Arc::make_mut(&mut self.shared).optional = optional;
        self
    }

    /// When the revocation store cannot answer, accept otherwise valid tokens
    /// instead of answering 503. Off by default; every such acceptance is
    /// logged at `ERROR`.
    pub fn fail_open(mut self, fail_open: bool) -> Self {
        Arc::make_mut(&mut self.shared).fail_open = fail_open;
        self
    }

    /// Opaque tokens (RFC 7662, feature `introspection`): with
    /// [`IntrospectionMode::OpaqueTokens`](crate::introspect::IntrospectionMode::OpaqueTokens)
    /// a JWT is still verified by the keys and any other token is asked about
    /// through `cache`; with `Always`, every token is. An introspected token
    /// then goes through the same steps as a JWT: its claims (checked again
    /// on every cache hit), the revocation store, the CSRF proof, the guards.
    /// The endpoint down, slow, or answering junk is 503 with `Retry-After`,
    /// never 401.
    ///
    /// ```no_run
    /// use tower_jwt_auth::introspect::{
    ///     ClientAuth, IntrospectionCache, IntrospectionClient, IntrospectionMode,
    /// };
    /// use tower_jwt_auth::{Algorithm, JwtAuthLayer, JwtConfig, Verifier, VerifyingKey};
    ///
    /// let config = JwtConfig::new().issuer("https://idp.example").audience("api");
    /// let client = IntrospectionClient::new(
    ///     "https://idp.example/oauth2/introspect",
    ///     "api",
    ///     ClientAuth::client_secret_basic("s3cret"),
    ///     config.clone(),
    /// );
    /// let key = VerifyingKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!")?;
    /// let layer = JwtAuthLayer::new(Verifier::new(key, config))
    ///     .introspection(IntrospectionCache::new(client), IntrospectionMode::OpaqueTokens);
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "introspection")]
    pub fn introspection(
        mut self,
        cache: crate::introspect::IntrospectionCache,
        mode: crate::introspect::IntrospectionMode,
    ) -> Self {
        let shared = Arc::make_mut(&mut self.shared);
        let by_issuer = shared
            .introspection
            .take()
            .map(|i| i.by_issuer)
            .unwrap_or_default();
        shared.introspection = Some(super::introspect::Introspection {
            cache,
            by_issuer,
            mode,
        });
        self
    }

    /// Another issuer's introspection endpoint, for a layer that trusts
    /// several issuers and introspects every token
    /// ([`IntrospectionMode::Always`](crate::introspect::IntrospectionMode::Always)):
    /// a JWT goes to the endpoint of the issuer its `iss` names — the cache
    /// whose client's config has that issuer — and is checked against that
    /// issuer's config; a JWT naming an issuer without an endpoint is refused
    /// without a call (its token is sent to no other issuer). An opaque token
    /// names no issuer, so it still goes to the cache given to
    /// [`introspection`](Self::introspection). Call that first: its mode
    /// applies (under `OpaqueTokens` JWTs are verified by keys, and these
    /// endpoints are never asked).
    ///
    /// ```no_run
    /// use tower_jwt_auth::introspect::{
    ///     ClientAuth, IntrospectionCache, IntrospectionClient, IntrospectionMode,
    /// };
    /// use tower_jwt_auth::{Algorithm, JwtAuthLayer, JwtConfig, Verifier, VerifyingKey};
    ///
    /// let cache = |issuer: &str| {
    ///     let config = JwtConfig::new().issuer(issuer).audience("api");
    ///     let client = IntrospectionClient::new(
    ///         format!("{issuer}/introspect"),
    ///         "api",
    ///         ClientAuth::client_secret_basic("s3cret"),
    ///         config,
    ///     );
    ///     IntrospectionCache::new(client)
    /// };
    /// let key = VerifyingKey::hmac(Algorithm::HS256, b"an example secret of at least 32 bytes!")?;
    /// let layer = JwtAuthLayer::new(Verifier::new(key, JwtConfig::new()))
    ///     .introspection(cache("https://a.example"), IntrospectionMode::Always)
    ///     .introspection_for_issuer(cache("https://b.example"));
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "introspection")]
    pub fn introspection_for_issuer(
        mut self,
        cache: crate::introspect::IntrospectionCache,
    ) -> Self {
        let shared = Arc::make_mut(&mut self.shared);
        match &mut shared.introspection {
            Some(introspection) => introspection.by_issuer.push(cache),
            None => {
                shared.introspection = Some(super::introspect::Introspection {
                    cache,
                    by_issuer: Vec::new(),
                    mode: crate::introspect::IntrospectionMode::Always,
                });
            }
        }
        self
    }

    /// Build rejection responses with `rejection` (see [`OnRejection`](crate::OnRejection)).
    pub fn on_rejection<R2>(self, rejection: R2) -> JwtAuthLayer<T, R2> {
        JwtAuthLayer {
            shared: self.shared,
            rejection,
            _claims: PhantomData,
        }
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.shared.verifier
    }

    /// Every setting, for what describes the layer (`openapi`).
    pub(crate) fn settings(&self) -> &Shared {
        &self.shared
    }
}

impl<T, R: Clone> Clone for JwtAuthLayer<T, R> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            rejection: self.rejection.clone(),
            _claims: PhantomData,
        }
    }
}

impl<T, R> fmt::Debug for JwtAuthLayer<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthLayer")
            .field("shared", &self.shared)
            .field("claims", &std::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}

impl<S, T, R: Clone> Layer<S> for JwtAuthLayer<T, R> {
    type Service = JwtAuth<S, T, R>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth::from_parts(inner, Arc::clone(&self.shared), self.rejection.clone())
    }
}
