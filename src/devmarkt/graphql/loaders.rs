//! Batched read-model reads of the nested fields (`Application.user`,
//! `User.applications`, `User.currentApplication`): every object of one
//! level asks the loader, which reads their distinct ids in one batch, so a
//! nested query costs one batch per level and kind instead of one read per
//! node. (`Application.template` needs no loader: the application document
//! holds the template it was created from, spec 9.17.)
//!
//! A fresh `DataLoader` per request (added in `prepare_request`, so HTTP,
//! WebSocket and in-process execution all get one) and no cache: nothing is
//! shared between requests, and a long-lived subscription never answers an
//! event from what an earlier event read. Keys carry the epoch because the
//! objects do (a subscription's event may belong to another epoch than the
//! connection it is delivered on).

use crate::devmarkt::views::{ApplicationView, UserView};
use crate::devmarkt::Devmarkt;
use aggregates::devmarkt::application::ApplicationId;
use aggregates::devmarkt::user::UserId;
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest};
use async_graphql::{Context, Request, ServerResult};
use projections::StoreError;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

/// How long a loader collects keys before it reads. The fields of one
/// level ask within one pass of the executor over them (microseconds for
/// hundreds of nodes); async-graphql's default of 1 ms added a millisecond
/// to every nested query (in-process bench: `application(id)` with its
/// user 0.22 → 1.36 ms). With 50 µs that query stays at ~0.27 ms and the
/// 12-level document of the issue reads in ~30 batches (12 with 1 ms).
const BATCH_WINDOW: Duration = Duration::from_micros(50);

/// The loader of one request.
pub type ReadModelLoader = DataLoader<ReadModel>;

/// A user of one epoch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserKey {
    pub epoch: u64,
    pub id: UserId,
}

/// An application of one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApplicationKey {
    pub epoch: u64,
    pub id: ApplicationId,
}

/// Loads from the `devmarkt` read model.
pub struct ReadModel(Arc<Devmarkt>);

/// Store errors as the loader hands them to every waiting field (it needs `Clone`).
pub type LoadError = Arc<str>;

/// Groups `keys` by epoch, reads each group with `read` (results in key
/// order, `None` for a missing document) and maps the keys that were found.
async fn by_epoch<K, V, Id, F, Fut>(
    keys: &[K],
    split: impl Fn(&K) -> (u64, Id),
    read: F,
) -> Result<HashMap<K, V>, LoadError>
where
    K: Clone + Eq + Hash,
    F: Fn(u64, Vec<Id>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Option<V>>, StoreError>>,
{
    let mut groups: HashMap<u64, (Vec<K>, Vec<Id>)> = HashMap::new();
    for key in keys {
        let (epoch, id) = split(key);
        let group = groups.entry(epoch).or_default();
        group.0.push(key.clone());
        group.1.push(id);
    }
    let mut found = HashMap::with_capacity(keys.len());
    for (epoch, (keys, ids)) in groups {
        let values = read(epoch, ids).await.map_err(|e| LoadError::from(e.to_string()))?;
        found.extend(
            keys.into_iter()
                .zip(values)
                .filter_map(|(key, value)| Some((key, value?))),
        );
    }
    Ok(found)
}

impl Loader<UserKey> for ReadModel {
    type Value = UserView;
    type Error = LoadError;

    async fn load(&self, keys: &[UserKey]) -> Result<HashMap<UserKey, UserView>, LoadError> {
        let devmarkt = &self.0;
        by_epoch(
            keys,
            |key| (key.epoch, key.id.clone()),
            |epoch, ids| async move { devmarkt.reader(epoch).users(&ids).await },
        )
        .await
    }
}

impl Loader<ApplicationKey> for ReadModel {
    type Value = ApplicationView;
    type Error = LoadError;

    async fn load(&self, keys: &[ApplicationKey]) -> Result<HashMap<ApplicationKey, ApplicationView>, LoadError> {
        let devmarkt = &self.0;
        by_epoch(
            keys,
            |key| (key.epoch, key.id),
            |epoch, ids| async move { devmarkt.reader(epoch).applications(&ids).await },
        )
        .await
    }
}

fn loader<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a ReadModelLoader> {
    ctx.data::<ReadModelLoader>()
}

/// The user `id` of `epoch`, batched with the other users of this level.
pub async fn user(ctx: &Context<'_>, epoch: u64, id: &UserId) -> async_graphql::Result<Option<UserView>> {
    let key = UserKey { epoch, id: id.clone() };
    Ok(loader(ctx)?.load_one(key).await?)
}

/// The applications of `ids` that exist in `epoch`, in the order of `ids`,
/// batched with the other applications of this level.
pub async fn applications(
    ctx: &Context<'_>,
    epoch: u64,
    ids: &[ApplicationId],
) -> async_graphql::Result<Vec<ApplicationView>> {
    let keys = ids.iter().map(|&id| ApplicationKey { epoch, id });
    let mut found = loader(ctx)?.load_many(keys).await?;
    Ok(ids
        .iter()
        .filter_map(|&id| found.remove(&ApplicationKey { epoch, id }))
        .collect())
}

/// Gives every request its own loader.
pub struct Loaders(pub Arc<Devmarkt>);

impl ExtensionFactory for Loaders {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Loaders(self.0.clone()))
    }
}

#[async_trait::async_trait]
impl Extension for Loaders {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let loader = DataLoader::new(ReadModel(self.0.clone()), tokio::spawn).delay(BATCH_WINDOW);
        next.run(ctx, request.data(loader)).await
    }
}
