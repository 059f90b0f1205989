//! A strict compact-JWS reader (RFC 7515 §7.1): three base64url segments, no
//! padding, no non-canonical trailing bits, a JSON-object header.

use std::borrow::Cow;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Deserializer};

use crate::rejection::AuthErrorKind;

/// base64url without padding, rejecting padding and non-zero trailing bits.
pub(crate) const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// A compact JWS split into its parts; nothing is trusted yet.
pub(crate) struct CompactJws<'t> {
    /// `header.payload`, the bytes the signature covers.
    pub(crate) signing_input: &'t str,
    pub(crate) header: &'t str,
    pub(crate) payload: &'t str,
    pub(crate) signature: &'t str,
}

impl<'t> CompactJws<'t> {
    /// Splits on exactly two dots. The header must not be empty; the payload
    /// may be (RFC 7515 §7.1 signs the empty octet sequence like any other,
    /// and a claims check refuses it later).
    pub(crate) fn split(token: &'t str) -> Result<Self, AuthErrorKind> {
        let (signing_input, signature) = token
            .rsplit_once('.')
            .ok_or(AuthErrorKind::MalformedToken)?;
        let (header, payload) = signing_input
            .split_once('.')
            .ok_or(AuthErrorKind::MalformedToken)?;
        if payload.contains('.') || header.is_empty() {
            return Err(AuthErrorKind::MalformedToken);
        }
        Ok(Self {
            signing_input,
            header,
            payload,
            signature,
        })
    }
}

/// Decodes one base64url segment strictly.
pub(crate) fn decode_segment(segment: &str) -> Result<Vec<u8>, AuthErrorKind> {
    B64.decode(segment)
        .map_err(|_| AuthErrorKind::MalformedToken)
}

/// The protected header fields this crate acts on. Other members are
/// ignored: `jwk`, `jku`, `x5u`, `x5c` are never fetched or trusted, because the
/// key always comes from configuration. A member named twice is an error.
#[derive(Deserialize)]
pub(crate) struct Header<'a> {
    #[serde(borrow)]
    pub(crate) alg: Cow<'a, str>,
    #[serde(borrow, default)]
    pub(crate) kid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(crate) typ: Option<Cow<'a, str>>,
    /// Any `crit` member at all: we implement no extension, so every one is
    /// one we do not understand (RFC 7515 §4.1.11).
    #[serde(default, deserialize_with = "present")]
    pub(crate) crit: bool,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

impl<'a> Header<'a> {
    pub(crate) fn parse(json: &'a [u8]) -> Result<Self, AuthErrorKind> {
        let header: Self =
            serde_json::from_slice(json).map_err(|_| AuthErrorKind::MalformedToken)?;
        if header.crit {
            return Err(AuthErrorKind::UnsupportedHeader);
        }
        if let Some(typ) = &header.typ
            && !is_accepted_typ(typ)
        {
            return Err(AuthErrorKind::UnsupportedHeader);
        }
        Ok(header)
    }
}

/// `typ` values that describe a JWT access or refresh token (RFC 7519 §5.1,
/// RFC 9068 §2.1), compared case-insensitively. Anything else is another
/// kind of JOSE object signed with the same key and is refused (RFC 8725 §3.11).
fn is_accepted_typ(typ: &str) -> bool {
    let typ = typ.strip_prefix("application/").unwrap_or(typ);
    typ.eq_ignore_ascii_case("JWT") || typ.eq_ignore_ascii_case("at+jwt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_requires_exactly_three_segments() {
        assert!(CompactJws::split("a.b.c").is_ok());
        assert!(CompactJws::split("a.b").is_err());
        assert!(CompactJws::split("a.b.c.d").is_err());
        assert!(CompactJws::split(".b.c").is_err());
        let jws = CompactJws::split("aa.bb.cc").unwrap();
        assert_eq!(jws.signing_input, "aa.bb");
        assert_eq!(jws.signature, "cc");
    }

    #[test]
    fn empty_payload_is_a_segment_like_any_other() {
        // Regression: Wycheproof tcIds 259, 264, 268, 272, 320 and 325 sign an
        // empty payload; splitting refused them before the signature was checked.
        let jws = CompactJws::split("aa..cc").unwrap();
        assert_eq!(jws.signing_input, "aa.");
        assert_eq!(jws.payload, "");
        assert_eq!(decode_segment(jws.payload).unwrap(), b"");
    }

    #[test]
    fn base64_padding_and_trailing_bits_are_rejected() {
        assert_eq!(decode_segment("YQ").unwrap(), b"a");
        assert!(decode_segment("YQ==").is_err());
        assert!(decode_segment("YR").is_err(), "non-zero trailing bits");
        assert!(decode_segment("a+b/").is_err(), "standard alphabet");
    }

    #[test]
    fn header_with_crit_is_unsupported() {
        let json = br#"{"alg":"HS256","crit":["exp"],"exp":1}"#;
        assert_eq!(
            Header::parse(json).err(),
            Some(AuthErrorKind::UnsupportedHeader)
        );
    }

    #[test]
    fn header_with_duplicate_alg_is_malformed() {
        let json = br#"{"alg":"HS256","alg":"none"}"#;
        assert_eq!(
            Header::parse(json).err(),
            Some(AuthErrorKind::MalformedToken)
        );
    }

    #[test]
    fn header_typ_must_name_a_jwt() {
        assert!(Header::parse(br#"{"alg":"HS256","typ":"JWT"}"#).is_ok());
        assert!(Header::parse(br#"{"alg":"HS256","typ":"at+jwt"}"#).is_ok());
        assert!(Header::parse(br#"{"alg":"HS256","typ":"application/at+JWT"}"#).is_ok());
        assert!(Header::parse(br#"{"alg":"HS256","typ":"JWE"}"#).is_err());
    }
}
