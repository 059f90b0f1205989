//! The moment this store began to keep other issuers' revocations under
//! issuer-scoped ids, so that cutoffs written before it stay enforced for
//! every issuer's tokens, as they were written (`crate::RevocationScope`).

use super::{Shared, StoreError};

/// Reads the store's scoping marker, setting it to now if no instance has
/// yet, and hands it to the view. Runs before the first load: until then the
/// view treats no cutoff as written before scoping.
pub(super) async fn read_marker(shared: &Shared) -> Result<(), StoreError> {
    let key = shared.names.scoping_marker();
    let now = shared.view.now_micros();
    let since: Option<String> = shared
        .backend
        .invoke(
            shared.scripts.set_once.key(&key).arg(now),
            shared.command_timeout,
        )
        .await?;
    match since.as_deref().map(str::parse::<u64>) {
        Some(Ok(since)) => shared.view.set_scoped_since(since),
        // Anything else under the key is another program's: refusing it
        // would keep the store from starting, so the legacy rule is off
        // (scoped tokens then answer to scoped entries only) and it is said.
        _ => tracing::warn!(
            key = %key,
            "redis key holds no scoping time: cutoffs written before issuer scoping are not \
             applied to other issuers' tokens; delete the key and restart to set it"
        ),
    }
    Ok(())
}
