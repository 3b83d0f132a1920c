//! Sender-constrained tokens (DPoP, RFC 9449) against the real server, on the suite's engine: a bound
//! session's tokens are worth nothing without the key, and every kind of dishonest proof is refused.

mod key;

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::paths;

use crate::helpers::{
    PASSWORD, TestApp, TestDatabase, spawn_app, spawn_app_with, spawn_app_with_manual_clock, start_backend,
};
use crate::jose::claims;
use key::{Answer, DpopKey, b64, now_seconds};

/// A fresh account, logged in with a proof by `key` (paying the one nonce round trip): `data`.
async fn bound_login(app: &TestApp, key: &DpopKey) -> Value {
    login_answer(app, key, false).await.ok().clone()
}

/// A fresh account's login with a proof by `key`, in cookie mode or not.
async fn login_answer(app: &TestApp, key: &DpopKey, cookie_mode: bool) -> Answer {
    let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
    app.register(&email).await;
    let url = app.url(paths::LOGIN);
    let body = json!({"email": email, "password": PASSWORD});
    let delivery = if cookie_mode { "cookie" } else { "body" };
    key.send("POST", &url, None, || app.client.post(&url).header("X-Token-Delivery", delivery).json(&body)).await
}

async fn refresh_with(app: &TestApp, key: &DpopKey, refresh_token: &str) -> Answer {
    let url = app.url(paths::REFRESH);
    let body = json!({"refreshToken": refresh_token});
    key.send("POST", &url, None, || app.client.post(&url).json(&body)).await
}

async fn me_with(app: &TestApp, key: &DpopKey, access_token: &str) -> Answer {
    let url = app.url(paths::ME);
    key.send("GET", &url, Some(access_token), || {
        app.client.get(&url).header("Authorization", format!("DPoP {access_token}"))
    })
    .await
}

/// `/api/me` with the DPoP scheme and exactly this proof (no retry).
async fn me_with_proof(app: &TestApp, access_token: &str, proof: &str) -> Answer {
    let request = app.client.get(app.url(paths::ME)).header("Authorization", format!("DPoP {access_token}"));
    Answer::read(request.header("DPoP", proof).send().await.expect("request"), 1).await
}

