//! Lenient request-body reading: empty, `null` and absent fields all mean "not given",
//! because the Rust SDK sends explicit `null`s and bodies on GETs.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use serde_json::{Map, Value};

use crate::errors::ApiError;

/// The body as a JSON object; an empty body or `null` is an empty object.
pub(crate) fn object(body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, ApiError> {
    let bytes = body.map_err(|e| {
        ApiError::bad_request(
            "bad_request",
            format!("The request body could not be read: {e}"),
        )
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(ApiError::bad_request(
            "bad_request",
            "The request body must be a JSON object.",
        )),
        Err(e) => Err(ApiError::bad_request(
            "bad_request",
            format!("The request body is not valid JSON: {e}"),
        )),
    }
}

/// The body as any JSON value; empty means `null`.
pub(crate) fn value(body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let bytes = body.map_err(|e| {
        ApiError::bad_request(
            "bad_request",
            format!("The request body could not be read: {e}"),
        )
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(
            "bad_request",
            format!("The request body is not valid JSON: {e}"),
        )
    })
}

/// A present field: not absent and not `null`.
pub(crate) fn field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

/// An optional string field; an empty string counts as absent (Go's `omitempty` never sends it).
pub(crate) fn opt_str(map: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match field(map, key) {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(
            "invalid_request_value",
            format!("{key} must be a string."),
        )),
    }
}

/// A required string field.
pub(crate) fn req_str(map: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    opt_str(map, key)?.ok_or_else(|| {
        ApiError::bad_request("invalid_request_value", format!("{key} is required."))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lenient_parsing() {
        assert!(
            object(Ok(Bytes::from_static(b"")))
                .map(|m| m.is_empty())
                .unwrap_or(false)
        );
        assert!(object(Ok(Bytes::from_static(b"null"))).is_ok());
        assert!(object(Ok(Bytes::from_static(b"{not json"))).is_err());
        assert!(object(Ok(Bytes::from_static(b"[1]"))).is_err());
        let m = json!({"a": null, "b": "", "c": "x", "d": 1});
        let m = m.as_object().cloned().unwrap_or_default();
        assert_eq!(opt_str(&m, "a").ok(), Some(None));
        assert_eq!(opt_str(&m, "b").ok(), Some(None));
        assert_eq!(opt_str(&m, "c").ok(), Some(Some("x".into())));
        assert!(opt_str(&m, "d").is_err());
        assert!(req_str(&m, "a").is_err());
    }
}
