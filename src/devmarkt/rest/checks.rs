//! The input constraints of spec 4.3/6.2 for REST bodies: a 422 listing
//! every violation, checked before authentication as in GraphQL.

use super::dto::{AnswerDto, CreateTemplate, QuestionDto, UpdateTemplate};
use crate::http::error::{ApiError, INVALID_PAYLOAD};
use aggregates::devmarkt::template::input::{is_blank, is_valid_template_name, text_length};
use serde_json::{json, Value};

#[derive(Default)]
struct Violations(Vec<Value>);

impl Violations {
    fn add(&mut self, path: String, constraint: &str, message: String) {
        self.0
            .push(json!({"path": path, "constraint": constraint, "message": message}));
    }

    fn text(&mut self, path: String, text: &str, max: usize) {
        if is_blank(text) {
            self.add(path.clone(), "@NotBlank", "must not be blank".into());
        }
        if !(1..=max).contains(&text_length(text)) {
            self.add(path, "@Size", format!("size must be between 1 and {max}"));
        }
    }

    fn name(&mut self, path: &str, name: &str) {
        if !is_valid_template_name(name) {
            self.add(
                path.into(),
                "TemplateName",
                "must not be blank and at most 40 characters long".into(),
            );
        }
    }

    fn questions(&mut self, questions: &[QuestionDto]) {
        for (index, question) in questions.iter().enumerate() {
            self.text(format!("/questions[{index}]/question"), &question.question, 256);
            if !(1..=1024).contains(&question.min_answer_length) {
                self.add(
                    format!("/questions[{index}]/minAnswerLength"),
                    "@Range",
                    "range must be between 1 and 1024".into(),
                );
            }
        }
    }

    fn done(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::with_details(INVALID_PAYLOAD, Some(self.0)))
        }
    }
}

pub fn create_template(body: &CreateTemplate) -> Result<(), ApiError> {
    let mut violations = Violations::default();
    violations.name("/name", &body.name);
    if !(1..=25).contains(&body.questions.len()) {
        violations.add(
            "/questions".into(),
            "@ContainerSize",
            "size must be between 1 and 25".into(),
        );
    }
    violations.questions(&body.questions);
    violations.done()
}

pub fn update_template(name: &str, body: &UpdateTemplate) -> Result<(), ApiError> {
    let mut violations = Violations::default();
    violations.name("name", name);
    if let Some(new_name) = &body.name {
        violations.name("/name", new_name);
    }
    violations.questions(&body.questions);
    violations.done()
}

pub fn answers(answers: &[AnswerDto]) -> Result<(), ApiError> {
    let mut violations = Violations::default();
    for (index, answer) in answers.iter().enumerate() {
        violations.text(format!("/answers[{index}]/answer"), &answer.answer, 1024);
    }
    violations.done()
}

pub fn user_type(id_type: &str) -> Result<(), ApiError> {
    let mut violations = Violations::default();
    if is_blank(id_type) {
        violations.add("/userId/type".into(), "@NotBlank", "must not be blank".into());
    }
    violations.done()
}
