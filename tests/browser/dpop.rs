//! DPoP in the browser: the key is WebCrypto's, non-extractable, kept in IndexedDB and made once
//! however many clients ask at the same moment; a burst of 401s still takes one refresh, and every
//! request, replays included, carries a proof of its own (the server refuses one it has seen).

use shared::demo::Echo;
use silent_refresh::browser::{BrowserClock, FetchTransport, WebCryptoDpopKey};
use silent_refresh::dpop::DpopSigner;
use silent_refresh::{Config, RefreshClient};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

use super::{Api, backend, echo, install_expired_token, server_refreshes, sign_up_and_log_in, store};

async fn key(name: &str) -> WebCryptoDpopKey {
    WebCryptoDpopKey::load_or_create(name).await.expect("a key")
}

#[wasm_bindgen_test]
async fn the_private_key_cannot_be_exported_and_two_clients_at_once_make_one_key() {
    let name = format!("two-tabs-{}", js_sys::Math::random());
    // Both ask before either has a key: the Web Lock lets one make it and the other find it.
    let (first, second) = futures::join!(key(&name), key(&name));
    assert_eq!(first.public_jwk(), second.public_jwk(), "two keys were made");
    assert_eq!(key(&name).await.public_jwk(), first.public_jwk(), "a reload finds the same key");
    let extractable = js_sys::Reflect::get(first.private_key(), &"extractable".into()).unwrap();
    assert_eq!(extractable, JsValue::FALSE, "the private key is extractable");
    // Exporting it is refused by the browser itself.
    let subtle =
        js_sys::Reflect::get(&js_sys::Reflect::get(&js_sys::global(), &"crypto".into()).unwrap(), &"subtle".into())
            .unwrap();
    let export: js_sys::Function = js_sys::Reflect::get(&subtle, &"exportKey".into()).unwrap().into();
    let promise = export.call2(&subtle, &"pkcs8".into(), first.private_key()).unwrap();
    assert!(wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(promise)).await.is_err());
    WebCryptoDpopKey::delete(&name).await.unwrap();
    assert_ne!(key(&name).await.public_jwk(), first.public_jwk(), "a deleted key is replaced by a new one");
    WebCryptoDpopKey::delete(&name).await.unwrap();
}

#[wasm_bindgen_test]
#[cfg_attr(not(browser_backend), ignore = "needs BROWSER_TEST_BACKEND at build time: run `cargo xtask test`")]
async fn a_bound_session_takes_one_refresh_for_twenty_401s_with_a_fresh_proof_each() {
    let base = backend();
    <gloo_storage::LocalStorage as gloo_storage::Storage>::clear();
    let signer = key("burst").await;
    let thumbprint = signer.public_jwk().thumbprint();
    let client = RefreshClient::builder(Api::default(), FetchTransport::new(base), BrowserClock)
        .store(store())
        .config(Config::default())
        .dpop(signer, base)
        .build();
    let (_, session) = sign_up_and_log_in(&client).await;
    assert!(session.dpop, "the server bound the session to the browser's key");
    assert_eq!(client.dpop_thumbprint(), Some(thumbprint));

    // Every request goes out, meets a 401, and waits for the one refresh.
    install_expired_token(&client).await;
    let before = server_refreshes(base).await;
    let request = echo();
    let answers = futures::future::join_all((0..20).map(|_| client.fetch::<Echo>(&request))).await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    assert_eq!(server_refreshes(base).await - before, 1, "one refresh for the burst");
    assert_eq!(client.counters().replays, 20, "each of the twenty was replayed once, with a proof of its own");
    assert!(client.session().unwrap().dpop);
}
