//! The token source parser on arbitrary headers, alone and through the layer.
//!
//! Input: lines separated by `\n`; the first byte of a line picks the header
//! (`a` authorization, `c` cookie, `x` x-token, anything else an unrelated
//! header), the rest is its value. Seeds in `corpus/token_source` read as
//! `aBearer a.b.c`.

#![no_main]

use std::convert::Infallible;
use std::sync::OnceLock;

use futures_util::FutureExt as _;
use http::header::{AUTHORIZATION, COOKIE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use libfuzzer_sys::fuzz_target;
use tower::{Layer as _, ServiceExt as _};
use tower_jwt_auth::__fuzz::{TokenSource, extract_token};
use tower_jwt_auth::{Algorithm, JwtAuthLayer, JwtConfig, Verifier, VerifyingKey};

const X_TOKEN: HeaderName = HeaderName::from_static("x-token");

fn sources() -> [TokenSource; 3] {
    [
        TokenSource::bearer(),
        TokenSource::cookie("at"),
        TokenSource::header(X_TOKEN),
    ]
}

fn layer() -> &'static JwtAuthLayer {
    static LAYER: OnceLock<JwtAuthLayer> = OnceLock::new();
    LAYER.get_or_init(|| {
        let key = VerifyingKey::hmac(Algorithm::HS256, &[0x42; 32]).unwrap();
        JwtAuthLayer::new(Verifier::new(key, JwtConfig::new())).sources(sources())
    })
}

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some((&selector, value)) = line.split_first() else {
            continue;
        };
        let name = match selector {
            b'a' => AUTHORIZATION,
            b'c' => COOKIE,
            b'x' => X_TOKEN,
            _ => HeaderName::from_static("x-other"),
        };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    }

    // Each source alone, then all in order: a token found is a non-empty run
    // of visible ASCII taken verbatim from one of the header values.
    let all = sources();
    for source in &all {
        check(extract_token(std::slice::from_ref(source), &headers), &headers);
    }
    let found = extract_token(&all, &headers);
    check(found, &headers);
    let nothing_presented = found == Ok(None);

    // Through the layer: nothing this input can hold is a valid token, so the
    // answer is always 401 with a Bearer challenge and an empty body.
    let mut request = Request::new(());
    *request.headers_mut() = headers;
    let service = layer().layer(tower::service_fn(|_: Request<()>| async {
        Ok::<_, Infallible>(Response::new(String::from("inner")))
    }));
    let response = service
        .oneshot(request)
        .now_or_never()
        .expect("the layer never waits")
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()[WWW_AUTHENTICATE].to_str().unwrap();
    if nothing_presented {
        assert_eq!(challenge, "Bearer");
    } else {
        assert_eq!(challenge, "Bearer error=\"invalid_token\"");
    }
    assert!(response.body().is_empty());
});

fn check(found: Result<Option<&str>, tower_jwt_auth::__fuzz::AuthErrorKind>, headers: &HeaderMap) {
    if let Ok(Some(token)) = found {
        assert!(!token.is_empty());
        assert!(token.bytes().all(|b| b.is_ascii_graphic()), "{token:?}");
        assert!(
            headers.values().any(|v| v
                .as_bytes()
                .windows(token.len())
                .any(|w| w == token.as_bytes())),
            "{token:?} is not from a header"
        );
    }
}
