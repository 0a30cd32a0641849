//! A TOML table read key by key, for config sections whose keys are split between owners (the
//! shared provider keys and each kind's own): the field names a serde struct accepts, unknown
//! keys refused with a did-you-mean, and type errors that name the key at fault.
//!
//! Invariants: every error message starts with the key it is about (`rate: ...`, or
//! "unknown field `rat`"), so that the config loader can point at its line; a struct read here has only optional fields, so that
//! one key can be checked alone.

use std::time::Duration;

use serde::de::{self, DeserializeOwned, Visitor};

pub use toml::Table;

/// The field names of the serde struct `T` (what `deny_unknown_fields` would accept).
pub fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields = None;
    let _ = T::deserialize(FieldNames(&mut fields));
    fields.unwrap_or(&[])
}

/// Reads `table` into `T`; a failure names the first key that fails alone.
pub fn read<T: DeserializeOwned>(table: Table) -> anyhow::Result<T> {
    let whole = toml::Value::Table(table);
    match whole.clone().try_into::<T>() {
        Ok(value) => Ok(value),
        Err(err) => {
            let toml::Value::Table(table) = whole else {
                unreachable!("built as a table above")
            };
            for (key, value) in table {
                let alone = Table::from_iter([(key.clone(), value)]);
                if let Err(e) = toml::Value::Table(alone).try_into::<T>() {
                    anyhow::bail!("{key}: {}", e.message().trim_end());
                }
            }
            Err(anyhow::anyhow!("{}", err.message().trim_end()))
        }
    }
}

/// The message for a key no owner takes: `expected` lists the accepted ones.
pub fn unknown_key(key: &str, expected: &[&str]) -> String {
    let hint = match crate::manifest::closest(key, expected.iter().copied()) {
        Some(close) => format!(" (hint: did you mean `{close}`?)"),
        None => String::new(),
    };
    let listed: Vec<String> = expected.iter().map(|f| format!("`{f}`")).collect();
    let shown: String = key.chars().take(40).flat_map(char::escape_debug).collect();
    format!(
        "unknown field `{shown}`, expected one of {}{hint}",
        listed.join(", ")
    )
}

/// A duration key (`"200ms"`, `"2m"`), `default` when absent; errors start with `field`.
pub fn duration(text: Option<&str>, default: &str, field: &str) -> anyhow::Result<Duration> {
    let text = text.unwrap_or(default);
    if text.chars().count() > 40 {
        anyhow::bail!(
            "{field}: {} characters is no duration; expected one like \"200ms\" or \"2m\"",
            text.chars().count()
        );
    }
    humantime::parse_duration(text).map_err(|e| {
        anyhow::anyhow!("{field}: expected a duration like \"200ms\" or \"2m\", got {text:?} ({e})")
    })
}

/// A deserializer that only records the field names `deserialize_struct` is called with.
struct FieldNames<'a>(&'a mut Option<&'static [&'static str]>);

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names recorded")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Stop
    }
}

impl<'de> de::Deserializer<'de> for FieldNames<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = Some(fields);
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Sample {
        rate: Option<String>,
        concurrency: Option<usize>,
    }

    #[test]
    fn lists_fields_and_names_the_key_at_fault() {
        assert_eq!(fields_of::<Sample>(), &["rate", "concurrency"]);
        let table: Table = toml::from_str("rate = \"1/s\"\nconcurrency = \"8\"\n").unwrap();
        let err = read::<Sample>(table).unwrap_err().to_string();
        assert!(err.starts_with("concurrency: invalid type"), "{err}");
        let message = unknown_key("rat", fields_of::<Sample>());
        assert!(message.starts_with("unknown field `rat`, expected one of `rate`, `concurrency` (hint: did you mean `rate`?)"), "{message}");
    }
}
