//! Payload masking (RFC 6455 §5.3), applied in place.
//!
//! Every client frame is masked, so every byte a client sends passes through here once. The
//! fast path XORs eight bytes at a time with the key repeated into a `u64`, in safe code:
//! `chunks_exact_mut(8)` plus `u64::from_ne_bytes`/`to_ne_bytes` compile to plain (unaligned)
//! word loads and stores, and LLVM vectorises the loop further. Native byte order is right on
//! every target because XOR works byte by byte: the key word and the data word are built from
//! bytes in the same order and taken apart again in that order. The scalar version is the
//! reference the differential test holds the fast one to.
//!
//! Masking and unmasking are the same operation; the server never masks what it sends
//! (RFC 6455 §5.1), so here it only unmasks.

/// Unmasks (or masks) `buf` in place with `key`, as if the first byte of `buf` were payload
/// byte 0.
///
/// RFC 6455 §5.3: "Octet i of the transformed data ("transformed-octet-i") is the XOR of octet
/// i of the original data ("original-octet-i") with octet at index i modulo 4 of the masking
/// key ("masking-key-octet-j")".
pub fn unmask(buf: &mut [u8], key: [u8; 4]) {
    let [k0, k1, k2, k3] = key;
    // Eight payload bytes starting at a multiple of 4 see the key twice, in order.
    let key_word = u64::from_ne_bytes([k0, k1, k2, k3, k0, k1, k2, k3]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_ne_bytes(word) ^ key_word;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    // The tail starts at a multiple of 8, hence of 4: the key phase is back at octet 0.
    unmask_scalar(chunks.into_remainder(), key);
}

/// The byte-at-a-time reference: `buf[i] ^= key[i % 4]`.
pub fn unmask_scalar(buf: &mut [u8], key: [u8; 4]) {
    for (byte, k) in buf.iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: [[u8; 4]; 6] = [
        [0, 0, 0, 0],
        [0xff, 0xff, 0xff, 0xff],
        [0x37, 0xfa, 0x21, 0x3d],
        [0x01, 0x02, 0x04, 0x08],
        [0x80, 0x00, 0x00, 0x01],
        [0xde, 0xad, 0xbe, 0xef],
    ];

    fn pattern(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(7))
            .collect()
    }

    #[test]
    fn rfc_example_hello() {
        // RFC 6455 §5.7: "A single-frame masked text message
        //   0x81 0x85 0x37 0xfa 0x21 0x3d 0x7f 0x9f 0x4d 0x51 0x58 (contains "Hello")"
        type Unmask = fn(&mut [u8], [u8; 4]);
        let cases: [(Unmask, &str); 2] = [(unmask, "unmask"), (unmask_scalar, "unmask_scalar")];
        for (f, name) in cases {
            let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
            f(&mut payload, [0x37, 0xfa, 0x21, 0x3d]);
            assert_eq!(&payload, b"Hello", "{name}");
        }
    }

    #[test]
    fn fast_matches_scalar_for_every_length_and_key() {
        for key in KEYS {
            for len in 0..=300 {
                let mut fast = pattern(len);
                let mut scalar = fast.clone();
                unmask(&mut fast, key);
                unmask_scalar(&mut scalar, key);
                assert_eq!(fast, scalar, "key {key:02x?} len {len}");
            }
        }
    }

    #[test]
    fn fast_matches_scalar_on_unaligned_sub_slices() {
        for key in KEYS {
            for start in 0..8 {
                for len in 0..=300 {
                    let mut fast = pattern(start + len + 8);
                    let mut scalar = fast.clone();
                    unmask(&mut fast[start..start + len], key);
                    unmask_scalar(&mut scalar[start..start + len], key);
                    // Bytes outside the sub-slice are untouched by both.
                    assert_eq!(fast, scalar, "key {key:02x?} start {start} len {len}");
                }
            }
        }
    }

    #[test]
    fn unmask_twice_is_identity() {
        for key in KEYS {
            let original = pattern(1000);
            let mut buf = original.clone();
            unmask(&mut buf, key);
            unmask(&mut buf, key);
            assert_eq!(buf, original, "key {key:02x?}");
        }
    }
}
