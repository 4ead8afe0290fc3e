//! `cargo +nightly fuzz run frame_stream`. The body is `fanoutd::fuzzing::frame_stream`, which
//! `cargo test --test tests fuzz_corpus` replays on stable over the committed corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fanoutd::fuzzing::frame_stream(data));
