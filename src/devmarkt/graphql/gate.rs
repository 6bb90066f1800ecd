//! The per-field gates of spec 8.5 and the input constraints of 6.2.
//!
//! Order per root field: constraints (`Constraints::check`), the ownership
//! gate (`own_application`), the role gate (`require`). Auth errors carry a
//! `classification` extension; the `ErrorShape` extension strips their
//! `locations`/`path` so they match spec 8.6 exactly.

use super::types::{QuestionInput, UserIdInput};
use crate::devmarkt::auth::{Auth, Caller};
use aggregates::devmarkt::template::input::{is_blank, text_length};
use aggregates::devmarkt::user::Role;
use async_graphql::{Context, Error, ErrorExtensionValues, ErrorExtensions, PathSegment, ServerError, Value};

pub const UNAUTHORIZED: &str = "UNAUTHORIZED";
pub const FORBIDDEN: &str = "FORBIDDEN";

pub fn unauthorized() -> Error {
    Error::new("No or invalid authentication found.").extend_with(|_, e| e.set("classification", UNAUTHORIZED))
}

pub fn forbidden(parent: &str, field: &str) -> Error {
    Error::new(format!("You're forbidden to use '{parent}' @ '{field}'."))
        .extend_with(|_, e| e.set("classification", FORBIDDEN))
}

/// The caller, or UNAUTHORIZED.
pub fn authenticated<'a>(ctx: &'a Context<'_>) -> Result<&'a Caller, Error> {
    ctx.data_opt::<Auth>()
        .and_then(|auth| auth.0.as_ref())
        .ok_or_else(unauthorized)
}

/// `@Auth(role)`: `ADMIN` may everything, `USER` the user operations,
/// `NONE` nothing.
pub fn require<'a>(ctx: &'a Context<'_>, parent: &str, role: Role) -> Result<&'a Caller, Error> {
    let caller = authenticated(ctx)?;
    let allowed = caller.role == Role::Admin || (role == Role::User && caller.role == Role::User);
    if allowed {
        Ok(caller)
    } else {
        Err(forbidden(parent, ctx.item.node.name.node.as_str()))
    }
}

/// One step of a validated path.
#[derive(Clone, Copy)]
pub enum Step<'s> {
    Key(&'s str),
    Index(usize),
}

/// Collects constraint violations of one field invocation (spec 6.2).
pub struct Constraints<'c, 'ctx> {
    ctx: &'c Context<'ctx>,
    field: String,
    errors: Vec<ServerError>,
}

impl<'c, 'ctx> Constraints<'c, 'ctx> {
    pub fn new(ctx: &'c Context<'ctx>) -> Self {
        Self {
            ctx,
            field: ctx.item.node.name.node.to_string(),
            errors: Vec::new(),
        }
    }

    fn violation(&mut self, path: &[Step<'_>], constraint: &str, text: String) {
        let mut rendered = format!("/{}", self.field);
        let mut validated = vec![Value::String(self.field.clone())];
        for step in path {
            match step {
                Step::Key(key) => {
                    rendered.push('/');
                    rendered.push_str(key);
                    validated.push(Value::String((*key).to_owned()));
                }
                Step::Index(index) => {
                    rendered.push_str(&format!("[{index}]"));
                    validated.push(Value::Number((*index as u64).into()));
                }
            }
        }
        let mut error = ServerError::new(format!("{rendered} {text}"), Some(self.ctx.item.pos));
        error.path = vec![PathSegment::Field(self.ctx.item.node.response_key().node.to_string())];
        let mut extensions = ErrorExtensionValues::default();
        let classification = Value::from_json(serde_json::json!({
            "type": "ExtendedValidationError",
            "constraint": constraint,
        }))
        .expect("static JSON");
        let mut classification = match classification {
            Value::Object(map) => map,
            _ => unreachable!("an object"),
        };
        classification.insert(async_graphql::Name::new("validatedPath"), Value::List(validated));
        extensions.set("classification", Value::Object(classification));
        error.extensions = Some(extensions);
        self.errors.push(error);
    }

    /// `@NotBlank`.
    pub fn not_blank(&mut self, path: &[Step<'_>], text: &str) {
        if is_blank(text) {
            self.violation(path, "@NotBlank", "must not be blank".to_owned());
        }
    }

    /// `@Size(min, max)` on a string (UTF-16 length).
    pub fn size(&mut self, path: &[Step<'_>], text: &str, min: usize, max: usize) {
        if !(min..=max).contains(&text_length(text)) {
            self.violation(path, "@Size", format!("size must be between {min} and {max}"));
        }
    }

    /// `@ContainerSize(min, max)` on a list.
    pub fn container_size(&mut self, path: &[Step<'_>], len: usize, min: usize, max: usize) {
        if !(min..=max).contains(&len) {
            self.violation(path, "@ContainerSize", format!("size must be between {min} and {max}"));
        }
    }

    /// `@Range(min, max)`.
    pub fn range(&mut self, path: &[Step<'_>], value: i64, min: i64, max: i64) {
        if !(min..=max).contains(&value) {
            self.violation(path, "@Range", format!("range must be between {min} and {max}"));
        }
    }

    /// `QuestionInput`'s constraints, at `path`.
    pub fn question(&mut self, path: &[Step<'_>], question: &QuestionInput) {
        let mut at = path.to_vec();
        at.push(Step::Key("question"));
        self.not_blank(&at, &question.question);
        self.size(&at, &question.question, 1, 256);
        at.pop();
        at.push(Step::Key("minAnswerLength"));
        self.range(&at, i64::from(question.min_answer_length), 1, 1024);
    }

    /// `AnswerInput.answer`'s constraints, at `path`.
    pub fn answer(&mut self, path: &[Step<'_>], answer: &str) {
        let mut at = path.to_vec();
        at.push(Step::Key("answer"));
        self.not_blank(&at, answer);
        self.size(&at, answer, 1, 1024);
    }

    /// `UserIdInput.type`'s `@NotBlank`, at `path`.
    pub fn user_id(&mut self, path: &[Step<'_>], id: &UserIdInput) {
        let mut at = path.to_vec();
        at.push(Step::Key("type"));
        self.not_blank(&at, &id.id_type);
    }

    /// `true` when nothing was violated; otherwise the errors are reported
    /// and the field resolves to `null`.
    pub fn passed(self) -> bool {
        let passed = self.errors.is_empty();
        for error in self.errors {
            self.ctx.add_error(error);
        }
        passed
    }
}
