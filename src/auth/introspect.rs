//! Introspection as the layer's verifying strategy for opaque tokens (or
//! for every token): which tokens go to it, and the decision once the answer
//! (cached or fresh) is in — the same revocation, CSRF and acceptance steps a
//! JWT goes through.

use http::Extensions;
use serde::de::DeserializeOwned;

use super::{Decision, Shared, Undecided};
use crate::introspect::{IntrospectionCache, IntrospectionMode};
use crate::source::Head;

/// The layer's introspection settings.
#[derive(Clone, Debug)]
pub(crate) struct Introspection {
    pub(crate) cache: IntrospectionCache,
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
}

/// A compact JWS: three segments, the first a base64url JSON object (`eyJ`
/// is `{"`). Anything else is an opaque token for the issuer to judge.
fn looks_like_a_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.bytes().filter(|&b| b == b'.').count() == 2
}

impl Shared {
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
        let answer = introspection.cache.claims_bound::<T>(token).await;
        let _span = tracing::debug_span!("jwt_auth").entered();
        // The credential was extracted once already; again, for its origin
        // (a cookie needs the CSRF proof) and its scheme (DPoP binding).
        let (credential, dpop_scheme) = self.credential(request);
        let (claims, confirmation) = match answer {
            Ok(decided) => decided,
            Err(error) => {
                if error.is_unavailable() {
                    tracing::warn!(outcome = "unavailable", reason = %error);
                } else {
                    tracing::info!(outcome = "rejected", reason = %error);
                }
                let kind = error.auth_error_kind();
                return Err::<_, Undecided<T>>(self.reject(request.headers, dpop_scheme, kind))
                    .into();
            }
        };
        timer.first_seen();
        match credential {
            Ok(Some(credential)) => self
                .accept(
                    request,
                    extensions,
                    credential,
                    dpop_scheme,
                    claims,
                    Some(confirmation),
                )
                .into(),
            // The same request gave a token a moment ago.
            _ => Err::<_, Undecided<T>>(self.reject(
                request.headers,
                dpop_scheme,
                crate::rejection::AuthErrorKind::MissingCredentials,
            ))
            .into(),
        }
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
