//! A revocation store whose backend is down: every call fails, as a Redis
//! store does when it cannot answer. Include with
//! `#[path = "../support/down_store.rs"] mod down_store;`.

use tower_jwt_auth::StoreError;
use tower_jwt_auth::revocation::{
    NewSession, RevocationStore, Rotation, RotationRequest, SessionRecord, StoreFuture, TokenRef,
};

/// Every call answers [`StoreError`].
#[derive(Debug)]
pub struct DownStore;

fn down<'a, T: Send + 'a>() -> StoreFuture<'a, T> {
    Box::pin(async { Err(StoreError::new("down for the test")) })
}

impl RevocationStore for DownStore {
    fn is_revoked(&self, _: &TokenRef<'_>) -> Result<bool, StoreError> {
        Err(StoreError::new("down for the test"))
    }
    fn revoke_token<'a>(&'a self, _: &'a str, _: u64) -> StoreFuture<'a, ()> {
        down()
    }
    fn revoke_subject<'a>(&'a self, _: &'a str, _: u64, _: u64) -> StoreFuture<'a, ()> {
        down()
    }
    fn start_session<'a>(&'a self, _: NewSession<'a>) -> StoreFuture<'a, ()> {
        down()
    }
    fn rotate_session<'a>(&'a self, _: RotationRequest<'a>) -> StoreFuture<'a, Rotation> {
        down()
    }
    fn revoke_family<'a>(&'a self, _: &'a str, _: u64) -> StoreFuture<'a, ()> {
        down()
    }
    fn sessions<'a>(&'a self, _: &'a str) -> StoreFuture<'a, Vec<SessionRecord>> {
        down()
    }
    fn end_session<'a>(&'a self, _: &'a str, _: &'a str, _: u64) -> StoreFuture<'a, bool> {
        down()
    }
}
