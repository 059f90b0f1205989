//! Steps 1–6 of the check: size, structure, header, the key of the chosen
//! issuer, `alg` bound to the key, and the signature.

use super::Verifier;
use crate::claims::TokenType;
use crate::jws::{CompactJws, Header, decode_segment, decode_segment_inline};
use crate::keys::algorithm_name;
use crate::rejection::{AuthError, AuthErrorKind};

impl Verifier {
    /// Steps 1–6: the payload, which issuer the token was checked against,
    /// and the epoch of the key set whose key checked it (what the cache
    /// entry is tagged with; an epoch read later could be a newer set's);
    /// with `expected`, a header `typ` naming another token type is refused.
    pub(super) fn verify_signed(
        &self,
        token: &str,
        expected: Option<TokenType>,
    ) -> Result<(Vec<u8>, usize, u64), AuthError> {
        self.verify_signed_as(token, expected, None)
    }

    /// As [`verify_jws`](Self::verify_jws), for a JOSE object that is no
    /// token: its header `typ` must be `typ` (the `application/` prefix
    /// optional, any case), which no token's is — so a token signed by the
    /// same key never passes as one, nor one as a token (RFC 8725 §3.11).
    #[cfg_attr(not(feature = "introspection"), allow(dead_code))]
    pub(crate) fn verify_jws_typed(&self, token: &str, typ: &str) -> Result<Vec<u8>, AuthError> {
        self.verify_signed_as(token, None, Some(typ))
            .map(|(payload, _, _)| payload)
    }

    fn verify_signed_as(
        &self,
        token: &str,
        expected: Option<TokenType>,
        object_typ: Option<&str>,
    ) -> Result<(Vec<u8>, usize, u64), AuthError> {
        if token.len() > self.config().max_token_len {
            return Err(AuthErrorKind::TokenTooLarge.into());
        }
        let jws = CompactJws::split(token)?;
        let header_json = decode_segment_inline::<256>(jws.header)?;
        let header = match object_typ {
            None => Header::parse(&header_json)?,
            Some(typ) => Header::parse_object(&header_json, typ)?,
        };
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
        if object_typ.is_none() && !trusted.config.profile.accepts_typ(header.typ.as_deref()) {
            return Err(AuthErrorKind::UnsupportedHeader.into());
        }
        // A header `typ` naming the other token type (`refresh+jwt` where an
        // access token is expected) refuses the token before its signature
        // is checked. A token is cached only once it passed as its own type,
        // so a cache hit never needs the header again.
        if let (Some(expected), Some(named)) = (expected, header.token_type())
            && named != expected
        {
            return Err(AuthErrorKind::WrongTokenType.into());
        }
        let signature = decode_segment_inline::<512>(jws.signature)?;
        let (checked, key_epoch) = trusted.keys.with_key(header.kid.as_deref(), |key| {
            if algorithm_name(key.algorithm()) != Some(header.alg.as_ref()) {
                return Err(AuthError::from(AuthErrorKind::AlgorithmMismatch));
            }
            if !key.verify(jws.signing_input.as_bytes(), &signature) {
                return Err(AuthErrorKind::InvalidSignature.into());
            }
            Ok(())
        })?;
        checked?;
        let payload = match payload {
            Some(payload) => payload,
            None => decode_segment(jws.payload)?,
        };
        Ok((payload, issuer, key_epoch))
    }
}
