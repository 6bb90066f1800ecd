//! Reading the job history (`job-runs` projection): the console's pages
//! (spec 5.3) and what the orphan check and the history cleanup select.
//! Every read is bounded: pages by `perPage` (≤ 50), the distinct view by
//! the number of job types (one per registered job), selections by
//! [`SELECTION_LIMIT`].

use super::Jobs;
use crate::http::error::ApiError;
use projections::kippenstummel::job_runs::{self, JobRunDocument, BY_CREATED, TYPES};
use projections::rsql::{FieldTest, Predicate, Scalar};
use projections::{DocQuery, Namespace};

/// Most runs one orphan check or cleanup pass looks at; the next pass
/// takes the rest.
pub const SELECTION_LIMIT: usize = 1_000;
/// Most job types the distinct view lists (there are six).
const MAX_TYPES: usize = 1_000;

pub fn field(path: &str, test: FieldTest) -> Predicate {
    Predicate::Field {
        path: path.to_owned(),
        test,
    }
}

pub fn text(value: &str) -> Scalar {
    Scalar::Text(value.to_owned())
}

pub fn and(a: Predicate, b: Predicate) -> Predicate {
    Predicate::And(Box::new(a), Box::new(b))
}

impl Jobs {
    /// The store the history lives in.
    pub fn history_store(&self) -> &std::sync::Arc<dyn projections::ReadStore> {
        &self.documents
    }

    /// The namespace of the history, if it was ever built.
    pub async fn history(&self) -> Result<Option<Namespace>, ApiError> {
        Ok(self
            .documents
            .active(job_runs::NAME)
            .await
            .map_err(ApiError::unavailable)?
            .map(|a| Namespace::new(job_runs::NAME, a.generation)))
    }

    /// Waits until the history shows every run change appended so far (a
    /// run's start is visible right after it was accepted).
    pub async fn caught_up(&self) -> Result<(), ApiError> {
        let head = self.events.head_position().await.map_err(ApiError::unavailable)?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(ns) = self.history().await? {
                if self.documents.checkpoint(&ns).await.map_err(ApiError::unavailable)? >= head {
                    return Ok(());
                }
            }
            if std::time::Instant::now() > deadline {
                return Err(ApiError::unavailable("the job history did not catch up"));
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    async fn docs(&self, ns: &Namespace, keys: &[String]) -> Result<Vec<JobRunDocument>, ApiError> {
        let mut runs = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(doc) = self
                .documents
                .get_doc(ns, job_runs::RUNS, key)
                .await
                .map_err(ApiError::unavailable)?
            {
                runs.push(serde_json::from_value(doc).map_err(ApiError::internal)?);
            }
        }
        Ok(runs)
    }

    /// One run, by queue and job id.
    pub async fn run(&self, queue: &str, job_id: &str) -> Result<Option<JobRunDocument>, ApiError> {
        let Some(ns) = self.history().await? else {
            return Ok(None);
        };
        Ok(self.docs(&ns, &[super::run_key(queue, job_id)]).await?.pop())
    }

    /// A page of runs, newest first; with `distinct`, only the newest run
    /// of each job type. Returns the page and the total.
    pub async fn runs(
        &self,
        offset: usize,
        limit: usize,
        distinct: bool,
    ) -> Result<(Vec<JobRunDocument>, u64), ApiError> {
        let Some(ns) = self.history().await? else {
            return Ok((Vec::new(), 0));
        };
        let store = &self.documents;
        if !distinct {
            let total = store.zcard(&ns, BY_CREATED).await.map_err(ApiError::unavailable)?;
            let keys: Vec<String> = store
                .zrange_desc(&ns, BY_CREATED, offset, limit)
                .await
                .map_err(ApiError::unavailable)?
                .into_iter()
                .map(|(key, _)| key)
                .collect();
            return Ok((self.docs(&ns, &keys).await?, total));
        }
        let mut newest = Vec::new();
        for (kind, _) in store
            .zrange_desc(&ns, TYPES, 0, MAX_TYPES)
            .await
            .map_err(ApiError::unavailable)?
        {
            let Some((queue, name)) = kind.split_once(':') else {
                continue;
            };
            let set = job_runs::by_created_of(queue, name);
            newest.extend(
                store
                    .zrange_desc(&ns, &set, 0, 1)
                    .await
                    .map_err(ApiError::unavailable)?,
            );
        }
        newest.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
        let total = newest.len() as u64;
        let keys: Vec<String> = newest
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|(key, _)| key)
            .collect();
        Ok((self.docs(&ns, &keys).await?, total))
    }

    /// Runs selected by `predicate`, at most [`SELECTION_LIMIT`].
    pub async fn select(&self, predicate: &Predicate) -> Result<Vec<JobRunDocument>, ApiError> {
        let Some(ns) = self.history().await? else {
            return Ok(Vec::new());
        };
        let query = DocQuery {
            predicate: Some(predicate),
            within: None,
            offset: 0,
            limit: SELECTION_LIMIT,
        };
        self.documents
            .query_docs(&ns, job_runs::runs(), &query)
            .await
            .map_err(ApiError::unavailable)?
            .into_iter()
            .map(|(_, doc)| serde_json::from_value(doc).map_err(ApiError::internal))
            .collect()
    }

    /// How many runs `predicate` selects.
    pub async fn count(&self, predicate: &Predicate) -> Result<u64, ApiError> {
        let Some(ns) = self.history().await? else {
            return Ok(0);
        };
        self.documents
            .count_docs(&ns, job_runs::runs(), &DocQuery::all(Some(predicate)))
            .await
            .map_err(ApiError::unavailable)
    }

    /// The job types (`queue:name`) that have runs in the history.
    pub async fn types(&self) -> Result<Vec<(String, String)>, ApiError> {
        let Some(ns) = self.history().await? else {
            return Ok(Vec::new());
        };
        Ok(self
            .documents
            .zrange_desc(&ns, TYPES, 0, MAX_TYPES)
            .await
            .map_err(ApiError::unavailable)?
            .into_iter()
            .filter_map(|(kind, _)| kind.split_once(':').map(|(q, n)| (q.to_owned(), n.to_owned())))
            .collect())
    }

    /// Runs whose status is `running` in the history.
    pub(super) async fn running_runs(&self) -> Result<Vec<JobRunDocument>, ApiError> {
        self.select(&field("status", FieldTest::Eq(text("running")))).await
    }
}
