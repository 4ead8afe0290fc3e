//! Replays the fuzz corpora on stable: every file of `fuzz/corpus/<target>/` (seeds and
//! minimised regressions) and of `fuzz/artifacts/<target>/` (crashes from a local
//! `cargo +nightly fuzz run`, when present) through `fanoutd::fuzzing::<target>`, the same
//! body the fuzz target runs. A panic names the file.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for dir in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("readable directory entry").path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(
        files.iter().any(|p| p.starts_with(root.join("corpus"))),
        "no corpus for {target}: fuzz/corpus/{target}/ should hold the seeds"
    );
    for path in &files {
        let data = std::fs::read(path).expect("readable corpus file");
        let outcome = std::panic::catch_unwind(|| run(&data));
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            panic!("{target}: {} failed: {message}", path.display());
        }
    }
}

#[test]
fn frame_header() {
    replay("frame_header", fanoutd::fuzzing::frame_header);
}

#[test]
fn frame_stream() {
    replay("frame_stream", fanoutd::fuzzing::frame_stream);
}

#[test]
fn http_head() {
    replay("http_head", fanoutd::fuzzing::http_head);
}

#[test]
fn pusher_message() {
    replay("pusher_message", fanoutd::fuzzing::pusher_message);
}

#[test]
fn rest_body() {
    replay("rest_body", fanoutd::fuzzing::rest_body);
}

#[test]
fn chunked_body() {
    replay("chunked_body", fanoutd::fuzzing::chunked_body);
}
