//! HTTP endpoints of the identity part of Kippenstummel (`/api/v1`,
//! `/api/v1/kmc/ident`). Parsing and validation here; the use cases live in
//! `identities.rs`.

use super::contract::{
    AdminAuthorization, CaptchaScope, CaptchaStamp, Filter as FilterParam, IdentHeader, Identity, LoginInput, Page,
    PageInfo, PerPage, TransferInput, TransferTokenParam, TrustedInput, UsernameInput,
};
use super::identities::{iso, IdentInfo};
use super::validation::{is_defined, is_uuid, Paging, Violations};
use super::Kippenstummel;
use crate::http::documented::{Body, Param};
use crate::http::error::{self, ApiError};
use aggregates::kippenstummel::username::validate_username;
use poem::Request;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use projections::rsql::{FieldSet, FilterError};
use serde_json::Value;
use std::sync::Arc;

#[derive(Tags)]
enum Tag {
    /// Anonymous identities, captcha, karma, leaderboard, transfer.
    Ident,
    /// Kippenstummel management console: identities.
    KmcIdent,
}

pub struct IdentApi {
    pub service: Arc<Kippenstummel>,
}

#[derive(Object)]
pub struct CaptchaChallenge {
    /// 32 lowercase hex characters; send `<id>:<text>` as `x-captcha`.
    id: String,
    /// `data:image/png;base64,...`
    content: String,
}

#[derive(Object)]
pub struct Credentials {
    identity: String,
    /// 128 lowercase hex characters, shown once.
    secret: String,
}

#[derive(Object)]
pub struct IdentToken {
    identity: String,
    /// JWT for the `x-ident` header.
    token: String,
}

#[derive(Object)]
pub struct TransferToken {
    identity: String,
    /// Single-use token, 32 lowercase hex characters.
    token: String,
}

#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct TransferredSecret {
    identity: String,
    encrypted_secret: String,
}

#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct IdentInfoBody {
    identity: String,
    credibility: i64,
    #[oai(skip_serializing_if_is_none)]
    display_name: Option<String>,
    karma: i64,
    trusted: bool,
    last_active_at: String,
    created_at: String,
    updated_at: String,
}

impl From<IdentInfo> for IdentInfoBody {
    fn from(i: IdentInfo) -> Self {
        Self {
            display_name: i.doc.display_name(),
            identity: i.doc.identity,
            credibility: i.credibility,
            karma: i.karma,
            trusted: i.doc.trusted,
            last_active_at: iso(&i.doc.last_active_at),
            created_at: iso(&i.doc.created_at),
            updated_at: iso(&i.doc.updated_at),
        }
    }
}

/// The KMC list's order of the same fields.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct KmcIdentInfo {
    identity: String,
    #[oai(skip_serializing_if_is_none)]
    display_name: Option<String>,
    created_at: String,
    updated_at: String,
    last_active_at: String,
    credibility: i64,
    karma: i64,
    trusted: bool,
}

impl From<IdentInfo> for KmcIdentInfo {
    fn from(i: IdentInfo) -> Self {
        Self {
            display_name: i.doc.display_name(),
            identity: i.doc.identity,
            created_at: iso(&i.doc.created_at),
            updated_at: iso(&i.doc.updated_at),
            last_active_at: iso(&i.doc.last_active_at),
            credibility: i.credibility,
            karma: i.karma,
            trusted: i.doc.trusted,
        }
    }
}

#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct LeaderboardEntry {
    identity: String,
    #[oai(skip_serializing_if_is_none)]
    display_name: Option<String>,
    karma: i64,
    trusted: bool,
}

#[derive(Object)]
pub struct LeaderboardPage {
    content: Vec<LeaderboardEntry>,
    info: PageInfo,
}

#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct KarmaEvent {
    /// registration, upvote_received, downvote_received, upvote_cast, downvote_cast, report_cast, report_received
    #[oai(rename = "type")]
    kind: String,
    delta: i64,
    occurred_at: String,
    cvm_id: String,
}

#[derive(Object)]
pub struct KarmaPage {
    content: Vec<KarmaEvent>,
    info: PageInfo,
}

#[derive(Object)]
pub struct KmcIdentPage {
    content: Vec<KmcIdentInfo>,
    info: PageInfo,
}

#[derive(ApiResponse)]
pub enum TokenCreated {
    #[oai(status = 201)]
    Created(Json<IdentToken>),
}

