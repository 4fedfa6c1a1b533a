//! `AskUserQuestion`: the model asks the person it works for to choose between
//! options. The CLI asks for it through the same permission prompt as any tool, and
//! takes the answers as part of the allowed input — `answers`, a map from each
//! question's text to the chosen label (several labels of a multi-select question
//! joined by ", "). A client answers with `answers` in its decision; in `auto`
//! mode nobody is there, so the model is told to choose itself instead of getting
//! an empty answer.

use serde_json::{Map, Value};

/// The CLI's name of the tool.
pub const TOOL: &str = "AskUserQuestion";

/// What the model is told in `auto` mode.
pub const NOBODY_TO_ASK: &str = "Nobody can answer questions in this task (options.approvals.mode is \"auto\"): \
    choose the option you judge best yourself, and say which you chose and why in your answer.";

/// Most bytes of one answer.
pub const MAX_ANSWER_BYTES: usize = 4096;

/// A problem with a client's answers: the JSON pointer under the decision body, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerError {
    pub pointer: String,
    pub message: String,
}

/// The tool's input with the client's `answers` in it, as the CLI expects them.
/// Every answer must be to a question the model asked; a question may be left
/// unanswered. An answer is a label or, for a multi-select question, a list of them
/// (free text is allowed too: the CLI offers the person a text box).
pub fn answered_input(input: &Value, answers: &Map<String, Value>) -> Result<Value, Vec<AnswerError>> {
    let asked: Vec<(&str, bool)> = input
        .get("questions")
        .and_then(Value::as_array)
        .map(|questions| {
            questions
                .iter()
                .filter_map(|q| {
                    let multi = q.get("multiSelect").and_then(Value::as_bool).unwrap_or(false);
                    Some((q.get("question")?.as_str()?, multi))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut errors = Vec::new();
    let mut given = Map::new();
    for (question, answer) in answers {
        let pointer = format!("/answers/{}", question.replace('~', "~0").replace('/', "~1"));
        let fail = |message: String| AnswerError { pointer: pointer.clone(), message };
        let Some(&(_, multi)) = asked.iter().find(|(text, _)| *text == question) else {
            let texts: Vec<&str> = asked.iter().map(|(text, _)| *text).collect();
            errors.push(fail(format!("is not a question of this prompt; it asked: {}", texts.join(" | "))));
            continue;
        };
        let text = match answer {
            Value::String(label) => Some(label.clone()),
            Value::Array(labels) if multi && labels.iter().all(Value::is_string) && !labels.is_empty() => {
                Some(labels.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
            }
            Value::Array(_) if !multi => {
                errors.push(fail("must be one string: the question is not multi-select".into()));
                None
            }
            _ => {
                errors
                    .push(fail("must be a string, or a non-empty list of strings for a multi-select question".into()));
                None
            }
        };
        match text {
            Some(text) if text.is_empty() || text.len() > MAX_ANSWER_BYTES || text.contains('\0') => {
                errors.push(fail(format!("must be 1 to {MAX_ANSWER_BYTES} bytes, without NUL")));
            }
            Some(text) => {
                given.insert(question.clone(), Value::String(text));
            }
            None => {}
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut input = input.clone();
    match input.as_object_mut() {
        Some(object) => {
            object.insert("answers".into(), Value::Object(given));
            Ok(input)
        }
        None => {
            Err(vec![AnswerError { pointer: "/answers".into(), message: "the prompt's input is not an object".into() }])
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn asked() -> Value {
        json!({"questions": [
            {"question": "Which color?", "header": "Color", "multiSelect": false,
             "options": [{"label": "Blue", "description": ""}, {"label": "Red", "description": ""}]},
            {"question": "Which sizes?", "header": "Size", "multiSelect": true,
             "options": [{"label": "S", "description": ""}, {"label": "M", "description": ""}]}]})
    }

    fn answers(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn answers_join_the_input_as_the_cli_reads_them() {
        let input =
            answered_input(&asked(), &answers(json!({"Which color?": "Blue", "Which sizes?": ["S", "M"]}))).unwrap();
        assert_eq!(input["answers"], json!({"Which color?": "Blue", "Which sizes?": "S, M"}));
        assert_eq!(input["questions"], asked()["questions"], "the questions stay as asked");
        let partly = answered_input(&asked(), &answers(json!({"Which color?": "Green, please"}))).unwrap();
        assert_eq!(partly["answers"], json!({"Which color?": "Green, please"}), "free text and unanswered ones");
    }

    #[test]
    fn answers_to_other_questions_or_of_the_wrong_shape_are_named() {
        let errors = answered_input(
            &asked(),
            &answers(json!({"Which car?": "x", "Which color?": ["Blue", "Red"], "Which sizes?": [], "a/b": 1})),
        )
        .unwrap_err();
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            ["/answers/Which car?", "/answers/Which color?", "/answers/Which sizes?", "/answers/a~1b"]
        );
        assert!(errors[0].message.contains("it asked: Which color? | Which sizes?"), "{errors:?}");
        assert!(errors[1].message.contains("not multi-select"), "{errors:?}");
        let long = answered_input(&asked(), &answers(json!({"Which color?": "x".repeat(MAX_ANSWER_BYTES + 1)})));
        assert!(long.unwrap_err()[0].message.contains("4096 bytes"));
    }
}
