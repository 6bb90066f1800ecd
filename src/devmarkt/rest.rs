//! Devmarkt's REST endpoints (`/api/devmarkt/...`), documented in the
//! OpenAPI document.

use super::Devmarkt;
use aggregates::devmarkt::user::Role;
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, Tags};
use std::sync::Arc;

#[derive(Tags)]
enum Tag {
    /// Devmarkt: templates, applications, users.
    Devmarkt,
}

pub struct RestApi {
    pub devmarkt: Arc<Devmarkt>,
}

#[OpenApi(prefix_path = "/api/devmarkt")]
impl RestApi {
    /// Every role, most powerful first.
    #[oai(path = "/roles", method = "get", tag = "Tag::Devmarkt")]
    async fn roles(&self) -> Json<Vec<String>> {
        Json(Role::ALL.iter().map(|r| r.name().to_owned()).collect())
    }
}