#[derive(ApiResponse)]
pub enum TransferCreated {
    #[oai(status = 201)]
    Created(Json<TransferToken>),
}

type Result<T> = std::result::Result<T, ApiError>;

fn field<'a>(body: &'a Value, name: &str) -> Option<&'a Value> {
    body.as_object().and_then(|o| o.get(name))
}

/// A required UUID string property (`isDefined`, then `isUuid`).
fn uuid_property(body: &Value, name: &str, violations: &mut Violations) -> String {
    let value = field(body, name);
    if !is_defined(value) {
        violations.add(name, "isDefined", format!("{name} should not be null or undefined"));
        return String::new();
    }
    match value.and_then(Value::as_str) {
        Some(s) if is_uuid(s) => s.to_owned(),
        _ => {
            violations.add(name, "isUuid", format!("{name} must be a UUID"));
            String::new()
        }
    }
}

/// A required string property (`isDefined`, then `isString`).
fn string_property(body: &Value, name: &str, violations: &mut Violations) -> String {
    let value = field(body, name);
    if !is_defined(value) {
        violations.add(name, "isDefined", format!("{name} should not be null or undefined"));
        return String::new();
    }
    match value.and_then(Value::as_str) {
        Some(s) => s.to_owned(),
        None => {
            violations.add(name, "isString", format!("{name} must be a string"));
            String::new()
        }
    }
}

pub fn paging(page: &Query<Param<Page>>, per_page: &Query<Param<PerPage>>) -> Result<Paging> {
    let mut violations = Violations::default();
    let paging = Paging::parse(page.0.as_deref(), per_page.0.as_deref(), &mut violations);
    violations.into_result()?;
    Ok(paging)
}

/// 400 with the filter error's code (and details for unsupported fields).
pub fn filter_error(e: FilterError) -> ApiError {
    let kind = match e {
        FilterError::Invalid(_) => error::INVALID_FILTER_QUERY,
        FilterError::Unsupported { .. } => error::UNSUPPORTED_FILTER_FIELD,
    };
    ApiError::with_details(kind, e.details())
}

/// An identity in the shape the ident filters evaluate (credibility and karma joined in).
fn filterable(info: &IdentInfo) -> Value {
    serde_json::json!({
        "identity": info.doc.identity,
        "username": info.doc.username,
        "trusted": info.doc.trusted,
        "createdAt": iso(&info.doc.created_at),
        "credibility": {"rating": info.credibility},
        "karma": {"amount": info.karma},
    })
}

/// The client's address as the middleware resolved it (`TRUST_PROXY`).
fn client_of(req: &Request) -> String {
    req.extensions()
        .get::<crate::http::ClientAddr>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.to_string())
}

#[OpenApi(prefix_path = "/api/v1")]
impl IdentApi {
    /// A captcha challenge for `GET /ident` (scope `registration`) or
    /// `POST /ident/transfer` (scope `transfer`). Single use; three wrong
    /// answers kill it.
    #[oai(path = "/captcha", method = "get", tag = "Tag::Ident")]
    async fn captcha(&self, scope: Query<Param<CaptchaScope>>, req: &Request) -> Result<Json<CaptchaChallenge>> {
        let scope = scope
            .0
             .0
            .filter(|s| s == "registration" || s == "transfer")
            .ok_or_else(|| {
                let mut violations = Violations::default();
                violations.add("scope", "isEnum", "scope must be one of the following values: ".into());
                violations.into_result().unwrap_err()
            })?;
        let challenge = self.service.new_captcha(&scope, &client_of(req)).await?;
        Ok(Json(CaptchaChallenge {
            id: challenge.id,
            content: challenge.content,
        }))
    }

    /// Issue a new anonymous identity (captcha stamp of scope `registration`).
    #[oai(path = "/ident", method = "get", tag = "Tag::Ident")]
    async fn issue(
        &self,
        #[oai(name = "x-captcha")] captcha: Header<Param<CaptchaStamp>>,
    ) -> Result<Json<Credentials>> {
        self.service.check_captcha(captcha.0.as_deref(), "registration").await?;
        let (identity, secret) = self.service.issue_identity().await?;
        Ok(Json(Credentials { identity, secret }))
    }

