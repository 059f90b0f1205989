//! External test vectors run through this crate's [`Verifier`]: Wycheproof's
//! JWS and JWK cases and the RFC 7520 (JOSE cookbook) signatures.
//!
//! The vectors live outside the repository, in `../shared/vectors` (see its
//! README); they are read from there and never copied in. When the directory
//! is absent the tests say so and pass — unless in CI (`CI` set, see
//! `tests/support/ci.rs`), where a missing directory is a failure. The counts
//! (and the skip notice) are written to stderr past the test harness's
//! capture, so every run shows them.
//!
//! Keys come from the vectors' JWKs through [`VerifyingKey::from_jwk`]. The
//! Wycheproof payloads are not JWT claims, so these cases go through
//! [`Verifier::verify_jws`]: size, structure, header, `kid`, `alg` against the
//! key, signature — everything but the claims.

#[path = "../support/ci.rs"]
mod ci;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use tower_jwt_auth::{Jwk, JwtConfig, KeySet, Verifier, VerifyingKey, parse_algorithm};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors");

/// The vectors directory, or `None` (with a note) when it is absent outside CI.
fn vectors_dir() -> Option<PathBuf> {
    let dir = Path::new(VECTORS);
    if dir.is_dir() {
        return Some(dir.to_owned());
    }
    assert!(
        !ci::in_ci(),
        "CI is set but the test vectors are missing: {VECTORS}"
    );
    report(&format!("skipped: no test vectors at {VECTORS}"));
    None
}

