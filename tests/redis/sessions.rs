//! Sessions over Redis (issue 14) through `SessionManager` and the demo, on
//! two instances sharing one Redis: logout everywhere racing a refresh,
//! a retry within the reuse grace, and a session listed and ended from the
//! other instance.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tower_jwt_auth::revocation::{RevocationStore, TokenRef};
use tower_jwt_auth::{
    Algorithm, Claims, JwtConfig, NoCustomClaims, RedisStore, SessionManager, SigningKey,
    TokenIssuer, TokenType, Verifier, VerifyingKey,
};

use super::instances::until_revoked;
use super::redis_server::shared_redis_url;
use super::suite::unique;

const SECRET: &[u8] = b"redis-sessions-secret-of-at-least-32-bytes";

async fn two_instances() -> Option<(RedisStore, RedisStore)> {
    let url = shared_redis_url()?;
    let prefix = unique("sessions");
    let connect = || {
        RedisStore::builder(url.as_str())
            .prefix(prefix.as_str())
            .connect()
    };
    Some((connect().await.unwrap(), connect().await.unwrap()))
}

fn manager(store: RedisStore) -> SessionManager {
    let config = JwtConfig::new();
    SessionManager::new(
        TokenIssuer::new(
            SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            config.clone(),
        ),
        Verifier::new(
            VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            config,
        ),
        Arc::new(store),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_everywhere_on_one_instance_kills_a_refresh_in_flight_on_the_other() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let entered = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let on_a = manager(a).reload_claims({
        let (entered, release) = (entered.clone(), release.clone());
        move |claims: Claims| {
            let (entered, release) = (entered.clone(), release.clone());
            async move {
                entered.notify_one();
                release.notified().await;
                Ok(claims.custom)
            }
        }
    });
    let on_b = manager(b);
    let stolen = on_a.login("alice", &NoCustomClaims {}).await.unwrap();
    let in_flight = tokio::spawn({
        let (sessions, token) = (on_a.clone(), stolen.refresh_token.clone());
        async move { sessions.refresh(&token).await }
    });
    entered.notified().await;
    on_b.logout_all("alice").await.unwrap();
    release.notify_one();
    // The rotation is decided in Redis, after the family was revoked there.
    let outcome = tokio::time::timeout(Duration::from_secs(20), in_flight)
        .await
        .unwrap()
        .unwrap();
    assert!(outcome.is_err(), "the racing refresh must fail");
    assert!(on_b.refresh(&stolen.refresh_token).await.is_err());
}

#[tokio::test]
async fn a_retry_within_the_grace_rotates_again_on_the_other_instance() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let on_a = manager(a).reuse_grace(Duration::from_secs(60));
    let on_b = manager(b).reuse_grace(Duration::from_secs(60));
    let first = on_a.login("alice", &NoCustomClaims {}).await.unwrap();
    let lost = on_a.refresh(&first.refresh_token).await.unwrap();
    let retried = on_b.refresh(&first.refresh_token).await.unwrap();
    let next = on_a.refresh(&retried.refresh_token).await.unwrap();
    let last = on_b
        .refresh(&next.refresh_token)
        .await
        .expect("the session goes on from the retry");
    // The pair whose response was lost was retired by the retry: its refresh
    // token, presented now, is a replay (refused, on the other instance
    // too), which ends the session like any replay.
    assert!(
        on_b.refresh(&lost.refresh_token).await.is_err(),
        "the lost pair is retired"
    );
    assert!(
        on_a.refresh(&last.refresh_token).await.is_err(),
        "the replay of the lost pair ended the session"
    );
}

#[tokio::test]
async fn a_session_listed_and_ended_on_one_instance_is_refused_on_the_other() {
    let Some((a, b)) = two_instances().await else {
        return;
    };
    let subject = unique("alice");
    let view_a = a.clone();
    let on_a = manager(a);
    let on_b = manager(b);
    let phone = on_a.login(&subject, &NoCustomClaims {}).await.unwrap();
    let laptop = on_a.login(&subject, &NoCustomClaims {}).await.unwrap();

    let listed = on_b.sessions(&subject).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&phone.session().id.as_str()));
    assert!(ids.contains(&laptop.session().id.as_str()));
    assert!(
        !on_b
            .end_session("mallory", &phone.session().id)
            .await
            .unwrap()
    );
    assert!(
        on_b.end_session(&subject, &phone.session().id)
            .await
            .unwrap()
    );

    // Refresh is refused at once (decided in Redis); the access token as soon
    // as instance A hears of it.
    assert!(on_a.refresh(&phone.refresh_token).await.is_err());
    let access = on_a
        .verifier()
        .verify::<NoCustomClaims>(&phone.access_token, TokenType::Access)
        .unwrap();
    until_revoked(
        &view_a,
        TokenRef {
            jti: &access.jti,
            subject: &access.sub,
            session: access.sid.as_deref(),
            issued_at_micros: access.issued_at_micros(),
        },
    )
    .await;
    let listed = on_a.sessions(&subject).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, laptop.session().id);
    assert!(on_a.refresh(&laptop.refresh_token).await.is_ok());
}

