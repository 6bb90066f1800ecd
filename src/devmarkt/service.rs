//! Every Devmarkt operation as commands on the aggregates (spec 9), shared
//! by GraphQL and REST. Authorization is the APIs' job; this module decides
//! nothing the aggregates decide.
//!
//! Read-your-writes: a mutation waits until the `devmarkt` read model has
//! applied everything this process appended (`settle`), then answers from
//! the read model (templates: from the aggregate's state), so the returned
//! object (its user's applications, the current application) is the stored
//! one. The wait is ~1 ms in-process and bounded (5 s); a read model that
//! does not catch up in time is logged and the answer may then lag.

use super::auth::{Caller, Credentials};
use super::epoch::EPOCH_ID;
use super::views::{ApplicationView, Reader, TemplateView, UserView};
use super::Devmarkt;
use crate::event_store::{CommandError, CommandMetadata};
use crate::http::error::current_request_id;
use aggregates::devmarkt::application::validation::creation_errors;
use aggregates::devmarkt::application::{
    Answer, Application, ApplicationCommand, ApplicationError, ApplicationId, ApplicationStatus, Decision,
};
use aggregates::devmarkt::template::{
    Failure, FailureError, Question, QuestionUpdate, Template, TemplateCommand, TemplateError,
};
use aggregates::devmarkt::user::{Role, User, UserCommand, UserError, UserId};
use cqrs_es::EventStore;
use projections::devmarkt::{keys, NAME, SEQUENCES};
use projections::Namespace;
use std::time::{Duration, Instant};

/// Actor stamped on the application deletions of a `deleteUser` cascade:
/// subscriptions do not announce them (spec 9.10).
pub const CASCADE_ACTOR: &str = "devmarkt:cascade";

/// How long a mutation waits for the read model to catch up.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);

/// An operation that could not run (not a domain failure).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Input the API's constraints should have stopped.
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("the data kept changing concurrently; try again")]
    Conflict,
    #[error("storage error: {0}")]
    Store(String),
}

/// One try of `createApplication` with one id.
enum Attempt {
    Created,
    /// The id was taken by someone else's application: try the next one.
    Taken,
    Refused(Failure),
}

/// The application id sequence of this process.
#[derive(Debug, Default)]
pub struct Sequence {
    epoch: u64,
    /// The highest id this process saw used.
    last: ApplicationId,
    /// Ids requests of this process are trying right now.
    reserved: std::collections::BTreeSet<ApplicationId>,
}

/// A domain outcome: the value, or a `Failure` returned as data.
pub type Outcome<T> = Result<Result<T, Failure>, ServiceError>;

fn store_error(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Store(e.to_string())
}

/// Splits a command error into a refusal `R` (the aggregate's error) and
/// the errors that are not the domain's.
fn refused<E: std::error::Error>(error: CommandError<E>) -> Result<E, ServiceError> {
    match error {
        CommandError::Rejected(e) => Ok(e),
        CommandError::Conflict { .. } => Err(ServiceError::Conflict),
        CommandError::Store(e) => Err(ServiceError::Store(e)),
    }
}

fn metadata() -> CommandMetadata {
    CommandMetadata::new(current_request_id(), None, chrono::Utc::now())
}

impl Devmarkt {
    // ---------------------------------------------------------------- epochs

    /// The live epoch: always 0 unless QA mode reseeds.
    pub async fn epoch(&self) -> Result<u64, ServiceError> {
        if !self.qa {
            return Ok(0);
        }
        let loaded = self.epochs.loader.load_aggregate(EPOCH_ID).await.map_err(store_error)?;
        Ok(loaded.aggregate.current)
    }