/// Writes `text` to stderr directly: unlike `println!`, not captured by the
/// test harness, so the counts show in every `cargo test` run.
fn report(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ===== Wycheproof =====

#[derive(Deserialize)]
struct WycheproofFile {
    #[serde(rename = "testGroups")]
    groups: Vec<WycheproofGroup>,
}

#[derive(Deserialize)]
struct WycheproofGroup {
    comment: String,
    #[serde(default)]
    private: Option<Value>,
    #[serde(default)]
    public: Option<Value>,
    tests: Vec<WycheproofCase>,
}

#[derive(Deserialize)]
struct WycheproofCase {
    #[serde(rename = "tcId")]
    id: u32,
    comment: String,
    /// A compact JWS, or (tcId 17) a JSON-serialized one.
    jws: Value,
    result: Expected,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Expected {
    Valid,
    Invalid,
    Acceptable,
}

/// Cases where this crate knowingly gives the other answer, and why. Each
/// is asserted, so a change of behaviour shows up here.
const JWS_DEVIATIONS: &[(u32, Outcome, &str)] = &[
    (
        346,
        Outcome::Rejected,
        "RFC 7520 Figure 20 is a PS384 signature, but Wycheproof labels its key `alg: PS256`; \
         a key verifies only the algorithm it is bound to (RFC 7517 §4.4, RFC 8725 §3.1)",
    ),
    (
        350,
        Outcome::Rejected,
        "as tcId 346, with `key_ops: [verify]`",
    ),
    (
        367,
        Outcome::Accepted,
        "`invalidBase64Padding`, but the vector carries no padding: its JWS is byte for byte \
         tcId 357 (valid), so no verifier can reject one and accept the other",
    ),
    (
        370,
        Outcome::Accepted,
        "`invalidBase64PaddingInPayload`, byte for byte tcId 357 as well",
    ),
    (
        372,
        Outcome::Rejected,
        "a `?` inserted into the header: not base64url, and this crate decodes strictly \
         (the vectors' README allows a strict decoder to reject it)",
    ),
    (
        373,
        Outcome::Rejected,
        "a `?` inserted into the payload, as tcId 372",
    ),
];

/// As [`JWS_DEVIATIONS`], for the key-set cases of `json_web_key_test.json`.
const JWK_DEVIATIONS: &[(u32, Outcome, &str)] = &[
    (
        1,
        Outcome::Accepted,
        "a key set mixing an HMAC secret and an EC key (flagged Ambiguous): a KeySet may mix \
         them, because moving from HS256 to ES256 needs both for a while, and every key is \
         bound to its own algorithm, so the mix cannot be confused",
    ),
    (
        7,
        Outcome::Accepted,
        "an RSA key with the ROCA weakness (CVE-2017-15361): fingerprinting moduli is out of \
         scope; the key is long enough and otherwise well formed",
    ),
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outcome {
    Accepted,
    Rejected,
}

/// Tallies of one vector file.
#[derive(Default)]
struct Tally {
    accepted: u32,
    rejected: u32,
    acceptable: u32,
    deviations: Vec<(u32, &'static str)>,
    skipped: BTreeMap<String, u32>,
    failures: Vec<String>,
}

impl Tally {
    fn record(
        &mut self,
        id: u32,
        comment: &str,
        expected: Expected,
        got: Outcome,
        deviations: &[(u32, Outcome, &'static str)],
    ) {
        if let Some((_, documented, reason)) = deviations.iter().find(|(d, ..)| *d == id) {
            if got == *documented {
                self.deviations.push((id, reason));
            } else {
                self.failures.push(format!(
                    "tcId {id} ({comment}): documented deviation no longer holds, got {got:?}"
                ));
            }
            return;
        }
        match (expected, got) {
            (Expected::Valid, Outcome::Accepted) => self.accepted += 1,
            (Expected::Invalid, Outcome::Rejected) => self.rejected += 1,
            (Expected::Acceptable, _) => self.acceptable += 1,
            _ => self.failures.push(format!(
                "tcId {id} ({comment}): expected {expected:?}, got {got:?}"
            )),
        }
    }

    fn skip(&mut self, reason: impl Into<String>, cases: usize) {
        *self.skipped.entry(reason.into()).or_default() += cases as u32;
    }

    /// The cases run (not skipped): each one's answer was checked.
    fn checked(&self) -> u32 {
        self.accepted + self.rejected + self.acceptable + self.deviations.len() as u32
    }

    /// Prints the counts and fails on any disagreement, or when fewer than
    /// `at_least` cases were run: a run that skipped every group (a changed
    /// file layout, a key format no longer read) must not pass.
    fn finish(self, name: &str, at_least: u32) {
        let skipped: u32 = self.skipped.values().sum();
        let mut text = format!(
            "{name}: {} valid accepted, {} invalid rejected, {} acceptable, {} documented \
             deviations, {skipped} skipped",
            self.accepted,
            self.rejected,
            self.acceptable,
            self.deviations.len(),
        );
        for (reason, count) in &self.skipped {
            let _ = write!(text, "\n  skipped {count}: {reason}");
        }
        for (id, reason) in &self.deviations {
            let _ = write!(text, "\n  deviation tcId {id}: {reason}");
        }
        report(&text);
        assert!(
            self.failures.is_empty(),
            "{name}: {} disagreements:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
        assert!(
            self.checked() >= at_least,
            "{name}: only {} cases run (at least {at_least} expected), {skipped} skipped",
            self.checked()
        );
    }
}

/// The algorithm named by a compact JWS's header, if it can be read.
fn header_alg(jws: &str) -> Option<String> {
    use base64::Engine as _;
    let header = jws.split('.').next()?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let header: Value = serde_json::from_slice(&json).ok()?;
    header.get("alg")?.as_str().map(str::to_owned)
}

/// The token text of a case: the compact string, or the JSON serialization
/// as text (which no compact parser accepts).
fn token_text(jws: &Value) -> String {
    match jws {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn verify(verifier: &Verifier, token: &str) -> Outcome {
    match verifier.verify_jws(token) {
        Ok(_) => Outcome::Accepted,
        Err(_) => Outcome::Rejected,
    }
}

/// The key of a group: its public JWK, or for a secret its private one.
fn group_jwk(group: &WycheproofGroup) -> Option<&Value> {
    let non_empty = |v: &&Value| v.as_object().is_some_and(|o| !o.is_empty());
    group
        .public
        .as_ref()
        .filter(non_empty)
        .or(group.private.as_ref().filter(non_empty))
}

/// Why an algorithm is skipped.
fn unsupported(alg_name: &str) -> String {
    // Wycheproof spells ECDSA on P-521 `ES521`; JOSE calls it ES512.
    let curve = if alg_name.starts_with("ES5") {
        " (ECDSA P-521)"
    } else {
        ""
    };
    format!("{alg_name}{curve} is not implemented by jsonwebtoken")
}

/// Builds the verifying key `jwk` describes, bound to its `alg` or, when
/// it has none, to the algorithm its tokens claim. `Err` carries a reason to
/// skip (an algorithm this crate does not implement); `Ok(Err)` why this
/// crate refuses the key (a JWK jsonwebtoken cannot read, or one
/// [`VerifyingKey::from_jwk`] refuses).
fn key_from(
    jwk: &Value,
    fallback_alg: Option<&str>,
) -> Result<Result<VerifyingKey, String>, String> {
    let alg_name = jwk
        .get("alg")
        .and_then(Value::as_str)
        .or(fallback_alg)
        .ok_or("no algorithm named by the key or the token")?;
    let algorithm = parse_algorithm(alg_name).map_err(|_| unsupported(alg_name))?;
    Ok(serde_json::from_value::<Jwk>(jwk.clone())
        .map_err(|e| format!("not a JWK: {e}"))
        .and_then(|jwk| VerifyingKey::from_jwk(algorithm, &jwk).map_err(|e| e.to_string())))
}

#[test]
fn wycheproof_jws_cases_give_their_expected_results() {
    let Some(dir) = vectors_dir() else { return };
    let file: WycheproofFile = read_json(&dir.join("wycheproof/json_web_signature_test.json"));
    let mut tally = Tally::default();
    for group in &file.groups {
        let Some(jwk) = group_jwk(group) else {
            tally.skip(
                format!("group `{}` has no key", group.comment),
                group.tests.len(),
            );
            continue;
        };
        let first_alg = group
            .tests
            .iter()
            .find_map(|case| case.jws.as_str().and_then(header_alg));
        let key = match key_from(jwk, first_alg.as_deref()) {
            Ok(key) => key,
            Err(reason) => {
                tally.skip(reason, group.tests.len());
                continue;
            }
        };
        let verifier = key.map(|key| Verifier::new(KeySet::new(key), JwtConfig::new()));
        for case in &group.tests {
            let got = match &verifier {
                Ok(verifier) => verify(verifier, &token_text(&case.jws)),
                // The key itself is refused: nothing it signed can verify.
                Err(_) => Outcome::Rejected,
            };
            tally.record(case.id, &case.comment, case.result, got, JWS_DEVIATIONS);
        }
    }
    // The two padding cases documented above really are the valid tcId 357.
    let jws_of = |id: u32| {
        file.groups
            .iter()
            .flat_map(|g| &g.tests)
            .find(|case| case.id == id)
            .map(|case| case.jws.clone())
    };
    assert_eq!(jws_of(367), jws_of(357));
    assert_eq!(jws_of(370), jws_of(357));
    // 401 cases, 2 of them skipped (P-521): the other 399 are answered.
    tally.finish("wycheproof json_web_signature_test.json", 399);
}

#[derive(Deserialize)]
struct KeySetGroup {
    comment: String,
    private: KeySetKeys,
    tests: Vec<WycheproofCase>,
}

#[derive(Deserialize)]
struct KeySetKeys {
    keys: Vec<Value>,
}

/// The verifier for a JWK set: the first key is primary, the others are
/// selected by `kid`. Any key this crate refuses makes the set unusable.
fn key_set(keys: &[Value]) -> Result<Verifier, String> {
    let mut set: Option<KeySet> = None;
    for jwk in keys {
        let key = key_from(jwk, None)??;
        set = Some(match set {
            None => KeySet::new(key),
            Some(set) => set.with_key(key).map_err(|e| e.to_string())?,
        });
    }
    let set = set.ok_or("an empty key set")?;
    Ok(Verifier::new(set, JwtConfig::new()))
}

#[test]
fn wycheproof_jwk_cases_give_their_expected_results() {
    let Some(dir) = vectors_dir() else { return };
    #[derive(Deserialize)]
    struct File {
        #[serde(rename = "testGroups")]
        groups: Vec<KeySetGroup>,
    }
    let file: File = read_json(&dir.join("wycheproof/json_web_key_test.json"));
    let mut tally = Tally::default();
    for group in &file.groups {
        // A key this crate refuses to import, or whose `alg` it does not
        // implement, verifies nothing: every case of the group is rejected.
        let verifier = key_set(&group.private.keys).ok();
        for case in &group.tests {
            let got = match &verifier {
                Some(verifier) => verify(verifier, &token_text(&case.jws)),
                None => Outcome::Rejected,
            };
            let comment = format!("{}: {}", group.comment, case.comment);
            tally.record(case.id, &comment, case.result, got, JWK_DEVIATIONS);
        }
    }
    tally.finish("wycheproof json_web_key_test.json", 26);
}

// ===== RFC 7520 =====

#[derive(Deserialize)]
struct CookbookCase {
    title: String,
    input: CookbookInput,
    output: CookbookOutput,
}

#[derive(Deserialize)]
struct CookbookInput {
    payload: String,
    key: Value,
    alg: String,
}

#[derive(Deserialize)]
struct CookbookOutput {
    compact: String,
}

#[test]
fn rfc7520_cookbook_signatures_verify_and_tampered_ones_do_not() {
    let Some(dir) = vectors_dir() else { return };
    let mut verified = 0;
    let mut skipped = Vec::new();
    for name in [
        "4_1.rsa_v15_signature.json",
        "4_2.rsa-pss_signature.json",
        "4_3.ecdsa_signature.json",
        "4_4.hmac-sha2_integrity_protection.json",
        "jws.json",
    ] {
        let case: CookbookCase = read_json(&dir.join("jose-cookbook").join(name));
        let Ok(algorithm) = parse_algorithm(&case.input.alg) else {
            skipped.push(format!(
                "{name} ({}): {}",
                case.title,
                unsupported(&case.input.alg)
            ));
            continue;
        };
        let jwk: Jwk = serde_json::from_value(case.input.key.clone()).unwrap();
        let key = VerifyingKey::from_jwk(algorithm, &jwk)
            .unwrap_or_else(|e| panic!("{name}: the cookbook key is refused: {e}"));
        let verifier = Verifier::new(KeySet::new(key), JwtConfig::new());

        let payload = verifier
            .verify_jws(&case.output.compact)
            .unwrap_or_else(|e| panic!("{name}: the cookbook signature is refused: {e}"));
        assert_eq!(payload, case.input.payload.as_bytes(), "{name}");

        // One flipped bit in the first signature byte must break it.
        let (input, signature) = case.output.compact.rsplit_once('.').unwrap();
        let mut signature = signature.as_bytes().to_vec();
        signature[0] = if signature[0] == b'A' { b'Q' } else { b'A' };
        let tampered = format!("{input}.{}", String::from_utf8(signature).unwrap());
        assert!(verifier.verify_jws(&tampered).is_err(), "{name}: tampered");
        verified += 1;
    }
    report(&format!(
        "RFC 7520 cookbook: {verified} signatures verified (and their tampered copies refused), \
         {} skipped{}",
        skipped.len(),
        skipped
            .iter()
            .map(|s| format!("\n  skipped: {s}"))
            .collect::<String>()
    ));
    assert_eq!(verified, 4, "RS256, PS384, HS256 and Ed25519 must verify");
}
