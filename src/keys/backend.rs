//! The crypto backend jsonwebtoken signs and verifies with: aws-lc-rs
//! (default) or RustCrypto, chosen by feature.

// With both backends enabled (as `--all-features` does), aws-lc-rs is used.
#[cfg(not(any(feature = "aws_lc_rs", feature = "rust_crypto")))]
compile_error!("enable one crypto backend: `aws_lc_rs` (default) or `rust_crypto`");

#[cfg(feature = "aws_lc_rs")]
pub(super) use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER as PROVIDER;
#[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
pub(super) use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER as PROVIDER;

/// jsonwebtoken's JWK helpers use its process-wide provider, which it
/// cannot choose itself when both backends are compiled in: make it ours.
pub(super) fn install_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = PROVIDER.install_default();
    });
}
