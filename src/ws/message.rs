//! Client-to-server messages (RFC 6455 §5.4–§5.6, §7.4, §8.1): one [`Decoder`] per connection
//! turns frames into [`Message`]s.
//!
//! The decoder owns everything the frame header parser does not: the masking requirement, the
//! message size limit, fragment reassembly, control frames between fragments, UTF-8 for text
//! and close reasons, and close-code validity. Errors are a [`WsError`], which carries the
//! close code and reason the connection is failed with.
//!
//! Memory: an idle `Decoder` is one pointer wide (`None`) and owns nothing. A `Partial` is
//! allocated only when a fragmented message starts, grows only with payload bytes that have
//! actually arrived, never past [`Limits::max_message_bytes`], and is freed at the start of the
//! `decode` call after the one that returned the reassembled message.
//!
//! Contract with the caller (the reactor), in short:
//! - Call [`Decoder::decode`] on the unconsumed input; on `(n, _)` with `n > 0` drop those `n`
//!   bytes and call again; on `(0, None)` keep the rest and wait for more bytes.
//! - `(0, None)` leaves `buf` untouched. A consumed frame's payload is unmasked in place.
//! - A returned [`Message`] borrows both the decoder and `buf`: finish with it (or copy it)
//!   before the next call.
//! - Any `Err` fails the connection: send a Close with [`WsError::close_code`] and
//!   [`WsError::reason`], then stop reading. How many bytes an erroring frame took is not
//!   reported.
//! - The decoder does not track the closing handshake: after a `Close` message, the caller
//!   stops decoding data frames.

use super::frame::{parse_header, OpCode};
use super::mask::unmask;
use crate::parse::Status;

/// Per-connection (per-app) decoding limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest data message accepted, whether it arrives in one frame or in fragments.
    /// Control frames (at most 125 bytes each) are not counted.
    pub max_message_bytes: usize,
}

/// One decoded message. Slices borrow the caller's buffer (single-frame messages and control
/// frames) or the decoder's reassembly buffer (fragmented messages).
#[derive(Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// A complete text message, valid UTF-8.
    Text(&'a str),
    /// A complete binary message.
    Binary(&'a [u8]),
    /// A ping; the reply is a pong with the same payload.
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// A close frame: `code` is `None` for an empty payload (then `reason` is empty); otherwise a
    /// valid status code and a UTF-8 reason (possibly empty).
    Close {
        /// The status code, already checked against RFC 6455 §7.4.
        code: Option<u16>,
        /// The reason text, already checked to be UTF-8.
        reason: &'a str,
    },
}

/// Why the connection must be failed. Maps to the close code sent to the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsError {
    /// A framing or sequencing error (1002); the text says which.
    Protocol(&'static str),
    /// A text message or close reason that is not UTF-8 (1007).
    InvalidUtf8,
    /// A data message over [`Limits::max_message_bytes`] (1009).
    TooBig,
}

impl WsError {
    /// 1002, 1007, 1009
    ///
    /// RFC 6455 §7.4.1: "1002 indicates that an endpoint is terminating the connection due to a
    /// protocol error." "1007 indicates that an endpoint is terminating the connection because
    /// it has received data within a message that was not consistent with the type of the
    /// message (e.g., non-UTF-8 \[RFC3629\] data within a text message)." "1009 indicates that an
    /// endpoint is terminating the connection because it has received a message that is too
    /// big for it to process."
    pub fn close_code(&self) -> u16 {
        match self {
            WsError::Protocol(_) => 1002,
            WsError::InvalidUtf8 => 1007,
            WsError::TooBig => 1009,
        }
    }

    /// short text for the close frame reason
    pub fn reason(&self) -> &'static str {
        match self {
            WsError::Protocol(reason) => reason,
            WsError::InvalidUtf8 => "invalid UTF-8",
            WsError::TooBig => "message too big",
        }
    }
}

impl std::fmt::Display for WsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.reason(), self.close_code())
    }
}

impl std::error::Error for WsError {}

/// The per-connection message decoder. One pointer wide; `None` between messages.
#[derive(Default, Debug)]
pub struct Decoder {
    /// Invariant: `None` unless a fragmented message is in progress, or its reassembled
    /// payload was returned by the last `decode` call (then `delivered` is set and the next
    /// call frees it).
    partial: Option<Box<Partial>>,
}

/// A fragmented message being reassembled.
#[derive(Debug)]
struct Partial {
    /// `Text` or `Binary`: the opcode of the message's first frame.
    opcode: OpCode,
    /// The unmasked payloads of the fragments so far. Invariant: holds only bytes that arrived,
    /// and `len() <= max_message_bytes` as checked from each fragment's header.
    payload: Vec<u8>,
    /// The final fragment arrived and the message was returned, borrowing `payload`.
    delivered: bool,
}

