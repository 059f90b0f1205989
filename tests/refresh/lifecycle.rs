//! The session lifecycle's ways out (issue 14): logout everywhere racing a
//! refresh, a revoked family outliving its access tokens, logout ending the
//! whole session, and verifiers with a larger leeway than the issuer's.

use super::*;

use tokio::sync::Notify;

#[tokio::test]
async fn logout_all_during_an_in_flight_refresh_leaves_that_session_dead() {
    let f = fixture();
    let entered = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    // The refresh passes its checks, then waits in the hook while
    // `logout_all` runs; only then does it mint and rotate.
    let sessions = f.sessions.clone().reload_claims({
        let (entered, release) = (entered.clone(), release.clone());
        move |claims: Claims<User>| {
            let (entered, release) = (entered.clone(), release.clone());
            async move {
                entered.notify_one();
                release.notified().await;
                Ok(claims.custom)
            }
        }
    });
    let app = app(&sessions);
    let stolen = sessions.login("alice", &user("admin")).await.unwrap();
    let in_flight = tokio::spawn({
        let (sessions, token) = (sessions.clone(), stolen.refresh_token.clone());
        async move { sessions.refresh(&token).await }
    });
    entered.notified().await;
    sessions.logout_all("alice").await.unwrap();
    release.notify_one();

    match in_flight.await.unwrap() {
        Err(error) => assert_eq!(error.status(), StatusCode::UNAUTHORIZED),
        Ok(pair) => {
            assert_eq!(
                me(&app, &pair.access_token).await,
                StatusCode::UNAUTHORIZED,
                "the pair minted by the racing refresh must not work"
            );
            assert!(
                sessions.refresh(&pair.refresh_token).await.is_err(),
                "the racing refresh's token must not keep the session alive"
            );
        }
    }
    assert_eq!(
        me(&app, &stolen.access_token).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_replayed_family_stays_revoked_until_its_last_access_token_expires() {
    let clock = ManualClock::at_secs(START);
    let store = MemoryStore::with_clock(clock.clone());
    // Session 100 s, access 60 s, refresh 600 s (capped at the session end).
    let config = config(&clock).session_lifetime(Duration::from_secs(100));
    let f = fixture_with(config, clock.clone(), Arc::new(store.clone()));
    let first = f.sessions.login("alice", &user("admin")).await.unwrap();
    // A refresh just before the session ends mints an access token that
    // lives until START + 150, well past the session's end.
    clock.set_secs(START + 90);
    let last = f.sessions.refresh(&first.refresh_token).await.unwrap();
    assert_eq!(me(&f.app, &last.access_token).await, StatusCode::OK);
    // A replay revokes the family.
    assert!(f.sessions.refresh(&first.refresh_token).await.is_err());
    assert_eq!(
        me(&f.app, &last.access_token).await,
        StatusCode::UNAUTHORIZED
    );

    // After the session's end (plus leeway), while that token is unexpired.
    clock.set_secs(START + 140);
    store
        .revoke_token("unrelated", START + 10_000)
        .await
        .unwrap();
    assert_eq!(
        me(&f.app, &last.access_token).await,
        StatusCode::UNAUTHORIZED,
        "the family's revocation must outlive its last access token"
    );
}

#[tokio::test]
async fn a_logged_out_session_stays_revoked_until_its_last_access_token_expires() {
    let clock = ManualClock::at_secs(START);
    let store = MemoryStore::with_clock(clock.clone());
    let config = config(&clock).session_lifetime(Duration::from_secs(100));
    let f = fixture_with(config, clock.clone(), Arc::new(store.clone()));
    let first = f.sessions.login("alice", &user("admin")).await.unwrap();
    clock.set_secs(START + 90);
    let last = f.sessions.refresh(&first.refresh_token).await.unwrap();
    let access = f
        .sessions
        .verifier()
        .verify::<User>(&last.access_token, tower_jwt_auth::TokenType::Access)
        .unwrap();
    f.sessions
        .logout(&access, Some(&last.refresh_token))
        .await
        .unwrap();
    // An access token of the same session minted earlier (START + 90 too,
    // here the pair's own): gone with the session, past the session's end.
    clock.set_secs(START + 140);
    store
        .revoke_token("unrelated", START + 10_000)
        .await
        .unwrap();
    let token = TokenRef {
        jti: "another-access-token-of-the-session",
        subject: "alice",
        session: access.sid.as_deref(),
        issued_at_micros: access.issued_at_micros(),
    };
    assert!(store.is_revoked(&token).unwrap());
}

#[tokio::test]
async fn logout_without_a_refresh_token_ends_the_whole_session() {
    let f = fixture();
    let pair = f.sessions.login("alice", &user("admin")).await.unwrap();
    // A second access token of the same session (the pair after a refresh).
    let next = pair_of(refresh(&f.app, &pair.refresh_token).await).await;
    let access = f
        .sessions
        .verifier()
        .verify::<User>(&pair.access_token, tower_jwt_auth::TokenType::Access)
        .unwrap();
    f.sessions.logout(&access, None).await.unwrap();
    assert_eq!(
        me(&f.app, &pair.access_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me(&f.app, &next.access_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_invalid_token(&refresh(&f.app, &next.refresh_token).await);
}

#[tokio::test]
async fn logout_with_a_bad_refresh_token_still_ends_the_session() {
    let f = fixture();
    let pair = f.sessions.login("alice", &user("admin")).await.unwrap();
    let access = f
        .sessions
        .verifier()
        .verify::<User>(&pair.access_token, tower_jwt_auth::TokenType::Access)
        .unwrap();
    f.sessions
        .logout(&access, Some("not.a.token"))
        .await
        .unwrap();
    assert_eq!(
        me(&f.app, &pair.access_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_invalid_token(&refresh(&f.app, &pair.refresh_token).await);
}

#[tokio::test]
async fn a_layer_with_a_larger_leeway_never_accepts_a_revoked_token_again() {
    let clock = ManualClock::at_secs(START);
    let store = MemoryStore::with_clock(clock.clone());
    // The issuer's verifier allows 5 s; a layer sharing the store, 600 s.
    let f = fixture_with(config(&clock), clock.clone(), Arc::new(store.clone()));
    let lenient = Verifier::new(
        VerifyingKey::hmac(Algorithm::HS256, SECRET).unwrap(),
        config(&clock).leeway(Duration::from_secs(600)),
    );
    let lenient_app = Router::new()
        .route("/me", get(|| async { "ok" }))
        .route_layer(
            JwtAuthLayer::new(lenient)
                .claims::<User>()
                .shared_store(Arc::new(store.clone())),
        );
    // A stand-alone access token (no session): only its `jti` is revoked.
    let token = f
        .sessions
        .issuer()
        .access_token("alice", &user("admin"))
        .unwrap();
    let access = f
        .sessions
        .verifier()
        .verify::<User>(&token, tower_jwt_auth::TokenType::Access)
        .unwrap();
    f.sessions.logout(&access, None).await.unwrap();

    // Expired for the issuer, still within the lenient layer's leeway.
    clock.set_secs(access.exp + 100);
    store
        .revoke_token("unrelated", START + 10_000)
        .await
        .unwrap();
    assert_eq!(
        me(&lenient_app, &token).await,
        StatusCode::UNAUTHORIZED,
        "the revocation must be kept for the largest leeway reading the store"
    );
}

#[tokio::test]
async fn listing_is_bounded_and_logout_all_still_ends_every_session() {
    use tower_jwt_auth::revocation::MAX_LISTED_SESSIONS;
    let f = fixture();
    let count = MAX_LISTED_SESSIONS + 44;
    let mut pairs = Vec::with_capacity(count);
    for _ in 0..count {
        pairs.push(f.sessions.login("alice", &user("admin")).await.unwrap());
    }
    assert_eq!(
        f.sessions.sessions("alice").await.unwrap().len(),
        MAX_LISTED_SESSIONS
    );
    f.sessions.logout_all("alice").await.unwrap();
    assert!(f.sessions.sessions("alice").await.unwrap().is_empty());
    for pair in &pairs {
        let sid = &pair.session().id;
        assert!(
            f.store
                .is_revoked(&TokenRef {
                    jti: "any",
                    subject: "someone-else",
                    session: Some(sid),
                    issued_at_micros: u64::MAX,
                })
                .unwrap(),
            "every family is revoked, not only the listed ones"
        );
    }
}
