//! A connection's pending output.

/// Bytes waiting to be written to one socket.
///
/// Invariant: `buf[head..]` are the bytes not yet written; `head <= buf.len()`. Compaction is
/// lazy: the written prefix is dropped only when it is at least half of the buffer.
#[derive(Debug, Default)]
pub struct WriteBuf {
    buf: Vec<u8>,
    head: usize,
}

impl WriteBuf {
    /// A buffer with some capacity.
    pub fn with_capacity(cap: usize) -> WriteBuf {
        WriteBuf {
            buf: Vec::with_capacity(cap),
            head: 0,
        }
    }

    /// Bytes waiting.
    #[inline]
    pub fn len(&self) -> usize {
        self.buf.len() - self.head
    }

    /// `true` when nothing waits.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes waiting.
    #[inline]
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.head..]
    }

    /// Appends bytes.
    #[inline]
    pub fn extend(&mut self, bytes: &[u8]) {
        if self.head > 0 && self.head * 2 >= self.buf.len() {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The vector to append into directly (for encoders that write into `&mut Vec<u8>`).
    #[inline]
    pub fn vec(&mut self) -> &mut Vec<u8> {
        if self.head > 0 && self.head * 2 >= self.buf.len() {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        &mut self.buf
    }

    /// Marks `n` more bytes as written.
    #[inline]
    pub fn consume(&mut self, n: usize) {
        self.head += n;
        debug_assert!(self.head <= self.buf.len());
        if self.head == self.buf.len() {
            self.buf.clear();
            self.head = 0;
        }
    }

    /// Empties the buffer, keeping its capacity.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.head = 0;
    }

    /// Allocated capacity.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_buf_compacts_lazily() {
        let mut w = WriteBuf::with_capacity(8);
        w.extend(b"abcdef");
        w.consume(2);
        assert_eq!(w.pending(), b"cdef");
        w.extend(b"g");
        assert_eq!(w.pending(), b"cdefg");
        w.consume(4);
        w.extend(b"hi");
        assert_eq!(w.pending(), b"ghi");
        w.consume(3);
        assert!(w.is_empty());
    }
}
