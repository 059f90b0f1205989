//! Keys, each bound to exactly one algorithm.
//!
//! The algorithm a token is verified with comes from the key that verifies it,
//! never from the token's header: a header whose `alg` differs from the key's
//! is rejected before any cryptography runs. There is no way to build a key
//! for `none`, so unsigned tokens cannot be accepted.

mod algorithm;
mod backend;
mod der;
mod error;
mod jwk;
mod keyset;
mod signing;
mod source;
mod thumbprint;
mod verifying;

pub use jsonwebtoken::Algorithm;
pub use jsonwebtoken::jwk::Jwk;

pub(crate) use algorithm::algorithm_name;
pub use algorithm::{min_hmac_secret_len, parse_algorithm};
pub use error::KeyError;
pub use keyset::KeySet;
pub use signing::SigningKey;
pub use source::KeySource;
pub(crate) use source::KeysRefetch;
#[cfg(feature = "jwks")]
pub(crate) use source::{RemoteKeys, Snapshot};
pub use verifying::VerifyingKey;
