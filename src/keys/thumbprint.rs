//! RFC 7638 thumbprints, and the public JWK a key publishes (named by its
//! `kid`, else by its thumbprint).

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};

/// The RFC 7638 SHA-256 thumbprint of a public JWK, base64url.
pub(super) fn thumbprint(jwk: &Jwk) -> Option<String> {
    jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
        .ok()
}

/// A public JWK for publishing: `use: "sig"` and a `kid` (the given one, or
/// the thumbprint), nothing private.
pub(super) fn named_public(mut jwk: Jwk, kid: Option<&str>) -> Jwk {
    let kid = kid.map(str::to_owned).or_else(|| thumbprint(&jwk));
    jwk.common.key_id = kid;
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk
}
