//! Configuration through the real binary: a bad value stops start-up at once with a non-zero
//! exit and a message naming the variable; `--config FILE` with two apps serves both.
//!
//! The binary runs with a cleared environment (only what each test sets) in an empty
//! directory of its own (it reads `.env` from its working directory, as soketi does), on
//! ports picked by binding 127.0.0.1:0.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::*;

/// A port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A new empty directory for one run of the binary.
pub(crate) fn scratch_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "fanoutd-it-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A running `fanoutd` process; killed on drop if still running.
pub(crate) struct Bin {
    pub child: Child,
    pub addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub dir: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl Bin {
    /// Everything the process wrote to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for the process to exit, at most `d`.
    pub(crate) fn wait_exit(&mut self, d: Duration) -> Option<ExitStatus> {
        wait_exit(&mut self.child, d)
    }
}

impl Drop for Bin {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_exit(child: &mut Child, d: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + d;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The command for the binary: cleared environment, its own directory.
fn command(dir: &PathBuf, env: &[(&str, &str)], args: &[&str]) -> Command {
    command_limited(dir, env, args, None)
}

/// [`command`], run under `ulimit -n NOFILE` (soft and hard) when `nofile` is given: a
/// shell lowers the limits and `exec`s the binary, so the test process keeps its own.
fn command_limited(
    dir: &PathBuf,
    env: &[(&str, &str)],
    args: &[&str],
    nofile: Option<u32>,
) -> Command {
    let bin = env!("CARGO_BIN_EXE_fanoutd");
    let mut cmd = match nofile {
        None => Command::new(bin),
        Some(n) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c")
                .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                .arg(bin);
            c
        }
    };
    cmd.env_clear()
        .current_dir(dir)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Collects a child's stderr in the background.
fn collect_stderr(child: &mut Child) -> Arc<Mutex<String>> {
    let out = Arc::new(Mutex::new(String::new()));
    let mut pipe = child.stderr.take().unwrap();
    let sink = out.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    out
}

/// Starts the binary on free ports with `env` (plus host and ports) and `args`, and waits
/// until it accepts connections. Retries when a picked port was taken in between.
pub(crate) fn start_bin(env: &[(&str, &str)], args: &[&str]) -> Bin {
    start_bin_limited(env, args, None)
}

/// [`start_bin`] under `ulimit -n NOFILE` when `nofile` is given.
pub(crate) fn start_bin_limited(env: &[(&str, &str)], args: &[&str], nofile: Option<u32>) -> Bin {
    for _ in 0..5 {
        let port = free_port();
        let metrics_port = free_port();
        let port_s = port.to_string();
        let metrics_s = metrics_port.to_string();
        let mut all: Vec<(&str, &str)> = vec![
            ("SOKETI_HOST", "127.0.0.1"),
            ("SOKETI_PORT", &port_s),
            ("SOKETI_METRICS_HOST", "127.0.0.1"),
            ("SOKETI_METRICS_SERVER_PORT", &metrics_s),
        ];
        all.extend_from_slice(env);
        let dir = scratch_dir();
        let mut child = command_limited(&dir, &all, args, nofile)
            .spawn()
            .expect("spawn fanoutd");
        let stderr = collect_stderr(&mut child);
        let mut bin = Bin {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            metrics_addr: SocketAddr::from(([127, 0, 0, 1], metrics_port)),
            dir,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = bin.child.try_wait().unwrap() {
                // Give the stderr thread a moment to collect the last lines.
                std::thread::sleep(Duration::from_millis(50));
                let err = bin.stderr();
                assert!(
                    err.contains("cannot start"),
                    "fanoutd exited ({status}) at start: {err}"
                );
                break; // a port clash: try other ports
            }
            if TcpStream::connect(bin.addr).is_ok() {
                return bin;
            }
            assert!(
                Instant::now() < deadline,
                "fanoutd did not listen in time: {}",
                bin.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("could not start fanoutd on free ports");
}

/// Runs the binary expecting it to refuse the configuration: returns (exit code, stderr).
pub(crate) fn refused(env: &[(&str, &str)], args: &[&str]) -> (i32, String) {
    let dir = scratch_dir();
    let mut child = command(&dir, env, args).spawn().expect("spawn fanoutd");
    let stderr = collect_stderr(&mut child);
    let status = wait_exit(&mut child, Duration::from_secs(5));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    std::thread::sleep(Duration::from_millis(50));
    let _ = std::fs::remove_dir_all(&dir);
    let err = stderr.lock().unwrap().clone();
    let status = status.unwrap_or_else(|| panic!("{env:?} {args:?}: still running after 5 s"));
    (status.code().expect("an exit code, not a signal"), err)
}

#[test]
fn bad_environment_values_stop_start_up_naming_the_variable() {
    let cases = [
        ("SOKETI_PORT", "abc"),
        ("SOKETI_PORT", "70000"),
        ("SOKETI_METRICS_DRIVER", "statsd"),
        ("SOKETI_ADAPTER_DRIVER", "cluster"),
        ("SOKETI_APP_MANAGER_DRIVER", "mysql"),
        ("SOKETI_MODE", "worker"),
        ("SOKETI_SHUTDOWN_GRACE_PERIOD", "soon"),
        ("SOKETI_DEBUG", "sometimes"),
        ("SOKETI_HOST", "not-an-address"),
        ("METRICS_SERVER_PORT", "x"),
        ("SOKETI_DEFAULT_APP_MAX_CONNS", "lots"),
        ("FANOUTD_REACTORS", "many"),
        ("SOKETI_SSL_CERT", "/tmp/cert.pem"),
    ];
    for (var, value) in cases {
        let (code, err) = refused(&[(var, value)], &[]);
        assert_ne!(code, 0, "{var}={value}: {err}");
        assert!(
            err.contains(var),
            "{var}={value}: stderr does not name it: {err}"
        );
        assert!(
            !err.contains("listening"),
            "{var}={value}: it started: {err}"
        );
    }
}

#[test]
fn bad_config_files_and_arguments_stop_start_up() {
    let dir = scratch_dir();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"port": "abc"}"#).unwrap();
    let typo = dir.join("typo.json");
    std::fs::write(&typo, r#"{"prot": 6001}"#).unwrap();
    let broken = dir.join("broken.json");
    std::fs::write(&broken, r#"{"port": "#).unwrap();
    let missing = dir.join("missing.json");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--config".into(), bad.display().to_string()], "port"),
        (vec![format!("--config={}", typo.display())], "prot"),
        (
            vec!["--config".into(), broken.display().to_string()],
            "broken.json",
        ),
        (
            vec!["--config".into(), missing.display().to_string()],
            "missing.json",
        ),
        (vec!["--config".into()], "--config"),
        (vec!["--nope".into()], "--nope"),
    ];
    for (args, phrase) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, err) = refused(&[], &a);
        assert_ne!(code, 0, "{args:?}: {err}");
        assert!(err.contains(phrase), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_file_with_two_apps_serves_both() {
    let dir = scratch_dir();
    let file = dir.join("apps.json");
    let cfg = json!({
        "appManager": {"array": {"apps": [
            {"id": "one", "key": "key-one", "secret": "secret-one"},
            {"id": "two", "key": "key-two", "secret": "secret-two", "maxConnections": 1},
        ]}},
        "fanoutd": {"reactors": 2},
    });
    std::fs::write(&file, cfg.to_string()).unwrap();
    let bin = start_bin(&[], &["--config", file.to_str().unwrap()]);
    let mut one = Client::connect(bin.addr, "key-one");
    let mut two = Client::connect(bin.addr, "key-two");
    one.subscribe("shared");
    two.subscribe("shared");
    // Each app publishes with its own credentials, to its own sockets only.
    for (id, key, secret, who) in [
        ("one", "key-one", "secret-one", &mut one),
        ("two", "key-two", "secret-two", &mut two),
    ] {
        let body = json!({"name": "hello", "channel": "shared", "data": id}).to_string();
        let r = rest(bin.addr, id, key, secret, "POST", "/events", &[], &body);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(who.recv_event("hello")["data"], id);
    }
    one.expect_silence(Duration::from_millis(200));
    // The file's per-app setting applies: app two takes one connection.
    let (mut extra, m) = Client::connect_raw(bin.addr, "key-two");
    assert_eq!(m["data"]["code"], 4100, "{m}");
    assert_eq!(extra.expect_close(), Some(4100));
    // soketi's default app is not there when the file lists apps.
    let (mut c, m) = Client::connect_raw(bin.addr, "app-key");
    assert_eq!(m["data"]["code"], 4001, "{m}");
    assert_eq!(c.expect_close(), Some(4001));
    drop(bin);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn environment_overrides_the_file_and_default_app_variables_work() {
    let dir = scratch_dir();
    let file = dir.join("c.json");
    std::fs::write(&file, json!({"port": 1, "pathPrefix": "/file"}).to_string()).unwrap();
    let bin = start_bin(
        &[
            ("SOKETI_DEFAULT_APP_ID", "env-id"),
            ("SOKETI_DEFAULT_APP_KEY", "env-key"),
            ("SOKETI_DEFAULT_APP_SECRET", "env-secret"),
            ("SOKETI_PATH_PREFIX", ""),
        ],
        &["--config", file.to_str().unwrap()],
    );
    // SOKETI_PORT (set by start_bin) beat the file's port 1; an empty variable counts as
    // unset, so the file's path prefix stays.
    let r = http(
        bin.addr,
        b"GET /file/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let url = format!("ws://{}/file/app/env-key", bin.addr);
    let (mut ws, _) = tungstenite::connect(url).expect("handshake under the prefix");
    let first = ws.read().unwrap();
    assert!(
        first.to_text().unwrap().contains("connection_established"),
        "{first:?}"
    );
    drop(bin);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dotenv_in_the_working_directory_is_read() {
    // The directory of the run is created by start_bin; write .env into a fresh one first.
    let port = free_port();
    let dir = scratch_dir();
    std::fs::write(
        dir.join(".env"),
        "SOKETI_DEFAULT_APP_KEY=dotenv-key\nSOKETI_PORT=abc\n",
    )
    .unwrap();
    // The process environment wins over .env: SOKETI_PORT from the environment is used.
    let port_s = port.to_string();
    let metrics_s = free_port().to_string();
    let env = [
        ("SOKETI_HOST", "127.0.0.1"),
        ("SOKETI_PORT", port_s.as_str()),
        ("SOKETI_METRICS_HOST", "127.0.0.1"),
        ("SOKETI_METRICS_SERVER_PORT", metrics_s.as_str()),
    ];
    let mut child = command(&dir, &env, &[]).spawn().unwrap();
    let stderr = collect_stderr(&mut child);
    let mut bin = Bin {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        metrics_addr: SocketAddr::from(([127, 0, 0, 1], metrics_s.parse::<u16>().unwrap())),
        dir,
        stderr,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(bin.addr).is_err() {
        assert!(
            bin.child.try_wait().unwrap().is_none(),
            "exited: {}",
            bin.stderr()
        );
        assert!(Instant::now() < deadline, "not listening: {}", bin.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    let _c = Client::connect(bin.addr, "dotenv-key");
}

/// Waits until the binary's stderr holds every one of `needles`; returns it.
fn stderr_with(bin: &Bin, needles: &[&str]) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let err = bin.stderr();
        if needles.iter().all(|n| err.contains(n)) {
            return err;
        }
        assert!(
            Instant::now() < deadline,
            "stderr never showed all of {needles:?}:\n{err}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Settings soketi would use and fanoutd does not yet are accepted and named once each in a
/// start-up warning on stderr; settings that work give none (docs/compat.md, `no-effect`).
#[test]
fn settings_without_effect_are_warned_about_at_start_up() {
    let webhooks = r#"[{"url":"http://127.0.0.1:9/hook","event_types":["channel_occupied"]}]"#;
    let bin = start_bin(
        &[
            ("SOKETI_DEFAULT_APP_WEBHOOKS", webhooks),
            ("SOKETI_QUEUE_REDIS_CONCURRENCY", "2"),
            ("SOKETI_APP_MANAGER_MYSQL_USE_V2", "true"),
            ("SOKETI_WEBHOOKS_BATCHING_DURATION", "100"),
            ("SOKETI_EVENT_MAX_BATCH_SIZE", "20"),
        ],
        &[],
    );
    let err = stderr_with(&bin, &["listening on"]);
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("fanoutd: warning: "))
        .collect();
    for name in [
        "app app-id: webhooks",
        "SOKETI_QUEUE_REDIS_CONCURRENCY",
        "SOKETI_APP_MANAGER_MYSQL_USE_V2",
        "SOKETI_WEBHOOKS_BATCHING_DURATION",
    ] {
        let n = warnings.iter().filter(|l| l.contains(name)).count();
        assert_eq!(n, 1, "{name}: {err}");
    }
    assert_eq!(warnings.len(), 4, "{err}");
    // The server runs: the settings were accepted.
    let c = Client::connect(bin.addr, "app-key");
    drop(c);

    // Nothing given without effect: no warning, and no debug lines unless asked for.
    let bin = start_bin(&[("SOKETI_EVENT_MAX_BATCH_SIZE", "20")], &[]);
    let mut c = Client::connect(bin.addr, "app-key");
    c.subscribe("quiet");
    let err = stderr_with(&bin, &["listening on"]);
    assert!(!err.contains("warning"), "{err}");
    assert!(!err.contains("debug"), "{err}");
}

/// `SOKETI_DEBUG=true`: connections opened and closed (with their codes), subscriptions and
/// auth failures go to stderr, one line each (docs/compat.md, `debug-log`).
#[test]
fn debug_logs_connections_subscriptions_auth_failures_and_closes() {
    let bin = start_bin(&[("SOKETI_DEBUG", "true")], &[]);
    let mut c = Client::connect(bin.addr, "app-key");
    let id = c.socket_id.clone();
    c.subscribe("news");
    c.send(json!({"event": "pusher:subscribe",
        "data": {"channel": "private-secret", "auth": "app-key:0000"}}));
    let e = c.recv_event("pusher:subscription_error");
    assert_eq!(e["channel"], "private-secret");
    c.send(json!({"event": "pusher:unsubscribe", "data": {"channel": "news"}}));
    // A bad sign-in closes the socket with 4009.
    c.send(json!({"event": "pusher:signin",
        "data": {"auth": "app-key:0000", "user_data": "{\"id\":\"1\"}"}}));
    assert_eq!(c.expect_close(), Some(4009));
    // A second socket that just goes away.
    let c2 = Client::connect(bin.addr, "app-key");
    let id2 = c2.socket_id.clone();
    drop(c2);
    let opened = format!("socket {id}: opened (app app-id)");
    let subscribed = format!("socket {id}: subscribed to \"news\"");
    let refused = format!("socket {id}: subscription to \"private-secret\" refused: AuthError 401");
    let unsubscribed = format!("socket {id}: unsubscribed from \"news\"");
    let signin = format!("socket {id}: sign-in refused: bad signature");
    let closed = format!("socket {id}: closed with code 4009");
    let opened2 = format!("socket {id2}: opened (app app-id)");
    let gone2 = format!("socket {id2}: ");
    let err = stderr_with(
        &bin,
        &[
            "fanoutd: debug logging is on",
            &opened,
            &subscribed,
            &refused,
            &unsubscribed,
            &signin,
            &closed,
            &opened2,
        ],
    );
    // The vanished socket's end is logged too: a close frame or a lost connection.
    let deadline = Instant::now() + WAIT;
    let mut err = err;
    while !err
        .lines()
        .any(|l| l.contains(&gone2) && (l.contains("closed with code") || l.contains("lost")))
    {
        assert!(Instant::now() < deadline, "no end for {id2}:\n{err}");
        std::thread::sleep(Duration::from_millis(20));
        err = bin.stderr();
    }
    // Each event once, in order.
    let debug: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("fanoutd: debug: ") && l.contains(&format!("socket {id}:")))
        .collect();
    let expected = [
        &opened,
        &subscribed,
        &refused,
        &unsubscribed,
        &signin,
        &closed,
    ];
    assert_eq!(debug.len(), expected.len(), "{err}");
    for (line, want) in debug.iter().zip(expected) {
        assert!(
            line.contains(want.as_str()),
            "{line:?} should contain {want:?}\n{err}"
        );
    }
    // A REST call with a bad signature is an auth failure too.
    let r = rest(
        bin.addr,
        "app-id",
        "app-key",
        "wrong",
        "GET",
        "/channels",
        &[],
        "",
    );
    assert_eq!(r.status, 401);
    stderr_with(&bin, &["REST /apps/app-id/channels: signature refused"]);
}
