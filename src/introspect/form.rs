//! `application/x-www-form-urlencoded`, both ways (the WHATWG URL standard's
//! serializer and parser), for introspection requests and HTTP Basic client
//! credentials (RFC 6749 §2.3.1 encodes them before base64).

/// Appends `value`, form-encoded, to `out`.
pub(crate) fn encode_into(out: &mut String, value: &str) {
    for &byte in value.as_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
        }
    }
}

/// `value`, form-encoded.
#[cfg_attr(not(feature = "introspection"), allow(dead_code))]
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    encode_into(&mut out, value);
    out
}

/// A form body from its pairs, in order.
#[cfg_attr(not(feature = "introspection"), allow(dead_code))]
pub(crate) fn encode_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        encode_into(&mut out, name);
        out.push('=');
        encode_into(&mut out, value);
    }
    out
}

/// The decoded name–value pairs of a form body; `None` when a decoded name or
/// value is not UTF-8.
pub(crate) fn decode_pairs(body: &[u8]) -> Option<Vec<(String, String)>> {
    body.split(|&b| b == b'&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = match part.iter().position(|&b| b == b'=') {
                Some(at) => (&part[..at], &part[at + 1..]),
                None => (part, &b""[..]),
            };
            Some((decode(name)?, decode(value)?))
        })
        .collect()
}

/// One form-encoded component, decoded; `None` when it is not UTF-8.
pub(crate) fn decode(input: &[u8]) -> Option<String> {
    let hex = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                input.get(i + 1).copied().and_then(hex),
                input.get(i + 2).copied().and_then(hex),
            ) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                // A `%` not followed by two hex digits stands for itself.
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_every_byte_class() {
        let value = "a b+c&d=e%f/é\u{1F600}~*-._";
        let body = encode_pairs([("token", value), ("token_type_hint", "access_token")]);
        assert!(
            !body.contains(' ') && body.matches('&').count() == 1,
            "{body}"
        );
        let pairs = decode_pairs(body.as_bytes()).unwrap();
        assert_eq!(pairs[0], ("token".into(), value.into()));
        assert_eq!(pairs[1], ("token_type_hint".into(), "access_token".into()));
    }

    #[test]
    fn decoding_is_lenient_where_the_standard_is() {
        assert_eq!(
            decode_pairs(b"a=%zz&&b&c=%4").unwrap(),
            vec![
                ("a".into(), "%zz".into()),
                ("b".into(), String::new()),
                ("c".into(), "%4".into())
            ]
        );
        assert!(decode_pairs(b"a=%ff").is_none(), "not UTF-8");
    }
}
