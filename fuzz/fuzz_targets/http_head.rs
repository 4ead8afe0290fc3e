//! `cargo +nightly fuzz run http_head`. The body is `fanoutd::fuzzing::http_head`, which
//! `cargo test --test tests fuzz_corpus` replays on stable over the committed corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fanoutd::fuzzing::http_head(data));
