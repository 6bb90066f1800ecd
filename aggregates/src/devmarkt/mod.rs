//! Devmarkt's domain: templates, applications, users.

pub mod application;
pub mod template;
pub mod user;
