//! WebSocket frame headers (RFC 6455 §5.2): parse what a client sent, encode what the server
//! sends.
//!
//! Sans-IO and allocation-free on the read side: [`parse_header`] looks at the first bytes of
//! a buffer and either returns the header, says it needs more bytes ([`Status::Partial`],
//! nothing consumed), or returns a [`FrameError`]. It never looks at the payload and never
//! unmasks; masking policy, size limits and message reassembly belong to `ws::message`.
//!
//! The encoders append to a caller's `Vec<u8>` (the connection's write buffer, or a publish
//! encoded once and shared) and never mask, because "A server MUST NOT mask any frames that it
//! sends to the client." (RFC 6455 §5.1).
//!
//! A header error is decided from the shortest prefix that shows it, and a longer prefix never
//! changes the answer: once `parse_header(&buf[..k])` is `Err(e)` or `Complete(h)`, every longer
//! `buf` gives the same result. The decoder relies on this so that a stream split anywhere
//! decodes exactly like the stream in one piece.

use crate::parse::Status;

/// The longest header a frame can have: 2 fixed bytes, 8 bytes of extended length, 4 bytes of
/// masking key.
pub const MAX_HEADER_BYTES: usize = 14;

/// The longest payload a control frame may carry.
///
/// RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST
/// NOT be fragmented."
const MAX_CONTROL_PAYLOAD_BYTES: u64 = 125;

/// The FIN bit of the first header byte.
const FIN_BIT: u8 = 0x80;
/// RSV1, RSV2 and RSV3 of the first header byte.
const RSV_BITS: u8 = 0x70;
/// The opcode nibble of the first header byte.
const OPCODE_BITS: u8 = 0x0F;
/// The MASK bit of the second header byte.
const MASK_BIT: u8 = 0x80;
/// The 7-bit payload length of the second header byte.
const LEN7_BITS: u8 = 0x7F;
/// The 7-bit length value announcing a 16-bit extended length.
const LEN7_U16: u8 = 126;
/// The 7-bit length value announcing a 64-bit extended length.
const LEN7_U64: u8 = 127;

/// A frame's opcode (RFC 6455 §5.2). Reserved values are not representable: they are a
/// [`FrameError::ReservedOpcode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpCode {
    /// `%x0`: a later fragment of a fragmented message.
    Continuation,
    /// `%x1`: a text frame (UTF-8).
    Text,
    /// `%x2`: a binary frame.
    Binary,
    /// `%x8`: connection close.
    Close,
    /// `%x9`: ping.
    Ping,
    /// `%xA`: pong.
    Pong,
}

impl OpCode {
    /// `true` for Close, Ping and Pong.
    ///
    /// RFC 6455 §5.5: "Control frames are identified by opcodes where the most significant bit
    /// of the opcode is 1."
    pub fn is_control(self) -> bool {
        self.as_u8() & 0x08 != 0
    }

    /// The 4-bit wire value.
    pub fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// The opcode for a 4-bit wire value, `None` for the reserved ones.
    ///
    /// RFC 6455 §5.2: "%x3-7 are reserved for further non-control frames", "%xB-F are reserved
    /// for further control frames".
    fn from_u8(bits: u8) -> Option<OpCode> {
        match bits {
            0x0 => Some(OpCode::Continuation),
            0x1 => Some(OpCode::Text),
            0x2 => Some(OpCode::Binary),
            0x8 => Some(OpCode::Close),
            0x9 => Some(OpCode::Ping),
            0xA => Some(OpCode::Pong),
            _ => None,
        }
    }
}

/// One parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The FIN bit: this is the final fragment of a message.
    pub fin: bool,
    /// The frame's opcode.
    pub opcode: OpCode,
    /// The masking key, when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length as announced on the wire (at most 2^63 - 1). Not checked against any
    /// limit here, and not a promise that the bytes will ever arrive.
    pub payload_len: u64,
    /// Bytes taken by the header itself (2..=14); the payload starts here.
    pub header_len: usize,
}

/// Why a frame header is not acceptable. Every one of these fails the connection with 1002.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// RSV1, RSV2 or RSV3 set, but no extension is negotiated.
    ReservedBits,
    /// An opcode in %x3-7 or %xB-F (the value is carried).
    ReservedOpcode(u8),
    /// A Close, Ping or Pong frame without FIN.
    FragmentedControl,
    /// A Close, Ping or Pong frame announcing more than 125 payload bytes.
    ControlTooLong,
    /// A length in the 16-bit form below 126, or in the 64-bit form below 65536.
    NonMinimalLength,
    /// A 64-bit length with its most significant bit set.
    LengthOverflow,
}

