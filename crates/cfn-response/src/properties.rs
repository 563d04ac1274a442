//! Typed access to `ResourceProperties`.
//!
//! CloudFormation sends every scalar property value as a string (`"true"`, `"14"`), and lists and
//! objects keep their shape with string leaves. These helpers turn them into Rust values and, when a
//! value is wrong, into an error that names the property, shows what arrived and says what is accepted:
//! that message becomes the `Reason` the person deploying the stack reads.

use std::fmt::Display;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A property value that is missing or cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropertyError {
    /// A required property is absent, null or empty.
    #[error("property `{name}` is required: set it in the template's Properties")]
    Missing {
        /// The property name.
        name: String,
    },
    /// A property has the wrong JSON shape (an object where a string was expected, say).
    #[error("property `{name}` must be {expected}, got {got}")]
    WrongType {
        /// The property name.
        name: String,
        /// What the property must be.
        expected: String,
        /// A short description of what arrived.
        got: String,
    },
    /// A property is a string that does not parse or is out of range.
    #[error("property `{name}` is invalid: {reason}")]
    Invalid {
        /// The property name.
        name: String,
        /// Why the value is not accepted.
        reason: String,
    },
}

impl PropertyError {
    /// An [`PropertyError::Invalid`] for `name`, for validation done by the caller.
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            name: name.into(),
            reason: reason.into(),
        }
    }
}

/// `ResourceProperties` (or `OldResourceProperties`) of a request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Properties(Map<String, Value>);

/// Longest value quoted back in an error message, so a huge property cannot crowd out the Reason.
const QUOTE_LIMIT: usize = 64;

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => quote(s),
        Value::Array(a) => format!("a list of {} items", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

fn quote(s: &str) -> String {
    if s.chars().count() <= QUOTE_LIMIT {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(QUOTE_LIMIT).collect();
        format!("{head:?}… ({} characters)", s.chars().count())
    }
}

impl Properties {
    /// Wraps a JSON object. Anything else (absent, null) is treated as no properties.
    pub fn from_value(value: Option<&Value>) -> Result<Self, PropertyError> {
        match value {
            None | Some(Value::Null) => Ok(Self::default()),
            Some(Value::Object(map)) => Ok(Self(map.clone())),
            Some(other) => Err(PropertyError::WrongType {
                name: "ResourceProperties".into(),
                expected: "an object".into(),
                got: describe(other),
            }),
        }
    }

    /// The raw JSON map.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The raw value of a property, if present and not null.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// A property that must be a non-empty string (surrounding whitespace is trimmed).
    pub fn required_str(&self, name: &str) -> Result<&str, PropertyError> {
        self.optional_str(name)?
            .ok_or_else(|| PropertyError::Missing { name: name.into() })
    }

    /// A string property that may be absent; an empty or blank string counts as absent.
    pub fn optional_str(&self, name: &str) -> Result<Option<&str>, PropertyError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => {
                let s = s.trim();
                Ok((!s.is_empty()).then_some(s))
            }
            Some(other) => Err(PropertyError::WrongType {
                name: name.into(),
                expected: "a string".into(),
                got: describe(other),
            }),
        }
    }

    /// A boolean property: `"true"`/`"false"` in any case (CloudFormation's form) or a JSON boolean.
    /// Absent or empty gives `default`.
    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, PropertyError> {
        let text = match self.get(name) {
            None => return Ok(default),
            Some(Value::Bool(b)) => return Ok(*b),
            Some(Value::String(s)) => s.trim(),
            Some(other) => {
                return Err(PropertyError::WrongType {
                    name: name.into(),
                    expected: "\"true\" or \"false\"".into(),
                    got: describe(other),
                });
            }
        };
        if text.is_empty() {
            Ok(default)
        } else if text.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if text.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(PropertyError::invalid(
                name,
                format!("expected \"true\" or \"false\", got {}", quote(text)),
            ))
        }
    }

    /// A number (or any `FromStr` type) given as a string or a JSON number. Absent gives `None`.
    pub fn parse<T>(&self, name: &str) -> Result<Option<T>, PropertyError>
    where
        T: FromStr,
        T::Err: Display,
    {
        let text = match self.get(name) {
            None => return Ok(None),
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                return Err(PropertyError::WrongType {
                    name: name.into(),
                    expected: "a string".into(),
                    got: describe(other),
                });
            }
        };
        if text.is_empty() {
            return Ok(None);
        }
        text.parse::<T>().map(Some).map_err(|e| {
            PropertyError::invalid(name, format!("cannot parse {}: {e}", quote(&text)))
        })
    }

    /// An integer property within `min..=max`; absent gives `default`.
    pub fn int_in_range(
        &self,
        name: &str,
        min: i64,
        max: i64,
        default: i64,
    ) -> Result<i64, PropertyError> {
        let value = self.parse::<i64>(name)?.unwrap_or(default);
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(PropertyError::invalid(
                name,
                format!("{value} is outside the accepted range {min} to {max}"),
            ))
        }
    }

    /// A list of strings: a JSON list of strings, or one comma-separated string (`"a, b,c"`).
    /// Items are trimmed and empty items dropped; absent gives an empty list.
    pub fn string_list(&self, name: &str) -> Result<Vec<String>, PropertyError> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match item {
                    Value::String(s) if s.trim().is_empty() => None,
                    Value::String(s) => Some(Ok(s.trim().to_owned())),
                    other => Some(Err(PropertyError::WrongType {
                        name: format!("{name}[{i}]"),
                        expected: "a string".into(),
                        got: describe(other),
                    })),
                })
                .collect(),
            Some(other) => Err(PropertyError::WrongType {
                name: name.into(),
                expected: "a list of strings or a comma-separated string".into(),
                got: describe(other),
            }),
        }
    }

    /// The whole property map deserialized into `T`, for resources with many properties: derive
    /// `Deserialize` with `#[serde(rename_all = "PascalCase")]` and use [`de`] for CloudFormation's
    /// string forms, then validate the fields. A failure names the property it happened in
    /// (`PrincipalArns[2]`), or `ResourceProperties` for a missing field (serde's message names it).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, PropertyError> {
        serde_path_to_error::deserialize(Value::Object(self.0.clone())).map_err(|e| {
            let path = e.path().to_string();
            let name = if path == "." {
                "ResourceProperties".to_owned()
            } else {
                path
            };
            PropertyError::invalid(name, e.into_inner().to_string())
        })
    }
}

