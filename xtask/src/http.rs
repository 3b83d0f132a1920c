//! The few plain HTTP calls xtask makes (through curl; xtask stays std-only).

use std::process::Command;

use crate::Result;

/// POSTs the JSON `body` to `url` and returns the answer's body, whatever its status.
pub(crate) fn post_json(url: &str, body: &str) -> Result<String> {
    let output = Command::new("curl")
        .args(["-s", "-X", "POST", "-H", "content-type: application/json", "-d", body, url])
        .output()
        .map_err(|e| format!("cannot run curl: {e}"))?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// GETs `url` and returns the answer's body, whatever its status.
pub(crate) fn get(url: &str) -> Result<String> {
    let output = Command::new("curl").args(["-s", url]).output().map_err(|e| format!("cannot run curl: {e}"))?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The string value of `"key":"…"` in a JSON text (tokens hold no escapes).
pub(crate) fn json_string(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    Some(json[start..].split('"').next()?.to_owned())
}
