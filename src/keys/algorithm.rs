//! Algorithm names and families, and the secret lengths HMAC needs.

use jsonwebtoken::Algorithm;

use super::error::KeyError;

/// The shortest HMAC secret accepted for `alg`: the hash's output size
/// (RFC 7518 §3.2) — 32 bytes for HS256, 48 for HS384, 64 for HS512.
pub const fn min_hmac_secret_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    }
}

/// Parses an algorithm name as it appears in a JWS header (`"HS256"`, `"EdDSA"`…).
pub fn parse_algorithm(name: &str) -> Result<Algorithm, KeyError> {
    name.parse()
        .map_err(|_| KeyError::UnknownAlgorithm(name.to_owned()))
}

/// The `alg` header value of `alg`; `None` for an algorithm this crate
/// does not know (jsonwebtoken's enum is non-exhaustive).
pub(crate) const fn algorithm_name(alg: Algorithm) -> Option<&'static str> {
    Some(match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
        _ => return None,
    })
}

pub(super) const fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

pub(super) const fn is_rsa(alg: Algorithm) -> bool {
    matches!(
        alg,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
    )
}

pub(super) fn check_secret(alg: Algorithm, secret: &[u8]) -> Result<(), KeyError> {
    if !is_hmac(alg) {
        return Err(KeyError::WrongKeyType(alg));
    }
    let min_len = min_hmac_secret_len(alg);
    if secret.len() < min_len {
        return Err(KeyError::SecretTooShort {
            algorithm: alg,
            min_len,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_algorithm_name_is_an_error() {
        assert!(parse_algorithm("none").is_err());
        assert!(parse_algorithm("hs256").is_err());
        assert_eq!(parse_algorithm("EdDSA").unwrap(), Algorithm::EdDSA);
    }
}
