//! mio tokens: the listener, the waker, and connections as (slot, generation).
//!
//! A connection token carries its slot's generation, so an event that arrives for a slot
//! that was freed and reused in the meantime is recognised as stale and ignored.

use mio::Token;

/// The reactor's public listener.
pub const LISTENER: Token = Token(usize::MAX);
/// The reactor's inbox waker.
pub const WAKER: Token = Token(usize::MAX - 1);

/// The token of slot `idx` at generation `gen`.
#[inline]
pub fn conn(idx: u32, gen: u32) -> Token {
    Token(((gen as usize) << 32) | idx as usize)
}

/// (slot, generation) of a connection token.
#[inline]
pub fn split(t: Token) -> (u32, u32) {
    (t.0 as u32, (t.0 >> 32) as u32)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let t = super::conn(7, 3);
        assert_eq!(super::split(t), (7, 3));
        assert_ne!(super::conn(u32::MAX - 1, u32::MAX), super::LISTENER);
    }
}
