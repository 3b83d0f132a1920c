//! This browser's device identity: a random id kept in `localStorage` (so logging in again replaces
//! this browser's session only) and a readable default name.

use gloo_storage::Storage;

const DEVICE_ID_KEY: &str = "silent-refresh.device-id";

pub(crate) fn id() -> String {
    if let Ok(id) = gloo_storage::LocalStorage::get::<String>(DEVICE_ID_KEY) {
        return id;
    }
    let mut bytes = [0u8; 16];
    let id =
        match web_sys::window().and_then(|w| w.crypto().ok()).map(|c| c.get_random_values_with_u8_array(&mut bytes)) {
            Some(Ok(_)) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
            _ => format!("{:x}", (js_sys::Math::random() * 1e16) as u64),
        };
    let _ = gloo_storage::LocalStorage::set(DEVICE_ID_KEY, &id);
    id
}

/// "Chrome on Linux", from the user agent.
pub(crate) fn default_name() -> String {
    let agent = web_sys::window().and_then(|w| w.navigator().user_agent().ok()).unwrap_or_default();
    let browser = [("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari")]
        .into_iter()
        .find(|(marker, _)| agent.contains(marker))
        .map_or("Browser", |(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| agent.contains(marker))
    .map_or("this device", |(_, name)| name);
    format!("{browser} on {system}")
}
