//! A strict compact-JWS reader (RFC 7515 §7.1): three base64url segments, no
//! padding, no non-canonical trailing bits, a JSON-object header.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::claims::TokenType;
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

/// A decoded segment, on the stack when it fits in `N` bytes. Headers and
/// signatures are decoded on every full check and are small (an RS512
/// signature with a 4096-bit key is 512 bytes), so they need no allocation.
pub(crate) enum Decoded<const N: usize> {
    Inline([u8; N], usize),
    Heap(Vec<u8>),
}

impl<const N: usize> std::ops::Deref for Decoded<N> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Inline(buffer, len) => &buffer[..*len],
            Self::Heap(bytes) => bytes,
        }
    }
}

/// As [`decode_segment`], into a stack buffer of `N` bytes when it fits.
pub(crate) fn decode_segment_inline<const N: usize>(
    segment: &str,
) -> Result<Decoded<N>, AuthErrorKind> {
    if base64::decoded_len_estimate(segment.len()) > N {
        return decode_segment(segment).map(Decoded::Heap);
    }
    let mut buffer = [0u8; N];
    let len = B64
        .decode_slice(segment, &mut buffer)
        .map_err(|_| AuthErrorKind::MalformedToken)?;
    Ok(Decoded::Inline(buffer, len))
}

/// The protected header fields this crate acts on.
///
/// The header must be a JSON *object* (RFC 7515 §4): an array is refused even
/// though a derived `Deserialize` would read one positionally. `alg` is a
/// required string; `kid` and `typ`, when present, must be strings (`null` is
/// not "absent"). No member may appear twice (RFC 7515 §4: names must be
/// unique; we reject rather than pick one). Other members are ignored:
/// `jwk`, `jku`, `x5u`, `x5c` are never fetched or trusted, because the key
/// always comes from configuration.
pub(crate) struct Header<'a> {
    pub(crate) alg: Cow<'a, str>,
    pub(crate) kid: Option<Cow<'a, str>>,
    pub(crate) typ: Option<Cow<'a, str>>,
    /// Any `crit` member at all: we implement no extension, so every one is
    /// one we do not understand (RFC 7515 §4.1.11).
    pub(crate) crit: bool,
}

