//! The layer's sender-constraint step (RFC 9449, RFC 8705): reads the
//! `DPoP` scheme, checks the proof, the token's `cnf` against the proof key
//! and the client certificate, and marks the proof's `jti`. It runs after
//! every other check, so a refused request never uses up a `jti`.

use std::fmt;
use std::sync::Arc;

use http::{Extensions, HeaderValue, header};

use crate::binding::{BindingError, Confirmation, check_binding};
use crate::dpop::{
    DPOP_HEADER, DpopError, DpopMode, DpopPolicy, JtiUse, Mark, MarkFuture, ProofRequest,
    ReplayStoreError, check_proof,
};
use crate::mtls::CertificateSource;
use crate::rejection::{AuthErrorKind, DpopChallenge};
use crate::source::{Credential, Head, TokenSource, extract_credential};

/// A refusal: the kind the client learns of, the reason the log gets, and
/// a fresh nonce when the refusal is `use_dpop_nonce`.
pub(crate) struct Refusal {
    pub(crate) kind: AuthErrorKind,
    pub(crate) reason: String,
    pub(crate) nonce: Option<HeaderValue>,
}

fn refuse(kind: AuthErrorKind, reason: impl fmt::Display) -> Refusal {
    Refusal {
        kind,
        reason: reason.to_string(),
        nonce: None,
    }
}

/// The constraints are met; the replay check may still be pending.
pub(crate) enum Checked {
    /// Accepted, with a fresh nonce for the response when the current one
    /// is about to expire.
    Done(Option<HeaderValue>),
    /// Accepted once the replay store says the `jti` is fresh.
    Pending(MarkFuture, Option<HeaderValue>),
}

/// A layer's DPoP policy and certificate source, with what is derived from
/// them once.
#[derive(Clone)]
pub(crate) struct SenderConstraints {
    policy: DpopPolicy,
    algs: Arc<str>,
    scheme: Arc<[TokenSource]>,
    certificates: CertificateSource,
}

impl fmt::Debug for SenderConstraints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderConstraints")
            .field("dpop", &self.policy)
            .field("certificates", &self.certificates)
            .finish()
    }
}

impl Default for SenderConstraints {
    fn default() -> Self {
        Self::new(DpopPolicy::default(), CertificateSource::default())
    }
}

impl SenderConstraints {
    pub(crate) fn new(policy: DpopPolicy, certificates: CertificateSource) -> Self {
        Self {
            algs: Arc::from(policy.config.algs_value()),
            scheme: Arc::from([TokenSource::Authorization {
                scheme: "DPoP".to_owned(),
            }]),
            policy,
            certificates,
        }
    }

    pub(crate) fn with_policy(self, policy: DpopPolicy) -> Self {
        Self::new(policy, self.certificates)
    }

    pub(crate) fn with_certificates(self, certificates: CertificateSource) -> Self {
        Self::new(self.policy, certificates)
    }

    pub(crate) fn policy(&self) -> &DpopPolicy {
        &self.policy
    }