impl Decoder {
    /// Decodes at most one frame from the start of `buf` (client-to-server bytes), unmasking
    /// its payload in place.
    ///
    /// Returns (bytes consumed, message):
    /// - `(0, None)`: `buf` does not hold a whole frame yet; nothing consumed and `buf` is
    ///   untouched (the caller keeps the bytes and reads more).
    /// - `(n, None)`, `n > 0`: a non-final fragment of a fragmented message was consumed and
    ///   its payload copied into the reassembly buffer.
    /// - `(n, Some(m))`: a complete message; `m` borrows from `buf` (single-frame message or
    ///   control frame) or from the decoder's reassembly buffer (final fragment of a
    ///   fragmented message). The reassembly buffer is freed on the next call to `decode`
    ///   (whatever `buf` holds, even nothing) or by [`Decoder::reset`].
    ///
    /// A data frame that would take the message past `limits.max_message_bytes` is refused
    /// with [`WsError::TooBig`] as soon as its header is complete, before any payload arrives.
    ///
    /// # Errors
    ///
    /// [`WsError::Protocol`] for a bad header, an unmasked frame, a continuation with no
    /// message in progress, a new data frame inside a fragmented message, or a malformed Close
    /// payload; [`WsError::InvalidUtf8`] for a text message or close reason that is not UTF-8;
    /// [`WsError::TooBig`] for a data message over `limits.max_message_bytes`. The connection
    /// is then failed; the decoder's state is unspecified until [`Decoder::reset`].
    pub fn decode<'a>(
        &'a mut self,
        buf: &'a mut [u8],
        limits: &Limits,
    ) -> Result<(usize, Option<Message<'a>>), WsError> {
        // A reassembled message returned by the previous call borrowed the reassembly
        // buffer; that borrow has ended (this call holds `&mut self`), so the buffer can go.
        if self.partial.as_ref().is_some_and(|p| p.delivered) {
            self.partial = None;
        }

        let header = match parse_header(buf) {
            Ok(Status::Complete(header)) => header,
            Ok(Status::Partial) => return Ok((0, None)),
            Err(err) => return Err(WsError::Protocol(err.reason())),
        };

        // RFC 6455 §5.1: "The server MUST close the connection upon receiving a frame that is
        // not masked. In this case, a server MAY send a Close frame with a status code of 1002
        // (protocol error)".
        let Some(key) = header.mask else {
            return Err(WsError::Protocol("frame not masked"));
        };

        // RFC 6455 §5.4: "A fragmented message consists of a single frame with the FIN bit
        // clear and an opcode other than 0, followed by zero or more frames with the FIN bit
        // clear and the opcode set to 0, and terminated by a single frame with the FIN bit set
        // and an opcode of 0." and "The fragments of one message MUST NOT be interleaved
        // between the fragments of another message unless an extension has been negotiated
        // that can interpret the interleaving."
        match (header.opcode, self.partial.is_some()) {
            (OpCode::Continuation, false) => {
                return Err(WsError::Protocol("continuation frame without a message"));
            }
            (OpCode::Text | OpCode::Binary, true) => {
                return Err(WsError::Protocol("data frame inside a fragmented message"));
            }
            _ => {}
        }

        // RFC 6455 §10.4: "Such an implementation SHOULD impose a limit on frame sizes and the
        // total message size after reassembly from multiple frames." Decided from the header,
        // so a huge announced length is refused before a byte of it is buffered. Control
        // frames are at most 125 bytes (checked by the header parser) and not counted.
        if !header.opcode.is_control() {
            let pending = u64::try_from(self.pending_bytes()).unwrap_or(u64::MAX);
            let total = pending.saturating_add(header.payload_len);
            if total > u64::try_from(limits.max_message_bytes).unwrap_or(u64::MAX) {
                return Err(WsError::TooBig);
            }
        }

        // Below the limit (or at most 125), so this fits in memory; the checks keep a
        // 32-bit target honest.
        let Ok(payload_len) = usize::try_from(header.payload_len) else {
            return Err(WsError::TooBig);
        };
        let Some(frame_len) = header.header_len.checked_add(payload_len) else {
            return Err(WsError::TooBig);
        };
        let Some(frame) = buf.get_mut(..frame_len) else {
            return Ok((0, None));
        };
        let Some(payload) = frame.get_mut(header.header_len..) else {
            return Ok((0, None));
        };

        // RFC 6455 §5.3: "To convert masked data into unmasked data, or vice versa, the
        // following algorithm is applied." Only a consumed frame is unmasked, so `(0, None)`
        // leaves `buf` as it was.
        unmask(payload, key);
        let payload: &'a [u8] = payload;

        let message = match header.opcode {
            OpCode::Ping => Some(Message::Ping(payload)),
            OpCode::Pong => Some(Message::Pong(payload)),
            OpCode::Close => Some(close_message(payload)?),
            OpCode::Text | OpCode::Binary if header.fin => {
                Some(data_message(header.opcode, payload)?)
            }
            OpCode::Text | OpCode::Binary => {
                // RFC 6455 §5.6: "Note that a particular text frame might include a partial
                // UTF-8 sequence; however, the whole message MUST contain valid UTF-8." So
                // text is checked when the message is complete.
                self.partial = Some(Box::new(Partial {
                    opcode: header.opcode,
                    payload: payload.to_vec(),
                    delivered: false,
                }));
                None
            }
            OpCode::Continuation => {
                let message = self.continue_message(header.fin, payload, limits)?;
                return Ok((frame_len, message));
            }
        };
        Ok((frame_len, message))
    }

    /// Appends a continuation frame's payload; on the final fragment, returns the message.
    fn continue_message<'a>(
        &'a mut self,
        fin: bool,
        payload: &[u8],
        limits: &Limits,
    ) -> Result<Option<Message<'a>>, WsError> {
        let Some(partial) = self.partial.as_deref_mut() else {
            return Err(WsError::Protocol("continuation frame without a message"));
        };
        let needed = partial.payload.len().saturating_add(payload.len());
        if needed > partial.payload.capacity() {
            // Grow geometrically (amortised copying) but never past the message limit, which
            // the header check has already held `needed` to.
            let target = partial
                .payload
                .capacity()
                .saturating_mul(2)
                .min(limits.max_message_bytes)
                .max(needed);
            partial
                .payload
                .reserve_exact(target.saturating_sub(partial.payload.len()));
        }
        partial.payload.extend_from_slice(payload);
        if !fin {
            return Ok(None);
        }
        partial.delivered = true;
        let partial: &'a Partial = partial;
        data_message(partial.opcode, &partial.payload).map(Some)
    }

    /// Bytes held for an unfinished fragmented message (0 when idle).
    ///
    /// Also 0 once the message is complete, even while its buffer is still borrowed by the
    /// returned [`Message`] (see [`Decoder::is_idle`]).
    pub fn pending_bytes(&self) -> usize {
        match self.partial.as_deref() {
            Some(partial) if !partial.delivered => partial.payload.len(),
            _ => 0,
        }
    }

    /// `true` when the decoder owns no heap memory: no fragmented message is in progress and
    /// no reassembled one awaits freeing by the next [`Decoder::decode`] call.
    pub fn is_idle(&self) -> bool {
        self.partial.is_none()
    }

    /// Drops any message in progress and its buffer.
    pub fn reset(&mut self) {
        self.partial = None;
    }
}

