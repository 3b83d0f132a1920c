//! `/api/openapi.json`: every route the router answers is in the document and every documented
//! operation is routed, and what the server really sends has the fields the document promises, in
//! both token-delivery modes.

use std::collections::BTreeSet;

use backend::App;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::{ErrorCode, paths};

use crate::helpers::{PASSWORD, TestApp, TestDatabase, config, serve};

/// Every flag that mounts a route on: demo routes and `/metrics` on the API listener.
const EVERYTHING: &[&str] = &["--demo-routes", "true", "--metrics", "same"];

/// What a router answers for each of its paths: the (method, template) pairs that are neither the
/// envelope's 404 (the catch-alls under `/api`) nor 405.
async fn routed(app: &TestApp, templates: &BTreeSet<String>) -> BTreeSet<(String, String)> {
    let mut routed = BTreeSet::new();
    for template in templates {
        let path = template.replace("{id}", "00000000-0000-0000-0000-000000000000");
        for method in [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let response = app.client.request(method.clone(), app.url(&path)).json(&json!({})).send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let unrouted = status == StatusCode::METHOD_NOT_ALLOWED
                || (status == StatusCode::NOT_FOUND && body["error"] == "not_found");
            if !unrouted {
                routed.insert((method.as_str().to_lowercase(), template.clone()));
            }
        }
    }
    routed
}

/// The path templates a built router registered, as it recorded them.
fn router_templates(app: &App) -> BTreeSet<String> {
    let templates: BTreeSet<String> = app.route_paths().iter().cloned().collect();
    assert!(templates.contains(paths::LOGIN) && templates.len() > 10, "too few routes recorded: {templates:?}");
    templates
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                operations.insert((method.clone(), path.clone()));
            }
        }
    }
    operations
}

async fn document(app: &TestApp) -> Value {
    let response = app.client.get(app.url(paths::OPENAPI)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

#[tokio::test]
async fn every_route_the_router_answers_is_documented_and_every_documented_route_answers() {
    let db = TestDatabase::new().await;
    let built = App::build(&config(&db.url, EVERYTHING)).await.unwrap();
    let templates = router_templates(&built);
    let app = serve(db, built).await;
    let doc = document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);

    let routed = routed(&app, &templates).await;
    let documented = documented(&doc);
    let missing: Vec<_> = routed.difference(&documented).collect();
    assert!(missing.is_empty(), "routes missing from the document: {missing:?}");
    let phantom: Vec<_> = documented.difference(&routed).collect();
    assert!(phantom.is_empty(), "documented but not routed: {phantom:?}");
    for expected in [paths::REFRESH, paths::SESSION, paths::OPENAPI, "/.well-known/jwks.json", "/metrics"] {
        assert!(routed.iter().any(|(_, path)| path == expected), "{expected} was not found at all");
    }
}

#[tokio::test]
async fn without_demo_mode_the_demo_routes_are_neither_served_nor_documented() {
    let app = crate::helpers::spawn_app_with(&["--demo-routes", "false", "--metrics", "off"]).await;
    let doc = document(&app).await;
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert!(!paths.iter().any(|p| p.starts_with("/api/demo") || *p == "/metrics"), "{paths:?}");
    assert!(paths.iter().any(|p| *p == paths::LOGIN));
}

/// Lists every variant, so adding one without documenting it fails to compile here first.
fn every_error_code() -> Vec<ErrorCode> {
    use ErrorCode::*;
    let all = vec![
        MissingToken,
        InvalidToken,
        TokenExpired,
        InvalidCredentials,
        ValidationFailed,
        EmailTaken,
        PasswordUnchanged,
        RefreshTokenMissing,
        RefreshTokenInvalid,
        RefreshTokenReused,
        SessionIdle,
        ReauthenticationRequired,
        ResetTokenInvalid,
        CsrfRejected,
        RateLimited,
        PayloadTooLarge,
        RequestTimeout,
        InvalidClient,
        InvalidRequest,
        InvalidDpopProof,
        UseDpopNonce,
        NotFound,
        MethodNotAllowed,
        Unavailable,
        Internal,
    ];
    for code in &all {
        match code {
            MissingToken
            | InvalidToken
            | TokenExpired
            | InvalidCredentials
            | ValidationFailed
            | EmailTaken
            | PasswordUnchanged
            | RefreshTokenMissing
            | RefreshTokenInvalid
            | RefreshTokenReused
            | SessionIdle
            | ReauthenticationRequired
            | ResetTokenInvalid
            | CsrfRejected
            | RateLimited
            | PayloadTooLarge
            | RequestTimeout
            | InvalidClient
            | InvalidRequest
            | InvalidDpopProof
            | UseDpopNonce
            | NotFound
            | MethodNotAllowed
            | Unavailable
            | Internal
            | Unknown => {}
        }
    }
    all
}

/// README's list of error codes: the backticked words between "Failures add" and the next sentence
/// about 401s.
fn readme_error_codes() -> BTreeSet<String> {
    let readme = include_str!("../../README.md");
    let start = readme.find("Failures add").expect("README lists the error codes after \"Failures add\"");
    let list = &readme[start..];
    let list = &list[..list.find("Every 401").expect("the list ends before \"Every 401\"")];
    list.split('`').skip(1).step_by(2).filter(|word| !word.contains('"')).map(str::to_owned).collect()
}

#[test]
fn the_readme_lists_every_error_code_and_no_other() {
    let codes: BTreeSet<String> = every_error_code()
        .into_iter()
        .map(|code| serde_json::to_value(code).unwrap().as_str().unwrap().to_owned())
        .collect();
    let listed = readme_error_codes();
    let missing: Vec<_> = codes.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&codes).collect();
    assert!(missing.is_empty() && unknown.is_empty(), "README misses {missing:?} and lists unknown {unknown:?}");
}