#[tokio::test]
async fn a_login_with_a_proof_binds_the_session_and_its_tokens_to_the_key() {
    let app = spawn_app().await;
    let key = DpopKey::new();
    let login = login_answer(&app, &key, false).await;
    assert_eq!(login.sent, 2, "the first proof had no nonce and was answered with use_dpop_nonce");
    let data = login.ok();
    assert_eq!(data["token_type"], "DPoP");
    let access = data["access_token"].as_str().unwrap();
    assert_eq!(claims(access)["cnf"]["jkt"], key.thumbprint(), "cnf.jkt is the key's RFC 7638 thumbprint");
    assert!(login.header("dpop-nonce").is_some(), "a nonce comes with the answer for the next proof");

    // The next request already has the nonce: no second round trip.
    let me = me_with(&app, &key, access).await;
    assert_eq!((me.status, me.sent), (StatusCode::OK, 1), "{}", me.body);

    // A refresh keeps the binding.
    let refreshed = refresh_with(&app, &key, data["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.sent, 1);
    let refreshed = refreshed.ok();
    assert_eq!(refreshed["token_type"], "DPoP");
    assert_eq!(claims(refreshed["access_token"].as_str().unwrap())["cnf"]["jkt"], key.thumbprint());

    let metadata: Value = app.client.get(app.url(paths::OAUTH_METADATA)).send().await.unwrap().json().await.unwrap();
    assert_eq!(metadata["dpop_signing_alg_values_supported"], json!(["ES256", "EdDSA", "RS256", "PS256"]));
}

#[tokio::test]
async fn a_stolen_bound_access_token_is_refused_without_a_proof_by_its_key() {
    let app = spawn_app().await;
    let key = DpopKey::new();
    let login = bound_login(&app, &key).await;
    let access = login["access_token"].as_str().unwrap();
    // The owner's request first: the instance has verified the token and remembers it, and the binding
    // is still checked on every request that follows.
    assert_eq!(me_with(&app, &key, access).await.status, StatusCode::OK);

    // As a Bearer token.
    let bearer = Answer::read(app.get_with_token(paths::ME, access).await, 1).await;
    bearer.refused(401, "invalid_token");
    let challenge = bearer.header("www-authenticate").unwrap();
    assert!(challenge.starts_with("DPoP ") && challenge.contains("algs=\"ES256"), "{challenge}");
    // With the DPoP scheme and no proof.
    let bare = app.client.get(app.url(paths::ME)).header("Authorization", format!("DPoP {access}"));
    Answer::read(bare.send().await.unwrap(), 1).await.refused(401, "invalid_dpop_proof");
    // With a proof by the thief's own key (nonce and all).
    let thief = DpopKey::new();
    *thief.nonce.lock().unwrap() = key.nonce.lock().unwrap().clone();
    let stolen = me_with(&app, &thief, access).await;
    stolen.refused(401, "invalid_dpop_proof");
    assert!(stolen.header("www-authenticate").unwrap().contains(r#"error="invalid_dpop_proof""#));
    // Both schemes at once.
    let both = app
        .client
        .get(app.url(paths::ME))
        .header("Authorization", format!("DPoP {access}"))
        .header("Authorization", format!("Bearer {access}"));
    Answer::read(both.send().await.unwrap(), 1).await.refused(400, "validation_failed");
    // The owner is untouched.
    assert_eq!(me_with(&app, &key, access).await.status, StatusCode::OK);
}

#[tokio::test]
async fn every_dishonest_proof_at_a_resource_is_refused() {
    let app = spawn_app().await;
    let key = DpopKey::new();
    let login = bound_login(&app, &key).await;
    let access = login["access_token"].as_str().unwrap();
    let url = app.url(paths::ME);
    let honest = || key.claims("GET", &url, Some(access));
    let header = |alg: &str| json!({"typ": "dpop+jwt", "alg": alg, "jwk": key.jwk()});

    let mut cases: Vec<(&str, String)> = Vec::new();
    let mut with = |what: &'static str, change: &dyn Fn(&mut key::Claims)| {
        let mut claims = honest();
        change(&mut claims);
        cases.push((what, key.sign(&claims)));
    };
    with("htu with a query", &|c| c.htu.push_str("?x=1"));
    with("htu of another host", &|c| c.htu = c.htu.replace("127.0.0.1", "localhost"));
    with("htu of another path", &|c| c.htu = c.htu.replace("/api/me", "/api/sessions"));
    with("a wrong method", &|c| c.htm = "POST".into());
    with("a method in lower case", &|c| c.htm = "get".into());
    with("a stale iat", &|c| c.iat = now_seconds() - 600);
    with("an iat from the future", &|c| c.iat = now_seconds() + 600);
    with("no ath", &|c| c.ath = None);
    with("the ath of another token", &|c| c.ath = Some(b64(&[0; 32])));
    cases.push(("typ JWT", key.sign_with_header(&json!({"typ": "JWT", "alg": "ES256", "jwk": key.jwk()}), &honest())));
    cases.push(("alg none", key.sign_with_header(&header("none"), &honest())));
    cases.push(("alg HS256", key.sign_with_header(&header("HS256"), &honest())));
    let mut private = key.jwk();
    private["d"] = json!(b64(&[1; 32]));
    cases.push((
        "a private key in jwk",
        key.sign_with_header(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private}), &honest()),
    ));
    let other = DpopKey::new();
    cases.push((
        "signed by a key other than its jwk",
        other.sign_with_header(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()}), &honest()),
    ));
    cases.push(("not a JWS", "a.b".into()));

    for (what, proof) in cases {
        let answer = me_with_proof(&app, access, &proof).await;
        answer.refused(401, "invalid_dpop_proof");
        assert!(answer.header("www-authenticate").unwrap().contains("invalid_dpop_proof"), "{what}");
    }

    // A nonce the server never issued is a nonce challenge, with a fresh one.
    let mut claims = honest();
    claims.nonce = Some("forged".into());
    let answer = me_with_proof(&app, access, &key.sign(&claims)).await;
    answer.refused(401, "use_dpop_nonce");
    assert!(answer.header("dpop-nonce").is_some());

    // The same proof twice: the second is a replay.
    let proof = key.sign(&honest());
    assert_eq!(me_with_proof(&app, access, &proof).await.status, StatusCode::OK);
    me_with_proof(&app, access, &proof).await.refused(401, "invalid_dpop_proof");
}

