//! Delivery: append one encoded frame to many sockets' output, flush later.
//!
//! A publish is encoded once (WebSocket header + Pusher JSON) by whoever accepted it and
//! shared as bytes with every reactor. Each reactor appends those bytes to the output of its
//! local subscribers and marks them dirty; the reactor flushes every dirty socket once,
//! just before it polls again, so frames that meet at one socket in an iteration leave in
//! one `write()`. This module owns that per-slot output state and knows nothing of sockets,
//! which is what lets the benches drive it directly.

use crate::conn::WriteBuf;
use crate::reactor::inbox::Item;
use crate::ws;

/// Output state of one connection slot. Kept apart from the connection itself so that
/// delivery walks a dense array of 16-byte entries.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Bytes waiting; `None` when nothing waits (idle sockets own no buffer).
    pub buf: Option<Box<WriteBuf>>,
    /// In the dirty list already.
    pub dirty: bool,
    /// The last flush could not write everything: the socket is behind.
    pub backlog: bool,
    /// Passed the output cap while behind; the reactor closes it as a slow consumer.
    pub over: bool,
}

/// Recycles write buffers so that steady-state delivery does not allocate.
#[derive(Debug, Default)]
// Boxed so a buffer moves between the pool and an `Outbox` (8 bytes) without reallocating.
#[allow(clippy::vec_box)]
pub struct BufPool {
    free: Vec<Box<WriteBuf>>,
}

/// Buffers kept for reuse at most.
const POOL_MAX: usize = 4096;
/// A buffer that grew past this is freed rather than kept.
const POOL_KEEP_CAPACITY: usize = 16 * 1024;
/// Capacity of a new buffer.
const NEW_CAPACITY: usize = 512;

impl BufPool {
    /// A buffer, recycled when possible.
    #[inline]
    pub fn get(&mut self) -> Box<WriteBuf> {
        self.free
            .pop()
            .unwrap_or_else(|| Box::new(WriteBuf::with_capacity(NEW_CAPACITY)))
    }

    /// Gives a drained buffer back.
    #[inline]
    pub fn put(&mut self, mut b: Box<WriteBuf>) {
        if self.free.len() < POOL_MAX && b.capacity() <= POOL_KEEP_CAPACITY {
            b.clear();
            self.free.push(b);
        }
    }
}

/// Everything delivery writes to, borrowed from the reactor.
pub struct Sink<'a> {
    pub outs: &'a mut [Outbox],
    pub dirty: &'a mut Vec<u32>,
    pub pool: &'a mut BufPool,
    /// Output cap per socket (bytes); past it the socket is marked `over`.
    pub max_output: usize,
    /// Slots that just passed the cap.
    pub over: &'a mut Vec<u32>,
}

impl Sink<'_> {
    /// Appends `bytes` to slot `idx`'s output and marks it dirty. Returns `false` (and
    /// appends nothing) when the slot is already over its cap.
    ///
    /// The cap applies to sockets that are behind (their last flush came up short): a
    /// single message larger than the cap still reaches a socket that keeps up.
    #[inline]
    pub fn push(&mut self, idx: u32, bytes: &[u8]) -> bool {
        let o = &mut self.outs[idx as usize];
        if o.over {
            return false;
        }
        let buf = o.buf.get_or_insert_with(|| self.pool.get());
        buf.extend(bytes);
        if !o.dirty {
            o.dirty = true;
            self.dirty.push(idx);
        }
        if o.backlog && buf.len() > self.max_output {
            o.over = true;
            self.over.push(idx);
        }
        true
    }
}

/// Encodes a Pusher message (`json`) for `channel` once, as the WebSocket text frame every
/// subscriber receives; `cache_seq` is the cache sequence number of a cache-channel
/// publish, 0 otherwise.
pub fn encode_item(channel: &str, json: &[u8], cache_seq: u64) -> Item {
    let mut frame = Vec::with_capacity(ws::frame::header_len_for(json.len()) + json.len());
    ws::frame::write_header(&mut frame, true, ws::OpCode::Text, json.len());
    frame.extend_from_slice(json);
    Item {
        channel: channel.into(),
        frame: frame.into_boxed_slice(),
        payload_len: json.len(),
        cache_seq,
    }
}

/// Appends `frame` to every subscriber in `subs` except `except`; returns how many got it.
#[inline]
pub fn deliver(frame: &[u8], subs: &[u32], except: Option<u32>, sink: &mut Sink<'_>) -> usize {
    let mut n = 0;
    for &idx in subs {
        if Some(idx) == except {
            continue;
        }
        if sink.push(idx, frame) {
            n += 1;
        }
    }
    n
}

/// Like [`deliver`], but skips the slots listed in `skip` (joiners whose snapshot already
/// holds this message; the list is short and usually empty).
#[inline]
pub fn deliver_skipping(
    frame: &[u8],
    subs: &[u32],
    except: Option<u32>,
    skip: &[(u32, u64)],
    sink: &mut Sink<'_>,
) -> usize {
    if skip.is_empty() {
        return deliver(frame, subs, except, sink);
    }
    let mut n = 0;
    for &idx in subs {
        if Some(idx) == except || skip.iter().any(|&(c, _)| c == idx) {
            continue;
        }
        if sink.push(idx, frame) {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliver_appends_once_per_subscriber_and_coalesces() {
        let mut outs: Vec<Outbox> = (0..4).map(|_| Outbox::default()).collect();
        let mut dirty = Vec::new();
        let mut pool = BufPool::default();
        let mut over = Vec::new();
        let mut sink = Sink {
            outs: &mut outs,
            dirty: &mut dirty,
            pool: &mut pool,
            max_output: 10,
            over: &mut over,
        };
        assert_eq!(deliver(b"abc", &[0, 1, 2], Some(1), &mut sink), 2);
        assert_eq!(deliver(b"def", &[0, 2], None, &mut sink), 2);
        assert_eq!(dirty, vec![0, 2]);
        assert_eq!(outs[0].buf.as_ref().unwrap().pending(), b"abcdef");
        assert!(outs[1].buf.is_none());
        // A socket that keeps up gets a message larger than the cap.
        assert!(over.is_empty());
        // Once behind, passing the cap marks the slot once and stops further appends.
        outs[0].backlog = true;
        let mut sink = Sink {
            outs: &mut outs,
            dirty: &mut dirty,
            pool: &mut pool,
            max_output: 10,
            over: &mut over,
        };
        assert_eq!(deliver(b"ghijk", &[0], None, &mut sink), 1);
        assert_eq!(deliver(b"x", &[0], None, &mut sink), 0);
        assert_eq!(over, vec![0]);
    }
}