    /// `Authorization: DPoP <token>`, unless DPoP is off.
    pub(crate) fn dpop_credential<'h>(
        &self,
        request: Head<'h>,
    ) -> Result<Option<Credential<'h>>, AuthErrorKind> {
        if self.policy.mode == DpopMode::Off {
            return Ok(None);
        }
        extract_credential(&self.scheme, request)
    }

    /// What the refusal's challenges say: nothing about DPoP when it is
    /// off, or allowed but not usable yet (no origin to check proofs
    /// against), unless the request used the scheme.
    pub(crate) fn challenge(
        &self,
        dpop_scheme: bool,
        nonce: Option<HeaderValue>,
    ) -> Option<DpopChallenge> {
        let advertised = match self.policy.mode {
            DpopMode::Off => false,
            DpopMode::Allowed => self.policy.origin.is_some() || dpop_scheme,
            DpopMode::Required => true,
        };
        advertised.then(|| DpopChallenge {
            algs: Arc::clone(&self.algs),
            bearer: self.policy.mode == DpopMode::Allowed,
            dpop_scheme,
            nonce,
        })
    }

    /// Refuses a non-DPoP credential when DPoP is required.
    pub(crate) fn scheme_allowed(&self, dpop_scheme: bool) -> Result<(), Refusal> {
        if !dpop_scheme && self.policy.mode == DpopMode::Required {
            return Err(refuse(
                AuthErrorKind::SenderConstraintFailed,
                "DPoP is required and the token came without the DPoP scheme",
            ));
        }
        Ok(())
    }

    /// Every sender constraint of a verified `token` bound by `cnf` (read
    /// from a JWT's payload, or from an introspection answer), then the
    /// replay mark.
    pub(crate) fn check(
        &self,
        request: Head<'_>,
        extensions: &Extensions,
        token: &str,
        cnf: Result<&Confirmation, BindingError>,
        dpop_scheme: bool,
    ) -> Result<Checked, Refusal> {
        let cnf = cnf.map_err(|error| refuse(AuthErrorKind::SenderConstraintFailed, error))?;
        let verified = match (&cnf.jkt, dpop_scheme) {
            (None, true) => {
                return Err(refuse(
                    AuthErrorKind::SenderConstraintFailed,
                    DpopError::TokenNotBound,
                ));
            }
            (Some(_), false) => {
                return Err(refuse(
                    AuthErrorKind::SenderConstraintFailed,
                    DpopError::BoundTokenAsBearer,
                ));
            }
            (None, false) => None,
            (Some(jkt), true) => Some(self.check_proof(request, token, jkt)?),
        };
        if cnf.is_bound() {
            let certificate = match cnf.x5t_s256 {
                Some(_) => self
                    .certificates
                    .certificate(extensions, request.headers)
                    .map_err(|error| refuse(AuthErrorKind::SenderConstraintFailed, error))?,
                None => None,
            };
            let jkt = verified.as_ref().map(|proof| proof.jkt());
            check_binding(cnf, jkt, certificate.as_ref().map(|c| c.der()))
                .map_err(|error| refuse(AuthErrorKind::SenderConstraintFailed, error))?;
        }
        let Some(verified) = verified else {
            return Ok(Checked::Done(None));
        };
        let nonce = match &self.policy.nonces {
            Some(nonces) if verified.renew_nonce() => {
                HeaderValue::from_str(&nonces.issue(self.policy.clock.now_secs())).ok()
            }
            _ => None,
        };
        match self
            .policy
            .replay
            .mark(verified.replay_key(), verified.replay_ttl())
        {
            Mark::Ready(answer) => replay_answer(answer).map(|()| Checked::Done(nonce)),
            Mark::Pending(mark) => Ok(Checked::Pending(mark, nonce)),
        }
    }

    fn check_proof(
        &self,
        request: Head<'_>,
        token: &str,
        jkt: &str,
    ) -> Result<crate::dpop::VerifiedProof, Refusal> {
        let mut proofs = request.headers.get_all(DPOP_HEADER).iter();
        let proof = match (proofs.next(), proofs.next()) {
            (Some(proof), None) => proof.to_str().ok().filter(|proof| !proof.is_empty()),
            _ => None,
        };
        let Some(proof) = proof else {
            let error = match request.headers.contains_key(DPOP_HEADER) {
                true => DpopError::MultipleProofs,
                false => DpopError::MissingProof,
            };
            return Err(refuse(AuthErrorKind::InvalidDpopRequest, error));
        };
        let Some(origin) = &self.policy.origin else {
            return Err(refuse(
                AuthErrorKind::InvalidDpopProof,
                "no external origin is configured to check proofs against (DpopPolicy::origin)",
            ));
        };
        let htu = origin
            .request_htu(request.uri, request.headers)
            .map_err(|error| refuse(AuthErrorKind::InvalidDpopProof, error))?;
        let now = self.policy.clock.now_secs();
        let mut proof_request = ProofRequest::new(request.method, &htu, now)
            .access_token(token)
            .bound_to(jkt);
        if let Some(nonces) = &self.policy.nonces {
            proof_request = proof_request.nonces(nonces);
        }
        check_proof(&self.policy.config, proof, &proof_request).map_err(|error| match error {
            DpopError::UseNonce => Refusal {
                kind: AuthErrorKind::UseDpopNonce,
                reason: error.to_string(),
                nonce: self
                    .policy
                    .nonces
                    .as_ref()
                    .and_then(|nonces| HeaderValue::from_str(&nonces.issue(now)).ok()),
            },
            DpopError::KeyNotBound => refuse(AuthErrorKind::SenderConstraintFailed, error),
            _ => refuse(AuthErrorKind::InvalidDpopProof, error),
        })
    }
}

/// The replay store's answer as the layer's decision.
pub(crate) fn replay_answer(answer: Result<JtiUse, ReplayStoreError>) -> Result<(), Refusal> {
    match answer {
        Ok(JtiUse::Fresh) => Ok(()),
        Ok(JtiUse::Replayed) => Err(refuse(AuthErrorKind::InvalidDpopProof, DpopError::Replayed)),
        Err(error) => Err(refuse(AuthErrorKind::ReplayStoreUnavailable, error)),
    }
}

/// Adds a fresh nonce to a successful response.
pub(crate) fn with_nonce<B>(response: &mut http::Response<B>, nonce: HeaderValue) {
    let headers = response.headers_mut();
    headers.insert("dpop-nonce", nonce);
    headers.append(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        crate::rejection::DPOP_EXPOSE_HEADERS,
    );
}