/// A complete Text or Binary message from its whole payload.
fn data_message(opcode: OpCode, payload: &[u8]) -> Result<Message<'_>, WsError> {
    if opcode == OpCode::Text {
        // RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds
        // that the byte stream is not, in fact, a valid UTF-8 stream, the endpoint MUST _Fail
        // the WebSocket Connection_."
        let text = std::str::from_utf8(payload).map_err(|_| WsError::InvalidUtf8)?;
        Ok(Message::Text(text))
    } else {
        Ok(Message::Binary(payload))
    }
}

/// A Close message from its (unmasked) payload.
///
/// RFC 6455 §5.5.1: "If there is a body, the first two bytes of the body MUST be a 2-byte
/// unsigned integer (in network byte order) representing a status code with value /code/
/// defined in Section 7.4. Following the 2-byte integer, the body MAY contain UTF-8-encoded
/// data with value /reason/".
fn close_message(payload: &[u8]) -> Result<Message<'_>, WsError> {
    let Some((code, reason)) = payload.split_first_chunk::<2>() else {
        return if payload.is_empty() {
            Ok(Message::Close {
                code: None,
                reason: "",
            })
        } else {
            // One byte cannot hold the 2-byte status code the body must start with.
            Err(WsError::Protocol("close frame with a 1-byte payload"))
        };
    };
    let code = u16::from_be_bytes(*code);
    if !is_valid_close_code(code) {
        return Err(WsError::Protocol("invalid close code"));
    }
    let reason = std::str::from_utf8(reason).map_err(|_| WsError::InvalidUtf8)?;
    Ok(Message::Close {
        code: Some(code),
        reason,
    })
}

