//! Socket ids: Pusher's `digits.digits`, unique across a cluster, and mapping back to a
//! socket on this node.
//!
//! `"<node * 2^32 + rand>.<slot * 256 + reactor>"`: the first integer holds the node's id
//! (21 random bits drawn at start-up, so two nodes of a cluster almost never share one) and
//! a random half drawn per connection (so a stale reference to a reused slot matches
//! nothing, and ids are not guessable); the second names the reactor and slot. The first
//! integer stays below 2^53, so JavaScript clients read it without loss. A socket id from
//! another node parses, but never resolves to a local socket.

/// Bits of the node part (the first integer is `node << 32 | rand`, below 2^53).
pub const NODE_BITS: u32 = 21;

/// Identifies one socket: its node, reactor, slot and random half.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketRef {
    /// The node's id, below `2^NODE_BITS`.
    pub node: u32,
    pub reactor: u8,
    pub slot: u32,
    pub rand: u32,
}

impl SocketRef {
    /// Formats the Pusher socket id.
    pub fn socket_id(&self, out: &mut String) {
        let mut b = itoa::Buffer::new();
        let high = ((self.node as u64) << 32) | self.rand as u64;
        out.push_str(b.format(high));
        out.push('.');
        out.push_str(b.format(((self.slot as u64) << 8) | self.reactor as u64));
    }

    /// The socket id as a new string.
    pub fn to_id(&self) -> String {
        let mut s = String::with_capacity(28);
        self.socket_id(&mut s);
        s
    }

    /// Parses a socket id made by [`SocketRef::socket_id`] (on any node).
    pub fn parse(id: &str) -> Option<SocketRef> {
        let (a, b) = id.split_once('.')?;
        if a.is_empty() || b.is_empty() || !a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit()) {
            return None;
        }
        let high: u64 = a.parse().ok()?;
        if high >> (32 + NODE_BITS) != 0 {
            return None;
        }
        let low: u64 = b.parse().ok()?;
        let slot = u32::try_from(low >> 8).ok()?;
        Some(SocketRef {
            node: (high >> 32) as u32,
            reactor: (low & 0xff) as u8,
            slot,
            rand: high as u32,
        })
    }
}

/// A node id for this process: random, below `2^NODE_BITS`.
pub fn new_node_id(seed: u64) -> u32 {
    // Fold the seed so every bit of it counts.
    let folded = seed ^ (seed >> 21) ^ (seed >> 42);
    (folded & ((1 << NODE_BITS) - 1)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_ids_round_trip() {
        let r = SocketRef {
            node: 0,
            reactor: 3,
            slot: 123_456,
            rand: 4_000_000_000,
        };
        let mut s = String::new();
        r.socket_id(&mut s);
        assert_eq!(s, "4000000000.31604739");
        assert_eq!(SocketRef::parse(&s), Some(r));
        for bad in [
            "",
            "1",
            "1.",
            ".1",
            "a.1",
            "1.2.3",
            "-1.2",
            "99999999999999999999.1",
            "1.+2",
        ] {
            assert_eq!(SocketRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_node_part_keeps_ids_apart_and_below_2_pow_53() {
        let max = SocketRef {
            node: (1 << NODE_BITS) - 1,
            reactor: 255,
            slot: u32::MAX,
            rand: u32::MAX,
        };
        let id = max.to_id();
        let (high, _) = id.split_once('.').unwrap();
        assert_eq!(high.parse::<u64>().unwrap(), (1u64 << 53) - 1);
        assert_eq!(SocketRef::parse(&id), Some(max));
        // One past the node range is not an id we issue.
        assert_eq!(SocketRef::parse(&format!("{}.1", 1u64 << 53)), None);
        let a = SocketRef { node: 1, ..max };
        let b = SocketRef { node: 2, ..max };
        assert_ne!(a.to_id(), b.to_id());
        assert!(new_node_id(u64::MAX) < 1 << NODE_BITS);
    }
}