impl FrameError {
    /// Short text for a Close frame's reason (well under the 123 bytes a reason may take).
    pub(crate) fn reason(self) -> &'static str {
        match self {
            FrameError::ReservedBits => "reserved bits set",
            FrameError::ReservedOpcode(_) => "reserved opcode",
            FrameError::FragmentedControl => "fragmented control frame",
            FrameError::ControlTooLong => "control frame payload over 125 bytes",
            FrameError::NonMinimalLength => "payload length not minimally encoded",
            FrameError::LengthOverflow => "payload length most significant bit set",
        }
    }
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::ReservedOpcode(bits) => write!(f, "reserved opcode {bits:#x}"),
            other => f.write_str(other.reason()),
        }
    }
}

impl std::error::Error for FrameError {}

/// Parses one frame header from the start of `buf`. Partial consumes nothing.
///
/// Errors are reported as soon as the bytes that show them are present (a reserved bit in
/// the first byte is an error even with one byte), checked in wire order, so a longer `buf`
/// never turns an error into another error or into a header.
///
/// # Errors
///
/// A [`FrameError`] for reserved bits or opcodes, a fragmented or over-long control frame, or
/// a payload length that is not minimally encoded or has its most significant bit set.
pub fn parse_header(buf: &[u8]) -> Result<Status<FrameHeader>, FrameError> {
    let Some((&first, rest)) = buf.split_first() else {
        return Ok(Status::Partial);
    };

    // RFC 6455 §5.2: "RSV1, RSV2, RSV3: 1 bit each. MUST be 0 unless an extension is
    // negotiated that defines meanings for non-zero values." We negotiate none.
    if first & RSV_BITS != 0 {
        return Err(FrameError::ReservedBits);
    }
    // RFC 6455 §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the
    // WebSocket Connection_."
    let opcode_bits = first & OPCODE_BITS;
    let opcode = OpCode::from_u8(opcode_bits).ok_or(FrameError::ReservedOpcode(opcode_bits))?;
    let fin = first & FIN_BIT != 0;
    // RFC 6455 §5.5: "All control frames ... MUST NOT be fragmented."
    if opcode.is_control() && !fin {
        return Err(FrameError::FragmentedControl);
    }

    let Some((&second, rest)) = rest.split_first() else {
        return Ok(Status::Partial);
    };
    let masked = second & MASK_BIT != 0;
    let len7 = second & LEN7_BITS;
    // RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less".
    // Any 7-bit value above 125 announces an extended length, so this is known already.
    if opcode.is_control() && u64::from(len7) > MAX_CONTROL_PAYLOAD_BYTES {
        return Err(FrameError::ControlTooLong);
    }

    // RFC 6455 §5.2: "if 0-125, that is the payload length. If 126, the following 2 bytes
    // interpreted as a 16-bit unsigned integer are the payload length. If 127, the following
    // 8 bytes interpreted as a 64-bit unsigned integer (the most significant bit MUST be 0)
    // are the payload length. Multibyte length quantities are expressed in network byte
    // order. Note that in all cases, the minimal number of bytes MUST be used to encode the
    // length".
    let (payload_len, extended_len_bytes, rest) = match len7 {
        LEN7_U16 => {
            let Some((bytes, rest)) = rest.split_first_chunk::<2>() else {
                return Ok(Status::Partial);
            };
            let len = u64::from(u16::from_be_bytes(*bytes));
            if len < u64::from(LEN7_U16) {
                return Err(FrameError::NonMinimalLength);
            }
            (len, 2, rest)
        }
        LEN7_U64 => {
            let Some((bytes, rest)) = rest.split_first_chunk::<8>() else {
                return Ok(Status::Partial);
            };
            let len = u64::from_be_bytes(*bytes);
            if len >> 63 != 0 {
                return Err(FrameError::LengthOverflow);
            }
            if len <= u64::from(u16::MAX) {
                return Err(FrameError::NonMinimalLength);
            }
            (len, 8, rest)
        }
        short => (u64::from(short), 0, rest),
    };

    // RFC 6455 §5.2: "Masking-key: 0 or 4 bytes ... present if the mask bit is set to 1 and is
    // absent if the mask bit is set to 0." Whether a mask is required is the decoder's call.
    let mask = if masked {
        let Some((key, _)) = rest.split_first_chunk::<4>() else {
            return Ok(Status::Partial);
        };
        Some(*key)
    } else {
        None
    };
    let mask_bytes = if masked { 4 } else { 0 };

    Ok(Status::Complete(FrameHeader {
        fin,
        opcode,
        mask,
        payload_len,
        // At most 2 + 8 + 4 = MAX_HEADER_BYTES.
        header_len: 2 + extended_len_bytes + mask_bytes,
    }))
}

