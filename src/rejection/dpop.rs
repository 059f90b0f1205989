//! The DPoP side of a refusal (RFC 9449 §7.1, §9): a `DPoP` challenge with
//! the accepted algorithms beside (or instead of) the `Bearer` one, the
//! error on the challenge of the scheme the client used, and the server
//! nonce headers.

use std::sync::Arc;

use http::{HeaderValue, Response, StatusCode, header};

use super::{AuthError, AuthErrorKind, challenge_value, quote_safe};

/// The headers a browser client must be allowed to read.
pub(crate) const EXPOSE: HeaderValue = HeaderValue::from_static("WWW-Authenticate, DPoP-Nonce");

/// What a DPoP-aware layer adds to its refusals.
#[derive(Clone, Debug)]
pub(crate) struct DpopChallenge {
    /// `ES256 EdDSA …`.
    pub(crate) algs: Arc<str>,
    /// Bearer tokens are accepted too: both challenges.
    pub(crate) bearer: bool,
    /// The request used the `DPoP` scheme: the error is the DPoP challenge's.
    pub(crate) dpop_scheme: bool,
    /// A fresh server nonce for the client.
    pub(crate) nonce: Option<HeaderValue>,
}

/// Rewrites the challenges of a 400/401 response for a DPoP-aware layer.
pub(crate) fn apply<B>(
    response: &mut Response<B>,
    dpop: &DpopChallenge,
    error: &AuthError,
    realm: Option<&str>,
) {
    let status = response.status();
    let headers = response.headers_mut();
    if let Some(nonce) = &dpop.nonce {
        headers.insert("dpop-nonce", nonce.clone());
    }
    if error.kind() == AuthErrorKind::UseDpopNonce {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !matches!(status, StatusCode::UNAUTHORIZED | StatusCode::BAD_REQUEST)
        || error.kind() == AuthErrorKind::CsrfRejected
    {
        return;
    }
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE);
    headers.remove(header::WWW_AUTHENTICATE);
    let error_on_dpop = dpop.dpop_scheme || !dpop.bearer;
    if dpop.bearer {
        let bearer_error = if error_on_dpop {
            AuthError::new(AuthErrorKind::MissingCredentials)
        } else {
            error.clone()
        };
        if let Some(value) = challenge_value(&bearer_error, realm, None) {
            headers.append(header::WWW_AUTHENTICATE, value);
        }
    }
    let mut value = String::from("DPoP ");
    if let Some(realm) = realm {
        value.push_str(&format!("realm=\"{}\", ", quote_safe(realm)));
    }
    value.push_str(&format!("algs=\"{}\"", dpop.algs));
    if error_on_dpop && let Some(code) = error.rfc6750_code() {
        value.push_str(&format!(", error=\"{code}\""));
    }
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.append(header::WWW_AUTHENTICATE, value);
    }
}
