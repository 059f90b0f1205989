//! Whether the tests run in CI: there a missing tool (Redis, a browser, the
//! test vectors, Python or node packages) fails the test instead of skipping
//! it. Every helper that skips asks [`in_ci`], so `CI=true`, `CI=1` and any
//! other value CI systems set mean the same thing.

#![allow(dead_code)]

/// `CI` is set to anything but empty, `false` or `0` (as `CI=true`, `CI=1`,
/// `CI=yes` — the values CI systems use).
pub fn in_ci() -> bool {
    is_ci_value(std::env::var("CI").ok().as_deref())
}

/// The decision of [`in_ci`] for a value of `CI` (`None`: unset).
pub fn is_ci_value(value: Option<&str>) -> bool {
    match value.map(str::trim) {
        None | Some("") | Some("0") => false,
        Some(v) => !v.eq_ignore_ascii_case("false"),
    }
}

#[test]
fn ci_is_any_value_but_empty_false_or_zero() {
    for yes in ["true", "1", "yes", "TRUE", "woodpecker"] {
        assert!(is_ci_value(Some(yes)), "{yes}");
    }
    for no in [None, Some(""), Some("0"), Some("false"), Some("False")] {
        assert!(!is_ci_value(no), "{no:?}");
    }
}