#[tokio::test]
async fn a_stolen_bound_refresh_token_is_useless_and_cannot_end_the_owners_session() {
    let app = spawn_app().await;
    let key = DpopKey::new();
    let login = bound_login(&app, &key).await;
    let refresh = login["refresh_token"].as_str().unwrap();

    // Without a proof, and with a proof by another key: refused, not consumed, nothing revoked.
    let bare = Answer::read(app.refresh(refresh).await, 1).await;
    bare.refused(400, "invalid_dpop_proof");
    let thief = DpopKey::new();
    refresh_with(&app, &thief, refresh).await.refused(400, "invalid_dpop_proof");

    // The owner refreshes; the thief replays the old token with their key: still refused, and it is
    // not taken for reuse (which would end the owner's session).
    let rotated = refresh_with(&app, &key, refresh).await;
    let next = rotated.ok()["refresh_token"].as_str().unwrap().to_owned();
    refresh_with(&app, &thief, refresh).await.refused(400, "invalid_dpop_proof");
    let again = refresh_with(&app, &key, &next).await;
    assert_eq!(again.status, StatusCode::OK, "the owner's session goes on: {}", again.body);
}

#[tokio::test]
async fn a_bound_session_keeps_its_binding_across_the_grace_window() {
    let app = spawn_app_with(&["--refresh-reuse-grace", "30s"]).await;
    let key = DpopKey::new();
    let login = bound_login(&app, &key).await;
    let refresh = login["refresh_token"].as_str().unwrap();
    let first = refresh_with(&app, &key, refresh).await;
    let first = first.ok().clone();
    // The retry of a lost answer, within grace: the same successor, still bound.
    let retry = refresh_with(&app, &key, refresh).await;
    let retry = retry.ok();
    assert_eq!(retry["refresh_token"], first["refresh_token"]);
    assert_eq!(retry["token_type"], "DPoP");
    assert_eq!(claims(retry["access_token"].as_str().unwrap())["cnf"]["jkt"], key.thumbprint());
    // Grace does not open the door to another key.
    refresh_with(&app, &DpopKey::new(), refresh).await.refused(400, "invalid_dpop_proof");
    Answer::read(app.refresh(refresh).await, 1).await.refused(400, "invalid_dpop_proof");
}

#[tokio::test]
async fn a_bound_cookie_without_the_key_is_refused_and_the_cookie_is_not_cleared() {
    let app = spawn_app().await;
    let key = DpopKey::new();
    let cookie_mode = |builder: reqwest::RequestBuilder| builder.header("X-Token-Delivery", "cookie");
    let login = login_answer(&app, &key, true).await;
    assert_eq!(login.ok()["token_type"], "DPoP");
    let set_cookie = login.header("set-cookie").unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let refresh_url = app.url(paths::REFRESH);
    let stolen = cookie_mode(app.client.post(&refresh_url)).header("Cookie", &cookie);
    let stolen = Answer::read(stolen.send().await.unwrap(), 1).await;
    stolen.refused(400, "invalid_dpop_proof");
    assert!(stolen.header("set-cookie").is_none(), "the thief's refusal clears nothing");

    let owner = key
        .send("POST", &refresh_url, None, || cookie_mode(app.client.post(&refresh_url)).header("Cookie", &cookie))
        .await;
    assert_eq!(owner.ok()["token_type"], "DPoP");
}

#[tokio::test]
async fn an_unbound_session_stays_bearer_and_introspection_shows_the_binding() {
    let app = spawn_app_with(crate::oauth::CLIENTS).await;
    let (_, plain) = app.new_session().await;
    assert_eq!(plain.tokens.token_type, "Bearer");
    assert!(claims(&plain.tokens.access_token).get("cnf").is_none());
    // An unbound token with the DPoP scheme is refused; as Bearer it works.
    let key = DpopKey::new();
    me_with(&app, &key, &plain.tokens.access_token).await.refused(401, "invalid_token");
    assert_eq!(app.get_with_token(paths::ME, &plain.tokens.access_token).await.status(), StatusCode::OK);

    let bound = bound_login(&app, &key).await;
    for (token, kind) in [(&bound["access_token"], "DPoP"), (&bound["refresh_token"], "refresh_token")] {
        let introspection = crate::oauth::introspect(&app, token.as_str().unwrap()).await;
        assert_eq!(introspection["active"], true, "{introspection}");
        assert_eq!(introspection["token_type"], kind);
        assert_eq!(introspection["cnf"]["jkt"], key.thumbprint());
    }
}

#[tokio::test]
async fn with_dpop_required_a_login_or_refresh_without_a_proof_is_refused() {
    let app = spawn_app_with(&["--dpop", "required"]).await;
    let email = "req@example.com";
    app.register(email).await;
    let login = app.post_json(paths::LOGIN, &json!({"email": email, "password": PASSWORD})).await;
    Answer::read(login, 1).await.refused(400, "invalid_dpop_proof");
    let key = DpopKey::new();
    let bound = bound_login(&app, &key).await;
    assert_eq!(bound["token_type"], "DPoP");
}

