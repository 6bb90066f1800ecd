//! Black-box tests of Devmarkt: the `stummel` binary in QA mode on a real
//! port, driven over HTTP (GraphQL, REST) and WebSockets, with the keys and
//! the seed of the reference's QA suite. Every case runs on the embedded
//! store and, when STUMMEL_TEST_MONGO_URI is set, on a fresh MongoDB
//! database (ignored otherwise).

mod support;

/// Two tests for the case `async fn $case()`: `$embedded` on the embedded
/// store, `$mongo` with every service the case starts pointed at one fresh
/// MongoDB database (see [`rig::on_mongodb`]).
macro_rules! on_both_backends {
    ($(#[$test:meta])* $case:ident: $embedded:ident, $mongo:ident) => {
        $(#[$test])*
        async fn $embedded() {
            $case().await;
        }

        $(#[$test])*
        #[ignore = "needs STUMMEL_TEST_MONGO_URI"]
        async fn $mongo() {
            crate::rig::on_mongodb($case()).await;
        }
    };
}

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
