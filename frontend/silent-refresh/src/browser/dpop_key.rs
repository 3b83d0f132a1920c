//! The browser's DPoP key (features `browser` and `dpop`): one non-extractable P-256 key per origin and
//! name, made by WebCrypto and kept as a `CryptoKey` in IndexedDB, so no script can read the private
//! half and a reload proves the same key. It is made under a Web Lock, so two tabs opening at once
//! make one key, not two.

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::browser::WebLock;
use crate::dpop::{DpopError, DpopSigner, PublicJwk};
use crate::ports::RefreshLock as _;

const DATABASE: &str = "silent-refresh-dpop";
const STORE: &str = "keys";

/// A non-extractable ES256 key held by the browser.
#[derive(Debug, Clone)]
pub struct WebCryptoDpopKey {
    private_key: JsValue,
    public: PublicJwk,
}

fn fail(what: &str) -> impl Fn(JsValue) -> DpopError + '_ {
    move |error| DpopError(format!("{what}: {}", error.as_string().unwrap_or_else(|| format!("{error:?}"))))
}

fn subtle() -> Result<JsValue, DpopError> {
    let window = web_sys::window().ok_or_else(|| DpopError("no window".into()))?;
    let crypto = Reflect::get(&window, &"crypto".into()).map_err(fail("no crypto"))?;
    Reflect::get(&crypto, &"subtle".into())
        .ok()
        .filter(|s| !s.is_undefined())
        .ok_or_else(|| DpopError("no WebCrypto here (an insecure origin?)".into()))
}

/// Calls `subtle.<method>(args…)` and awaits its promise.
async fn call_subtle(method: &str, args: &[JsValue]) -> Result<JsValue, DpopError> {
    let subtle = subtle()?;
    let function: js_sys::Function =
        Reflect::get(&subtle, &method.into()).map_err(fail(method))?.dyn_into().map_err(fail(method))?;
    let args: js_sys::Array = args.iter().collect();
    let promise = function.apply(&subtle, &args).map_err(fail(method))?;
    JsFuture::from(js_sys::Promise::from(promise)).await.map_err(fail(method))
}

/// An object from `(name, value)` pairs.
fn object(pairs: &[(&str, JsValue)]) -> Object {
    let object = Object::new();
    for (name, value) in pairs {
        let _ = Reflect::set(&object, &(*name).into(), value);
    }
    object
}

/// Settles when an IndexedDB request succeeds (its `result`) or fails.
async fn settled(request: &web_sys::IdbRequest) -> Result<JsValue, DpopError> {
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    JsFuture::from(promise).await.map_err(fail("IndexedDB"))?;
    request.result().map_err(fail("IndexedDB result"))
}

async fn open_database() -> Result<web_sys::IdbDatabase, DpopError> {
    let window = web_sys::window().ok_or_else(|| DpopError("no window".into()))?;
    let factory = window
        .indexed_db()
        .map_err(fail("IndexedDB"))?
        .ok_or_else(|| DpopError("no IndexedDB here (private browsing?)".into()))?;
    let open = factory.open_with_u32(DATABASE, 1).map_err(fail("IndexedDB open"))?;
    let upgrade = Closure::<dyn FnMut(JsValue)>::new({
        let open = open.clone();
        move |_event: JsValue| {
            if let Ok(database) = open.result().and_then(|db| db.dyn_into::<web_sys::IdbDatabase>()) {
                let _ = database.create_object_store(STORE);
            }
        }
    });
    open.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let database = settled(&open).await?;
    drop(upgrade);
    database.dyn_into().map_err(fail("IndexedDB database"))
}

async fn stored_pair(database: &web_sys::IdbDatabase, name: &str) -> Result<Option<JsValue>, DpopError> {
    let transaction = database.transaction_with_str(STORE).map_err(fail("IndexedDB transaction"))?;
    let store = transaction.object_store(STORE).map_err(fail("IndexedDB store"))?;
    let found = settled(&store.get(&name.into()).map_err(fail("IndexedDB get"))?).await?;
    Ok((!found.is_undefined() && !found.is_null()).then_some(found))
}

