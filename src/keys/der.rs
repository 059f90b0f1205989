//! The bits of DER the key formats need: RSA modulus sizes, and SEC1 EC
//! private keys rewrapped as PKCS#8.

use jsonwebtoken::{Algorithm, DecodingKey};

/// The modulus size of an RSA public key: from its components, or from the
/// PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, … }` a PEM yields.
pub(super) fn rsa_modulus_bits(key: &DecodingKey) -> Option<usize> {
    match key.kind() {
        jsonwebtoken::DecodingKeyKind::RsaModulusExponent { n, .. } => Some(modulus_bits(n)),
        jsonwebtoken::DecodingKeyKind::SecretOrDer(der) => {
            let (0x30, sequence, _) = read_tlv(der)? else {
                return None;
            };
            let (0x02, n, _) = read_tlv(sequence)? else {
                return None;
            };
            Some(modulus_bits(n))
        }
    }
}

/// The modulus size of a PKCS#1 `RSAPrivateKey` in DER.
pub(super) fn rsa_private_modulus_bits(der: &[u8]) -> Option<usize> {
    let (0x30, sequence, _) = read_tlv(der)? else {
        return None;
    };
    let (0x02, _version, rest) = read_tlv(sequence)? else {
        return None;
    };
    let (0x02, n, _) = read_tlv(rest)? else {
        return None;
    };
    Some(modulus_bits(n))
}

/// The size in bits of a big-endian unsigned integer (an RSA modulus).
pub(super) fn modulus_bits(n: &[u8]) -> usize {
    match n.iter().position(|&b| b != 0) {
        Some(first) => (n.len() - first - 1) * 8 + (8 - n[first].leading_zeros() as usize),
        None => 0,
    }
}

/// Wraps a SEC1 `EC PRIVATE KEY` PEM (RFC 5915) into PKCS#8 DER (RFC 5208),
/// the only EC private-key form the crypto backends read. `None` when `pem`
/// is not a SEC1 PEM; the caller then parses it as PKCS#8.
pub(super) fn sec1_to_pkcs8(algorithm: Algorithm, pem: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

    let text = std::str::from_utf8(pem).ok()?;
    let body = text
        .split("-----BEGIN EC PRIVATE KEY-----")
        .nth(1)?
        .split("-----END EC PRIVATE KEY-----")
        .next()?;
    let body: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let sec1 = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    let sec1 = without_curve_parameters(&sec1)?;
    let curve = if algorithm == Algorithm::ES256 {
        P256
    } else {
        P384
    };

    let algorithm_id = der(0x30, &[EC_PUBLIC_KEY, curve].concat());
    let content = [&[0x02, 0x01, 0x00][..], &algorithm_id, &der(0x04, &sec1)].concat();
    Some(der(0x30, &content))
}

/// The SEC1 `ECPrivateKey` without its optional `[0]` curve parameters, which
/// PKCS#8 carries in the algorithm identifier instead (and backends refuse twice).
fn without_curve_parameters(sec1: &[u8]) -> Option<Vec<u8>> {
    let (tag, mut content, rest) = read_tlv(sec1)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let mut kept = Vec::with_capacity(content.len());
    while !content.is_empty() {
        let (tag, _, rest) = read_tlv(content)?;
        let whole = &content[..content.len() - rest.len()];
        if tag != 0xa0 {
            kept.extend_from_slice(whole);
        }
        content = rest;
    }
    Some(der(0x30, &kept))
}

/// Splits one DER TLV (definite length up to 2 bytes) off `input`:
/// `(tag, content, rest)`.
fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, input) = input.split_first()?;
    let (&first, input) = input.split_first()?;
    let (len, input) = match first {
        0..=0x7f => (usize::from(first), input),
        0x81 => (usize::from(*input.first()?), &input[1..]),
        0x82 => (
            usize::from(*input.first()?) << 8 | usize::from(*input.get(1)?),
            input.get(2..)?,
        ),
        _ => return None,
    };
    let content = input.get(..len)?;
    Some((tag, content, &input[len..]))
}

/// One DER TLV with a definite length.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(len + 4);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}
