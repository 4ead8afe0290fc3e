//! The timestamped payload shared by `fanoutd-load` (publisher, client events, receivers) and
//! `fanoutd-floor send`: `ts=<20 digits>;sq=<10 digits>;` then `x` up to the wanted size.
//!
//! `ts` is `CLOCK_MONOTONIC` in nanoseconds (`net::monotonic_ns`), a clock every process on
//! the machine shares, so a receiver in another process can subtract it from its own reading.
//! `sq` is a sequence number (the floor's round, the publisher's publish count). Fixed widths
//! keep every frame of a run the same size and let the floor patch the digits of a frame it
//! encoded once. Only characters that need no JSON escaping are used, so the payload can be a
//! JSON string as is.

/// What a receiver searches a frame for.
pub const MARK: &[u8] = b"ts=";
const TS_DIGITS: usize = 20;
const SEQ_MARK: &[u8] = b";sq=";
const SEQ_DIGITS: usize = 10;
/// Bytes of the stamp itself; a payload is never shorter.
pub const STAMP_BYTES: usize = MARK.len() + TS_DIGITS + SEQ_MARK.len() + SEQ_DIGITS + 1;

/// Appends a payload of `max(len, STAMP_BYTES)` bytes.
pub fn write_payload(out: &mut Vec<u8>, ts_ns: u64, seq: u64, len: usize) {
    let start = out.len();
    out.reserve(len.max(STAMP_BYTES));
    out.extend_from_slice(MARK);
    push_digits(out, ts_ns, TS_DIGITS);
    out.extend_from_slice(SEQ_MARK);
    push_digits(out, seq % 10u64.pow(SEQ_DIGITS as u32), SEQ_DIGITS);
    out.push(b';');
    let written = out.len() - start;
    if len > written {
        out.resize(start + len, b'x');
    }
}

/// Overwrites the stamp of a payload that [`write_payload`] wrote at `buf[at..]`.
pub fn patch(buf: &mut [u8], at: usize, ts_ns: u64, seq: u64) {
    let ts_at = at + MARK.len();
    write_digits(&mut buf[ts_at..ts_at + TS_DIGITS], ts_ns);
    let seq_at = ts_at + TS_DIGITS + SEQ_MARK.len();
    write_digits(
        &mut buf[seq_at..seq_at + SEQ_DIGITS],
        seq % 10u64.pow(SEQ_DIGITS as u32),
    );
}

/// Finds a stamp in `frame` (a whole Pusher message): `(ts_ns, seq)`, or `None` when there is
/// none or it is malformed.
pub fn find(frame: &[u8]) -> Option<(u64, u64)> {
    let at = memchr::memmem::find(frame, MARK)?;
    let rest = frame.get(at + MARK.len()..)?;
    let ts = parse_digits(rest.get(..TS_DIGITS)?)?;
    let rest = rest.get(TS_DIGITS..)?.strip_prefix(SEQ_MARK)?;
    let seq = parse_digits(rest.get(..SEQ_DIGITS)?)?;
    Some((ts, seq))
}

fn push_digits(out: &mut Vec<u8>, v: u64, width: usize) {
    let at = out.len();
    out.resize(at + width, b'0');
    write_digits(&mut out[at..], v);
}

/// Writes `v` zero-padded into all of `dst` (the high digits are dropped if it does not fit).
fn write_digits(dst: &mut [u8], mut v: u64) {
    for d in dst.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

fn parse_digits(s: &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_patch() {
        let mut p = b"{\"data\":\"".to_vec();
        let at = p.len();
        write_payload(&mut p, 123_456_789_012, 42, 100);
        assert_eq!(p.len(), at + 100);
        assert_eq!(find(&p), Some((123_456_789_012, 42)));
        patch(&mut p, at, 7, 8);
        assert_eq!(find(&p), Some((7, 8)));
        let mut short = Vec::new();
        write_payload(&mut short, 1, 2, 0);
        assert_eq!(short.len(), STAMP_BYTES);
        assert_eq!(find(b"ts=12;sq=1"), None);
    }
}
