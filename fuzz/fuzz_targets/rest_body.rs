//! `cargo +nightly fuzz run rest_body`. The body is `fanoutd::fuzzing::rest_body`, which
//! `cargo test --test tests fuzz_corpus` replays on stable over the committed corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fanoutd::fuzzing::rest_body(data));
