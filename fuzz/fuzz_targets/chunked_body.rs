//! `cargo +nightly fuzz run chunked_body`. The body is `fanoutd::fuzzing::chunked_body`, which
//! `cargo test --test tests fuzz_corpus` replays on stable over the committed corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fanoutd::fuzzing::chunked_body(data));
