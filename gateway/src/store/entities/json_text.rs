//! A JSON document kept in a TEXT column, parsed once when its row is read.

use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, Value, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, QueryResult, TryGetError, TryGetable};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A typed JSON column (TEXT on every database, so it reads the same on SQLite
/// and PostgreSQL).
///
/// The one policy for a stored document that does not parse (written by another
/// version of the gateway, or edited by hand): the row stays readable, the
/// document is `Unreadable` and is never replaced by defaults. Whoever needs it
/// fails closed ([`JsonText::get`] says why: a run is failed, a follow-up
/// refused); what only shows it shows nothing ([`JsonText::parsed`] is `None`).
/// Written back, it keeps its text unchanged.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonText<T> {
    Parsed(T),
    Unreadable { text: String, error: String },
}

impl<T: DeserializeOwned> JsonText<T> {
    pub fn parse(text: String) -> Self {
        match serde_json::from_str(&text) {
            Ok(value) => Self::Parsed(value),
            Err(e) => Self::Unreadable { text, error: e.to_string() },
        }
    }
}

impl<T> JsonText<T> {
    /// The document, for what cannot go on without it; else why it does not parse.
    pub fn get(&self) -> Result<&T, &str> {
        match self {
            Self::Parsed(value) => Ok(value),
            Self::Unreadable { error, .. } => Err(error),
        }
    }

    /// The document, for what only shows it.
    pub fn parsed(&self) -> Option<&T> {
        match self {
            Self::Parsed(value) => Some(value),
            Self::Unreadable { .. } => None,
        }
    }
}

impl<T: Serialize> JsonText<T> {
    fn text(&self) -> String {
        match self {
            // Serialising the gateway's own option and result types cannot fail.
            Self::Parsed(value) => serde_json::to_string(value).unwrap_or_default(),
            Self::Unreadable { text, .. } => text.clone(),
        }
    }
}

impl<T> JsonText<T> {
    /// A document the gateway writes itself.
    pub fn new(value: T) -> Self {
        Self::Parsed(value)
    }
}

impl<T> From<T> for JsonText<T> {
    fn from(value: T) -> Self {
        Self::Parsed(value)
    }
}

// An optional document (`Option<JsonText<T>>`) is SQL NULL when absent.
impl<T> Nullable for JsonText<T> {
    fn null() -> Value {
        Value::String(None)
    }
}

impl<T: Serialize> From<JsonText<T>> for Value {
    fn from(document: JsonText<T>) -> Self {
        Value::String(Some(document.text()))
    }
}

impl<T: DeserializeOwned> TryGetable for JsonText<T> {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        String::try_get_by(res, index).map(Self::parse)
    }
}

impl<T: DeserializeOwned> ValueType for JsonText<T> {
    fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
        match v {
            Value::String(Some(text)) => Ok(Self::parse(text)),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "JsonText".to_owned()
    }

    fn array_type() -> ArrayType {
        ArrayType::String
    }

    fn column_type() -> ColumnType {
        ColumnType::Text
    }
}

#[cfg(test)]
mod tests {
    use super::JsonText;

    #[test]
    fn a_document_that_does_not_parse_stays_as_it_was_and_is_never_defaulted() {
        let good: JsonText<Vec<u32>> = JsonText::parse("[1,2]".into());
        assert_eq!(good.get().unwrap(), &vec![1, 2]);
        let bad: JsonText<Vec<u32>> = JsonText::parse("{not json".into());
        assert!(bad.get().is_err(), "what needs it fails closed");
        assert_eq!(bad.parsed(), None, "what shows it shows nothing");
        assert_eq!(sea_orm::Value::from(bad), sea_orm::Value::String(Some("{not json".into())), "kept as written");
    }
}
