//! One module per route.

mod dashboard;
mod login;
mod not_found;

pub(crate) use dashboard::Dashboard;
pub(crate) use login::LoginPage;
pub(crate) use not_found::NotFound;