#[tokio::test]
async fn a_session_and_its_place_in_the_subjects_list_expire_with_it() {
    use deadpool_redis::redis;
    use tower_jwt_auth::revocation::NewSession;

    let Some(url) = shared_redis_url() else {
        return;
    };
    let prefix = unique("session-ttl");
    let store = RedisStore::builder(url.as_str())
        .prefix(prefix.as_str())
        .connect()
        .await
        .unwrap();
    let expires_at = super::suite::later();
    for (family, expires_at) in [("f1", expires_at), ("f2", expires_at + 50)] {
        store
            .start_session(NewSession {
                family,
                subject: "s1",
                jti: "r0",
                created_at: expires_at - 3600,
                ends_at: expires_at - 5,
                expires_at,
                jkt: None,
            })
            .await
            .unwrap();
    }
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    for (key, want) in [
        (
            super::redis_layout::family_key(&prefix, "f1"),
            expires_at + 1,
        ),
        (
            super::redis_layout::family_key(&prefix, "f2"),
            expires_at + 51,
        ),
        // The list lives as long as its longest-lived session.
        (format!("{prefix}:s:{{s1}}"), expires_at + 51),
    ] {
        let expiry: i64 = redis::cmd("EXPIRETIME")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(expiry, want as i64, "{key}");
    }
}

#[tokio::test]
async fn listing_answers_the_sessions_ending_last_and_no_more_than_the_bound() {
    use tower_jwt_auth::revocation::{MAX_LISTED_SESSIONS, NewSession};

    let Some((store, _)) = two_instances().await else {
        return;
    };
    let later = super::suite::later();
    let count = MAX_LISTED_SESSIONS + 4;
    for i in 0..count as u64 {
        let family = format!("fam-{i:04}");
        store
            .start_session(NewSession {
                family: &family,
                subject: "bounded",
                jti: "r0",
                created_at: later - 3600 + i,
                ends_at: later + i,
                expires_at: later + i + 5,
                jkt: None,
            })
            .await
            .unwrap();
    }
    let listed = store.sessions("bounded").await.unwrap();
    assert_eq!(listed.len(), MAX_LISTED_SESSIONS);
    assert_eq!(listed[0].id, "fam-0004", "the 4 ending first are left out");
    assert_eq!(listed.last().unwrap().id, format!("fam-{:04}", count - 1));
}

#[tokio::test]
async fn logout_everywhere_ends_an_old_session_behind_a_full_page_of_ended_ones() {
    use tower_jwt_auth::revocation::MAX_LISTED_SESSIONS;
    use tower_jwt_auth::{Clock, ManualClock, SystemClock};

    let Some((store, other)) = two_instances().await else {
        return;
    };
    // The sessions' clock, so the first login ends a second before the rest.
    let clock = ManualClock::at_secs(SystemClock.now_secs());
    let config = JwtConfig::new().clock(clock.clone());
    let sessions = SessionManager::new(
        TokenIssuer::new(
            SigningKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            config.clone(),
        ),
        Verifier::new(
            VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
            config,
        ),
        Arc::new(store),
    );
    let first = sessions.login("carol", &NoCustomClaims {}).await.unwrap();
    let first_sid = sessions
        .verifier()
        .verify::<NoCustomClaims>(&first.access_token, TokenType::Access)
        .unwrap()
        .sid
        .unwrap();
    clock.advance_secs(1);
    // A full page of sessions ended by logout, each still in carol's list.
    for _ in 0..MAX_LISTED_SESSIONS {
        let pair = sessions.login("carol", &NoCustomClaims {}).await.unwrap();
        let access = sessions
            .verifier()
            .verify::<NoCustomClaims>(&pair.access_token, TokenType::Access)
            .unwrap();
        sessions.logout(&access, None).await.unwrap();
    }
    sessions.logout_all("carol").await.unwrap();

    // Ended as a family, whatever the cutoff: here at once, and on the
    // other instance too.
    let later_token = TokenRef {
        jti: "after-the-cutoff",
        subject: "someone else",
        session: Some(&first_sid),
        issued_at_micros: u64::MAX,
    };
    assert!(
        sessions.store().is_revoked(&later_token).unwrap(),
        "the first session outlived logout-all"
    );
    until_revoked(&other, later_token).await;
    let listed = sessions.sessions("carol").await.unwrap();
    assert!(
        listed.is_empty(),
        "nothing of carol's is listed: {listed:?}"
    );
}
