//! Steps 1–6 of the check: size, structure, header, the key of the chosen
//! issuer, `alg` bound to the key, and the signature.

use super::Verifier;
use crate::jws::{CompactJws, Header, decode_segment, decode_segment_inline};
use crate::keys::algorithm_name;
use crate::rejection::{AuthError, AuthErrorKind};

impl Verifier {
    /// Steps 1–6, and which issuer the token was checked against.
    pub(super) fn verify_signed(&self, token: &str) -> Result<(Vec<u8>, usize), AuthError> {
        if token.len() > self.config().max_token_len {
            return Err(AuthErrorKind::TokenTooLarge.into());
        }
        let jws = CompactJws::split(token)?;
        let header_json = decode_segment_inline::<256>(jws.header)?;
        let header = Header::parse(&header_json)?;
        // With several issuers, the payload's `iss` (still untrusted) picks
        // the one issuer whose keys may verify it.
        let (issuer, payload) = match self.inner.issuers.len() {
            1 => (0, None),
            _ => {
                let payload = decode_segment(jws.payload)?;
                (self.issuer_of(&payload)?, Some(payload))
            }
        };
        let trusted = &self.inner.issuers[issuer];
        if !trusted.config.profile.accepts_typ(header.typ.as_deref()) {
            return Err(AuthErrorKind::UnsupportedHeader.into());
        }
        let signature = decode_segment_inline::<512>(jws.signature)?;
        trusted.keys.with_key(header.kid.as_deref(), |key| {
            if algorithm_name(key.algorithm()) != Some(header.alg.as_ref()) {
                return Err(AuthError::from(AuthErrorKind::AlgorithmMismatch));
            }
            if !key.verify(jws.signing_input.as_bytes(), &signature) {
                return Err(AuthErrorKind::InvalidSignature.into());
            }
            Ok(())
        })??;
        let payload = match payload {
            Some(payload) => payload,
            None => decode_segment(jws.payload)?,
        };
        Ok((payload, issuer))
    }
}
