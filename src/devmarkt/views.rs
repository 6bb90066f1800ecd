//! What the read model holds, as the API shows it, and the read-model
//! queries (spec 9.1–9.5, 9.17).

use aggregates::devmarkt::application::{Answer, ApplicationId, ApplicationStatus};
use aggregates::devmarkt::template::{Question, TemplateSnapshot};
use aggregates::devmarkt::user::{Role, UserId};
use projections::devmarkt::{keys, APPLICATIONS, NAME, TEMPLATES, USERS};
use projections::{Namespace, ReadStore, StoreError};
use serde::Deserialize;
use std::cmp::Ordering;

/// A template: name and questions sorted by number.
pub type TemplateView = TemplateSnapshot;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationView {
    pub id: ApplicationId,
    pub owner: UserId,
    pub status: ApplicationStatus,
    pub template: TemplateSnapshot,
    /// Sorted by number; answer `n` belongs to question position `n`.
    pub answers: Vec<Answer>,
}

impl ApplicationView {
    /// The question an answer belongs to: by list position (spec 9.15).
    pub fn question_of(&self, answer: &Answer) -> Option<&Question> {
        self.template.questions.get(answer.number as usize)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: UserId,
    pub role: Role,
    #[serde(default)]
    pub applications: Vec<ApplicationId>,
}

/// Ordinal comparison of UTF-16 code units, as Java sorts strings.
pub fn utf16_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Read access to the `devmarkt` projection of one epoch.
pub struct Reader<'a> {
    pub store: &'a dyn ReadStore,
    pub epoch: u64,
}

impl Reader<'_> {
    async fn ns(&self) -> Result<Option<Namespace>, StoreError> {
        Ok(self
            .store
            .active(NAME)
            .await?
            .map(|active| Namespace::new(NAME, active.generation)))
    }

    async fn doc<T: for<'de> Deserialize<'de>>(
        &self,
        collection: &str,
        natural: &str,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.docs(collection, [natural.to_owned()]).await?.pop().flatten())
    }

    /// The documents of `naturals`, in that order (`None`: no such
    /// document), read from one resolution of the active generation.
    /// `ReadStore` has no multi-get, so they are read one after another
    /// (the embedded store has one reader connection: concurrent reads
    /// would only queue for it).
    async fn docs<T: for<'de> Deserialize<'de>>(
        &self,
        collection: &str,
        naturals: impl IntoIterator<Item = String>,
    ) -> Result<Vec<Option<T>>, StoreError> {
        let naturals = naturals.into_iter();
        let Some(ns) = self.ns().await? else {
            return Ok(naturals.map(|_| None).collect());
        };
        let mut docs = Vec::new();
        for natural in naturals {
            let key = keys::aggregate_id(self.epoch, &natural);
            let doc = self.store.get_doc(&ns, collection, &key).await?;
            docs.push(doc.and_then(|doc| serde_json::from_value(doc).ok()));
        }
        Ok(docs)
    }

    /// Enabled templates sorted by name (spec 9.1).
    pub async fn templates(&self) -> Result<Vec<TemplateView>, StoreError> {
        let Some(ns) = self.ns().await? else {
            return Ok(Vec::new());
        };
        let prefix = keys::prefix(self.epoch);
        let mut templates: Vec<TemplateView> = self
            .store
            .list_docs(&ns, TEMPLATES)
            .await?
            .into_iter()
            .filter(|(key, _)| key.starts_with(&prefix))
            .filter_map(|(_, doc)| serde_json::from_value(doc).ok())
            .collect();
        templates.sort_by(|a, b| utf16_cmp(&a.name, &b.name));
        Ok(templates)
    }

    pub async fn template(&self, name: &str) -> Result<Option<TemplateView>, StoreError> {
        self.doc(TEMPLATES, name).await
    }

    pub async fn user(&self, id: &UserId) -> Result<Option<UserView>, StoreError> {
        self.doc(USERS, &id.to_string()).await
    }

    pub async fn application(&self, id: ApplicationId) -> Result<Option<ApplicationView>, StoreError> {
        self.doc(APPLICATIONS, &id.to_string()).await
    }

    /// The user's applications: those with answers first, then those
    /// without, each by ascending id (spec 9.17, the reference's row order).
    pub async fn applications_of(&self, user: &UserId) -> Result<Vec<ApplicationView>, StoreError> {
        let Some(view) = self.user(user).await? else {
            return Ok(Vec::new());
        };
        let mut applications: Vec<ApplicationView> = self
            .applications(&view.applications)
            .await?
            .into_iter()
            .flatten()
            .collect();
        reference_order(&mut applications);
        Ok(applications)
    }

    /// The user's `UNPROCESSED` application (spec 9.17).
    pub async fn current_application_of(&self, user: &UserId) -> Result<Option<ApplicationView>, StoreError> {
        Ok(current(self.applications_of(user).await?))
    }

    /// The users of `ids`, in that order (a batch of the GraphQL loaders).
    pub async fn users(&self, ids: &[UserId]) -> Result<Vec<Option<UserView>>, StoreError> {
        self.docs(USERS, ids.iter().map(UserId::to_string)).await
    }

    /// The applications of `ids`, in that order (a batch of the GraphQL loaders).
    pub async fn applications(&self, ids: &[ApplicationId]) -> Result<Vec<Option<ApplicationView>>, StoreError> {
        self.docs(APPLICATIONS, ids.iter().map(ApplicationId::to_string)).await
    }
}

/// Sorts a user's applications as `User.applications` lists them: those
/// with answers first, then those without, each by ascending id (spec 9.17,
/// the reference's row order).
pub fn reference_order(applications: &mut [ApplicationView]) {
    applications.sort_by_key(|a| (a.answers.is_empty(), a.id));
}

/// The `UNPROCESSED` one of a user's applications (spec 9.17).
pub fn current(applications: impl IntoIterator<Item = ApplicationView>) -> Option<ApplicationView> {
    applications
        .into_iter()
        .find(|a| a.status == ApplicationStatus::Unprocessed)
}
