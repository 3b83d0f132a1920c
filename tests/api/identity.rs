//! One identity rule at the edge: look-alike addresses are one account or refused, invisible and
//! control characters never reach an account, and NUL or control bytes in any field or path are a
//! 400 or 404, never a 500, on either engine, before any throttle place or hash is spent.

use reqwest::StatusCode;
use serde_json::json;
use shared::paths;

use crate::helpers::{PASSWORD, expect_error, expect_status, spawn_app, spawn_app_with};

/// Each hidden character the attack used, inside the address.
const HIDDEN: &[char] = &[
    '\u{200B}',
    '\u{200C}',
    '\u{200D}',
    '\u{2060}',
    '\u{FEFF}',
    '\u{00AD}',
    '\u{202E}',
    '\u{202A}',
    '\u{2066}',
    '\u{061C}',
    '\u{180E}',
    '\u{FE0F}',
    '\u{E0041}',
    '\u{0000}',
    '\u{001B}',
    '\n',
    '\u{007F}',
];

#[tokio::test]
async fn look_alikes_of_an_existing_address_are_refused_as_taken_or_invalid() {
    let app = spawn_app_with(&["--register-max-per-ip", "1000"]).await;
    app.register("victim@example.com").await;
    let mut spoofs: Vec<String> = HIDDEN.iter().map(|c| format!("vic{c}tim@example.com")).collect();
    spoofs.extend(["\u{FF56}ictim@example.com".into(), "VICTIM@example.com".into(), " victim@EXAMPLE.com ".into()]);
    for spoof in spoofs {
        let body = json!({"username": "mallory", "email": spoof, "password": PASSWORD});
        let response = app.post_json(paths::REGISTER, &body).await;
        let status = response.status();
        let answer: serde_json::Value = response.json().await.unwrap();
        let refused = (status == StatusCode::CONFLICT && answer["error"] == "email_taken")
            || (status == StatusCode::BAD_REQUEST && answer["error"] == "validation_failed");
        assert!(refused, "{spoof:?} answered {status}: {answer}");
    }
}

