//! The DPoP proof check of RFC 9449 §4.3, pure: no clock, no store, no I/O.
//!
//! The checks run in this order, and the first that fails decides: size;
//! compact JWS form; `typ` `dpop+jwt` and no `crit`; `alg` from the
//! configured list; `jwk` present, public only, and a key for that `alg`
//! (the algorithm is bound to the embedded key, never taken from the header
//! alone); the signature; `jti`; `htm`; `htu`; `iat`; `ath`; the server
//! nonce; and last the proof key's thumbprint against the token's
//! `cnf.jkt`. The replay check comes after all of them (see
//! [`ReplayStore`](super::ReplayStore)), so a proof that fails here never
//! uses up its `jti`.

use std::time::Duration;

use base64::Engine as _;
use http::Method;
use jsonwebtoken::jwk::Jwk;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::{DpopConfig, DpopError, NonceIssuer, NonceStatus, htu_matches};
use crate::binding::jwk_thumbprint;
use crate::jws::{B64, CompactJws, decode_segment};
use crate::keys::{VerifyingKey, parse_algorithm};

/// The request a proof is checked against.
#[derive(Clone, Copy, Debug)]
pub struct ProofRequest<'a> {
    method: &'a Method,
    htu: &'a str,
    now_secs: u64,
    access_token: Option<&'a str>,
    jkt: Option<&'a str>,
    nonces: Option<&'a NonceIssuer>,
}

impl<'a> ProofRequest<'a> {
    /// A request with this method and URI (in normal form, as
    /// [`HtuOrigin::request_htu`](super::HtuOrigin::request_htu) returns
    /// it), checked at `now_secs` (seconds since the epoch).
    pub const fn new(method: &'a Method, htu: &'a str, now_secs: u64) -> Self {
        Self {
            method,
            htu,
            now_secs,
            access_token: None,
            jkt: None,
            nonces: None,
        }
    }

    /// The access token the request presents: the proof's `ath` must be
    /// its hash (RFC 9449 §4.3 step 11).
    #[must_use]
    pub const fn access_token(mut self, token: &'a str) -> Self {
        self.access_token = Some(token);
        self
    }

    /// The token's `cnf.jkt`: the proof key's thumbprint must equal it.
    #[must_use]
    pub const fn bound_to(mut self, jkt: &'a str) -> Self {
        self.jkt = Some(jkt);
        self
    }

    /// Server nonces are required, checked by `nonces`.
    #[must_use]
    pub const fn nonces(mut self, nonces: &'a NonceIssuer) -> Self {
        self.nonces = Some(nonces);
        self
    }
}

/// A proof that passed every check but the replay check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProof {
    jkt: String,
    replay_key: String,
    replay_ttl: Duration,
    renew_nonce: bool,
}

impl VerifiedProof {
    /// The RFC 7638 thumbprint of the proof key.
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    /// The key to mark in the [`ReplayStore`](super::ReplayStore):
    /// base64url(SHA-256(thumbprint, `jti`)), fixed length whatever the `jti`.
    pub fn replay_key(&self) -> &str {
        &self.replay_key
    }

    /// How long the `jti` must be remembered: until the proof's `iat` is
    /// older than the max age, plus a second.
    pub const fn replay_ttl(&self) -> Duration {
        self.replay_ttl
    }

    /// True when the proof's nonce is valid but about to expire: answer
    /// with a fresh `DPoP-Nonce`.
    pub const fn renew_nonce(&self) -> bool {
        self.renew_nonce
    }
}

/// base64url(SHA-256(token)): the `ath` a proof for `token` carries.
pub fn access_token_hash(token: &str) -> String {
    B64.encode(Sha256::digest(token.as_bytes()))
}

/// True when `ath` is [`access_token_hash`]`(token)`, encoded on the stack.
fn is_hash_of(ath: &str, token: &str) -> bool {
    let mut encoded = [0; 43];
    B64.encode_slice(Sha256::digest(token.as_bytes()), &mut encoded) == Ok(43)
        && ath.as_bytes() == encoded
}

#[derive(Deserialize)]
struct ProofHeader<'a> {
    typ: Option<String>,
    alg: String,
    /// Read in place: once for private members, once as a [`Jwk`].
    #[serde(borrow)]
    jwk: Option<&'a RawValue>,
    crit: Option<IgnoredAny>,
}

