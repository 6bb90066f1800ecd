//! Black-box tests of Devmarkt: the `stummel` binary in QA mode on a real
//! port, driven over HTTP (GraphQL, REST) and WebSockets, with the keys and
//! the seed of the reference's QA suite.

mod support;

#[path = "devmarkt/applications.rs"]
mod applications;
#[path = "devmarkt/auth.rs"]
mod auth;
#[path = "devmarkt/limits.rs"]
mod limits;
#[path = "devmarkt/replay.rs"]
mod replay;
#[path = "devmarkt/rest.rs"]
mod rest;
#[path = "devmarkt/rig.rs"]
mod rig;
#[path = "devmarkt/subscriptions.rs"]
mod subscriptions;
#[path = "devmarkt/templates.rs"]
mod templates;
#[path = "devmarkt/users.rs"]
mod users;
