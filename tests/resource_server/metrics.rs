//! `GET /metrics` of the built example (always built with `--features full`):
//! the Prometheus text format, counting this process's decisions.

use crate::support::{self, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_each_refusal_by_outcome_and_reason() {
    // A port nothing listens on: no keys, so a token gets 503.
    let issuer = format!("http://127.0.0.1:{}", support::free_port());
    let server = Server::start(&[("OIDC_ISSUER", &issuer), ("JWT_AUDIENCE", "api")]).await;

    assert_eq!(server.get("/protected/ping", None).await.status, 401);
    let token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ4In0.c2ln";
    assert_eq!(server.get("/protected/ping", Some(token)).await.status, 503);

    let reply = server.get("/metrics", None).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        reply.header("content-type").starts_with("text/plain"),
        "{reply:?}"
    );
    for line in [
        r#"tower_jwt_auth_decisions_total{outcome="rejected",reason="missing_credentials"} 1"#,
        r#"tower_jwt_auth_decisions_total{outcome="unavailable",reason="keys_unavailable"} 1"#,
        "# TYPE tower_jwt_auth_decisions_total counter",
    ] {
        assert!(
            reply.body.lines().any(|l| l == line),
            "{line} in {}",
            reply.body
        );
    }
    assert!(!reply.body.contains("127.0.0.1"), "no URL in a label");
}