/// The JWK members that hold private key material (RFC 7518 §6.2.2,
/// §6.3.2, §6.4; RFC 8037 §2), each noted when present, whatever its value.
#[derive(Default, Deserialize)]
#[serde(default)]
struct PrivateMembers {
    d: Present,
    p: Present,
    q: Present,
    dp: Present,
    dq: Present,
    qi: Present,
    oth: Present,
    k: Present,
    r: Present,
    t: Present,
}

impl PrivateMembers {
    /// True when `jwk` (a JSON object) names any of them; a member named
    /// twice counts as present.
    fn in_jwk(jwk: &str) -> bool {
        serde_json::from_str::<Self>(jwk).map_or(true, |members| {
            [
                members.d,
                members.p,
                members.q,
                members.dp,
                members.dq,
                members.qi,
                members.oth,
                members.k,
                members.r,
                members.t,
            ]
            .iter()
            .any(|member| member.0)
        })
    }
}

/// A member that was there (`null` included).
#[derive(Clone, Copy, Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| Self(true))
    }
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: Option<String>,
    htm: String,
    htu: String,
    iat: serde_json::Number,
    ath: Option<String>,
    nonce: Option<String>,
}

/// JSON text whose first non-blank byte opens an object: a derived
/// `Deserialize` would read an array positionally.
fn object<'de, T: Deserialize<'de>>(json: &'de [u8]) -> Result<T, DpopError> {
    if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(DpopError::MalformedProof);
    }
    serde_json::from_slice(json).map_err(|_| DpopError::MalformedProof)
}

