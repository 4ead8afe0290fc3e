//! `Transfer-Encoding: chunked` request bodies (RFC 9112 §7.1), sans-IO.
//!
//! ```text
//! chunked-body = *chunk last-chunk trailer-section CRLF
//! chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! last-chunk   = 1*("0") [ chunk-ext ] CRLF
//! ```
//!
//! A body arrives over many reads, so [`Scanner`] walks it incrementally: it remembers where
//! the next chunk starts and how many data bytes it has seen, so each byte is looked at once
//! however the body is split (a partial chunk-size line is re-read, at most
//! [`MAX_LINE_BYTES`]). Once it reports the whole encoded length, [`decode`] copies the data
//! out in one pass. Chunk extensions and trailer fields are read past and ignored, as the
//! RFC allows; their sizes are bounded.

use crate::parse::Status;

/// Longest chunk-size line (size, extensions, CRLF) or trailer line.
pub const MAX_LINE_BYTES: usize = 4096;
/// Most bytes of trailer section after the last chunk.
pub const MAX_TRAILER_BYTES: usize = 8192;

/// Why a chunked body was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkedError {
    /// Not chunked framing (a size that is not hex, a chunk not followed by CRLF, …): 400.
    Malformed,
    /// The data passed the body limit: 413.
    TooLarge,
}

/// Where a scan has got to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scanner {
    /// Offset (from the start of the body) of the next chunk-size line, or of the trailer
    /// section once the last chunk was seen.
    next: usize,
    /// Data bytes in the chunks before `next`.
    data: u64,
    /// The last chunk was seen; `next` is at the trailer section.
    last: bool,
}

impl Scanner {
    /// Data bytes seen so far.
    pub fn data_len(&self) -> u64 {
        self.data
    }

    /// Continues over `body` (everything received after the head, from its start; the same
    /// prefix each call, longer). `Complete(n)`: the encoded body is `body[..n]`, trailers
    /// and final CRLF included. `Partial`: more is needed.
    pub fn scan(&mut self, body: &[u8], max_data: u64) -> Result<Status<usize>, ChunkedError> {
        loop {
            let rest = &body[self.next.min(body.len())..];
            if self.last {
                return trailer_end(rest).map(|s| match s {
                    Status::Complete(n) => Status::Complete(self.next + n),
                    Status::Partial => Status::Partial,
                });
            }
            let Some((size, line_len)) = size_line(rest)? else {
                return Ok(Status::Partial);
            };
            if size == 0 {
                self.next += line_len;
                self.last = true;
                continue;
            }
            self.data = self
                .data
                .checked_add(size)
                .filter(|&d| d <= max_data)
                .ok_or(ChunkedError::TooLarge)?;
            // A size past what memory could hold is over any limit worth having (the
            // server's is at most 2^40; this is for the rest).
            let chunk_end = usize::try_from(size)
                .ok()
                .and_then(|s| s.checked_add(line_len + 2))
                .ok_or(ChunkedError::TooLarge)?
                - 2;
            if rest.len() < chunk_end + 2 {
                // Undo: the chunk is counted again once it is all here.
                self.data -= size;
                return Ok(Status::Partial);
            }
            if &rest[chunk_end..chunk_end + 2] != b"\r\n" {
                return Err(ChunkedError::Malformed);
            }
            self.next += chunk_end + 2;
        }
    }
}

/// Parses a chunk-size line at the start of `buf`: `Some((size, line length with CRLF))`,
/// `None` when the line is not complete yet.
fn size_line(buf: &[u8]) -> Result<Option<(u64, usize)>, ChunkedError> {
    let window = &buf[..buf.len().min(MAX_LINE_BYTES)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        return if buf.len() >= MAX_LINE_BYTES {
            Err(ChunkedError::Malformed)
        } else {
            Ok(None)
        };
    };
    if lf == 0 || window[lf - 1] != b'\r' {
        return Err(ChunkedError::Malformed);
    }
    let line = &window[..lf - 1];
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    // 16 hex digits fill a u64; more would overflow (leading zeros included: be strict).
    if digits == 0 || digits > 16 {
        return Err(ChunkedError::Malformed);
    }
    // What follows the size: nothing, or extensions (`;name=value`), maybe after spaces.
    let ext = &line[digits..];
    let ext = ext.trim_ascii_start();
    if !ext.is_empty() && ext[0] != b';' {
        return Err(ChunkedError::Malformed);
    }
    let text = std::str::from_utf8(&line[..digits]).map_err(|_| ChunkedError::Malformed)?;
    let size = u64::from_str_radix(text, 16).map_err(|_| ChunkedError::Malformed)?;
    Ok(Some((size, lf + 1)))
}