#[tokio::test]
async fn with_dpop_off_a_login_ignores_the_proof_and_nothing_is_advertised() {
    let app = spawn_app_with(&["--dpop", "off"]).await;
    let key = DpopKey::new();
    let login = bound_login(&app, &key).await;
    assert_eq!(login["token_type"], "Bearer");
    let metadata: Value = app.client.get(app.url(paths::OAUTH_METADATA)).send().await.unwrap().json().await.unwrap();
    assert!(metadata.get("dpop_signing_alg_values_supported").is_none());
}

/// Two instances behind one public URL: a proof spent at a refresh on one is refused on the other, and
/// a nonce from one is good on the other.
#[tokio::test]
async fn a_proof_replayed_on_another_instance_is_refused_at_refresh() {
    let db = TestDatabase::new().await;
    let public = ["--public-url", "https://auth.example"];
    let a = start_backend(&db.url, &public);
    let b = start_backend(&db.url, &public);
    let http = reqwest::Client::new();
    let key = DpopKey::new();
    let login_url = "https://auth.example/api/auth/login";
    let refresh_url = "https://auth.example/api/auth/refresh-token";
    let email = "two@example.com";
    let registered =
        http.post(a.url(paths::REGISTER)).json(&json!({"username": "ann", "email": email, "password": PASSWORD}));
    assert_eq!(registered.send().await.unwrap().status(), StatusCode::CREATED);
    let body = json!({"email": email, "password": PASSWORD});
    let login = key.send("POST", login_url, None, || http.post(a.url(paths::LOGIN)).json(&body)).await;
    let refresh = login.ok()["refresh_token"].as_str().unwrap().to_owned();

    // The nonce instance A gave is accepted by B.
    let proof = key.proof("POST", refresh_url, None);
    let send = |on: &crate::helpers::BackendProcess, proof: &str, token: &str| {
        http.post(on.url(paths::REFRESH)).header("DPoP", proof.to_owned()).json(&json!({"refreshToken": token})).send()
    };
    let on_b = Answer::read(send(&b, &proof, &refresh).await.unwrap(), 1).await;
    let next = on_b.ok()["refresh_token"].as_str().unwrap().to_owned();
    // The same proof at A, with the live successor: a replay.
    Answer::read(send(&a, &proof, &next).await.unwrap(), 1).await.refused(400, "invalid_dpop_proof");

    // One fresh proof sent to both at once: exactly one of them takes it.
    let proof = key.proof("POST", refresh_url, None);
    let (on_a, on_b) = tokio::join!(send(&a, &proof, &next), send(&b, &proof, &next));
    let statuses = [on_a.unwrap().status(), on_b.unwrap().status()];
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
}

#[tokio::test]
async fn refusals_of_a_token_sent_with_the_dpop_scheme_challenge_with_dpop() {
    let (app, clock) = spawn_app_with_manual_clock(&["--reauth-max-age", "1s"]).await;
    let key = DpopKey::new();
    let login = bound_login(&app, &key).await;
    let access = login["access_token"].as_str().unwrap();

    // A step-up challenge for a bound token names the DPoP scheme (the client crate reads either).
    clock.advance(std::time::Duration::from_secs(3));
    let url = app.url(paths::LOGOUT_OTHERS);
    let stale = key
        .send("POST", &url, Some(access), || app.client.post(&url).header("Authorization", format!("DPoP {access}")))
        .await;
    stale.refused(401, "reauthentication_required");
    let challenge = stale.header("www-authenticate").unwrap();
    assert!(challenge.starts_with("DPoP error=\"insufficient_user_authentication\""), "{challenge}");
    assert!(challenge.contains("max_age=1") && challenge.contains("algs="), "{challenge}");

    // An ended session's bound token, with a good proof: invalid_token, in a DPoP challenge.
    let logout_url = app.url(paths::LOGOUT);
    let logout = key
        .send("POST", &logout_url, Some(access), || {
            app.client.post(&logout_url).header("Authorization", format!("DPoP {access}"))
        })
        .await;
    assert_eq!(logout.status, StatusCode::OK, "{}", logout.body);
    let ended = me_with(&app, &key, access).await;
    ended.refused(401, "invalid_token");
    assert!(ended.header("www-authenticate").unwrap().starts_with("DPoP error=\"invalid_token\""));
}
