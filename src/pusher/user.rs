//! User ids as Pusher messages carry them: a presence member's `user_id` (any JSON string
//! or number) and a signed-in user's `id`.
//!
//! soketi runs on `JSON.parse`, so two spellings of one JSON value are one user there:
//! `"\u0031"` is `"1"` and `1.0` is `1`. The JSON type is kept: `1` and `"1"` are different
//! presence members (pusher-js and soketi's own tests rely on that).

use serde_json::value::RawValue;

/// A JavaScript number's `String(n)` for the values user ids take (integers print without
/// a fraction: `1.0` and `1e2` are `1` and `100`).
fn js_number(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.fract() == 0.0 && v.abs() < 1e21 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// A presence `user_id` in canonical JSON: a string re-encoded, a number as JavaScript
/// prints it. `None` for other JSON types and for the empty string.
pub fn canonical_user_id(raw: &RawValue) -> Option<String> {
    let t = raw.get();
    if t.starts_with('"') {
        let s: String = serde_json::from_str(t).ok()?;
        (!s.is_empty()).then(|| serde_json::to_string(&s).expect("a string serialises"))
    } else if t.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        let v: f64 = t.parse().ok()?;
        v.is_finite().then(|| js_number(v))
    } else {
        None
    }
}

/// The signed-in user id as text (soketi: `String(id)`), when it is truthy: a non-empty
/// string or a non-zero number.
pub fn signin_user_id(raw: &RawValue) -> Option<String> {
    let canonical = canonical_user_id(raw)?;
    if canonical.starts_with('"') {
        serde_json::from_str(&canonical).ok()
    } else {
        (canonical != "0").then_some(canonical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    #[test]
    fn presence_ids_are_canonical_json_of_their_type() {
        let cases = [
            (r#""1""#, Some(r#""1""#)),
            (r#""\u0031""#, Some(r#""1""#)),
            ("1", Some("1")),
            ("1.0", Some("1")),
            ("1e2", Some("100")),
            ("-0", Some("0")),
            ("1.5", Some("1.5")),
            (r#""""#, None),
            ("true", None),
            ("null", None),
            ("{}", None),
        ];
        for (input, want) in cases {
            assert_eq!(canonical_user_id(&raw(input)).as_deref(), want, "{input}");
        }
    }

    #[test]
    fn signin_ids_are_truthy_text() {
        assert_eq!(signin_user_id(&raw(r#""abc""#)).as_deref(), Some("abc"));
        assert_eq!(signin_user_id(&raw("42")).as_deref(), Some("42"));
        assert_eq!(signin_user_id(&raw("0")), None);
        assert_eq!(signin_user_id(&raw(r#""""#)), None);
        assert_eq!(signin_user_id(&raw("false")), None);
    }
}
