//! What a layer demands of DPoP: the mode, the proof rules, where request
//! URIs come from, nonces, the replay store.

use std::fmt;
use std::sync::Arc;

use super::{DpopConfig, HtuOrigin, MemoryReplayStore, NonceIssuer, ReplayStore};
use crate::clock::{Clock, SystemClock};

/// Whether a layer takes DPoP-bound tokens, and whether it still takes
/// bearer tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DpopMode {
    /// Bearer tokens only: the `DPoP` scheme is not read (a request using
    /// it has no credentials). DPoP-bound tokens are still refused as
    /// `Bearer`.
    Off,
    /// Bearer tokens as before, and DPoP-bound tokens with a valid proof
    /// (the default). A bound token presented as `Bearer` is refused.
    #[default]
    Allowed,
    /// DPoP-bound tokens with a valid proof only; bearer tokens are refused.
    Required,
}

/// A layer's DPoP settings; see [`JwtAuthLayer::dpop`](crate::JwtAuthLayer::dpop).
///
/// ```
/// use tower_jwt_auth::dpop::{DpopPolicy, HtuOrigin, NonceIssuer};
///
/// let policy = DpopPolicy::required()
///     .origin(HtuOrigin::external("https://api.example.com")?)
///     .nonces(NonceIssuer::new(b"a nonce secret of at least 32 bytes!")?);
/// # let _ = policy;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct DpopPolicy {
    pub(crate) mode: DpopMode,
    pub(crate) config: DpopConfig,
    pub(crate) origin: Option<HtuOrigin>,
    pub(crate) nonces: Option<NonceIssuer>,
    pub(crate) replay: Arc<dyn ReplayStore>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl fmt::Debug for DpopPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopPolicy")
            .field("mode", &self.mode)
            .field("config", &self.config)
            .field("origin", &self.origin)
            .field("nonces", &self.nonces)
            .field("replay", &self.replay)
            .finish_non_exhaustive()
    }
}

impl Default for DpopPolicy {
    fn default() -> Self {
        Self::allowed()
    }
}

impl DpopPolicy {
    fn with_mode(mode: DpopMode) -> Self {
        Self {
            mode,
            config: DpopConfig::new(),
            origin: None,
            nonces: None,
            replay: Arc::new(MemoryReplayStore::new()),
            clock: Arc::new(SystemClock),
        }
    }

    /// [`DpopMode::Off`].
    pub fn off() -> Self {
        Self::with_mode(DpopMode::Off)
    }

    /// [`DpopMode::Allowed`] (the default), with the default
    /// [`DpopConfig`], a fresh [`MemoryReplayStore`], no nonces and no
    /// origin: until [`origin`](Self::origin) is set, every DPoP request is
    /// refused (there is no URI to check its proof against).
    pub fn allowed() -> Self {
        Self::with_mode(DpopMode::Allowed)
    }

    /// [`DpopMode::Required`], otherwise as [`allowed`](Self::allowed).
    pub fn required() -> Self {
        Self::with_mode(DpopMode::Required)
    }

    /// The mode.
    pub const fn mode(&self) -> DpopMode {
        self.mode
    }

    /// Where the scheme, host and port of the request URI come from (see
    /// [`HtuOrigin::external`]).
    #[must_use]
    pub fn origin(mut self, origin: HtuOrigin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// What proofs must look like (algorithms, `iat` window, bounds).
    #[must_use]
    pub fn config(mut self, config: DpopConfig) -> Self {
        self.config = config;
        self
    }

    /// Require server nonces, issued and checked by `nonces` (give every
    /// instance the same secret).
    #[must_use]
    pub fn nonces(mut self, nonces: NonceIssuer) -> Self {
        self.nonces = Some(nonces);
        self
    }

    /// Where proof `jti`s are recorded (share one `RedisReplayStore`
    /// between instances behind a load balancer).
    #[must_use]
    pub fn replay_store(self, store: impl ReplayStore) -> Self {
        self.shared_replay_store(Arc::new(store))
    }

    /// As [`replay_store`](Self::replay_store), for a store behind an `Arc`.
    #[must_use]
    pub fn shared_replay_store(mut self, store: Arc<dyn ReplayStore>) -> Self {
        self.replay = store;
        self
    }

    /// The clock proofs' `iat` and nonces are checked against.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }
}