impl<'de> Deserialize<'de> for Header<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HeaderVisitor)
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Header<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header<'de>, A::Error> {
        let mut alg = None;
        let mut kid = None;
        let mut typ = None;
        let mut crit = false;
        let mut seen: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(JsonStr(name)) = map.next_key::<JsonStr<'de>>()? {
            if !seen.insert(name.clone()) {
                return Err(de::Error::custom("duplicate header member"));
            }
            match name.as_ref() {
                "alg" => alg = Some(map.next_value::<JsonStr<'de>>()?.0),
                "kid" => kid = Some(map.next_value::<JsonStr<'de>>()?.0),
                "typ" => typ = Some(map.next_value::<JsonStr<'de>>()?.0),
                "crit" => {
                    map.next_value::<Skip>()?;
                    crit = true;
                }
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        let alg = alg.ok_or_else(|| de::Error::missing_field("alg"))?;
        Ok(Header {
            alg,
            kid,
            typ,
            crit,
        })
    }
}

/// Any JSON value, read and dropped without allocating, within serde_json's
/// nesting limit (128).
///
/// Not `IgnoredAny`: serde_json skips that iteratively with no depth limit
/// and without range-checking numbers, so a member nobody reads could hold
/// what the application's own claims type (say `serde_json::Value`) refuses,
/// and whether a token verifies would depend on that type. With `Skip`,
/// every value in a header or payload is one `serde_json::Value` accepts.
pub(crate) struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// A JSON string and nothing else (not `null`), borrowed from the input when
/// it has no escapes.
pub(crate) struct JsonStr<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for JsonStr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = JsonStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(JsonStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(JsonStr(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

impl<'a> Header<'a> {
    pub(crate) fn parse(json: &'a [u8]) -> Result<Self, AuthErrorKind> {
        // UTF-8 first: serde_json does not validate strings it skips.
        let json = std::str::from_utf8(json).map_err(|_| AuthErrorKind::MalformedToken)?;
        let header: Self = serde_json::from_str(json).map_err(|_| AuthErrorKind::MalformedToken)?;
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

    /// The header of a JOSE object that is no token (an RFC 9701
    /// introspection answer): `typ` must be present and be `typ` (the
    /// `application/` prefix optional, any case); `crit` is refused as for a
    /// token.
    pub(crate) fn parse_object(json: &'a [u8], typ: &str) -> Result<Self, AuthErrorKind> {
        let json = std::str::from_utf8(json).map_err(|_| AuthErrorKind::MalformedToken)?;
        let header: Self = serde_json::from_str(json).map_err(|_| AuthErrorKind::MalformedToken)?;
        if header.crit {
            return Err(AuthErrorKind::UnsupportedHeader);
        }
        let named = header
            .typ
            .as_deref()
            .is_some_and(|named| media_subtype(named).eq_ignore_ascii_case(typ));
        if !named {
            return Err(AuthErrorKind::UnsupportedHeader);
        }
        Ok(header)
    }
}

/// `typ` values that describe a JWT access or refresh token (RFC 7519 §5.1,
/// RFC 9068 §2.1, and this crate's `refresh+jwt`), compared
/// case-insensitively with the `application/` prefix optional, as media types
/// are (RFC 7515 §4.1.9). Anything else (`id_token+jwt`, `logout+jwt`,
/// `secevent+jwt`, `dpop+jwt`, …) is another kind of JOSE object signed with
/// the same key and is refused (RFC 8725 §3.11).
fn is_accepted_typ(typ: &str) -> bool {
    let typ = media_subtype(typ);
    typ.eq_ignore_ascii_case("JWT")
        || typ.eq_ignore_ascii_case(AT_JWT_TYP)
        || typ.eq_ignore_ascii_case(REFRESH_JWT_TYP)
}

/// A `typ` without its optional `application/` prefix (any case).
pub(crate) fn media_subtype(typ: &str) -> &str {
    match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    }
}

/// The header `typ` of an RFC 9068 access token.
pub(crate) const AT_JWT_TYP: &str = "at+jwt";
/// The header `typ` this crate's issuer gives its refresh tokens, so that no
/// verifier reading the header takes one for an access token.
pub(crate) const REFRESH_JWT_TYP: &str = "refresh+jwt";

impl Header<'_> {
    /// The kind of token the header's `typ` names, when it names one
    /// (`at+jwt`, `refresh+jwt`); `None` for `JWT` or no `typ`, where the
    /// claims decide.
    pub(crate) fn token_type(&self) -> Option<TokenType> {
        let typ = media_subtype(self.typ.as_deref()?);
        if typ.eq_ignore_ascii_case(AT_JWT_TYP) {
            Some(TokenType::Access)
        } else if typ.eq_ignore_ascii_case(REFRESH_JWT_TYP) {
            Some(TokenType::Refresh)
        } else {
            None
        }
    }
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
    fn inline_decoding_is_as_strict_as_decode_segment() {
        for segment in ["YQ", "YQ==", "YR", "a+b/", "", "eyJhbGciOiJIUzI1NiJ9", "!!"] {
            let inline = decode_segment_inline::<8>(segment).map(|d| d.to_vec());
            assert_eq!(inline, decode_segment(segment), "{segment}");
            let inline = decode_segment_inline::<512>(segment).map(|d| d.to_vec());
            assert_eq!(inline, decode_segment(segment), "{segment}");
        }
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

    #[test]
    fn header_typ_names_the_token_type_in_any_case() {
        let kind = |json: &[u8]| Header::parse(json).unwrap().token_type();
        assert_eq!(kind(br#"{"alg":"HS256","typ":"JWT"}"#), None);
        assert_eq!(kind(br#"{"alg":"HS256"}"#), None);
        assert_eq!(
            kind(br#"{"alg":"HS256","typ":"Application/AT+JWT"}"#),
            Some(TokenType::Access)
        );
        assert_eq!(
            kind(br#"{"alg":"HS256","typ":"refresh+JWT"}"#),
            Some(TokenType::Refresh)
        );
        for typ in [
            "id_token+jwt",
            "APPLICATION/logout+jwt",
            "secevent+jwt",
            "dpop+jwt",
        ] {
            let json = format!(r#"{{"alg":"HS256","typ":"{typ}"}}"#);
            assert!(Header::parse(json.as_bytes()).is_err(), "{typ}");
        }
    }

    // Regression (found while hardening the parser): a derived
    // `Deserialize` read a JSON array positionally, so `["HS256"]` passed as
    // a header, and `null` passed as an absent `kid`/`typ`.
    #[test]
    fn header_must_be_a_json_object() {
        for json in [
            &br#"["HS256"]"#[..],
            br#"["HS256",null,null,false]"#,
            br#""HS256""#,
            b"null",
            b"1",
        ] {
            assert_eq!(
                Header::parse(json).err(),
                Some(AuthErrorKind::MalformedToken),
                "{}",
                String::from_utf8_lossy(json)
            );
        }
    }

    #[test]
    fn header_kid_and_typ_must_be_strings_when_present() {
        for json in [
            &br#"{"alg":"HS256","kid":null}"#[..],
            br#"{"alg":"HS256","kid":1}"#,
            br#"{"alg":"HS256","kid":["a"]}"#,
            br#"{"alg":"HS256","typ":null}"#,
            br#"{"alg":"HS256","typ":{}}"#,
            br#"{"alg":null}"#,
            br#"{"alg":256}"#,
            br#"{}"#,
        ] {
            assert_eq!(
                Header::parse(json).err(),
                Some(AuthErrorKind::MalformedToken),
                "{}",
                String::from_utf8_lossy(json)
            );
        }
        let header = Header::parse(br#"{"alg":"HS256","kid":"k\u0031","typ":"JWT"}"#).unwrap();
        assert_eq!(header.kid.as_deref(), Some("k1"));
    }

    // Regression (found by the `verifier` fuzz target): invalid UTF-8 inside
    // a member the parser skips was accepted, because serde_json does not
    // validate strings it ignores.
    #[test]
    fn header_with_invalid_utf8_anywhere_is_malformed() {
        let json = b"{\"alg\":\"HS256\",\"x\":\"\xff\xfe\"}";
        assert_eq!(
            Header::parse(json).err(),
            Some(AuthErrorKind::MalformedToken)
        );
    }

    #[test]
    fn header_nesting_beyond_serde_json_limit_is_malformed() {
        let deep = format!(
            r#"{{"alg":"HS256","x":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert_eq!(
            Header::parse(deep.as_bytes()).err(),
            Some(AuthErrorKind::MalformedToken)
        );
        let shallow = format!(
            r#"{{"alg":"HS256","x":{}{}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        assert!(Header::parse(shallow.as_bytes()).is_ok());
        assert!(Header::parse(br#"{"alg":"HS256","x":1e400}"#).is_err());
        assert!(Header::parse(br#"{"alg":"HS256","x":[true,null,-1,2.5,"s",{"a":{}}]}"#).is_ok());
    }

    #[test]
    fn header_with_any_duplicate_member_is_malformed() {
        for json in [
            &br#"{"alg":"HS256","kid":"a","kid":"b"}"#[..],
            br#"{"alg":"HS256","typ":"JWT","typ":"JWT"}"#,
            br#"{"alg":"HS256","jku":"x","jku":"y"}"#,
            br#"{"alg":"HS256","al\u0067":"none"}"#,
        ] {
            assert_eq!(
                Header::parse(json).err(),
                Some(AuthErrorKind::MalformedToken),
                "{}",
                String::from_utf8_lossy(json)
            );
        }
    }
}