    /// Exchange `{identity, secret}` for an ident token.
    #[oai(path = "/ident", method = "post", tag = "Tag::Ident")]
    async fn login(&self, body: Json<Body<LoginInput>>, req: &Request) -> Result<TokenCreated> {
        let mut violations = Violations::default();
        let identity = uuid_property(&body.0, "identity", &mut violations);
        let secret = string_property(&body.0, "secret", &mut violations);
        violations.into_result()?;
        let token = self.service.login(&identity, &secret, &client_of(req)).await?;
        Ok(TokenCreated::Created(Json(IdentToken { identity, token })))
    }

    /// The caller's identity with credibility and karma.
    #[oai(path = "/ident/me", method = "get", tag = "Tag::Ident")]
    async fn me(&self, #[oai(name = "x-ident")] ident: Header<Param<IdentHeader>>) -> Result<Json<IdentInfoBody>> {
        let doc = self.service.require_identity(ident.0.as_deref()).await?;
        Ok(Json(self.service.info(doc).await?.into()))
    }

    /// Set (`{"username": "..."}`) or clear (`{"username": null}`) the display username.
    #[oai(path = "/ident/me", method = "patch", tag = "Tag::Ident")]
    async fn update_me(
        &self,
        #[oai(name = "x-ident")] ident: Header<Param<IdentHeader>>,
        body: Json<Body<UsernameInput>>,
    ) -> Result<()> {
        let doc = self.service.require_identity(ident.0.as_deref()).await?;
        match field(&body.0, "username") {
            // Absent: nothing to change (the original assigned a suffix anyway: bug 18).
            None => Ok(()),
            Some(Value::Null) => self.service.set_username(&doc, None).await,
            Some(value) => {
                if let Err(violation) = validate_username(Some(value)) {
                    let mut violations = Violations::default();
                    violations.add("username", violation.constraint(), violation.message().to_string());
                    violations.into_result()?;
                }
                let name = value.as_str().unwrap_or_default();
                self.service.set_username(&doc, Some(name)).await
            }
        }
    }

    /// Request a single-use transfer token for the caller's encrypted secret
    /// (ident token, then captcha stamp of scope `transfer`).
    #[oai(path = "/ident/transfer", method = "post", tag = "Tag::Ident")]
    async fn request_transfer(
        &self,
        #[oai(name = "x-ident")] ident: Header<Param<IdentHeader>>,
        #[oai(name = "x-captcha")] captcha: Header<Param<CaptchaStamp>>,
        body: Json<Body<TransferInput>>,
    ) -> Result<TransferCreated> {
        let doc = self.service.require_identity(ident.0.as_deref()).await?;
        self.service.check_captcha(captcha.0.as_deref(), "transfer").await?;
        let mut violations = Violations::default();
        // Validated but not used: the token is for the authenticated identity.
        uuid_property(&body.0, "identity", &mut violations);
        let encrypted_secret = string_property(&body.0, "encryptedSecret", &mut violations);
        violations.into_result()?;
        let token = self.service.request_transfer(&doc, &encrypted_secret).await?;
        Ok(TransferCreated::Created(Json(TransferToken {
            identity: doc.identity,
            token,
        })))
    }

    /// Redeem a transfer token; only the first redemption succeeds.
    #[oai(path = "/ident/transfer/:token", method = "get", tag = "Tag::Ident")]
    async fn redeem_transfer(
        &self,
        token: Path<Param<TransferTokenParam>>,
        req: &Request,
    ) -> Result<Json<TransferredSecret>> {
        let transfer = self.service.redeem_transfer(token.0.value(), &client_of(req)).await?;
        Ok(Json(TransferredSecret {
            identity: transfer.identity,
            encrypted_secret: transfer.encrypted_secret,
        }))
    }

    /// Identities with positive karma, highest first (ties: oldest identity first).
    #[oai(path = "/ident/leaderboard", method = "get", tag = "Tag::Ident")]
    async fn leaderboard(
        &self,
        page: Query<Param<Page>>,
        #[oai(name = "perPage")] per_page: Query<Param<PerPage>>,
    ) -> Result<Json<LeaderboardPage>> {
        let paging = paging(&page, &per_page)?;
        let (entries, total) = self
            .service
            .leaderboard(paging.offset(), paging.per_page as usize)
            .await?;
        let content = entries
            .into_iter()
            .map(|e| LeaderboardEntry {
                display_name: e.doc.display_name(),
                identity: e.doc.identity,
                karma: e.karma,
                trusted: e.doc.trusted,
            })
            .collect();
        Ok(Json(LeaderboardPage {
            content,
            info: PageInfo::new(&paging, total),
        }))
    }