/// Deserializers for CloudFormation's forms of property values, to use with
/// [`Properties::deserialize`] in `#[serde(deserialize_with = "...")]`. They follow the same rules
/// as the [`Properties`] accessors: strings are trimmed and a blank one counts as absent; a list is
/// a JSON list or one comma-separated string.
pub mod de {
    use std::fmt;

    use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};

    /// An optional string: absent, null, empty or blank is `None`; the value is trimmed. Use with
    /// `#[serde(default, deserialize_with = "de::blank_as_none")]`.
    pub fn blank_as_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<String>::deserialize(d)?
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()))
    }

    struct StringList;

    impl<'de> Visitor<'de> for StringList {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of strings or a comma-separated string")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                let item = item.trim();
                if !item.is_empty() {
                    out.push(item.to_owned());
                }
            }
            Ok(out)
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }

    /// A list of strings: a JSON list of strings or one comma-separated string (`"a, b,c"`); items
    /// trimmed, empty ones dropped. Use with `#[serde(default, deserialize_with = "de::string_list")]`.
    pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        d.deserialize_any(StringList)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(v: Value) -> Properties {
        Properties::from_value(Some(&v)).expect("object")
    }

    #[test]
    fn required_and_optional_strings() {
        let p = props(json!({"A": " x ", "Empty": "  ", "N": 3}));
        assert_eq!(p.required_str("A"), Ok("x"));
        assert_eq!(p.optional_str("Empty"), Ok(None));
        assert_eq!(
            p.required_str("Missing")
                .expect_err("must fail")
                .to_string(),
            "property `Missing` is required: set it in the template's Properties"
        );
        assert_eq!(
            p.required_str("N").expect_err("must fail").to_string(),
            "property `N` must be a string, got the number 3"
        );
    }

    #[test]
    fn booleans_as_cloudformation_sends_them() {
        let p = props(json!({"T": "true", "F": "FALSE", "B": true, "E": "", "Bad": "yes"}));
        assert_eq!(p.bool_or("T", false), Ok(true));
        assert_eq!(p.bool_or("F", true), Ok(false));
        assert_eq!(p.bool_or("B", false), Ok(true));
        assert_eq!(p.bool_or("E", true), Ok(true));
        assert_eq!(p.bool_or("Absent", true), Ok(true));
        assert_eq!(
            p.bool_or("Bad", true).expect_err("must fail").to_string(),
            "property `Bad` is invalid: expected \"true\" or \"false\", got \"yes\""
        );
        assert!(props(json!({"L": ["true"]})).bool_or("L", true).is_err());
    }

    #[test]
    fn numbers_from_strings() {
        let p = props(json!({"Days": "14", "Num": 7, "Bad": "14d", "Neg": "-1"}));
        assert_eq!(p.parse::<u32>("Days"), Ok(Some(14)));
        assert_eq!(p.parse::<u32>("Num"), Ok(Some(7)));
        assert_eq!(p.parse::<u32>("Absent"), Ok(None));
        let err = p.parse::<u32>("Bad").expect_err("must fail").to_string();
        assert!(
            err.starts_with("property `Bad` is invalid: cannot parse \"14d\""),
            "{err}"
        );
        assert!(p.parse::<u32>("Neg").is_err());
        assert_eq!(p.int_in_range("Days", 1, 30, 5), Ok(14));
        assert_eq!(p.int_in_range("Absent", 1, 30, 5), Ok(5));
        assert_eq!(
            p.int_in_range("Neg", 0, 30, 5)
                .expect_err("must fail")
                .to_string(),
            "property `Neg` is invalid: -1 is outside the accepted range 0 to 30"
        );
    }

    #[test]
    fn lists_as_json_or_comma_separated() {
        let p = props(json!({
            "L": ["a", " b ", ""],
            "C": "a, b,,c ",
            "Bad": ["a", 1],
            "Obj": {"a": "b"}
        }));
        assert_eq!(
            p.string_list("L"),
            Ok(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(
            p.string_list("C"),
            Ok(vec!["a".to_string(), "b".to_string(), "c".to_string()])
        );
        assert_eq!(p.string_list("Absent"), Ok(vec![]));
        assert_eq!(
            p.string_list("Bad").expect_err("must fail").to_string(),
            "property `Bad[1]` must be a string, got the number 1"
        );
        assert!(p.string_list("Obj").is_err());
    }

    #[test]
    fn long_values_are_quoted_short() {
        let long = "x".repeat(5000);
        let p = props(json!({ "B": long }));
        let err = p.bool_or("B", false).expect_err("must fail").to_string();
        assert!(err.len() < 200, "{err}");
        assert!(err.contains("5000 characters"));
    }

    #[test]
    fn properties_must_be_an_object() {
        assert!(Properties::from_value(Some(&json!("x"))).is_err());
        assert_eq!(Properties::from_value(None), Ok(Properties::default()));
    }

    #[test]
    fn deserialize_with_cloudformation_forms() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        #[serde(rename_all = "PascalCase")]
        struct P {
            #[serde(default, deserialize_with = "de::blank_as_none")]
            name: Option<String>,
            #[serde(default, deserialize_with = "de::string_list")]
            principal_arns: Vec<String>,
        }
        let p: P = props(json!({"Name": "  ", "PrincipalArns": "a, b,,c"}))
            .deserialize()
            .expect("valid");
        assert_eq!(
            p,
            P {
                name: None,
                principal_arns: vec!["a".into(), "b".into(), "c".into()]
            }
        );
        let p: P = props(json!({"Name": " x ", "PrincipalArns": [" a ", ""]}))
            .deserialize()
            .expect("valid");
        assert_eq!(
            (p.name.as_deref(), p.principal_arns),
            (Some("x"), vec!["a".to_owned()])
        );
        let err = props(json!({"PrincipalArns": ["a", 3]}))
            .deserialize::<P>()
            .expect_err("not a string")
            .to_string();
        assert!(
            err.contains("`PrincipalArns[1]`") && err.contains("expected a string"),
            "{err}"
        );
        let err = props(json!({"PrincipalArns": {"a": 1}}))
            .deserialize::<P>()
            .expect_err("an object")
            .to_string();
        assert!(
            err.contains("`PrincipalArns`")
                && err.contains("a list of strings or a comma-separated string"),
            "{err}"
        );
    }

    #[test]
    fn deserialize_names_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(rename_all = "PascalCase")]
        #[allow(dead_code)]
        struct P {
            sync_name: String,
        }
        let err = props(json!({}))
            .deserialize::<P>()
            .expect_err("must fail")
            .to_string();
        assert!(err.contains("SyncName"), "{err}");
    }
}