#[tokio::test]
async fn the_document_names_every_error_code_both_delivery_modes_and_both_security_schemes() {
    let app = crate::helpers::spawn_app_with(EVERYTHING).await;
    let doc = document(&app).await;
    // Operations describe their own failures, or name a shared response component that does.
    let text = format!("{}{}", doc["paths"], doc["components"]["responses"]);
    let listed = &doc["components"]["schemas"]["ErrorCode"]["enum"];
    for code in every_error_code() {
        let name = serde_json::to_value(code).unwrap();
        assert!(listed.as_array().unwrap().contains(&name), "{name} is not in the ErrorCode schema");
        // And some operation says when it is sent.
        assert!(text.contains(&format!("`{}`", name.as_str().unwrap())), "no response mentions {name}");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(
        (schemes["refreshCookie"]["in"].as_str(), schemes["refreshCookie"]["name"].as_str()),
        (Some("cookie"), Some("__Host-refresh_token"))
    );
    for path in [paths::LOGIN, paths::REFRESH, paths::LOGOUT] {
        let parameters = doc["paths"][path]["post"]["parameters"].to_string();
        assert!(parameters.contains("X-Token-Delivery"), "{path}: {parameters}");
    }
    assert_eq!(doc["paths"][paths::ME]["get"]["security"], json!([{"bearer": []}]));
}

#[tokio::test]
async fn the_documented_input_limits_are_the_ones_the_server_enforces() {
    use shared::auth::limits::*;
    let app = crate::helpers::spawn_app().await;
    let doc = document(&app).await;
    let property =
        |schema: &str, field: &str, key: &str| doc["components"]["schemas"][schema]["properties"][field][key].clone();
    let cases = [
        ("RegisterRequest", "username", "maxLength", MAX_USERNAME_CHARS),
        ("RegisterRequest", "email", "maxLength", MAX_EMAIL_CHARS),
        ("RegisterRequest", "password", "minLength", MIN_NEW_PASSWORD_CHARS),
        ("RegisterRequest", "password", "maxLength", MAX_PASSWORD_CHARS),
        ("LoginRequest", "email", "maxLength", MAX_EMAIL_CHARS),
        ("LoginRequest", "password", "maxLength", MAX_PASSWORD_CHARS),
        ("LoginRequest", "deviceId", "maxLength", MAX_DEVICE_FIELD_CHARS),
        ("LoginRequest", "deviceName", "maxLength", MAX_DEVICE_FIELD_CHARS),
        ("LoginRequest", "appId", "maxLength", MAX_DEVICE_FIELD_CHARS),
    ];
    for (schema, field, key, limit) in cases {
        assert_eq!(property(schema, field, key), json!(limit), "{schema}.{field}.{key}");
    }
    // And the server holds to them: one over each register limit is refused, the limit itself is not.
    let register = |username: String, password: String| {
        let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
        json!({"username": username, "email": email, "password": password})
    };
    let at_limit = register("u".repeat(MAX_USERNAME_CHARS), "p".repeat(MAX_PASSWORD_CHARS));
    assert_eq!(app.post_json(paths::REGISTER, &at_limit).await.status(), StatusCode::CREATED);
    for over in [
        register("u".repeat(MAX_USERNAME_CHARS + 1), "p".repeat(MIN_NEW_PASSWORD_CHARS)),
        register("u".into(), "p".repeat(MAX_PASSWORD_CHARS + 1)),
        register("u".into(), "p".repeat(MIN_NEW_PASSWORD_CHARS - 1)),
    ] {
        assert_eq!(app.post_json(paths::REGISTER, &over).await.status(), StatusCode::BAD_REQUEST, "{over}");
    }
}

/// The `required` fields `schema` promises, following `$ref`, `allOf` and the `anyOf` alternatives
/// (`Err` lists what every alternative misses).
fn check(doc: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if value.is_null() {
        return if allows_null(doc, schema) { Ok(()) } else { Err(format!("null where {schema} is due")) };
    }
    if let Some(parts) = schema["allOf"].as_array() {
        return parts.iter().try_for_each(|part| check(doc, part, value));
    }
    if let Some(alternatives) = alternatives(schema) {
        let failures: Vec<String> = alternatives.iter().filter_map(|a| check(doc, a, value).err()).collect();
        return if failures.len() < alternatives.len() { Ok(()) } else { Err(failures.join(" / ")) };
    }
    for field in schema["required"].as_array().into_iter().flatten() {
        let field = field.as_str().unwrap();
        if value.get(field).is_none() {
            return Err(format!("{field} missing from {value}"));
        }
    }
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        if let Some(inner) = value.get(name) {
            check(doc, property, inner)?;
        }
    }
    Ok(())
}

