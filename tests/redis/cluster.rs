//! `RedisStore` on a three-master Redis Cluster started on loopback ports.

use std::process::Command;
use std::time::Duration;

use tower_jwt_auth::RedisStore;
use tower_jwt_auth::revocation::RevocationStore;

use super::redis_server::RedisServer;
use super::suite::{self, later, token, unique};
use super::{HANG_GUARD, instances::until_revoked};

/// Three masters covering every slot; killed when dropped.
struct Cluster {
    nodes: Vec<RedisServer>,
}

impl Cluster {
    fn start() -> Option<Self> {
        let mut nodes = Vec::new();
        for _ in 0..3 {
            nodes.push(RedisServer::start_with(&[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--appendonly",
                "no",
            ])?);
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        let status = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            status.status.success(),
            "cluster create failed: {}",
            String::from_utf8_lossy(&status.stdout)
        );
        let cluster = Self { nodes };
        cluster.wait_until_ok();
        Some(cluster)
    }

    /// Redis offers no notification for "cluster state ok"; poll each node.
    fn wait_until_ok(&self) {
        let deadline = std::time::Instant::now() + HANG_GUARD;
        for node in &self.nodes {
            loop {
                let info = Command::new("redis-cli")
                    .args(["-p", &node.port().to_string(), "cluster", "info"])
                    .output()
                    .expect("redis-cli cluster info");
                if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "cluster never became ok"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    async fn store(&self, prefix: &str, first_node: usize) -> RedisStore {
        let mut urls = self.urls();
        urls.rotate_left(first_node);
        RedisStore::cluster(urls)
            .prefix(prefix)
            .connect()
            .await
            .expect("connect to the test cluster")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_store_on_a_cluster_passes_the_conformance_suite_and_shares_revocations() {
    let Some(cluster) = tokio::task::spawn_blocking(Cluster::start).await.unwrap() else {
        return;
    };
    let prefix = unique("cluster");
    let a = cluster.store(&prefix, 0).await;

    suite::revoked_jti_is_revoked_and_others_are_not(&a).await;
    suite::subject_cutoff_revokes_only_tokens_issued_before_it(&a).await;
    suite::later_cutoff_replaces_earlier_and_earlier_never_lowers_it(&a).await;
    suite::rotation_moves_the_family_forward(&a).await;
    suite::presenting_a_retired_jti_revokes_the_family(&a).await;
    suite::unknown_family_never_rotates(&a).await;
    suite::revoked_family_stops_rotating_and_revokes_its_access_tokens(&a).await;
    suite::revoking_an_unknown_family_still_revokes_it(&a).await;
    // Sessions and the reuse grace: each script touches one slot.
    suite::retired_token_within_the_grace_rotates_again_and_retires_the_newer_pair(&a).await;
    suite::retrying_never_extends_the_grace(&a).await;
    suite::sessions_lists_the_subjects_live_sessions_with_their_times(&a).await;
    suite::revoked_replayed_and_ended_sessions_are_not_listed(&a).await;
    suite::end_session_revokes_the_family_and_its_access_tokens(&a).await;
    suite::ending_another_subjects_session_is_not_found_and_changes_nothing(&a).await;

    // Another instance, subscribed through another node, hears each change.
    let b = cluster.store(&prefix, 2).await;
    let jti = unique("jti");
    a.revoke_token(&jti, later()).await.unwrap();
    until_revoked(&b, token(&jti, "s", None, 1)).await;

    // Keys spread over every master; a late instance loads them all.
    let jtis: Vec<String> = (0..64).map(|_| unique("spread")).collect();
    for jti in &jtis {
        a.revoke_token(jti, later()).await.unwrap();
    }
    let late = cluster.store(&prefix, 1).await;
    for jti in &jtis {
        assert!(late.is_revoked(&token(jti, "s", None, 1)).unwrap(), "{jti}");
    }

    let shared = std::sync::Arc::new(a);
    suite::concurrent_rotation_has_exactly_one_winner(shared).await;
    drop(cluster);
}
