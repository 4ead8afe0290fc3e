//! `cargo +nightly fuzz run pusher_message`. The body is `fanoutd::fuzzing::pusher_message`, which
//! `cargo test --test tests fuzz_corpus` replays on stable over the committed corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fanoutd::fuzzing::pusher_message(data));