/// Whether a peer may send this status code in a Close frame (RFC 6455 §7.4).
fn is_valid_close_code(code: u16) -> bool {
    match code {
        // §7.4.1: 1000 normal closure, 1001 going away, 1002 protocol error, 1003 unacceptable
        // data type.
        1000..=1003 => true,
        // §7.4.1: "1004 Reserved. The specific meaning might be defined in the future." 1005
        // and 1006 are "a reserved value and MUST NOT be set as a status code in a Close
        // control frame by an endpoint."
        1004..=1006 => false,
        // §7.4.1: 1007 invalid data, 1008 policy violation, 1009 too big, 1010 missing
        // extension, 1011 unexpected condition.
        1007..=1011 => true,
        // §7.4.2: "Status codes in the range 3000-3999 are reserved for use by libraries,
        // frameworks, and applications." "Status codes in the range 4000-4999 are reserved for
        // private use".
        3000..=4999 => true,
        // §7.4.2: "Status codes in the range 0-999 are not used." 1012-2999 are unassigned by
        // RFC 6455 (1015 "MUST NOT be set"); 5000 and up are undefined.
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::frame::{write_header, MAX_HEADER_BYTES};

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    const LIMITS: Limits = Limits {
        max_message_bytes: 1 << 16,
    };

    /// A client frame: `first` is the whole first byte (FIN, RSV, opcode), the payload is
    /// masked with KEY.
    fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out, false, OpCode::Continuation, payload.len());
        out[0] = first;
        out[1] |= 0x80;
        out.extend_from_slice(&KEY);
        let start = out.len();
        out.extend_from_slice(payload);
        crate::ws::mask::unmask_scalar(&mut out[start..], KEY);
        out
    }

    /// The same frame without a mask.
    fn unmasked_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out, false, OpCode::Continuation, payload.len());
        out[0] = first;
        out.extend_from_slice(payload);
        out
    }

    /// A masked header announcing `len` payload bytes in the 64-bit form, with no payload.
    fn header_64(first: u8, len: u64) -> Vec<u8> {
        let mut out = vec![first, 0x80 | 127];
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&KEY);
        out
    }

    const TEXT: u8 = 0x81;
    const TEXT_MORE: u8 = 0x01;
    const BINARY: u8 = 0x82;
    const BINARY_MORE: u8 = 0x02;
    const CONT: u8 = 0x00;
    const CONT_FIN: u8 = 0x80;
    const CLOSE: u8 = 0x88;
    const PING: u8 = 0x89;
    const PONG: u8 = 0x8A;

    /// An owned record of one `decode` result, for comparing runs.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Event {
        Fragment(usize),
        Text(usize, String),
        Binary(usize, Vec<u8>),
        Ping(usize, Vec<u8>),
        Pong(usize, Vec<u8>),
        Close(usize, Option<u16>, String),
        Error(WsError),
    }

    fn event(n: usize, message: Option<Message<'_>>) -> Event {
        match message {
            None => Event::Fragment(n),
            Some(Message::Text(t)) => Event::Text(n, t.to_owned()),
            Some(Message::Binary(b)) => Event::Binary(n, b.to_vec()),
            Some(Message::Ping(p)) => Event::Ping(n, p.to_vec()),
            Some(Message::Pong(p)) => Event::Pong(n, p.to_vec()),
            Some(Message::Close { code, reason }) => Event::Close(n, code, reason.to_owned()),
        }
    }

    /// What a run ended with: the events, the bytes left unconsumed, and the decoder's
    /// pending bytes.
    #[derive(Debug, PartialEq, Eq)]
    struct Run {
        events: Vec<Event>,
        leftover: usize,
        pending: usize,
    }

    /// Feeds `stream` in chunks ending at `cuts` (then the rest), the way a socket reader
    /// does: unconsumed bytes are kept and the next chunk is appended to them.
    fn decode_split(stream: &[u8], cuts: &[usize], limits: &Limits) -> Run {
        let mut decoder = Decoder::default();
        let mut held: Vec<u8> = Vec::new();
        let mut events = Vec::new();
        let mut from = 0;
        let ends = cuts
            .iter()
            .copied()
            .filter(|&c| c <= stream.len())
            .chain([stream.len()]);
        for end in ends {
            if end < from {
                continue;
            }
            held.extend_from_slice(&stream[from..end]);
            from = end;
            let mut start = 0;
            loop {
                match decoder.decode(&mut held[start..], limits) {
                    Ok((0, None)) => break,
                    Ok((n, message)) => {
                        assert!(n > 0, "a message must consume bytes");
                        events.push(event(n, message));
                        start += n;
                    }
                    Err(err) => {
                        events.push(Event::Error(err));
                        return Run {
                            events,
                            leftover: 0,
                            pending: decoder.pending_bytes(),
                        };
                    }
                }
            }
            held.drain(..start);
        }
        Run {
            events,
            leftover: held.len(),
            pending: decoder.pending_bytes(),
        }
    }

    fn decode_whole(stream: &[u8], limits: &Limits) -> Run {
        decode_split(stream, &[], limits)
    }

    fn concat(frames: &[Vec<u8>]) -> Vec<u8> {
        frames.concat()
    }

    #[test]
    fn decoder_is_one_pointer() {
        assert_eq!(std::mem::size_of::<Decoder>(), std::mem::size_of::<usize>());
        let decoder = Decoder::default();
        assert!(decoder.is_idle());
        assert_eq!(decoder.pending_bytes(), 0);
    }

    #[test]
    fn error_codes_and_reasons() {
        let cases = [
            (
                WsError::Protocol("frame not masked"),
                1002,
                "frame not masked",
            ),
            (WsError::InvalidUtf8, 1007, "invalid UTF-8"),
            (WsError::TooBig, 1009, "message too big"),
        ];
        for (err, code, reason) in cases {
            assert_eq!(err.close_code(), code, "{err:?}");
            assert_eq!(err.reason(), reason, "{err:?}");
            assert!(err.reason().len() <= 123, "{err:?}");
        }
    }

    #[test]
    fn decodes_streams() {
        use Event::*;
        let hello = client_frame(TEXT, b"Hello");
        let hello_len = hello.len();
        // "€" is E2 82 AC: split it across all three fragments.
        let euro = "a€b".as_bytes();
        let ping = client_frame(PING, b"hb");
        let big = vec![0x5A; 70_000];
        let cases: Vec<(&str, Vec<u8>, Limits, Vec<Event>)> = vec![
            (
                "single text frame",
                hello.clone(),
                LIMITS,
                vec![Text(hello_len, "Hello".into())],
            ),
            (
                "empty text frame",
                client_frame(TEXT, b""),
                LIMITS,
                vec![Text(6, String::new())],
            ),
            (
                "single binary frame",
                client_frame(BINARY, &[0, 1, 2, 0xff]),
                LIMITS,
                vec![Binary(10, vec![0, 1, 2, 0xff])],
            ),
            (
                "binary frame with a 64-bit length",
                client_frame(BINARY, &big),
                Limits {
                    max_message_bytes: 70_000,
                },
                vec![Binary(14 + 70_000, big.clone())],
            ),
            (
                "text fragmented over 3 frames with a ping between",
                concat(&[
                    client_frame(TEXT_MORE, b"Hel"),
                    ping.clone(),
                    client_frame(CONT, b"lo, "),
                    client_frame(CONT_FIN, b"world"),
                ]),
                LIMITS,
                vec![
                    Fragment(9),
                    Ping(8, b"hb".to_vec()),
                    Fragment(10),
                    Text(11, "Hello, world".into()),
                ],
            ),
            (
                "multibyte char split across fragments",
                concat(&[
                    client_frame(TEXT_MORE, &euro[..2]),
                    client_frame(CONT, &euro[2..3]),
                    client_frame(CONT_FIN, &euro[3..]),
                ]),
                LIMITS,
                vec![Fragment(8), Fragment(7), Text(8, "a€b".into())],
            ),
            (
                "fragmented binary with empty fragments",
                concat(&[
                    client_frame(BINARY_MORE, b""),
                    client_frame(CONT, b""),
                    client_frame(CONT_FIN, &[9, 8]),
                ]),
                LIMITS,
                vec![Fragment(6), Fragment(6), Binary(8, vec![9, 8])],
            ),
            (
                "messages after a fragmented one",
                concat(&[
                    client_frame(BINARY_MORE, &[1]),
                    client_frame(CONT_FIN, &[2]),
                    hello.clone(),
                ]),
                LIMITS,
                vec![
                    Fragment(7),
                    Binary(7, vec![1, 2]),
                    Text(hello_len, "Hello".into()),
                ],
            ),
            (
                "ping and pong payloads as is",
                concat(&[client_frame(PING, b""), client_frame(PONG, &[0xff; 125])]),
                LIMITS,
                vec![Ping(6, vec![]), Pong(131, vec![0xff; 125])],
            ),
            (
                "control frames are not held to the message limit",
                client_frame(PING, &[1; 125]),
                Limits {
                    max_message_bytes: 0,
                },
                vec![Ping(131, vec![1; 125])],
            ),
            (
                "message exactly at the limit",
                client_frame(TEXT, b"abcd"),
                Limits {
                    max_message_bytes: 4,
                },
                vec![Text(10, "abcd".into())],
            ),
            (
                "fragmented message exactly at the limit",
                concat(&[
                    client_frame(TEXT_MORE, b"ab"),
                    client_frame(CONT_FIN, b"cd"),
                ]),
                Limits {
                    max_message_bytes: 4,
                },
                vec![Fragment(8), Text(8, "abcd".into())],
            ),
            (
                "invalid UTF-8 in a single frame",
                client_frame(TEXT, &[b'a', 0xff]),
                LIMITS,
                vec![Error(WsError::InvalidUtf8)],
            ),
            (
                "truncated UTF-8 at the end of a single frame",
                client_frame(TEXT, &euro[..2]),
                LIMITS,
                vec![Error(WsError::InvalidUtf8)],
            ),
            (
                "invalid UTF-8 in a fragmented message",
                concat(&[
                    client_frame(TEXT_MORE, &euro[..2]),
                    client_frame(CONT_FIN, b"b"),
                ]),
                LIMITS,
                vec![Fragment(8), Error(WsError::InvalidUtf8)],
            ),
            (
                "invalid UTF-8 in binary is fine",
                client_frame(BINARY, &[0xff, 0xfe]),
                LIMITS,
                vec![Binary(8, vec![0xff, 0xfe])],
            ),
            (
                "oversize single frame",
                client_frame(TEXT, b"abcde"),
                Limits {
                    max_message_bytes: 4,
                },
                vec![Error(WsError::TooBig)],
            ),
            (
                "oversize reassembly",
                concat(&[
                    client_frame(TEXT_MORE, b"abc"),
                    client_frame(CONT, b""),
                    client_frame(CONT_FIN, b"de"),
                ]),
                Limits {
                    max_message_bytes: 4,
                },
                vec![Fragment(9), Fragment(6), Error(WsError::TooBig)],
            ),
            (
                "unmasked text frame",
                unmasked_frame(TEXT, b"Hello"),
                LIMITS,
                vec![Error(WsError::Protocol("frame not masked"))],
            ),
            (
                "unmasked ping",
                unmasked_frame(PING, b""),
                LIMITS,
                vec![Error(WsError::Protocol("frame not masked"))],
            ),
            (
                "continuation without a message",
                client_frame(CONT_FIN, b"x"),
                LIMITS,
                vec![Error(WsError::Protocol(
                    "continuation frame without a message",
                ))],
            ),
            (
                "text frame inside a fragmented message",
                concat(&[client_frame(TEXT_MORE, b"a"), client_frame(TEXT, b"b")]),
                LIMITS,
                vec![
                    Fragment(7),
                    Error(WsError::Protocol("data frame inside a fragmented message")),
                ],
            ),
            (
                "binary start inside a fragmented message",
                concat(&[
                    client_frame(TEXT_MORE, b"a"),
                    client_frame(BINARY_MORE, b"b"),
                ]),
                LIMITS,
                vec![
                    Fragment(7),
                    Error(WsError::Protocol("data frame inside a fragmented message")),
                ],
            ),
            (
                "reserved bits",
                client_frame(0xC1, b"x"),
                LIMITS,
                vec![Error(WsError::Protocol("reserved bits set"))],
            ),
            (
                "reserved opcode",
                client_frame(0x83, b"x"),
                LIMITS,
                vec![Error(WsError::Protocol("reserved opcode"))],
            ),
            (
                "fragmented ping",
                client_frame(0x09, b"x"),
                LIMITS,
                vec![Error(WsError::Protocol("fragmented control frame"))],
            ),
            (
                "ping over 125 bytes",
                client_frame(PING, &[0; 126]),
                LIMITS,
                vec![Error(WsError::Protocol(
                    "control frame payload over 125 bytes",
                ))],
            ),
            (
                "2^63 length: most significant bit set",
                header_64(BINARY, 1 << 63),
                LIMITS,
                vec![Error(WsError::Protocol(
                    "payload length most significant bit set",
                ))],
            ),
            (
                "2^62 length: too big from the header alone",
                header_64(BINARY, 1 << 62),
                LIMITS,
                vec![Error(WsError::TooBig)],
            ),
            (
                "2^62 continuation: too big from the header alone",
                concat(&[client_frame(TEXT_MORE, b"a"), header_64(CONT_FIN, 1 << 62)]),
                LIMITS,
                vec![Fragment(7), Error(WsError::TooBig)],
            ),
            (
                "2^63-1 continuation does not overflow the running total",
                concat(&[
                    client_frame(TEXT_MORE, b"a"),
                    header_64(CONT_FIN, (1 << 63) - 1),
                ]),
                Limits {
                    max_message_bytes: usize::MAX,
                },
                vec![Fragment(7)],
            ),
        ];
        for (name, stream, limits, want) in cases {
            let run = decode_whole(&stream, &limits);
            assert_eq!(run.events, want, "{name}");
            // Every split of the stream gives the same events.
            for cut in 0..=stream.len().min(300) {
                assert_eq!(
                    decode_split(&stream, &[cut], &limits),
                    run,
                    "{name}: split at {cut}"
                );
            }
        }
    }

    #[test]
    fn too_big_is_decided_before_the_payload_arrives() {
        let limits = Limits {
            max_message_bytes: 100,
        };
        let cases: &[(&str, Vec<u8>)] = &[
            ("7-bit length", client_frame(BINARY, &[0; 101])),
            ("16-bit length", client_frame(TEXT, &[b'a'; 1000])),
            ("64-bit length 2^62", header_64(TEXT, 1 << 62)),
        ];
        for (name, frame) in cases {
            let Ok(Status::Complete(h)) = parse_header(frame) else {
                panic!("{name}: bad test frame");
            };
            let mut header_only = frame[..h.header_len].to_vec();
            let mut decoder = Decoder::default();
            assert_eq!(
                decoder.decode(&mut header_only, &limits),
                Err(WsError::TooBig),
                "{name}"
            );
            assert!(decoder.is_idle(), "{name}: nothing was allocated");
        }
    }

    #[test]
    fn partial_frames_consume_nothing_and_leave_buf_untouched() {
        let frame = client_frame(TEXT, b"Hello, world");
        for cut in 0..frame.len() {
            let mut buf = frame[..cut].to_vec();
            let mut decoder = Decoder::default();
            assert_eq!(
                decoder.decode(&mut buf, &LIMITS),
                Ok((0, None)),
                "cut {cut}"
            );
            assert_eq!(buf, &frame[..cut], "cut {cut}: buf modified");
        }
        let mut empty = [0u8; 0];
        assert_eq!(
            Decoder::default().decode(&mut empty, &LIMITS),
            Ok((0, None))
        );
    }

    #[test]
    fn close_frames() {
        let close = |code: u16, reason: &[u8]| {
            let mut payload = code.to_be_bytes().to_vec();
            payload.extend_from_slice(reason);
            client_frame(CLOSE, &payload)
        };
        let bad_code = Err(WsError::Protocol("invalid close code"));
        let ok = |code: u16| Ok(Some(code));
        type Want = Result<Option<u16>, WsError>;
        let r123 = "r".repeat(123);
        let mut cases: Vec<(String, Vec<u8>, Want, &str)> = vec![
            ("empty".into(), client_frame(CLOSE, b""), Ok(None), ""),
            (
                "1-byte payload".into(),
                client_frame(CLOSE, &[0x03]),
                Err(WsError::Protocol("close frame with a 1-byte payload")),
                "",
            ),
            ("code only".into(), close(1000, b""), ok(1000), ""),
            (
                "code and reason".into(),
                close(1001, b"bye"),
                ok(1001),
                "bye",
            ),
            (
                "UTF-8 reason".into(),
                close(4000, "ça va".as_bytes()),
                ok(4000),
                "ça va",
            ),
            (
                "invalid UTF-8 reason".into(),
                close(1000, &[0xc3]),
                Err(WsError::InvalidUtf8),
                "",
            ),
            (
                "123-byte reason".into(),
                close(1000, r123.as_bytes()),
                ok(1000),
                &r123,
            ),
        ];
        // Every class of code: §7.4.1 defined, §7.4.1 reserved, unassigned, §7.4.2 ranges.
        let codes: &[(u16, bool)] = &[
            (0, false),
            (1, false),
            (999, false),
            (1000, true),
            (1001, true),
            (1002, true),
            (1003, true),
            (1004, false),
            (1005, false),
            (1006, false),
            (1007, true),
            (1008, true),
            (1009, true),
            (1010, true),
            (1011, true),
            (1012, false),
            (1013, false),
            (1014, false),
            (1015, false),
            (1016, false),
            (1100, false),
            (2000, false),
            (2999, false),
            (3000, true),
            (3999, true),
            (4000, true),
            (4999, true),
            (5000, false),
            (65535, false),
        ];
        for &(code, valid) in codes {
            let want = if valid { ok(code) } else { bad_code };
            cases.push((format!("code {code}"), close(code, b"x"), want, "x"));
        }
        for (name, frame, want, want_reason) in cases {
            let mut buf = frame.clone();
            let mut decoder = Decoder::default();
            let got = decoder.decode(&mut buf, &LIMITS);
            match (got, want) {
                (Ok((n, Some(Message::Close { code, reason }))), Ok(want_code)) => {
                    assert_eq!(n, frame.len(), "{name}");
                    assert_eq!(code, want_code, "{name}");
                    assert_eq!(reason, want_reason, "{name}");
                }
                (Err(err), Err(want_err)) => assert_eq!(err, want_err, "{name}"),
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn reassembly_buffer_is_freed_on_the_next_call() {
        let mut decoder = Decoder::default();
        let mut first = client_frame(BINARY_MORE, &[1, 2, 3]);
        assert_eq!(decoder.decode(&mut first, &LIMITS), Ok((9, None)));
        assert!(!decoder.is_idle());
        assert_eq!(decoder.pending_bytes(), 3);

        let mut ping = client_frame(PING, b"p");
        let got = decoder.decode(&mut ping, &LIMITS);
        assert_eq!(got, Ok((7, Some(Message::Ping(b"p")))));
        assert_eq!(
            decoder.pending_bytes(),
            3,
            "a control frame leaves the message"
        );

        let mut last = client_frame(CONT_FIN, &[4]);
        let got = decoder.decode(&mut last, &LIMITS);
        assert_eq!(got, Ok((7, Some(Message::Binary(&[1, 2, 3, 4])))));
        assert_eq!(decoder.pending_bytes(), 0);
        assert!(!decoder.is_idle(), "still holds the returned message");

        let mut nothing = [0u8; 0];
        assert_eq!(decoder.decode(&mut nothing, &LIMITS), Ok((0, None)));
        assert!(decoder.is_idle());
    }

    #[test]
    fn reset_drops_the_message_in_progress() {
        let mut decoder = Decoder::default();
        let mut first = client_frame(TEXT_MORE, b"abc");
        assert_eq!(decoder.decode(&mut first, &LIMITS), Ok((9, None)));
        decoder.reset();
        assert!(decoder.is_idle());
        assert_eq!(decoder.pending_bytes(), 0);
        // With nothing in progress, a continuation is an error again.
        let mut cont = client_frame(CONT_FIN, b"d");
        assert_eq!(
            decoder.decode(&mut cont, &LIMITS),
            Err(WsError::Protocol("continuation frame without a message"))
        );
    }

    #[test]
    fn reassembly_capacity_stays_within_the_limit() {
        let limits = Limits {
            max_message_bytes: 1000,
        };
        let mut decoder = Decoder::default();
        let mut first = client_frame(BINARY_MORE, &[0; 600]);
        assert_eq!(decoder.decode(&mut first, &limits), Ok((608, None)));
        let mut second = client_frame(CONT, &[0; 300]);
        assert_eq!(decoder.decode(&mut second, &limits), Ok((308, None)));
        let capacity = decoder.partial.as_ref().map_or(0, |p| p.payload.capacity());
        assert!((900..=1000).contains(&capacity), "capacity {capacity}");
    }

    /// xorshift64: deterministic pseudo-random numbers without a crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }

        /// Random bytes, fewer than `n` of them.
        fn bytes_below(&mut self, n: usize) -> Vec<u8> {
            let len = self.below(n);
            self.bytes(len)
        }
    }

    /// A stream of mostly plausible client frames, with the occasional bad one.
    fn random_stream(rng: &mut Rng) -> Vec<u8> {
        let texts = ["", "a", "Hello", "a€b", "😀😀", "ç", "\u{10FFFF}"];
        let mut out = Vec::new();
        for _ in 0..rng.below(8) {
            match rng.below(13) {
                0 => {
                    let text = texts[rng.below(texts.len())];
                    out.extend(client_frame(TEXT, text.as_bytes()));
                }
                1 => {
                    let len = [0, 1, 125, 126, 300][rng.below(5)];
                    out.extend(client_frame(BINARY, &rng.bytes(len)));
                }
                2 => {
                    let len = rng.below(126);
                    let first = [PING, PONG][rng.below(2)];
                    out.extend(client_frame(first, &rng.bytes(len)));
                }
                3 => {
                    let code: u16 = [1000, 1001, 1005, 3000, 4999, 5000][rng.below(6)];
                    let mut payload = code.to_be_bytes().to_vec();
                    payload.extend_from_slice(texts[rng.below(texts.len())].as_bytes());
                    payload.truncate(rng.below(payload.len() + 1));
                    out.extend(client_frame(CLOSE, &payload));
                }
                4 | 5 => {
                    // A fragmented text, cut at random byte positions (maybe inside a char),
                    // with control frames between the fragments.
                    let text = texts[rng.below(texts.len())].repeat(rng.below(4) + 1);
                    let bytes = text.as_bytes();
                    let mut cut = rng.below(bytes.len() + 1);
                    out.extend(client_frame(TEXT_MORE, &bytes[..cut]));
                    while cut < bytes.len() {
                        if rng.below(3) == 0 {
                            out.extend(client_frame(PING, &rng.bytes_below(5)));
                        }
                        let next = cut + 1 + rng.below(bytes.len() - cut);
                        out.extend(client_frame(CONT, &bytes[cut..next]));
                        cut = next;
                    }
                    if rng.below(8) != 0 {
                        out.extend(client_frame(CONT_FIN, b""));
                    }
                }
                6 => {
                    let first = [BINARY_MORE, CONT, CONT_FIN][rng.below(3)];
                    out.extend(client_frame(first, &rng.bytes_below(40)));
                }
                7 => out.extend(unmasked_frame(TEXT, b"x")),
                8 => out.extend(header_64(BINARY, rng.next())),
                9 => out.extend(client_frame(TEXT, &rng.bytes_below(6))),
                10 => {
                    // A valid frame with one random byte flipped.
                    let mut frame = client_frame(BINARY, &rng.bytes_below(20));
                    let i = rng.below(frame.len());
                    frame[i] ^= 1 << rng.below(8);
                    out.extend(frame);
                }
                11 => {
                    // A 16-bit length form, non-minimal when under 126.
                    out.extend([BINARY, 0x80 | 126, 0, rng.below(256) as u8]);
                    out.extend(KEY);
                }
                _ => out.extend(rng.bytes_below(MAX_HEADER_BYTES * 2)),
            }
        }
        out
    }

    #[test]
    fn random_streams_split_anywhere_decode_like_whole_streams() {
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let limit_choices = [0, 4, 64, 200, 1 << 20];
        // Which kinds of outcome the generator reached, so it cannot quietly degrade.
        let mut seen = std::collections::BTreeSet::new();
        for round in 0..6_000 {
            let stream = if round % 2 == 0 {
                random_stream(&mut rng)
            } else {
                let len = rng.below(64);
                rng.bytes(len)
            };
            let limits = Limits {
                max_message_bytes: limit_choices[rng.below(limit_choices.len())],
            };
            let whole = decode_whole(&stream, &limits);
            for event in &whole.events {
                let kind = match event {
                    Event::Error(err) => format!("{err:?}"),
                    other => format!("{other:?}")
                        .split('(')
                        .next()
                        .unwrap_or("")
                        .to_owned(),
                };
                seen.insert(kind);
            }
            for _ in 0..4 {
                let mut cuts: Vec<usize> = (0..rng.below(6))
                    .map(|_| rng.below(stream.len() + 1))
                    .collect();
                cuts.sort_unstable();
                assert_eq!(
                    decode_split(&stream, &cuts, &limits),
                    whole,
                    "stream {stream:02x?} cuts {cuts:?}"
                );
            }
            if stream.len() <= 64 {
                let every: Vec<usize> = (1..stream.len()).collect();
                assert_eq!(
                    decode_split(&stream, &every, &limits),
                    whole,
                    "stream {stream:02x?} byte by byte"
                );
            }
        }
        let wanted = [
            "Fragment",
            "Text",
            "Binary",
            "Ping",
            "Pong",
            "Close",
            "InvalidUtf8",
            "TooBig",
            "Protocol(\"frame not masked\")",
            "Protocol(\"payload length not minimally encoded\")",
            "Protocol(\"data frame inside a fragmented message\")",
            "Protocol(\"continuation frame without a message\")",
            "Protocol(\"invalid close code\")",
        ];
        for kind in wanted {
            assert!(seen.contains(kind), "never reached {kind}; saw {seen:?}");
        }
    }
}