/// Length of the header a server frame with this payload length needs (2, 4 or 10).
pub fn header_len_for(payload_len: usize) -> usize {
    if payload_len < usize::from(LEN7_U16) {
        2
    } else if payload_len <= usize::from(u16::MAX) {
        4
    } else {
        10
    }
}

/// Appends a server-to-client (never masked) frame header.
///
/// Uses the minimal length encoding, as RFC 6455 §5.2 requires: "the minimal number of bytes
/// MUST be used to encode the length".
pub fn write_header(out: &mut Vec<u8>, fin: bool, opcode: OpCode, payload_len: usize) {
    let first = if fin { FIN_BIT } else { 0 } | opcode.as_u8();
    // RFC 6455 §5.1: "A server MUST NOT mask any frames that it sends to the client." So the
    // MASK bit stays 0 and no masking key follows.
    match header_len_for(payload_len) {
        2 => {
            // header_len_for chose this form because payload_len < 126.
            let len7 = u8::try_from(payload_len).unwrap_or(LEN7_BITS) & LEN7_BITS;
            out.extend_from_slice(&[first, len7]);
        }
        4 => {
            let len16 = u16::try_from(payload_len).unwrap_or(u16::MAX);
            let [hi, lo] = len16.to_be_bytes();
            out.extend_from_slice(&[first, LEN7_U16, hi, lo]);
        }
        _ => {
            // usize is at most 64 bits on every supported target. A payload of 2^63 bytes or
            // more cannot exist in memory, so the most significant bit is always 0.
            let len64 = u64::try_from(payload_len).unwrap_or(u64::MAX >> 1);
            out.extend_from_slice(&[first, LEN7_U64]);
            out.extend_from_slice(&len64.to_be_bytes());
        }
    }
}

/// Appends a complete unmasked frame.
pub fn write_frame(out: &mut Vec<u8>, opcode: OpCode, payload: &[u8]) {
    out.reserve(header_len_for(payload.len()).saturating_add(payload.len()));
    write_header(out, true, opcode, payload.len());
    out.extend_from_slice(payload);
}