impl WebCryptoDpopKey {
    /// The key called `name` for this origin, made (non-extractable) and stored when there is none.
    /// Fails when the browser cannot keep it (no IndexedDB, as in some private modes, or a full disk):
    /// a session must never be bound to a key the next page load cannot find, so the caller then goes
    /// without DPoP.
    pub async fn load_or_create(name: &str) -> Result<Self, DpopError> {
        // Held until the key is stored, so a second tab finds it instead of making its own.
        let _guard = WebLock::new(&format!("silent-refresh-dpop-key:{name}"), 10_000).acquire().await;
        let database = open_database().await?;
        let pair = match stored_pair(&database, name).await? {
            Some(pair) => pair,
            None => {
                let params = object(&[("name", "ECDSA".into()), ("namedCurve", "P-256".into())]);
                let usages: js_sys::Array = ["sign", "verify"].iter().map(|u| JsValue::from_str(u)).collect();
                let pair = call_subtle("generateKey", &[params.into(), JsValue::FALSE, usages.into()]).await?;
                let transaction = database
                    .transaction_with_str_and_mode(STORE, web_sys::IdbTransactionMode::Readwrite)
                    .map_err(fail("IndexedDB transaction"))?;
                let store = transaction.object_store(STORE).map_err(fail("IndexedDB store"))?;
                settled(&store.put_with_key(&pair, &name.into()).map_err(fail("IndexedDB put"))?).await?;
                // Read back in a new transaction: only a key that is really stored may bind a session.
                stored_pair(&database, name).await?.ok_or_else(|| DpopError("the key was not kept".into()))?
            }
        };
        database.close();
        let private_key = Reflect::get(&pair, &"privateKey".into()).map_err(fail("privateKey"))?;
        let public_key = Reflect::get(&pair, &"publicKey".into()).map_err(fail("publicKey"))?;
        let jwk = call_subtle("exportKey", &["jwk".into(), public_key]).await?;
        let member = |name: &str| Reflect::get(&jwk, &name.into()).ok().and_then(|v| v.as_string());
        let public = PublicJwk {
            x: member("x").ok_or_else(|| DpopError("the public key has no x".into()))?,
            y: member("y").ok_or_else(|| DpopError("the public key has no y".into()))?,
        };
        Ok(Self { private_key, public })
    }

    /// Forgets the key called `name` (a user who logs out for good, or a test).
    pub async fn delete(name: &str) -> Result<(), DpopError> {
        let database = open_database().await?;
        let transaction = database
            .transaction_with_str_and_mode(STORE, web_sys::IdbTransactionMode::Readwrite)
            .map_err(fail("IndexedDB transaction"))?;
        let store = transaction.object_store(STORE).map_err(fail("IndexedDB store"))?;
        settled(&store.delete(&name.into()).map_err(fail("IndexedDB delete"))?).await?;
        database.close();
        Ok(())
    }

    /// The private key itself, for a test that checks `extractable === false`.
    pub fn private_key(&self) -> &JsValue {
        &self.private_key
    }
}

impl DpopSigner for WebCryptoDpopKey {
    fn public_jwk(&self) -> PublicJwk {
        self.public.clone()
    }

    async fn sign(&self, input: &[u8]) -> Result<Vec<u8>, DpopError> {
        let params = object(&[("name", "ECDSA".into()), ("hash", "SHA-256".into())]);
        let data = Uint8Array::from(input);
        // WebCrypto's ECDSA signature is r and s, 32 bytes each: JWS's form already.
        let signature = call_subtle("sign", &[params.into(), self.private_key.clone(), data.into()]).await?;
        Ok(Uint8Array::new(&signature).to_vec())
    }

    fn unique_id(&self) -> String {
        let crypto = web_sys::window().and_then(|w| Reflect::get(&w, &"crypto".into()).ok());
        let uuid = crypto.as_ref().and_then(|c| {
            let function: js_sys::Function = Reflect::get(c, &"randomUUID".into()).ok()?.dyn_into().ok()?;
            function.call0(c).ok()?.as_string()
        });
        // randomUUID needs a secure context, as WebCrypto does; without it there is no key either.
        uuid.unwrap_or_else(|| format!("{}-{}", js_sys::Date::now(), js_sys::Math::random()))
    }
}
