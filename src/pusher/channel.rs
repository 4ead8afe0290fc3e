//! Channel names and kinds, by the Pusher naming rules.
//!
//! soketi matches kinds with unanchored regexes (so `foo-private-bar` is private); fanoutd
//! uses anchored prefixes as the Pusher docs define them (docs/compat.md).

/// What a channel name makes a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Public,
    Private,
    /// `private-encrypted-`: private, payloads end-to-end encrypted and opaque to us.
    Encrypted,
    Presence,
}

/// Prefix of the channels that address one signed-in user's sockets.
pub const SERVER_TO_USER_PREFIX: &str = "#server-to-user-";

/// The kind of a channel name.
pub fn kind(name: &str) -> Kind {
    if name.starts_with("presence-") {
        Kind::Presence
    } else if name.starts_with("private-encrypted-") {
        Kind::Encrypted
    } else if name.starts_with("private-") {
        Kind::Private
    } else {
        Kind::Public
    }
}

/// `true` for cache channels: `cache-`, `private-cache-`, `private-encrypted-cache-`,
/// `presence-cache-`.
pub fn is_cache(name: &str) -> bool {
    let rest = name
        .strip_prefix("private-encrypted-")
        .or_else(|| name.strip_prefix("private-"))
        .or_else(|| name.strip_prefix("presence-"))
        .unwrap_or(name);
    rest.starts_with("cache-")
}

/// Pusher: "Channel names should only include lower and uppercase letters, numbers and the
/// following punctuation `_ - = @ , . ;`". Length is checked separately (per-app limit).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-=@,.;".contains(&b))
}

/// A name the HTTP API may publish to: a valid channel name, or a server-to-user channel.
pub fn valid_publish_name(name: &str, max_len: usize) -> bool {
    if name.len() > max_len {
        return false;
    }
    match name.strip_prefix(SERVER_TO_USER_PREFIX) {
        Some(user) => !user.is_empty(),
        None => valid_name(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_anchored() {
        let table = [
            ("public", Kind::Public),
            ("private-a", Kind::Private),
            ("private-encrypted-a", Kind::Encrypted),
            ("presence-a", Kind::Presence),
            ("foo-private-bar", Kind::Public),
            ("foo-presence-bar", Kind::Public),
            ("private-cache-a", Kind::Private),
        ];
        for (name, k) in table {
            assert_eq!(kind(name), k, "{name}");
        }
    }

    #[test]
    fn cache_names() {
        for n in [
            "cache-a",
            "private-cache-a",
            "private-encrypted-cache-a",
            "presence-cache-a",
        ] {
            assert!(is_cache(n), "{n}");
        }
        for n in ["a-cache-b", "cachex", "private-a", "presence-a-cache-"] {
            assert!(!is_cache(n), "{n}");
        }
    }

    #[test]
    fn names() {
        assert!(valid_name("a-Z_0=@,.;"));
        for bad in [
            "",
            "a b",
            "a#",
            "#server-to-user-1",
            "a\u{e9}",
            "a/b",
            "a:b",
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        assert!(valid_publish_name("#server-to-user-1", 200));
        assert!(!valid_publish_name("#server-to-user-", 200));
        assert!(!valid_publish_name("abc", 2));
    }
}