/// Appends a Close frame with a status code and a reason truncated (at a char boundary) so the
/// payload stays <= 125 bytes.
///
/// RFC 6455 §5.5.1: "If there is a body, the first two bytes of the body MUST be a 2-byte
/// unsigned integer (in network byte order) representing a status code with value /code/
/// defined in Section 7.4. Following the 2-byte integer, the body MAY contain UTF-8-encoded
/// data with value /reason/". Sending a valid code is the caller's job (1005, 1006 and 1015
/// "MUST NOT be set as a status code in a Close control frame by an endpoint").
pub fn write_close(out: &mut Vec<u8>, code: u16, reason: &str) {
    // 125 payload bytes (RFC 6455 §5.5) minus the 2-byte status code.
    const MAX_REASON_BYTES: usize = 123;
    let mut end = reason.len().min(MAX_REASON_BYTES);
    while !reason.is_char_boundary(end) {
        // Terminates: index 0 is always a char boundary.
        end = end.saturating_sub(1);
    }
    let reason = reason.get(..end).unwrap_or("");
    let payload_len = 2 + reason.len();
    out.reserve(header_len_for(payload_len) + payload_len);
    write_header(out, true, OpCode::Close, payload_len);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(reason.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test header: fin, opcode, mask, payload length, expected header_len.
    fn header(
        fin: bool,
        opcode: OpCode,
        mask: Option<[u8; 4]>,
        payload_len: u64,
        header_len: usize,
    ) -> FrameHeader {
        FrameHeader {
            fin,
            opcode,
            mask,
            payload_len,
            header_len,
        }
    }

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    /// Valid headers, exactly as long as their `header_len` (no payload bytes follow).
    fn valid_cases() -> Vec<(&'static str, Vec<u8>, FrameHeader)> {
        use OpCode::*;
        let k = KEY;
        vec![
            (
                "text, len 0, unmasked",
                vec![0x81, 0x00],
                header(true, Text, None, 0, 2),
            ),
            (
                "text, len 5, masked (RFC 6455 §5.7 example)",
                vec![0x81, 0x85, k[0], k[1], k[2], k[3]],
                header(true, Text, Some(k), 5, 6),
            ),
            (
                "binary, len 125, 7-bit max",
                vec![0x82, 0x80 | 125, k[0], k[1], k[2], k[3]],
                header(true, Binary, Some(k), 125, 6),
            ),
            (
                "binary, len 126, 16-bit min",
                vec![0x82, 0x80 | 126, 0x00, 126, k[0], k[1], k[2], k[3]],
                header(true, Binary, Some(k), 126, 8),
            ),
            (
                "binary, len 256, 16-bit, unmasked (RFC example)",
                vec![0x82, 126, 0x01, 0x00],
                header(true, Binary, None, 256, 4),
            ),
            (
                "binary, len 65535, 16-bit max",
                vec![0x82, 0x80 | 126, 0xff, 0xff, k[0], k[1], k[2], k[3]],
                header(true, Binary, Some(k), 65535, 8),
            ),
            (
                "binary, len 65536, 64-bit min",
                vec![
                    0x82,
                    0x80 | 127,
                    0,
                    0,
                    0,
                    0,
                    0,
                    1,
                    0,
                    0,
                    k[0],
                    k[1],
                    k[2],
                    k[3],
                ],
                header(true, Binary, Some(k), 65536, 14),
            ),
            (
                "binary, len 2^63-1, 64-bit max, unmasked",
                vec![0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                header(true, Binary, None, (1 << 63) - 1, 10),
            ),
            (
                "text, not fin",
                vec![0x01, 0x83, k[0], k[1], k[2], k[3]],
                header(false, Text, Some(k), 3, 6),
            ),
            (
                "continuation, not fin",
                vec![0x00, 0x81, k[0], k[1], k[2], k[3]],
                header(false, Continuation, Some(k), 1, 6),
            ),
            (
                "continuation, fin",
                vec![0x80, 0x80, k[0], k[1], k[2], k[3]],
                header(true, Continuation, Some(k), 0, 6),
            ),
            (
                "close, len 2",
                vec![0x88, 0x82, k[0], k[1], k[2], k[3]],
                header(true, Close, Some(k), 2, 6),
            ),
            (
                "ping, len 125",
                vec![0x89, 0x80 | 125, k[0], k[1], k[2], k[3]],
                header(true, Ping, Some(k), 125, 6),
            ),
            (
                "pong, len 0, unmasked",
                vec![0x8a, 0x00],
                header(true, Pong, None, 0, 2),
            ),
        ]
    }

    #[test]
    fn parses_valid_headers() {
        for (name, bytes, want) in valid_cases() {
            assert_eq!(bytes.len(), want.header_len, "{name}: test vector length");
            assert_eq!(parse_header(&bytes), Ok(Status::Complete(want)), "{name}");
            // Payload bytes after the header are not the header's business.
            let mut with_payload = bytes.clone();
            with_payload.extend_from_slice(&[0xAB; 20]);
            assert_eq!(
                parse_header(&with_payload),
                Ok(Status::Complete(want)),
                "{name}: with trailing bytes"
            );
        }
    }

    #[test]
    fn valid_headers_are_partial_at_every_truncation_point() {
        for (name, bytes, _) in valid_cases() {
            for cut in 0..bytes.len() {
                assert_eq!(
                    parse_header(&bytes[..cut]),
                    Ok(Status::Partial),
                    "{name}: cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn rejects_invalid_headers() {
        use FrameError::*;
        let cases: &[(&str, &[u8], FrameError)] = &[
            ("RSV1", &[0xC1, 0x80], ReservedBits),
            ("RSV2", &[0xA1, 0x80], ReservedBits),
            ("RSV3", &[0x91, 0x80], ReservedBits),
            ("RSV1 on a ping", &[0xC9, 0x80], ReservedBits),
            ("RSV shown by the first byte alone", &[0xF1], ReservedBits),
            ("opcode 3", &[0x83, 0x80], ReservedOpcode(3)),
            ("opcode 4", &[0x84, 0x80], ReservedOpcode(4)),
            ("opcode 5", &[0x85, 0x80], ReservedOpcode(5)),
            ("opcode 6", &[0x86, 0x80], ReservedOpcode(6)),
            ("opcode 7", &[0x87, 0x80], ReservedOpcode(7)),
            ("opcode 0xB", &[0x8B, 0x80], ReservedOpcode(0xB)),
            ("opcode 0xC", &[0x8C, 0x80], ReservedOpcode(0xC)),
            ("opcode 0xD", &[0x8D, 0x80], ReservedOpcode(0xD)),
            ("opcode 0xE", &[0x8E, 0x80], ReservedOpcode(0xE)),
            ("opcode 0xF", &[0x8F, 0x80], ReservedOpcode(0xF)),
            (
                "opcode shown by the first byte alone",
                &[0x8F],
                ReservedOpcode(0xF),
            ),
            ("close without FIN", &[0x08, 0x80], FragmentedControl),
            ("ping without FIN", &[0x09, 0x80], FragmentedControl),
            ("pong without FIN", &[0x0A], FragmentedControl),
            ("ping with len7 126", &[0x89, 0x80 | 126], ControlTooLong),
            ("close with len7 127", &[0x88, 0x80 | 127], ControlTooLong),
            (
                "pong with 16-bit len 126",
                &[0x8A, 0x80 | 126, 0, 126, 1, 2, 3, 4],
                ControlTooLong,
            ),
            ("16-bit len 0", &[0x82, 0x80 | 126, 0, 0], NonMinimalLength),
            (
                "16-bit len 125",
                &[0x82, 0x80 | 126, 0, 125],
                NonMinimalLength,
            ),
            (
                "64-bit len 0",
                &[0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0],
                NonMinimalLength,
            ),
            (
                "64-bit len 125",
                &[0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 125],
                NonMinimalLength,
            ),
            (
                "64-bit len 65535",
                &[0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
                NonMinimalLength,
            ),
            (
                "64-bit len 2^63",
                &[0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0],
                LengthOverflow,
            ),
            (
                "64-bit len 2^64-1",
                &[0x82, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                LengthOverflow,
            ),
        ];
        for &(name, bytes, want) in cases {
            assert_eq!(parse_header(bytes), Err(want), "{name}");
            // A longer buffer never changes the verdict.
            let mut longer = bytes.to_vec();
            longer.extend_from_slice(&[0u8; MAX_HEADER_BYTES]);
            assert_eq!(parse_header(&longer), Err(want), "{name}: longer");
        }
    }

    #[test]
    fn opcode_table() {
        use OpCode::*;
        let cases = [
            (Continuation, 0x0, false),
            (Text, 0x1, false),
            (Binary, 0x2, false),
            (Close, 0x8, true),
            (Ping, 0x9, true),
            (Pong, 0xA, true),
        ];
        for (opcode, bits, control) in cases {
            assert_eq!(opcode.as_u8(), bits, "{opcode:?}");
            assert_eq!(opcode.is_control(), control, "{opcode:?}");
            assert_eq!(OpCode::from_u8(bits), Some(opcode), "{opcode:?}");
        }
        for bits in (0x3..=0x7).chain(0xB..=0xF).chain(0x10..=0xFF) {
            assert_eq!(OpCode::from_u8(bits), None, "{bits:#x}");
        }
    }

    #[test]
    fn header_len_for_table() {
        let cases = [
            (0, 2),
            (1, 2),
            (125, 2),
            (126, 4),
            (127, 4),
            (65535, 4),
            (65536, 10),
            (1 << 20, 10),
            (usize::MAX, 10),
        ];
        for (payload_len, want) in cases {
            assert_eq!(header_len_for(payload_len), want, "{payload_len}");
        }
    }

    #[test]
    fn write_header_round_trips() {
        use OpCode::*;
        let lens = [
            0,
            1,
            125,
            126,
            127,
            1000,
            65535,
            65536,
            1 << 20,
            usize::MAX >> 1,
        ];
        for opcode in [Continuation, Text, Binary] {
            for fin in [true, false] {
                for len in lens {
                    let mut out = vec![0xEE]; // appends, never overwrites
                    write_header(&mut out, fin, opcode, len);
                    assert_eq!(out[0], 0xEE);
                    let encoded = &out[1..];
                    assert_eq!(encoded.len(), header_len_for(len), "{opcode:?} {fin} {len}");
                    let want = header(fin, opcode, None, len as u64, header_len_for(len));
                    assert_eq!(
                        parse_header(encoded),
                        Ok(Status::Complete(want)),
                        "{opcode:?} {fin} {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn write_frame_round_trips() {
        use OpCode::*;
        let cases: &[(OpCode, usize)] = &[
            (Text, 0),
            (Text, 5),
            (Binary, 125),
            (Binary, 126),
            (Binary, 65535),
            (Binary, 65536),
            (Binary, 70000),
            (Ping, 0),
            (Ping, 125),
            (Pong, 7),
            (Close, 2),
        ];
        for &(opcode, len) in cases {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut out = Vec::new();
            write_frame(&mut out, opcode, &payload);
            let Ok(Status::Complete(h)) = parse_header(&out) else {
                panic!("{opcode:?} {len}: header did not parse");
            };
            assert_eq!(
                h,
                header(true, opcode, None, len as u64, header_len_for(len))
            );
            assert_eq!(&out[h.header_len..], &payload[..], "{opcode:?} {len}");
        }
    }

    #[test]
    fn write_close_round_trips_and_truncates_at_char_boundary() {
        let long_ascii = "a".repeat(200);
        // 61 two-byte chars = 122 bytes, then a 4-byte char that would end at byte 126.
        let multibyte = format!("{}{}", "é".repeat(61), "😀");
        let cases: &[(&str, u16, &str, &str)] = &[
            ("empty reason", 1000, "", ""),
            ("short reason", 1001, "going away", "going away"),
            (
                "exactly 123 bytes",
                4000,
                &long_ascii[..123],
                &long_ascii[..123],
            ),
            ("over 123 bytes", 4001, &long_ascii, &long_ascii[..123]),
            (
                "cut before a 4-byte char",
                1002,
                &multibyte,
                &multibyte[..122],
            ),
            (
                "cut inside a 2-byte char",
                1003,
                &"é".repeat(70),
                &multibyte[..122],
            ),
        ];
        for &(name, code, reason, want_reason) in cases {
            let mut out = Vec::new();
            write_close(&mut out, code, reason);
            let Ok(Status::Complete(h)) = parse_header(&out) else {
                panic!("{name}: header did not parse");
            };
            assert_eq!(h.opcode, OpCode::Close, "{name}");
            assert!(h.fin, "{name}");
            assert_eq!(h.mask, None, "{name}");
            assert!(h.payload_len <= 125, "{name}");
            let payload = &out[h.header_len..];
            assert_eq!(payload.len() as u64, h.payload_len, "{name}");
            assert_eq!(&payload[..2], &code.to_be_bytes(), "{name}");
            assert_eq!(
                std::str::from_utf8(&payload[2..]),
                Ok(want_reason),
                "{name}"
            );
        }
    }

    /// xorshift64: a deterministic source of bytes for the property tests below.
    fn xorshift(state: &mut u64) -> u64 {
        let mut x = *state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *state = x;
        x
    }

    #[test]
    fn random_headers_never_panic_and_prefixes_agree() {
        let mut state = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let len = (xorshift(&mut state) % 16) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| xorshift(&mut state) as u8).collect();
            // Bias towards the interesting length forms.
            if let Some(b) = bytes.get_mut(1) {
                if xorshift(&mut state) % 2 == 0 {
                    *b |= 0x7E;
                }
            }
            let full = parse_header(&bytes);
            if let Ok(Status::Complete(h)) = full {
                assert!(h.header_len >= 2 && h.header_len <= MAX_HEADER_BYTES);
                assert!(h.header_len <= bytes.len());
                assert!(h.payload_len < 1 << 63);
                // The header parsed from exactly its own bytes is the same header.
                assert_eq!(parse_header(&bytes[..h.header_len]), full);
            }
            // Monotone: a prefix is either Partial or already gives the final answer.
            for cut in 0..=bytes.len() {
                let prefix = parse_header(&bytes[..cut]);
                assert!(
                    prefix == Ok(Status::Partial) || prefix == full,
                    "{bytes:02x?} cut at {cut}: {prefix:?} vs {full:?}"
                );
            }
        }
    }
}