    /// The live epoch, with its built-in admin in place (and in QA mode, the
    /// seed, when nothing was seeded yet). Every request starts here.
    pub async fn prepare(&self) -> Result<u64, ServiceError> {
        let epoch = self.epoch().await?;
        if *self.prepared.lock().expect("prepared lock") == Some(epoch) {
            return Ok(epoch);
        }
        let _setup = self.setup.lock().await;
        let mut epoch = self.epoch().await?;
        if self.qa && epoch == 0 {
            epoch = self.reseed_locked().await?;
        } else {
            self.users
                .commands
                .execute(
                    &keys::aggregate_id(epoch, UserId::built_in_admin()),
                    UserCommand::ProvisionBuiltInAdmin,
                    &metadata(),
                )
                .await
                .map_err(|e| store_error(e.to_string()))?;
            self.settle().await;
        }
        *self.prepared.lock().expect("prepared lock") = Some(epoch);
        Ok(epoch)
    }

    /// Starts a new epoch and seeds it (spec 12); serialized in this process.
    pub async fn reseed(&self) -> Result<u64, ServiceError> {
        let _setup = self.setup.lock().await;
        let epoch = self.reseed_locked().await?;
        *self.prepared.lock().expect("prepared lock") = Some(epoch);
        Ok(epoch)
    }

    async fn reseed_locked(&self) -> Result<u64, ServiceError> {
        self.epochs
            .commands
            .execute(EPOCH_ID, super::epoch::EpochCommand::Advance, &metadata())
            .await
            .map_err(|e| store_error(e.to_string()))?;
        let epoch = self.epoch().await?;
        super::qa::seed(self, epoch).await?;
        self.settle().await;
        Ok(epoch)
    }