/// Checks `proof` (the `DPoP` header's value) against `request`, in this
/// order, the first failure deciding: size; compact JWS form; `typ`
/// `dpop+jwt` and no `crit`; `alg` from the configured list; `jwk` present,
/// public only, and a key for that `alg`; the signature; `jti`; `htm`;
/// `htu`; `iat`; `ath`; the server nonce; the key's thumbprint against
/// `cnf.jkt`. The replay check is the caller's, after every other check
/// (see [`ReplayStore`](super::ReplayStore)).
pub fn check_proof(
    config: &DpopConfig,
    proof: &str,
    request: &ProofRequest<'_>,
) -> Result<VerifiedProof, DpopError> {
    if proof.len() > config.max_proof_len {
        return Err(DpopError::ProofTooLarge);
    }
    let jws = CompactJws::split(proof).map_err(|_| DpopError::MalformedProof)?;
    let header_json = decode_segment(jws.header).map_err(|_| DpopError::MalformedProof)?;
    let header: ProofHeader = object(&header_json)?;
    let typ_ok = header.typ.as_deref().is_some_and(|typ| {
        typ.eq_ignore_ascii_case("dpop+jwt") || typ.eq_ignore_ascii_case("application/dpop+jwt")
    });
    if !typ_ok || header.crit.is_some() {
        return Err(DpopError::WrongType);
    }
    let alg = parse_algorithm(&header.alg).map_err(|_| DpopError::UnsupportedAlgorithm)?;
    if !config.algorithms.contains(&alg) {
        return Err(DpopError::UnsupportedAlgorithm);
    }
    let jwk = header.jwk.ok_or(DpopError::UnsuitableKey)?.get();
    if !jwk.starts_with('{') {
        return Err(DpopError::MalformedProof);
    }
    if PrivateMembers::in_jwk(jwk) {
        return Err(DpopError::PrivateKey);
    }
    let jwk: Jwk = serde_json::from_str(jwk).map_err(|_| DpopError::UnsuitableKey)?;
    let key = VerifyingKey::from_jwk(alg, &jwk).map_err(|_| DpopError::UnsuitableKey)?;
    let signature = decode_segment(jws.signature).map_err(|_| DpopError::MalformedProof)?;
    if !key.verify(jws.signing_input.as_bytes(), &signature) {
        return Err(DpopError::InvalidSignature);
    }
    let jkt = jwk_thumbprint(&jwk).ok_or(DpopError::UnsuitableKey)?;

    let claims_json = decode_segment(jws.payload).map_err(|_| DpopError::MalformedProof)?;
    let claims: ProofClaims = object(&claims_json)?;
    let jti = claims
        .jti
        .filter(|jti| !jti.is_empty() && jti.len() <= config.max_jti_len)
        .ok_or(DpopError::InvalidJti)?;
    if claims.htm != request.method.as_str() {
        return Err(DpopError::MethodMismatch);
    }
    if !htu_matches(&claims.htu, request.htu) {
        return Err(DpopError::UriMismatch);
    }
    let iat = claims
        .iat
        .as_u64()
        .or_else(|| claims.iat.as_f64().filter(|t| *t >= 0.0).map(|t| t as u64))
        .ok_or(DpopError::MalformedProof)?;
    let now = request.now_secs;
    if iat.saturating_add(config.max_age_secs) < now
        || iat > now.saturating_add(config.future_leeway_secs)
    {
        return Err(DpopError::IssuedAtOutOfWindow);
    }
    if let Some(token) = request.access_token
        && !claims
            .ath
            .as_deref()
            .is_some_and(|ath| is_hash_of(ath, token))
    {
        return Err(DpopError::AccessTokenHashMismatch);
    }
    let renew_nonce = match request.nonces {
        None => false,
        Some(nonces) => match claims.nonce.as_deref().map(|n| nonces.check(n, now)) {
            Some(NonceStatus::Valid) => false,
            Some(NonceStatus::RenewSoon) => true,
            Some(NonceStatus::Invalid) | None => return Err(DpopError::UseNonce),
        },
    };
    if let Some(bound) = request.jkt
        && bound != jkt
    {
        return Err(DpopError::KeyNotBound);
    }
    let replay_key = {
        let mut hash = Sha256::new();
        hash.update(jkt.as_bytes());
        hash.update([0]);
        hash.update(jti.as_bytes());
        B64.encode(hash.finalize())
    };
    let expires = iat.saturating_add(config.max_age_secs).saturating_add(1);
    Ok(VerifiedProof {
        jkt,
        replay_key,
        replay_ttl: Duration::from_secs(expires.saturating_sub(now).max(1)),
        renew_nonce,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value};

    use super::*;
    use crate::keys::{Algorithm, SigningKey};

    const NOW: u64 = 1_700_000_000;
    const HTU: &str = "https://api.example.com/notes";
    const TOKEN: &str = "the.access.token";

    fn es256() -> SigningKey {
        SigningKey::from_pem(
            Algorithm::ES256,
            include_bytes!("../../tests/keys/es256_private.pem"),
        )
        .unwrap()
    }

    fn ed25519() -> SigningKey {
        let pem = include_bytes!("../../tests/keys/ed25519_private.pem");
        SigningKey::from_pem(Algorithm::EdDSA, pem).unwrap()
    }

    fn public(key: &SigningKey) -> Map<String, Value> {
        match serde_json::to_value(key.public_jwk().unwrap()).unwrap() {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    /// A proof signed by `signer`, with `jwk` in its header, after `edit`
    /// changed the header and the claims of a valid one.
    fn proof_with(
        signer: &SigningKey,
        alg: &str,
        jwk: Map<String, Value>,
        edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>),
    ) -> String {
        let mut header = serde_json::json!({"typ": "dpop+jwt", "alg": alg, "jwk": jwk});
        let mut claims = serde_json::json!({
            "jti": "e1j3V_bKic8-LAEB", "htm": "GET", "htu": HTU, "iat": NOW,
            "ath": access_token_hash(TOKEN),
        });
        edit(
            header.as_object_mut().unwrap(),
            claims.as_object_mut().unwrap(),
        );
        let input = format!(
            "{}.{}",
            B64.encode(serde_json::to_vec(&header).unwrap()),
            B64.encode(serde_json::to_vec(&claims).unwrap())
        );
        let signature = signer.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", B64.encode(signature))
    }

    fn proof(edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>)) -> String {
        let key = es256();
        proof_with(&key, "ES256", public(&key), edit)
    }

    fn check(proof: &str) -> Result<VerifiedProof, DpopError> {
        check_at(proof, NOW)
    }

    fn check_at(proof: &str, now: u64) -> Result<VerifiedProof, DpopError> {
        let request = ProofRequest::new(&Method::GET, HTU, now).access_token(TOKEN);
        check_proof(&DpopConfig::new(), proof, &request)
    }

    #[test]
    fn a_valid_proof_is_accepted_with_its_keys_thumbprint() {
        for (key, alg) in [(es256(), "ES256"), (ed25519(), "EdDSA")] {
            let verified = check(&proof_with(&key, alg, public(&key), |_, _| {})).unwrap();
            assert_eq!(Some(verified.jkt().to_owned()), key.thumbprint(), "{alg}");
            assert!(!verified.renew_nonce());
            assert_eq!(verified.replay_ttl(), Duration::from_secs(61));
        }
    }

    #[test]
    fn typ_must_be_dpop_jwt_and_crit_is_refused() {
        for typ in [Value::from("JWT"), Value::from("at+jwt"), Value::Null] {
            let bad = proof(|h, _| {
                h.insert("typ".into(), typ);
            });
            assert_eq!(check(&bad), Err(DpopError::WrongType));
        }
        let absent = proof(|h, _| {
            h.remove("typ");
        });
        assert_eq!(check(&absent), Err(DpopError::WrongType));
        let crit = proof(|h, _| {
            h.insert("crit".into(), serde_json::json!(["exp"]));
        });
        assert_eq!(check(&crit), Err(DpopError::WrongType));
        let media_type = proof(|h, _| {
            h.insert("typ".into(), "application/DPoP+JWT".into());
        });
        assert!(check(&media_type).is_ok());
    }

    #[test]
    fn alg_must_be_in_the_allow_list() {
        let key = es256();
        let only_eddsa = DpopConfig::new().algorithms([Algorithm::EdDSA]).unwrap();
        let request = ProofRequest::new(&Method::GET, HTU, NOW).access_token(TOKEN);
        let es = proof(|_, _| {});
        assert_eq!(
            check_proof(&only_eddsa, &es, &request),
            Err(DpopError::UnsupportedAlgorithm)
        );
        for alg in ["none", "HS256", "XX999"] {
            let bad = proof_with(&key, alg, public(&key), |_, _| {});
            assert_eq!(check(&bad), Err(DpopError::UnsupportedAlgorithm), "{alg}");
        }
    }

    #[test]
    fn alg_is_checked_against_the_embedded_key_not_taken_from_the_header() {
        let key = es256();
        // A P-256 key cannot verify ES384 or EdDSA, whatever the header says.
        for alg in ["ES384", "EdDSA", "RS256"] {
            let mut unlabelled = public(&key);
            unlabelled.remove("alg");
            let bad = proof_with(&key, alg, unlabelled, |_, _| {});
            assert_eq!(check(&bad), Err(DpopError::UnsuitableKey), "{alg}");
        }
        let mut labelled = public(&key);
        labelled.insert("alg".into(), "ES384".into());
        let bad = proof_with(&key, "ES256", labelled, |_, _| {});
        assert_eq!(check(&bad), Err(DpopError::UnsuitableKey));
        let no_jwk = proof(|h, _| {
            h.remove("jwk");
        });
        assert_eq!(check(&no_jwk), Err(DpopError::UnsuitableKey));
        let hmac: Map<String, Value> =
            serde_json::from_str(r#"{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}"#)
                .unwrap();
        let bad = proof_with(&key, "ES256", hmac, |_, _| {});
        assert_eq!(check(&bad), Err(DpopError::PrivateKey));
    }

    #[test]
    fn a_jwk_with_private_members_is_refused() {
        let key = es256();
        for member in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
            let mut jwk = public(&key);
            jwk.insert(member.into(), "AAAA".into());
            let bad = proof_with(&key, "ES256", jwk, |_, _| {});
            assert_eq!(check(&bad), Err(DpopError::PrivateKey), "{member}");
        }
    }

    /// A signed proof whose header is `header` as written (duplicate
    /// members and all).
    fn proof_with_header_text(signer: &SigningKey, header: &str) -> String {
        let claims = serde_json::json!({
            "jti": "e1j3V_bKic8-LAEB", "htm": "GET", "htu": HTU, "iat": NOW,
            "ath": access_token_hash(TOKEN),
        });
        let input = format!(
            "{}.{}",
            B64.encode(header),
            B64.encode(serde_json::to_vec(&claims).unwrap())
        );
        let signature = signer.sign(input.as_bytes()).unwrap();
        format!("{input}.{}", B64.encode(signature))
    }

    #[test]
    fn a_private_member_counts_whatever_its_value_and_however_often_named() {
        let key = es256();
        let jwk = serde_json::to_string(&public(&key)).unwrap();
        let fields = jwk.trim_start_matches('{');
        for extra in [r#""d":null,"#, r#""d":"AAAA","d":"AAAA","#, r#""oth":[],"#] {
            let header = format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{{{extra}{fields}}}"#);
            let bad = proof_with_header_text(&key, &header);
            assert_eq!(check(&bad), Err(DpopError::PrivateKey), "{extra}");
        }
        let header = format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{jwk}}}"#);
        assert!(check(&proof_with_header_text(&key, &header)).is_ok());
    }

    #[test]
    fn a_jwk_that_is_no_object_is_malformed_and_a_missing_one_unsuitable() {
        let key = es256();
        for jwk in ["5", r#""key""#, "[1]"] {
            let header = format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{jwk}}}"#);
            let bad = proof_with_header_text(&key, &header);
            assert_eq!(check(&bad), Err(DpopError::MalformedProof), "{jwk}");
        }
        for header in [
            r#"{"typ":"dpop+jwt","alg":"ES256","jwk":null}"#,
            r#"{"typ":"dpop+jwt","alg":"ES256"}"#,
        ] {
            let bad = proof_with_header_text(&key, header);
            assert_eq!(check(&bad), Err(DpopError::UnsuitableKey), "{header}");
        }
    }

    #[test]
    fn the_signature_must_verify_under_the_embedded_key() {
        let other = SigningKey::from_pem(
            Algorithm::ES256,
            include_bytes!("../../tests/keys/es256_next_private.pem"),
        )
        .unwrap();
        let forged = proof_with(&other, "ES256", public(&es256()), |_, _| {});
        assert_eq!(check(&forged), Err(DpopError::InvalidSignature));
        // A valid proof with its claims swapped for others.
        let valid = proof(|_, _| {});
        let other_claims = proof(|_, c| {
            c.insert("htm".into(), "POST".into());
        });
        let mut parts: Vec<&str> = valid.split('.').collect();
        parts[1] = other_claims.split('.').nth(1).unwrap();
        assert_eq!(check(&parts.join(".")), Err(DpopError::InvalidSignature));
    }

    #[test]
    fn htm_must_be_the_method_exactly() {
        for htm in ["POST", "get", " GET"] {
            let bad = proof(|_, c| {
                c.insert("htm".into(), htm.into());
            });
            assert_eq!(check(&bad), Err(DpopError::MethodMismatch), "{htm}");
        }
    }

    #[test]
    fn htu_must_be_the_request_uri_after_normalisation() {
        let equivalent = proof(|_, c| {
            c.insert(
                "htu".into(),
                "HTTPS://api.EXAMPLE.com:443/x/../notes?page=2".into(),
            );
        });
        assert!(check(&equivalent).is_ok());
        for htu in [
            "https://api.example.com/notes/other",
            "https://evil.example/notes",
            "http://api.example.com/notes",
            "https://api.example.com:8443/notes",
            "/notes",
        ] {
            let bad = proof(|_, c| {
                c.insert("htu".into(), htu.into());
            });
            assert_eq!(check(&bad), Err(DpopError::UriMismatch), "{htu}");
        }
    }

    #[test]
    fn iat_must_lie_in_the_window() {
        let valid = proof(|_, _| {});
        assert!(check_at(&valid, NOW + 60).is_ok());
        assert_eq!(
            check_at(&valid, NOW + 61),
            Err(DpopError::IssuedAtOutOfWindow)
        );
        assert!(check_at(&valid, NOW - 5).is_ok());
        assert_eq!(
            check_at(&valid, NOW - 6),
            Err(DpopError::IssuedAtOutOfWindow)
        );
        let strict = DpopConfig::new().max_age(Duration::from_secs(10));
        let request = ProofRequest::new(&Method::GET, HTU, NOW + 11).access_token(TOKEN);
        assert_eq!(
            check_proof(&strict, &valid, &request),
            Err(DpopError::IssuedAtOutOfWindow)
        );
        for iat in [Value::from("1700000000"), Value::from(-1), Value::Null] {
            let bad = proof(|_, c| {
                c.insert("iat".into(), iat);
            });
            assert_eq!(check(&bad), Err(DpopError::MalformedProof));
        }
    }

    #[test]
    fn ath_must_be_the_hash_of_the_presented_token() {
        let missing = proof(|_, c| {
            c.remove("ath");
        });
        assert_eq!(check(&missing), Err(DpopError::AccessTokenHashMismatch));
        let other = proof(|_, c| {
            c.insert("ath".into(), access_token_hash("another.token.x").into());
        });
        assert_eq!(check(&other), Err(DpopError::AccessTokenHashMismatch));
        // Without an access token (a token endpoint), no ath is needed.
        let request = ProofRequest::new(&Method::GET, HTU, NOW);
        assert!(check_proof(&DpopConfig::new(), &missing, &request).is_ok());
        // RFC 9449 §4.3's example hash form: base64url, no padding.
        assert_eq!(access_token_hash("").len(), 43);
    }

    #[test]
    fn the_proof_key_must_be_the_tokens_cnf_jkt() {
        let valid = proof(|_, _| {});
        let own = es256().thumbprint().unwrap();
        let other = ed25519().thumbprint().unwrap();
        let request = ProofRequest::new(&Method::GET, HTU, NOW).access_token(TOKEN);
        let config = DpopConfig::new();
        assert!(check_proof(&config, &valid, &request.bound_to(&own)).is_ok());
        assert_eq!(
            check_proof(&config, &valid, &request.bound_to(&other)),
            Err(DpopError::KeyNotBound)
        );
    }

    #[test]
    fn jti_must_be_present_non_empty_and_bounded() {
        for jti in [
            Value::Null,
            Value::from(""),
            Value::from("x".repeat(129)),
            Value::from(7),
        ] {
            let bad = proof(|_, c| {
                c.insert("jti".into(), jti);
            });
            assert!(
                matches!(
                    check(&bad),
                    Err(DpopError::InvalidJti | DpopError::MalformedProof)
                ),
                "{bad}"
            );
        }
        let absent = proof(|_, c| {
            c.remove("jti");
        });
        assert_eq!(check(&absent), Err(DpopError::InvalidJti));
        let longest = proof(|_, c| {
            c.insert("jti".into(), "x".repeat(128).into());
        });
        assert!(check(&longest).is_ok());
        let short = DpopConfig::new().max_jti_len(8);
        let request = ProofRequest::new(&Method::GET, HTU, NOW).access_token(TOKEN);
        assert_eq!(
            check_proof(&short, &proof(|_, _| {}), &request),
            Err(DpopError::InvalidJti)
        );
    }

    #[test]
    fn the_replay_key_names_key_and_jti_together() {
        let a = check(&proof(|_, _| {})).unwrap();
        let again = check(&proof(|_, _| {})).unwrap();
        let b = check(&proof(|_, c| {
            c.insert("jti".into(), "another".into());
        }))
        .unwrap();
        let ed = ed25519();
        let other_key = check(&proof_with(&ed, "EdDSA", public(&ed), |_, _| {})).unwrap();
        assert_eq!(a.replay_key(), again.replay_key());
        assert_ne!(a.replay_key(), b.replay_key());
        assert_ne!(a.replay_key(), other_key.replay_key());
        assert_eq!(a.replay_key().len(), 43);
    }

    #[test]
    fn server_nonces_when_required() {
        let nonces = NonceIssuer::new(&[7; 32]).unwrap();
        let config = DpopConfig::new();
        let request = ProofRequest::new(&Method::GET, HTU, NOW)
            .access_token(TOKEN)
            .nonces(&nonces);
        let without = proof(|_, _| {});
        assert_eq!(
            check_proof(&config, &without, &request),
            Err(DpopError::UseNonce)
        );
        let with = |nonce: String| {
            proof(move |_, c| {
                c.insert("nonce".into(), nonce.into());
            })
        };
        let fresh = with(nonces.issue(NOW));
        assert!(
            !check_proof(&config, &fresh, &request)
                .unwrap()
                .renew_nonce()
        );
        let forged = with(NonceIssuer::new(&[8; 32]).unwrap().issue(NOW));
        assert_eq!(
            check_proof(&config, &forged, &request),
            Err(DpopError::UseNonce)
        );
        let old = with(nonces.issue(NOW - nonces.lifetime_secs() - 1));
        assert_eq!(
            check_proof(&config, &old, &request),
            Err(DpopError::UseNonce)
        );
        let ageing = with(nonces.issue(NOW - nonces.lifetime_secs() + 5));
        assert!(
            check_proof(&config, &ageing, &request)
                .unwrap()
                .renew_nonce()
        );
    }

    #[test]
    fn malformed_and_oversized_proofs_are_refused() {
        let valid = proof(|_, _| {});
        for bad in ["", "a.b", "a.b.c.d", "!!.e30.AA", &format!("{valid}x")] {
            assert!(check(bad).is_err(), "{bad}");
        }
        let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
        parts[0] = B64.encode(br#"["dpop+jwt","ES256"]"#);
        assert_eq!(check(&parts.join(".")), Err(DpopError::MalformedProof));
        let duplicate = B64.encode(br#"{"typ":"dpop+jwt","alg":"ES256","alg":"ES256"}"#);
        parts[0] = duplicate;
        assert_eq!(check(&parts.join(".")), Err(DpopError::MalformedProof));
        let huge = proof(|_, c| {
            c.insert("pad".into(), "x".repeat(DEFAULT_LEN).into());
        });
        assert_eq!(check(&huge), Err(DpopError::ProofTooLarge));
    }

    const DEFAULT_LEN: usize = super::super::DEFAULT_MAX_PROOF_LEN;
}
