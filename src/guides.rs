//! Guides: how to do each thing this crate does, with examples that
//! `cargo test` compiles. Each is also a Markdown file in `docs/`.

#[doc = include_str!("../docs/axum.md")]
pub mod axum_router {}

#[doc = include_str!("../docs/guards.md")]
pub mod guards_and_rejections {}

#[doc = include_str!("../docs/tonic.md")]
pub mod tonic {}

#[doc = include_str!("../docs/sessions.md")]
pub mod sessions {}

#[doc = include_str!("../docs/redis.md")]
pub mod redis {}

#[doc = include_str!("../docs/identity_providers.md")]
pub mod identity_providers {}

#[doc = include_str!("../docs/federation.md")]
pub mod federation {}

#[doc = include_str!("../docs/dpop.md")]
pub mod sender_constrained_tokens {}
#[doc = include_str!("../docs/behind-a-proxy.md")]
pub mod behind_a_proxy {}

#[doc = include_str!("../docs/introspection.md")]
pub mod opaque_tokens {}
#[doc = include_str!("../docs/browser.md")]
pub mod browser_apps {}

#[doc = include_str!("../docs/openapi.md")]
pub mod openapi {}
#[cfg(feature = "websocket")]
#[doc = include_str!("../docs/websockets.md")]
pub mod websockets {}

#[doc = include_str!("../docs/observability.md")]
pub mod observability {}

#[doc = include_str!("../docs/migration.md")]
pub mod migration {}
