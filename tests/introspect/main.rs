//! Introspection tests.