fn allows_null(doc: &Value, schema: &Value) -> bool {
    let schema = resolve(doc, schema);
    schema["type"] == "null"
        || schema["type"].as_array().is_some_and(|types| types.contains(&json!("null")))
        || alternatives(schema).is_some_and(|all| all.iter().any(|a| allows_null(doc, a)))
}

/// The schema a `$ref` names (followed to the end), or `schema` itself.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            resolve(doc, &doc["components"]["schemas"][reference.trim_start_matches("#/components/schemas/")])
        }
        None => schema,
    }
}

fn alternatives(schema: &Value) -> Option<&Vec<Value>> {
    schema["anyOf"].as_array().or(schema["oneOf"].as_array())
}

#[tokio::test]
async fn login_and_refresh_answers_in_both_delivery_modes_have_what_the_document_promises() {
    let app = crate::helpers::spawn_app_with(EVERYTHING).await;
    let doc = document(&app).await;
    let (email, _) = app.new_session().await;
    let schema =
        |path: &str| doc["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["schema"].clone();
    let login = json!({"email": email, "password": PASSWORD});
    let origin = format!("http://{}", app.addr);

    let body_mode: Value = app.post_json(paths::LOGIN, &login).await.json().await.unwrap();
    check(&doc, &schema(paths::LOGIN), &body_mode).unwrap();
    let cookie_mode =
        app.client.post(app.url(paths::LOGIN)).header("X-Token-Delivery", "cookie").header("Origin", &origin);
    let cookie_mode: Value = cookie_mode.json(&login).send().await.unwrap().json().await.unwrap();
    assert!(cookie_mode["data"].get("refresh_token").is_none());
    check(&doc, &schema(paths::LOGIN), &cookie_mode).unwrap();

    let refreshed: Value =
        app.refresh(body_mode["data"]["refresh_token"].as_str().unwrap()).await.json().await.unwrap();
    check(&doc, &schema(paths::REFRESH), &refreshed).unwrap();
    // The check can fail: a failure, with `data: null`, is not a success.
    let failure: Value = app.refresh("not-a-token").await.json().await.unwrap();
    assert!(check(&doc, &schema(paths::REFRESH), &failure).is_err(), "a failure passed as a success");
    let failure_schema =
        &doc["paths"][paths::REFRESH]["post"]["responses"]["403"]["content"]["application/json"]["schema"];
    check(&doc, failure_schema, &failure).unwrap();
}
