//! The browser suite needs a running backend, whose address `cargo xtask test` passes at build time.
//! Without it the suite's tests are marked ignored (with the reason), so a plain `cargo test` never
//! shows them as passed.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(browser_backend)");
    println!("cargo::rerun-if-env-changed=BROWSER_TEST_BACKEND");
    if std::env::var_os("BROWSER_TEST_BACKEND").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=browser_backend");
    }
}
