//! Query strings, decoded the way soketi's `query-string` package does for the REST API:
//! pairs split on `&`, `+` is a space, `%XY` is a byte, and a malformed escape is kept as
//! text rather than failing the request.

use std::borrow::Cow;

/// Percent-decodes `s`, and `+` as a space when `plus_as_space` (form encoding, as query strings
/// use). An invalid escape (`%`, `%4`, `%zz`) is kept literally; bytes that do not form UTF-8
/// after decoding become U+FFFD. Borrows `s` when there is nothing to decode.
pub fn percent_decode(s: &str, plus_as_space: bool) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    let Some(first) = bytes
        .iter()
        .enumerate()
        .position(|(i, &b)| (b == b'+' && plus_as_space) || escape_at(bytes, i).is_some())
    else {
        return Cow::Borrowed(s);
    };

    let (done, rest) = bytes.split_at(first);
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(done);
    let mut i = 0;
    while let Some(&b) = rest.get(i) {
        if let Some(decoded) = escape_at(rest, i) {
            out.push(decoded);
            i += 3;
        } else {
            out.push(if b == b'+' && plus_as_space { b' ' } else { b });
            i += 1;
        }
    }
    match String::from_utf8(out) {
        Ok(text) => Cow::Owned(text),
        Err(err) => Cow::Owned(String::from_utf8_lossy(err.as_bytes()).into_owned()),
    }
}

/// The byte encoded by a valid `%XY` escape starting at `bytes[i]`, if there is one.
fn escape_at(bytes: &[u8], i: usize) -> Option<u8> {
    match bytes.get(i..i.checked_add(3)?)? {
        [b'%', hi, lo] => Some((hex_value(*hi)? << 4) | hex_value(*lo)?),
        _ => None,
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Iterates the `key=value` pairs of a raw query string, both decoded with `+` as a space.
/// Pieces are split on `&` and empty ones skipped; a piece without `=` has the value `""`;
/// a key may repeat (callers decide what that means).
pub fn query_pairs(q: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    q.split('&').filter(|piece| !piece.is_empty()).map(|piece| {
        let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
        (percent_decode(key, true), percent_decode(value, true))
    })
}

/// The decoded value of the first pair whose decoded key is `name`.
pub fn query_get<'a>(q: &'a str, name: &str) -> Option<Cow<'a, str>> {
    query_pairs(q)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode() {
        #[rustfmt::skip]
        let cases: [(&str, bool, &str, bool); 20] = [
            // (input, plus_as_space, decoded, borrowed)
            ("", true, "", true),
            ("plain-text_1.2~", true, "plain-text_1.2~", true),
            ("a+b", true, "a b", false),
            ("a+b", false, "a+b", true),
            ("a%20b", false, "a b", false),
            ("%2B", true, "+", false),
            ("%2b%2F", true, "+/", false),
            ("presence-%40x", true, "presence-@x", false),
            ("100%", true, "100%", true),
            ("%4", true, "%4", true),
            ("%zz%", true, "%zz%", true),
            ("%%41", true, "%A", false),
            ("%4%41", true, "%4A", false),
            ("caf%C3%A9", true, "café", false),
            ("café", true, "café", true),
            ("%FF", true, "\u{FFFD}", false),
            ("a%C3", true, "a\u{FFFD}", false),
            ("%00", true, "\0", false),
            ("%25%32%30", true, "%20", false), // decodes once only
            ("%E2%82%AC+", true, "€ ", false),
        ];
        for (input, plus, want, borrowed) in cases {
            let got = percent_decode(input, plus);
            assert_eq!(got, want, "{input:?}");
            assert_eq!(matches!(got, Cow::Borrowed(_)), borrowed, "{input:?}");
        }
    }

    #[test]
    fn pairs() {
        #[rustfmt::skip]
        let cases: [(&str, &[(&str, &str)]); 8] = [
            ("", &[]),
            ("&&", &[]),
            ("a=1", &[("a", "1")]),
            ("a=1&b=&c", &[("a", "1"), ("b", ""), ("c", "")]),
            ("a=1&&a=2&", &[("a", "1"), ("a", "2")]),
            ("k=v=w", &[("k", "v=w")]),
            ("=v", &[("", "v")]),
            ("filter_by_prefix=presence-&x%20y=a+b%26c", &[("filter_by_prefix", "presence-"), ("x y", "a b&c")]),
        ];
        for (query, want) in cases {
            let got: Vec<(String, String)> = query_pairs(query)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(got, want, "{query:?}");
        }
    }

    #[test]
    fn get() {
        let q = "auth_key=k&info=user_count%2Csubscription_count&a=1&a=2&b%5F=x&flag";
        #[rustfmt::skip]
        let cases = [
            ("auth_key", Some("k")),
            ("info", Some("user_count,subscription_count")),
            ("a", Some("1")),
            ("b_", Some("x")),
            ("flag", Some("")),
            ("missing", None),
            ("", None),
        ];
        for (name, want) in cases {
            assert_eq!(query_get(q, name).as_deref(), want, "{name:?}");
        }
    }
}