/// The end of a trailer section (`*( field-line CRLF ) CRLF`) at the start of `buf`.
fn trailer_end(buf: &[u8]) -> Result<Status<usize>, ChunkedError> {
    let mut pos = 0;
    loop {
        let window = &buf[pos..buf.len().min(pos + MAX_LINE_BYTES)];
        let Some(lf) = window.iter().position(|&b| b == b'\n') else {
            return if buf.len() - pos >= MAX_LINE_BYTES || buf.len() > MAX_TRAILER_BYTES {
                Err(ChunkedError::Malformed)
            } else {
                Ok(Status::Partial)
            };
        };
        if lf == 0 || window[lf - 1] != b'\r' {
            return Err(ChunkedError::Malformed);
        }
        pos += lf + 1;
        if lf == 1 {
            return Ok(Status::Complete(pos));
        }
        if pos > MAX_TRAILER_BYTES {
            return Err(ChunkedError::Malformed);
        }
    }
}

/// Appends the data of a complete chunked body (`encoded`: exactly what [`Scanner::scan`]
/// reported as complete) to `out`.
pub fn decode(encoded: &[u8], out: &mut Vec<u8>) -> Result<(), ChunkedError> {
    let mut pos = 0;
    loop {
        let Some((size, line_len)) = size_line(&encoded[pos..])? else {
            return Err(ChunkedError::Malformed);
        };
        pos += line_len;
        if size == 0 {
            return Ok(());
        }
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| pos.checked_add(s))
            .filter(|&e| e + 2 <= encoded.len())
            .ok_or(ChunkedError::Malformed)?;
        out.extend_from_slice(&encoded[pos..end]);
        pos = end + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(body: &[u8], max: u64) -> Result<Status<usize>, ChunkedError> {
        Scanner::default().scan(body, max)
    }

    #[test]
    fn whole_bodies() {
        use ChunkedError::*;
        // (encoded body, its data: `None` while more is needed)
        type Case<'a> = (&'a [u8], Result<Option<&'a [u8]>, ChunkedError>);
        let cases: [Case<'_>; 12] = [
            (b"0\r\n\r\n", Ok(Some(b""))),
            (b"3\r\nabc\r\n0\r\n\r\n", Ok(Some(b"abc"))),
            (b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", Ok(Some(b"abcde"))),
            (
                b"A;name=value\r\n0123456789\r\n0\r\n\r\n",
                Ok(Some(b"0123456789")),
            ),
            (b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n", Ok(Some(b"abc"))),
            (b"3\r\nabc\r\n000\r\n\r\n", Ok(Some(b"abc"))),
            (b"3\r\nabc", Ok(None)),
            (b"3\r\nabc\r\n0\r\n", Ok(None)),
            (b"x\r\n", Err(Malformed)),
            (b"3\r\nabcd\r\n", Err(Malformed)),
            (b"3\nabc\r\n", Err(Malformed)),
            (b"11111111111111111\r\n", Err(Malformed)),
        ];
        for (input, want) in cases {
            let got = scan_all(input, 1000).map(|s| match s {
                Status::Complete(n) => {
                    assert_eq!(n, input.len());
                    let mut out = Vec::new();
                    decode(&input[..n], &mut out).unwrap();
                    Some(out)
                }
                Status::Partial => None,
            });
            let want = want.map(|o| o.map(|b| b.to_vec()));
            assert_eq!(got, want, "{}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn the_limit_counts_data_not_framing() {
        let body = b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n";
        assert!(matches!(scan_all(body, 10), Ok(Status::Complete(_))));
        assert_eq!(scan_all(body, 9), Err(ChunkedError::TooLarge));
        // A size no memory could hold, even with no limit (found by the fuzzer).
        assert_eq!(
            scan_all(b"ffffffffffffffff\r\nx", u64::MAX),
            Err(ChunkedError::TooLarge)
        );
        // A chunk announcing more than the limit is refused before its data arrives.
        assert_eq!(scan_all(b"fffffff\r\n", 1000), Err(ChunkedError::TooLarge));
    }

    #[test]
    fn any_split_gives_the_same_answer() {
        let body = b"4;x=1\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\n";
        for cut in 0..body.len() {
            let mut s = Scanner::default();
            assert_eq!(s.scan(&body[..cut], 100), Ok(Status::Partial), "cut {cut}");
            assert_eq!(
                s.scan(body, 100),
                Ok(Status::Complete(body.len())),
                "cut {cut}"
            );
            assert_eq!(s.data_len(), 24);
        }
        let mut out = Vec::new();
        decode(body, &mut out).unwrap();
        assert_eq!(out, b"Wikipedia in \r\n\r\nchunks.");
    }

    #[test]
    fn long_lines_and_trailers_are_bounded() {
        let mut long = b"1;".to_vec();
        long.resize(MAX_LINE_BYTES + 10, b'a');
        assert_eq!(scan_all(&long, 100), Err(ChunkedError::Malformed));
        let mut trailers = b"0\r\n".to_vec();
        while trailers.len() < MAX_TRAILER_BYTES + 100 {
            trailers.extend_from_slice(b"X: yyyyyyyyyyyyyyyyyyyy\r\n");
        }
        assert_eq!(scan_all(&trailers, 100), Err(ChunkedError::Malformed));
    }
}