    /// The caller's karma history, newest first.
    #[oai(path = "/karma/me", method = "get", tag = "Tag::Ident")]
    async fn karma(
        &self,
        #[oai(name = "x-ident")] ident: Header<Param<IdentHeader>>,
        page: Query<Param<Page>>,
        #[oai(name = "perPage")] per_page: Query<Param<PerPage>>,
    ) -> Result<Json<KarmaPage>> {
        let doc = self.service.require_identity(ident.0.as_deref()).await?;
        let paging = paging(&page, &per_page)?;
        let history = self.service.karma_history(&doc).await?;
        let total = history.len() as u64;
        let content = history
            .into_iter()
            .skip(paging.offset())
            .take(paging.per_page as usize)
            .map(|h| KarmaEvent {
                kind: h["type"].as_str().unwrap_or_default().to_owned(),
                delta: h["delta"].as_i64().unwrap_or_default(),
                occurred_at: h["occurredAt"].as_str().unwrap_or_default().to_owned(),
                cvm_id: h["cvmId"].as_str().unwrap_or_default().to_owned(),
            })
            .collect();
        Ok(Json(KarmaPage {
            content,
            info: PageInfo::new(&paging, total),
        }))
    }

    /// KMC: identities, paged, optionally filtered (RSQL over identity,
    /// displayName, credibility, karma, createdAt, trusted).
    #[oai(path = "/kmc/ident", method = "get", tag = "Tag::KmcIdent")]
    async fn kmc_list(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        page: Query<Param<Page>>,
        #[oai(name = "perPage")] per_page: Query<Param<PerPage>>,
        filter: Query<Param<FilterParam>>,
    ) -> Result<Json<KmcIdentPage>> {
        self.service.require_admin(authorization.0.as_deref())?;
        let paging = paging(&page, &per_page)?;
        let filter = FieldSet::kmc_ident()
            .compile_param(filter.0.as_deref())
            .map_err(filter_error)?;
        let mut all = self.service.all_identities().await?;
        if let Some(filter) = filter {
            all.retain(|info| filter.matches(&filterable(info)));
        }
        let total = all.len() as u64;
        let content = all
            .into_iter()
            .skip(paging.offset())
            .take(paging.per_page as usize)
            .map(Into::into)
            .collect();
        Ok(Json(KmcIdentPage {
            content,
            info: PageInfo::new(&paging, total),
        }))
    }

    /// KMC: one identity; 404 for unknown ids (the original answered 401: bug 16).
    #[oai(path = "/kmc/ident/:id", method = "get", tag = "Tag::KmcIdent")]
    async fn kmc_get(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        id: Path<Param<Identity>>,
    ) -> Result<Json<IdentInfoBody>> {
        self.service.require_admin(authorization.0.as_deref())?;
        let doc = self
            .service
            .idents
            .get(id.0.value())
            .await
            .map_err(ApiError::unavailable)?
            .ok_or_else(|| ApiError::new(error::NOT_FOUND))?;
        Ok(Json(self.service.info(doc).await?.into()))
    }

    /// KMC: set the trusted flag (`{"trusted": true|false}`); 404 for unknown ids.
    #[oai(path = "/kmc/ident/:id", method = "patch", tag = "Tag::KmcIdent")]
    async fn kmc_patch(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        id: Path<Param<Identity>>,
        body: Json<Body<TrustedInput>>,
    ) -> Result<()> {
        self.service.require_admin(authorization.0.as_deref())?;
        match field(&body.0, "trusted") {
            None | Some(Value::Null) => Ok(()),
            Some(Value::Bool(trusted)) => {
                if self.service.set_trusted(id.0.value(), *trusted).await? {
                    Ok(())
                } else {
                    Err(ApiError::new(error::NOT_FOUND))
                }
            }
            Some(_) => {
                let mut violations = Violations::default();
                violations.add("trusted", "isBoolean", "trusted must be a boolean value".into());
                violations.into_result()
            }
        }
    }

    /// KMC: delete an identity and anonymise everything it did. Always 200.
    #[oai(path = "/kmc/ident/:id", method = "delete", tag = "Tag::KmcIdent")]
    async fn kmc_delete(
        &self,
        #[oai(name = "Authorization")] authorization: Header<Param<AdminAuthorization>>,
        id: Path<Param<Identity>>,
    ) -> Result<()> {
        self.service.require_admin(authorization.0.as_deref())?;
        self.service.erase(id.0.value()).await
    }
}