#[tokio::test]
async fn nfc_and_nfd_spellings_are_one_account() {
    let app = spawn_app().await;
    app.register("jos\u{e9}@example.com").await;
    let nfd = json!({"username": "other", "email": "jose\u{301}@example.com", "password": PASSWORD});
    expect_error(app.post_json(paths::REGISTER, &nfd).await, StatusCode::CONFLICT, "email_taken").await;
    // And the NFD spelling logs in to the NFC account.
    let login = json!({"email": "jose\u{301}@example.com", "password": PASSWORD});
    assert_eq!(app.post_json(paths::LOGIN, &login).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn usernames_with_control_or_invisible_characters_are_refused() {
    let app = spawn_app_with(&["--register-max-per-ip", "1000"]).await;
    for (i, name) in
        ["ann\u{1B}[2J", "ann\nroot", "ann\u{0}", "an\u{200B}n", "\u{202E}nna", "ann\u{7F}"].iter().enumerate()
    {
        let body = json!({"username": name, "email": format!("u{i}@example.com"), "password": PASSWORD});
        expect_error(app.post_json(paths::REGISTER, &body).await, StatusCode::BAD_REQUEST, "validation_failed").await;
    }
}

#[tokio::test]
async fn nul_in_any_field_or_path_is_a_clean_4xx_and_costs_nothing() {
    let app = spawn_app_with(&["--register-max-per-ip", "2", "--login-max-failures", "2"]).await;
    let (email, login) = app.new_session().await;
    let nul = "a\u{0}b";
    let sign_ups = [
        json!({"username": "x", "email": format!("{nul}@example.com"), "password": PASSWORD}),
        json!({"username": nul, "email": "nul1@example.com", "password": PASSWORD}),
    ];
    let logins = [
        json!({"email": format!("{nul}@example.com"), "password": PASSWORD}),
        json!({"email": email, "password": PASSWORD, "deviceId": nul}),
        json!({"email": email, "password": PASSWORD, "deviceName": nul}),
        json!({"email": email, "password": PASSWORD, "appId": nul}),
    ];
    // More than both limits: nothing here may take a throttle place.
    for _ in 0..3 {
        for body in &sign_ups {
            expect_error(app.post_json(paths::REGISTER, body).await, StatusCode::BAD_REQUEST, "validation_failed")
                .await;
        }
        for body in &logins {
            expect_error(app.post_json(paths::LOGIN, body).await, StatusCode::BAD_REQUEST, "validation_failed").await;
        }
    }
    for path in ["%00abc", "abc%00", "%00"] {
        let response =
            app.client.delete(app.url(&format!("/api/sessions/{path}"))).bearer_auth(&login.tokens.access_token).send();
        expect_error(response.await.unwrap(), StatusCode::NOT_FOUND, "not_found").await;
    }
    let refresh = json!({"refreshToken": format!("{nul}{}", "a".repeat(40))});
    expect_error(app.post_json(paths::REFRESH, &refresh).await, StatusCode::FORBIDDEN, "refresh_token_invalid").await;
    // The limits were never touched.
    app.register("after@example.com").await;
    app.login(&email, None).await;
}

/// One password typed in composed and in decomposed Unicode (macOS and Windows keyboards) is one
/// password (RFC 8265 OpaqueString, NIST SP 800-63B §5.1.1.2); a non-ASCII space is a space.
#[tokio::test]
async fn a_password_is_compared_in_its_normalised_form() {
    let app = spawn_app().await;
    let composed = "p\u{e4}ssw\u{f6}rd-ist-lang";
    let decomposed = "pa\u{308}sswo\u{308}rd-ist-lang";
    let body = json!({"username": "ann", "email": "umlaut@example.com", "password": decomposed});
    expect_status(app.post_json(paths::REGISTER, &body).await, StatusCode::CREATED).await;
    for typed in [composed, decomposed] {
        let login = json!({"email": "umlaut@example.com", "password": typed});
        expect_status(app.post_json(paths::LOGIN, &login).await, StatusCode::OK).await;
    }
    let spaced = json!({"username": "ann", "email": "nbsp@example.com", "password": "correct\u{a0}horse battery"});
    expect_status(app.post_json(paths::REGISTER, &spaced).await, StatusCode::CREATED).await;
    let login = json!({"email": "nbsp@example.com", "password": "correct horse battery"});
    expect_status(app.post_json(paths::LOGIN, &login).await, StatusCode::OK).await;
    // A password the profile refuses is kept as typed, not refused.
    let control = json!({"username": "ann", "email": "ctl@example.com", "password": "bell\u{7}bell-bell"});
    expect_status(app.post_json(paths::REGISTER, &control).await, StatusCode::CREATED).await;
    let login = json!({"email": "ctl@example.com", "password": "bell\u{7}bell-bell"});
    expect_status(app.post_json(paths::LOGIN, &login).await, StatusCode::OK).await;
}

/// A hash an earlier release wrote of the password exactly as typed (decomposed here) still logs in,
/// with that spelling, and is then rewritten in the normalised form, so the composed spelling works too.
#[tokio::test]
async fn a_hash_of_the_password_as_typed_keeps_working_and_is_rewritten() {
    use argon2::PasswordHasher as _;
    let app = spawn_app().await;
    app.register("legacy@example.com").await;
    let decomposed = "pa\u{308}sswo\u{308}rd-ist-lang";
    let salt = argon2::password_hash::SaltString::encode_b64(b"fixed-salt-16byt").unwrap();
    let legacy = argon2::Argon2::default().hash_password(decomposed.as_bytes(), &salt).unwrap().to_string();
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.db.url).await.unwrap();
    sqlx::query("UPDATE users SET password_hash = $1 WHERE email = $2")
        .bind(&legacy)
        .bind("legacy@example.com")
        .execute(&mut conn)
        .await
        .unwrap();
    let composed = "p\u{e4}ssw\u{f6}rd-ist-lang";
    let login = |password: &str| json!({"email": "legacy@example.com", "password": password});
    expect_status(app.post_json(paths::LOGIN, &login(decomposed)).await, StatusCode::OK).await;
    let (stored,): (String,) = sqlx::query_as("SELECT password_hash FROM users WHERE email = $1")
        .bind("legacy@example.com")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_ne!(stored, legacy, "the hash was rewritten");
    for typed in [composed, decomposed] {
        expect_status(app.post_json(paths::LOGIN, &login(typed)).await, StatusCode::OK).await;
    }
    expect_error(
        app.post_json(paths::LOGIN, &login("not-the-password")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
}

/// Logs in with `email` and answers the account's id.
async fn account_reached(app: &crate::helpers::TestApp, email: &str) -> String {
    let login = json!({"email": email, "password": PASSWORD});
    let tokens: serde_json::Value =
        crate::helpers::data(expect_status(app.post_json(paths::LOGIN, &login).await, StatusCode::OK).await);
    let me = app.get_with_token(paths::ME, tokens["access_token"].as_str().unwrap()).await;
    let me: serde_json::Value = crate::helpers::data(expect_status(me, StatusCode::OK).await);
    me["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn one_person_is_one_account_whatever_their_keyboard_types() {
    let app = spawn_app_with(&["--register-max-per-ip", "1000"]).await;
    // (as signed up, spellings that must reach it, a second sign-up that must be refused as taken)
    let people = [
        ("ΟΔΥΣΣΕΑΣ@example.gr", "οδυσσεας@example.gr", "οδυσσεασ@EXAMPLE.GR"),
        ("o'brien@example.ie", "O’Brien@example.ie", "o‘brien@example.ie"),
        ("Straße@example.de", "STRASSE@example.de", "strasse@example.de"),
        ("müller@bücher.de", "müller@xn--bcher-kva.de", "MÜLLER@BÜCHER.DE"),
        ("ann@i❤️.ws", "ann@i❤.ws", "ANN@xn--i-7iq.ws"),
        ("josé@example.com", "jose\u{301}@example.com", "ｊｏｓé@example.com"),
    ];
    for (signed_up, other, twin) in people {
        let id = app.register(signed_up).await.id;
        for spelling in [signed_up, other, twin, &format!("{other}\u{200B}")] {
            assert_eq!(account_reached(&app, spelling).await, id, "{spelling:?} did not reach {signed_up:?}");
        }
        let body = json!({"username": "twin", "email": twin, "password": PASSWORD});
        expect_error(app.post_json(paths::REGISTER, &body).await, StatusCode::CONFLICT, "email_taken").await;
    }
}

#[tokio::test]
async fn right_to_left_and_other_scripts_sign_up_and_log_in() {
    let app = spawn_app_with(&["--register-max-per-ip", "1000"]).await;
    for email in ["דוד@example.co.il", "محمد@example.eg", "用户@例子.广告", "δοκιμή@παράδειγμα.δοκιμή"]
    {
        let id = app.register(email).await.id;
        assert_eq!(account_reached(&app, email).await, id, "{email}");
    }
}

#[tokio::test]
async fn a_look_alike_of_an_account_is_refused_and_says_why() {
    let app = spawn_app_with(&["--register-max-per-ip", "1000"]).await;
    app.register("paypal@example.com").await;
    for spoof in ["pаypal@example.com", "раураl@example.com", "paypal@exаmple.com"] {
        let body = json!({"username": "mallory", "email": spoof, "password": PASSWORD});
        let answer =
            expect_error(app.post_json(paths::REGISTER, &body).await, StatusCode::BAD_REQUEST, "validation_failed")
                .await;
        assert!(
            answer["message"].as_str().unwrap().contains("looks like the address of an existing account"),
            "{answer}"
        );
    }
    // ASCII addresses that merely resemble each other are two people, as everywhere else.
    app.register("modem@example.com").await;
    app.register("modern@example.com").await;
}

#[tokio::test]
async fn racing_sign_ups_of_one_address_and_its_look_alikes_leave_one_account() {
    let app = spawn_app_with(&["--register-max-per-ip", "1000"]).await;
    let spellings = [
        "victor@example.com",
        "VICTOR@example.com",
        "vіctor@example.com",
        "vісtоr@example.com",
        "ｖｉｃｔｏｒ@example.com",
        "victor@EXAMPLE.com",
    ];
    let attempts = spellings.iter().cycle().take(24).map(|email| {
        let app = &app;
        async move {
            let body = json!({"username": "racer", "email": email, "password": PASSWORD});
            app.post_json(paths::REGISTER, &body).await.status()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    assert_eq!(created, 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [StatusCode::CREATED, StatusCode::CONFLICT, StatusCode::BAD_REQUEST].contains(s)),
        "{statuses:?}"
    );
}
