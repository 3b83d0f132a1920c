//! One component per route.

pub mod home;
pub mod login;

pub use home::Home;
pub use login::Login;