    pub fn reader(&self, epoch: u64) -> Reader<'_> {
        Reader {
            store: self.read_models.as_ref(),
            epoch,
        }
    }

    // ------------------------------------------------------- read your writes

    /// Waits until the read model has applied every event this process has
    /// appended so far.
    pub async fn settle(&self) {
        let target = *self.events.appended().borrow();
        let started = Instant::now();
        let mut status = self.projector_status.clone();
        loop {
            match self.checkpoint().await {
                Ok(checkpoint) if checkpoint >= target => return,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "devmarkt: cannot read the projection checkpoint"),
            }
            if started.elapsed() > SETTLE_TIMEOUT {
                tracing::warn!(target, "devmarkt: the read model did not catch up in time");
                return;
            }
            let pause = Duration::from_millis(2).min(self.poll_interval);
            match &mut status {
                Some(status) => {
                    let _ = tokio::time::timeout(pause, status.changed()).await;
                }
                None => tokio::time::sleep(pause).await,
            }
        }
    }

    async fn checkpoint(&self) -> Result<u64, projections::StoreError> {
        match self.read_models.active(NAME).await? {
            Some(active) => {
                self.read_models
                    .checkpoint(&Namespace::new(NAME, active.generation))
                    .await
            }
            None => Ok(0),
        }
    }

    // ---------------------------------------------------------------- callers

    async fn load_user(&self, epoch: u64, id: &UserId) -> Result<User, ServiceError> {
        let loaded = self
            .users
            .loader
            .load_aggregate(&keys::aggregate_id(epoch, id))
            .await
            .map_err(store_error)?;
        Ok(loaded.aggregate)
    }

    async fn existing_user(&self, epoch: u64, id: &UserId) -> Result<Option<Caller>, ServiceError> {
        let user = self.load_user(epoch, id).await?;
        Ok(user.exists.then(|| Caller {
            id: id.clone(),
            role: user.role,
        }))
    }

    /// Spec 8.4: `Self` must name a known user; `Foreign` needs an admin
    /// sudoer and creates an unknown target with the role `USER`.
    pub async fn resolve(&self, epoch: u64, header: Option<&str>) -> Result<Option<Caller>, ServiceError> {
        match self.jwt.credentials(header) {
            Credentials::Anonymous => Ok(None),
            Credentials::Own(id) => self.existing_user(epoch, &id).await,
            Credentials::Foreign { sudoer, target } => {
                match self.existing_user(epoch, &sudoer).await? {
                    Some(caller) if caller.role == Role::Admin => {}
                    _ => return Ok(None),
                }
                if let Some(caller) = self.existing_user(epoch, &target).await? {
                    return Ok(Some(caller));
                }
                let created = self
                    .users
                    .commands
                    .execute(
                        &keys::aggregate_id(epoch, &target),
                        UserCommand::Create {
                            user_id: target.clone(),
                            role: Role::User,
                        },
                        &metadata(),
                    )
                    .await;
                match created {
                    Ok(()) => self.settle().await,
                    // Created concurrently by another request: use that one.
                    Err(e) => drop(refused(e)?),
                }
                self.existing_user(epoch, &target).await
            }
        }
    }

    // -------------------------------------------------------------- templates

    async fn load_template(&self, epoch: u64, name: &str) -> Result<Template, ServiceError> {
        let loaded = self
            .templates
            .loader
            .load_aggregate(&keys::aggregate_id(epoch, name))
            .await
            .map_err(store_error)?;
        Ok(loaded.aggregate)
    }

    async fn template_command(&self, epoch: u64, name: &str, command: TemplateCommand) -> Outcome<()> {
        match self
            .templates
            .commands
            .execute(&keys::aggregate_id(epoch, name), command, &metadata())
            .await
        {
            Ok(()) => Ok(Ok(())),
            Err(e) => match refused(e)? {
                TemplateError::Rejected(failure) => Ok(Err(failure)),
                other => Err(ServiceError::Invalid(other.to_string())),
            },
        }
    }

    /// The enabled template `name` as stored now (from the aggregate).
    async fn enabled_template(&self, epoch: u64, name: &str) -> Outcome<TemplateView> {
        Ok(self
            .load_template(epoch, name)
            .await?
            .snapshot()
            .ok_or_else(|| FailureError::NotFound.into()))
    }

    /// Spec 9.6.
    pub async fn create_template(&self, epoch: u64, name: &str, questions: Vec<Question>) -> Outcome<TemplateView> {
        let command = TemplateCommand::Create {
            name: name.to_owned(),
            questions,
        };
        if let Err(failure) = self.template_command(epoch, name, command).await? {
            return Ok(Err(failure));
        }
        self.settle().await;
        self.enabled_template(epoch, name).await
    }

    /// Spec 9.7: `true` when an enabled template was disabled.
    pub async fn delete_template(&self, epoch: u64, name: &str) -> Result<bool, ServiceError> {
        let deleted = self
            .template_command(epoch, name, TemplateCommand::Delete)
            .await?
            .is_ok();
        self.settle().await;
        Ok(deleted)
    }

    /// Spec 9.8. A rename creates the new name first and retires the old
    /// one second (see `TemplateCommand::CreateRenamed`); when the old one
    /// changed in between, the new one is deleted again and it starts over.
    pub async fn update_template(
        &self,
        epoch: u64,
        name: &str,
        new_name: Option<&str>,
        updates: Vec<QuestionUpdate>,
    ) -> Outcome<TemplateView> {
        let target = match new_name {
            Some(new_name) if new_name != name => new_name,
            _ => {
                let command = TemplateCommand::Update { updates };
                if let Err(failure) = self.template_command(epoch, name, command).await? {
                    return Ok(Err(failure));
                }
                self.settle().await;
                return self.enabled_template(epoch, name).await;
            }
        };
        for _ in 0..5 {
            let source = match self.enabled_template(epoch, name).await? {
                Ok(source) => source,
                Err(failure) => return Ok(Err(failure)),
            };
            let expected_revision = source.revision;
            let create = TemplateCommand::CreateRenamed {
                name: target.to_owned(),
                source,
                updates: updates.clone(),
            };
            if let Err(failure) = self.template_command(epoch, target, create).await? {
                return Ok(Err(failure));
            }
            let retire = TemplateCommand::RetireRenamed {
                renamed_to: target.to_owned(),
                expected_revision,
            };
            let retired = self
                .templates
                .commands
                .execute(&keys::aggregate_id(epoch, name), retire, &metadata())
                .await;
            match retired {
                Ok(()) => {
                    self.settle().await;
                    return self.enabled_template(epoch, target).await;
                }
                Err(e) => {
                    let refusal = refused(e);
                    // Undo step 1; the name must not stay taken by a half-done rename.
                    let _ = self.template_command(epoch, target, TemplateCommand::Delete).await?;
                    match refusal? {
                        TemplateError::RevisionMismatch { .. } => continue,
                        TemplateError::Rejected(failure) => {
                            self.settle().await;
                            return Ok(Err(failure));
                        }
                        other => return Err(ServiceError::Invalid(other.to_string())),
                    }
                }
            }
        }
        Err(ServiceError::Conflict)
    }

    // ------------------------------------------------------------------ users

    async fn user_command(&self, epoch: u64, id: &UserId, command: UserCommand) -> Outcome<()> {
        match self
            .users
            .commands
            .execute(&keys::aggregate_id(epoch, id), command, &metadata())
            .await
        {
            Ok(()) => Ok(Ok(())),
            Err(e) => match refused(e)? {
                UserError::Rejected(failure) => Ok(Err(failure)),
                UserError::InvalidInput(v) => Err(ServiceError::Invalid(UserError::InvalidInput(v).to_string())),
            },
        }
    }

    /// The user as the read model holds it, after this process's writes.
    async fn stored_user(&self, epoch: u64, id: &UserId) -> Outcome<UserView> {
        self.settle().await;
        Ok(self
            .reader(epoch)
            .user(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| FailureError::NotFound.into()))
    }

    /// Spec 9.9.
    pub async fn create_user(&self, epoch: u64, id: &UserId, role: Role) -> Outcome<UserView> {
        let command = UserCommand::Create {
            user_id: id.clone(),
            role,
        };
        if let Err(failure) = self.user_command(epoch, id, command).await? {
            return Ok(Err(failure));
        }
        self.stored_user(epoch, id).await
    }

    /// Spec 9.11.
    pub async fn update_user_role(&self, epoch: u64, id: &UserId, role: Role) -> Outcome<UserView> {
        if let Err(failure) = self.user_command(epoch, id, UserCommand::UpdateRole { role }).await? {
            return Ok(Err(failure));
        }
        self.stored_user(epoch, id).await
    }

    /// Spec 9.10: the user and, as in the reference's cascade, its
    /// applications (not announced to subscribers).
    pub async fn delete_user(&self, epoch: u64, id: &UserId) -> Result<bool, ServiceError> {
        self.settle().await;
        let owned = self
            .reader(epoch)
            .user(id)
            .await
            .map_err(store_error)?
            .map(|u| u.applications)
            .unwrap_or_default();
        if self.user_command(epoch, id, UserCommand::Delete).await?.is_err() {
            return Ok(false);
        }
        let cascade = CommandMetadata::new(current_request_id(), Some(CASCADE_ACTOR.to_owned()), chrono::Utc::now());
        for application in owned {
            let deleted = self
                .applications
                .commands
                .execute(
                    &keys::aggregate_id(epoch, application),
                    ApplicationCommand::Delete,
                    &cascade,
                )
                .await;
            if let Err(error) = deleted {
                // The read model drops them with the user anyway.
                tracing::warn!(%error, application, "devmarkt: cascade delete failed");
            }
        }
        self.settle().await;
        Ok(true)
    }

    // ----------------------------------------------------------- applications

    pub async fn load_application(&self, epoch: u64, id: ApplicationId) -> Result<Application, ServiceError> {
        let loaded = self
            .applications
            .loader
            .load_aggregate(&keys::aggregate_id(epoch, id))
            .await
            .map_err(store_error)?;
        Ok(loaded.aggregate)
    }

    /// The ownership gate's question (spec 8.5): does `id` exist and belong to `user`?
    pub async fn owns_application(&self, epoch: u64, user: &UserId, id: ApplicationId) -> Result<bool, ServiceError> {
        Ok(self.load_application(epoch, id).await?.is_owned_by(user))
    }

    async fn application_command(&self, epoch: u64, id: ApplicationId, command: ApplicationCommand) -> Outcome<()> {
        match self
            .applications
            .commands
            .execute(&keys::aggregate_id(epoch, id), command, &metadata())
            .await
        {
            Ok(()) => Ok(Ok(())),
            Err(e) => match refused(e)? {
                ApplicationError::Rejected(failure) => Ok(Err(failure)),
                ApplicationError::StatusUnchanged { .. } => Ok(Err(FailureError::NotFound.into())),
                other => Err(ServiceError::Invalid(other.to_string())),
            },
        }
    }

    async fn stored_application(&self, epoch: u64, id: ApplicationId) -> Outcome<ApplicationView> {
        self.settle().await;
        Ok(self
            .reader(epoch)
            .application(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| FailureError::NotFound.into()))
    }

    /// Reserves the next application id to try: one above the highest this
    /// process or the read model knows, and not reserved by another request
    /// of this process. The application aggregate refuses a used id
    /// (`AlreadyExists`), so a stale guess costs a retry, never a duplicate;
    /// a refused creation consumes no id (spec 11: the next id after the
    /// seed is 7 whatever failed before). Distinct ids for concurrent
    /// requests matter: claiming the same id twice is a no-op for the user
    /// aggregate, so two requests sharing an id would share one claim.
    async fn reserve_application_id(&self, epoch: u64) -> Result<ApplicationId, ServiceError> {
        let stored = match self.read_models.active(NAME).await.map_err(store_error)? {
            Some(active) => self
                .read_models
                .get_doc(&Namespace::new(NAME, active.generation), SEQUENCES, &epoch.to_string())
                .await
                .map_err(store_error)?
                .and_then(|d| d["lastApplicationId"].as_u64())
                .unwrap_or(0) as ApplicationId,
            None => 0,
        };
        let mut sequence = self.sequence.lock().expect("sequence lock");
        if sequence.epoch != epoch {
            *sequence = Sequence {
                epoch,
                ..Sequence::default()
            };
        }
        let mut id = stored.max(sequence.last) + 1;
        while sequence.reserved.contains(&id) {
            id += 1;
        }
        sequence.reserved.insert(id);
        Ok(id)
    }

    /// The lock creations of `owner` take turns on (striped: a fixed set of
    /// locks, so the set never grows).
    fn creation_turn(&self, owner: &UserId) -> &tokio::sync::Mutex<()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(owner);
        &self.creation_turns[(hash % self.creation_turns.len() as u64) as usize]
    }

    /// Ends a reservation; `used` when the id now exists.
    fn settle_application_id(&self, epoch: u64, id: ApplicationId, used: bool) {
        let mut sequence = self.sequence.lock().expect("sequence lock");
        if sequence.epoch == epoch {
            sequence.reserved.remove(&id);
            if used {
                sequence.last = sequence.last.max(id);
            }
        }
    }

    async fn release(&self, epoch: u64, owner: &UserId, application_id: ApplicationId) {
        let released = self
            .user_command(epoch, owner, UserCommand::ReleaseCurrentApplication { application_id })
            .await;
        if !matches!(released, Ok(Ok(()))) {
            tracing::warn!(%owner, application_id, "devmarkt: could not release the current application");
        }
    }

    /// Spec 9.12: claim the owner's single current-application slot first
    /// (`HAS_UNPROCESSED_APPLICATION`, which serializes racing creations on
    /// the user aggregate), then the template (`TEMPLATE_NOT_FOUND`), then
    /// the answers; every refusal after the claim gives the slot back.
    ///
    /// The same checks run once up front on the loaded state, and creations
    /// of one user take turns in this process: the aggregates decide, but a
    /// refusal found early reserves no id, so refused creations leave no
    /// gaps in the observable id sequence.
    pub async fn create_application(
        &self,
        epoch: u64,
        owner: &UserId,
        template_name: &str,
        answers: Vec<Answer>,
    ) -> Outcome<ApplicationView> {
        let _turn = self.creation_turn(owner).lock().await;
        if self.load_user(epoch, owner).await?.current_application.is_some() {
            return Ok(Err(FailureError::HasUnprocessedApplication.into()));
        }
        let Some(template) = self.load_template(epoch, template_name).await?.snapshot() else {
            return Ok(Err(FailureError::TemplateNotFound.into()));
        };
        if let Some(failure) = Failure::of(creation_errors(&template, &answers)) {
            return Ok(Err(failure));
        }
        for _ in 0..50 {
            let id = self.reserve_application_id(epoch).await?;
            let attempt = self
                .try_create_application(epoch, id, owner, template_name, &answers)
                .await;
            let used = matches!(attempt, Ok(Attempt::Created) | Ok(Attempt::Taken));
            self.settle_application_id(epoch, id, used);
            match attempt? {
                Attempt::Created => return self.stored_application(epoch, id).await,
                Attempt::Taken => continue,
                Attempt::Refused(failure) => return Ok(Err(failure)),
            }
        }
        Err(ServiceError::Conflict)
    }

    async fn try_create_application(
        &self,
        epoch: u64,
        id: ApplicationId,
        owner: &UserId,
        template_name: &str,
        answers: &[Answer],
    ) -> Result<Attempt, ServiceError> {
        let claim = UserCommand::ClaimCurrentApplication { application_id: id };
        if let Err(failure) = self.user_command(epoch, owner, claim).await? {
            return Ok(Attempt::Refused(failure));
        }
        let Some(template) = self.load_template(epoch, template_name).await?.snapshot() else {
            self.release(epoch, owner, id).await;
            return Ok(Attempt::Refused(FailureError::TemplateNotFound.into()));
        };
        let create = ApplicationCommand::Create {
            id,
            owner: owner.clone(),
            template,
            answers: answers.to_vec(),
        };
        let created = self
            .applications
            .commands
            .execute(&keys::aggregate_id(epoch, id), create, &metadata())
            .await;
        let refusal = match created {
            Ok(()) => return Ok(Attempt::Created),
            Err(e) => refused(e),
        };
        if let Ok(ApplicationError::AlreadyExists { .. }) = &refusal {
            // Another instance guessed the same id for the same user and
            // won: the slot rightly holds its application.
            if self.load_application(epoch, id).await?.is_owned_by(owner) {
                return Ok(Attempt::Refused(FailureError::HasUnprocessedApplication.into()));
            }
        }
        self.release(epoch, owner, id).await;
        match refusal? {
            ApplicationError::AlreadyExists { .. } => Ok(Attempt::Taken),
            ApplicationError::Rejected(failure) => Ok(Attempt::Refused(failure)),
            other => Err(ServiceError::Invalid(other.to_string())),
        }
    }

    /// Spec 9.14.
    pub async fn update_application(
        &self,
        epoch: u64,
        id: ApplicationId,
        answers: Vec<Answer>,
    ) -> Outcome<ApplicationView> {
        if let Err(failure) = self
            .application_command(epoch, id, ApplicationCommand::UpdateAnswers { answers })
            .await?
        {
            return Ok(Err(failure));
        }
        self.stored_application(epoch, id).await
    }

    /// Spec 9.13: `true` when the status changed; the owner's slot is freed.
    pub async fn process_application(
        &self,
        epoch: u64,
        id: ApplicationId,
        status: ApplicationStatus,
    ) -> Result<bool, ServiceError> {
        let Some(decision) = Decision::from_status(status) else {
            return Ok(false);
        };
        let application = self.load_application(epoch, id).await?;
        if !application.exists() {
            return Ok(false);
        }
        let processed = self
            .application_command(epoch, id, ApplicationCommand::Process { decision })
            .await?
            .is_ok();
        if processed {
            self.release(epoch, &application.owner, id).await;
        }
        self.settle().await;
        Ok(processed)
    }

    /// Spec 9.16: `true` when it was deleted; the owner's slot is freed.
    pub async fn delete_application(&self, epoch: u64, id: ApplicationId) -> Result<bool, ServiceError> {
        let application = self.load_application(epoch, id).await?;
        if !application.exists() {
            return Ok(false);
        }
        let deleted = self
            .application_command(epoch, id, ApplicationCommand::Delete)
            .await?
            .is_ok();
        if deleted {
            self.release(epoch, &application.owner, id).await;
        }
        self.settle().await;
        Ok(deleted)
    }
}
