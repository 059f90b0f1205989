//! Introspection as the layer's verifying strategy for opaque tokens (or
//! for every token): which tokens go to it, and the decision once the answer
//! (cached or fresh) is in — the same revocation, CSRF and acceptance steps a
//! JWT goes through.

use http::Extensions;
use serde::de::DeserializeOwned;

use super::{Accepted, Decision, Shared, Undecided};
use crate::introspect::{BoundClaims, IntrospectionCache, IntrospectionMode};
use crate::rejection::AuthErrorKind;
use crate::source::{Credential, Head};

/// The layer's introspection settings.
#[derive(Clone, Debug)]
pub(crate) struct Introspection {
    /// Opaque tokens (which name no issuer) and, with no other issuer's
    /// cache, every introspected token.
    pub(crate) cache: IntrospectionCache,
    /// Further issuers' endpoints: a JWT introspected under `Always` goes to
    /// the one its (unverified) `iss` names.
    pub(crate) by_issuer: Vec<IntrospectionCache>,
    pub(crate) mode: IntrospectionMode,
}

impl Introspection {
    /// Whether `token` is introspected rather than verified by keys.
    pub(crate) fn applies_to(&self, token: &str) -> bool {
        match self.mode {
            IntrospectionMode::Always => true,
            IntrospectionMode::OpaqueTokens => !looks_like_a_jwt(token),
        }
    }

    /// The cache (so the endpoint) `token` is asked about at. An opaque
    /// token names no issuer: the first cache. A JWT, when several issuers
    /// have endpoints: the one whose configured issuer its `iss` names —
    /// untrusted, it only picks whom to ask, and that issuer's answer is
    /// checked against that issuer's config. A JWT naming none of them is
    /// refused without a call: its token goes to no endpoint of another
    /// issuer.
    pub(crate) fn cache_for(&self, token: &str) -> Result<&IntrospectionCache, AuthErrorKind> {
        if self.by_issuer.is_empty() || !looks_like_a_jwt(token) {
            return Ok(&self.cache);
        }
        let iss = unverified_iss(token).ok_or(AuthErrorKind::InvalidIssuer)?;
        std::iter::once(&self.cache)
            .chain(&self.by_issuer)
            .find(|cache| cache.client().config().issuer.as_deref() == Some(iss.as_str()))
            .ok_or(AuthErrorKind::InvalidIssuer)
    }
}

/// The `iss` of a JWT's payload, unverified.
fn unverified_iss(token: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Iss {
        iss: String,
    }
    let payload = token.split('.').nth(1)?;
    let json = crate::jws::decode_segment(payload).ok()?;
    serde_json::from_slice::<Iss>(&json).ok().map(|i| i.iss)
}

/// A compact JWS: three segments, the first a base64url JSON object (`eyJ`
/// is `{"`). Anything else is an opaque token for the issuer to judge.
fn looks_like_a_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.bytes().filter(|&b| b == b'.').count() == 2
}

impl Shared {
    /// A remembered answer for `token`, decided now without waiting (the
    /// hit path: no await, no copy of the token); `None` when the endpoint
    /// must be asked ([`introspected`](Self::introspected)).
    pub(crate) fn introspected_at_once<T>(&self, token: &str) -> Option<BoundClaims<T>>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let introspection = self.introspection.as_ref()?;
        introspection
            .cache_for(token)
            .ok()?
            .cached_bound::<T>(token)
    }

    /// The decision on a token the layer introspects: the answer (through the
    /// cache, which re-checks it at the current time), then the steps every
    /// token goes through. The endpoint down, slow or answering junk is 503,
    /// never 401.
    pub(crate) async fn introspected<T>(
        &self,
        request: Head<'_>,
        extensions: &Extensions,
        token: &str,
    ) -> Decision<T>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let Some(introspection) = &self.introspection else {
            unreachable!("introspection is configured when a token is sent to it");
        };
        let timer = crate::metrics::Timer::start();
        let answer = match introspection.cache_for(token) {
            Ok(cache) => cache.claims_bound::<T>(token).await,
            Err(kind) => Err(crate::introspect::IntrospectError::refused(kind)),
        };
        let _span = tracing::debug_span!("jwt_auth").entered();
        if answer.is_ok() {
            timer.first_seen();
        }
        // The credential was extracted once already; again, for its origin
        // (a cookie needs the CSRF proof) and its scheme (DPoP binding).
        match self.credential(request) {
            (Ok(Some(credential)), dpop_scheme) => self
                .decide_on_answer(request, extensions, credential, dpop_scheme, answer)
                .into(),
            // The same request gave a token a moment ago.
            (_, dpop_scheme) => Err::<_, Undecided<T>>(self.reject(
                request.headers,
                dpop_scheme,
                AuthErrorKind::MissingCredentials,
            ))
            .into(),
        }
    }

    /// The steps after the answer, the same for a remembered one and a fresh
    /// one: refused as the answer says, or on to revocation, CSRF, binding.
    pub(super) fn decide_on_answer<T>(
        &self,
        request: Head<'_>,
        extensions: &Extensions,
        credential: Credential<'_>,
        dpop_scheme: bool,
        answer: BoundClaims<T>,
    ) -> Result<Accepted<T>, Undecided<T>>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let (claims, confirmation) = match answer {
            Ok(decided) => decided,
            Err(error) => {
                if error.is_unavailable() {
                    tracing::warn!(outcome = "unavailable", reason = %error);
                } else {
                    tracing::info!(outcome = "rejected", reason = %error);
                }
                return Err(self.reject(request.headers, dpop_scheme, error.auth_error_kind()));
            }
        };
        self.accept(
            request,
            extensions,
            credential,
            dpop_scheme,
            claims,
            Some(Ok(&*confirmation)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_a_jwt;

    #[test]
    fn only_compact_jws_shapes_count_as_jwts() {
        assert!(looks_like_a_jwt(
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"
        ));
        for opaque in [
            "2YotnFZFEjr1zCsicMWpAA",
            "ory_at_abc.def",
            "eyJonly.two",
            "a.b.c",
            "eyJ.a.b.c",
        ] {
            assert!(!looks_like_a_jwt(opaque), "{opaque}");
        }
    }
}
