//! RFC 3339 timestamps as Stytch sends them: whole seconds in JWTs, fractions in the API.

use serde::{Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339 as Format;

pub(crate) fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Format).ok()
}

/// Serializes an `OffsetDateTime` as RFC 3339.
pub(crate) struct Rfc3339(pub(crate) OffsetDateTime);

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.0.format(&Format).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }
}

/// `#[serde(with = "time_fmt::option")]`: optional RFC 3339; `null`, absent and
/// unparsable values all read as `None` (a bad timestamp must not fail a session).
pub(crate) mod option {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub(crate) fn serialize<S: Serializer>(
        v: &Option<OffsetDateTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => super::Rfc3339(*t).serialize_into(s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        let s: Option<std::borrow::Cow<'de, str>> = Option::deserialize(d)?;
        Ok(s.and_then(|s| super::parse(&s)))
    }
}

impl Rfc3339 {
    fn serialize_into<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_whole_and_fractional_seconds() {
        let whole = parse("2024-07-16T21:38:53Z").unwrap();
        let frac = parse("2021-08-28T00:41:58.935673Z").unwrap();
        assert_eq!(whole.unix_timestamp(), 1_721_165_933);
        assert_eq!(frac.microsecond(), 935_673);
        assert!(parse("yesterday").is_none());
    }
}
