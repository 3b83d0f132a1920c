//! One module per route.

mod dashboard;
mod login;
mod not_found;
mod password_reset;

pub(crate) use dashboard::Dashboard;
pub(crate) use login::LoginPage;
pub(crate) use not_found::NotFound;
pub(crate) use password_reset::{ForgotPasswordPage, ResetPasswordPage};
