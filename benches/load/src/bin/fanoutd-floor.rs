//! `fanoutd-floor`: the smallest programs that make the same syscalls as the server, so PERF.md
//! can state each server figure as a ratio to what this machine allows.
//!
//! Single-threaded, one epoll (mio), 127.0.0.1 only, every mode stops by itself
//! (`--duration`). Each reports its own CPU time (getrusage) per unit of work.
//!
//! - `send`: accepts WebSocket upgrades (a 101 from `fanoutd::http::write_switching_protocols`,
//!   nothing else), waits for `--conns N` of them, then R times per second writes one
//!   pre-encoded Pusher event frame `{"event":"e","channel":"c","data":"<B bytes>"}` (K
//!   frames with `--batch K`) to every connection with one write() each. The data carries the
//!   stamp of `fanoutd-load` (CLOCK_MONOTONIC ns + a per-frame sequence number), so
//!   `fanoutd-load fanout --floor` pointed at it measures end-to-end latency and loss of a
//!   bare send loop.
//! - `http`: answers every HTTP/1.1 request (keep-alive, pipelined requests answered in
//!   order, bodies skipped by Content-Length) with one fixed 200 JSON response.
//! - `idle`: the syscalls of a Pusher connect + handshake + subscribe with nothing else:
//!   answers the upgrade with the 101 and a fixed `pusher:connection_established` in one
//!   write, answers the first message (the client's subscribe, read but not parsed) with a
//!   fixed `pusher_internal:subscription_succeeded`, and then keeps nothing per connection
//!   but the fd (4 bytes in a Vec, plus its epoll registration), to show the kernel-side
//!   floor of memory too.

#![forbid(unsafe_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use serde_json::json;

use fanoutd::sys::net;
use fanoutd_load::args::Args;
use fanoutd_load::{procfs, stamp};

const LISTENER: Token = Token(usize::MAX);
const BACKLOG: i32 = 4096;
const MAX_HEAD_BYTES: usize = 8 * 1024;
/// A peer whose unsent output passes this is dropped (it stopped reading).
const MAX_QUEUED_BYTES: usize = 64 * 1024 * 1024;
/// Largest request body the `http` mode skips over.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

const USAGE: &str = "\
fanoutd-floor MODE [flags]   (binds 127.0.0.1 only; every mode stops by itself)

send   accept N WebSocket upgrades, then R rounds/s of one write() per connection
  --port 16201 --conns 100 --rate 10 --payload 100 --duration 10 --batch 1
  --accept-timeout 120   (start with whoever connected by then)
http   answer every request with one fixed 200 JSON response
  --port 16202 --duration 10
idle   accept WebSocket upgrades, keep only the fd
  --port 16203 --duration 60
";

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fanoutd-floor: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let _ = fanoutd::sys::raise_nofile_limit();
    let mode = args.mode.clone();
    let result = match mode.as_str() {
        "send" => send(args),
        "http" => http(args),
        "idle" => idle(args),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => Err(format!("unknown mode `{other}`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fanoutd-floor: {e}");
            ExitCode::FAILURE
        }
    }
}

fn listen(port: u16, poll: &Poll) -> Result<TcpListener, String> {
    let addr = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
    let std_listener = fanoutd::sys::reuseport_listener(addr, BACKLOG)
        .map_err(|e| format!("listen {addr}: {e}"))?;
    let mut listener = TcpListener::from_std(std_listener);
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .map_err(|e| e.to_string())?;
    Ok(listener)
}

fn poll_once(poll: &mut Poll, events: &mut Events, timeout: Duration) -> Result<(), String> {
    match poll.poll(events, Some(timeout)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::Interrupted => {
            events.clear();
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Accepts every pending connection; `on_accept` registers each.
fn accept_all(listener: &TcpListener, mut on_accept: impl FnMut(TcpStream)) {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                on_accept(stream);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                // EMFILE and friends: stop accepting for this round, the next event retries.
                eprintln!("accept: {e}");
                break;
            }
        }
    }
}

/// What a handshake read produced.
enum Handshake {
    /// Not the whole head yet.
    More,
    /// The 101 to send.
    Accept(Vec<u8>),
    /// Not a valid upgrade: close.
    Refuse,
}

/// Reads what is there into `inbuf` and, once the head is complete, answers it.
fn handshake(stream: &mut TcpStream, inbuf: &mut Vec<u8>, scratch: &mut [u8]) -> Handshake {
    loop {
        match stream.read(scratch) {
            Ok(0) => return Handshake::Refuse,
            Ok(n) => inbuf.extend_from_slice(&scratch[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Handshake::Refuse,
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(inbuf) {
        Ok(httparse::Status::Partial) if inbuf.len() <= MAX_HEAD_BYTES => Handshake::More,
        Ok(httparse::Status::Complete(_)) => {
            let key = req
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
                .and_then(|h| std::str::from_utf8(h.value).ok())
                .map(str::trim);
            match key {
                Some(key) if fanoutd::http::valid_ws_key(key) => {
                    let mut out = Vec::with_capacity(160);
                    fanoutd::http::write_switching_protocols(&mut out, key);
                    Handshake::Accept(out)
                }
                _ => Handshake::Refuse,
            }
        }
        _ => Handshake::Refuse,
    }
}

/// Writes as much of `buf` as the socket takes; `Err` on a socket error.
fn write_some(stream: &mut TcpStream, buf: &[u8]) -> std::io::Result<usize> {
    let mut written = 0;
    while written < buf.len() {
        match stream.write(&buf[written..]) {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

/// Reads and discards everything readable; `false` when the peer is gone.
fn drain(stream: &mut TcpStream, scratch: &mut [u8]) -> bool {
    loop {
        match stream.read(scratch) {
            Ok(0) => return false,
            Ok(n) if n < scratch.len() => return true,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

struct Peer {
    stream: TcpStream,
    upgraded: bool,
    /// The handshake head while it arrives; freed at the upgrade.
    inbuf: Vec<u8>,
    /// Bytes the socket did not take; empty unless a write came up short.
    out: Vec<u8>,
}

#[derive(Default)]
struct SendStats {
    rounds: u64,
    late_rounds: u64,
    frames: u64,
    writes: u64,
    bytes: u64,
    short_writes: u64,
    queued_writes: u64,
    dropped_slow: u64,
    closed: u64,
}

fn send(mut args: Args) -> Result<(), String> {
    let port: u16 = args.take("port", 16201)?;
    let conns: usize = args.take::<usize>("conns", 100)?.max(1);
    let rate: f64 = args.take("rate", 10.0)?;
    let payload: usize = args.take("payload", 100)?;
    let duration = Duration::from_secs_f64(args.take("duration", 10.0)?);
    let batch: usize = args.take::<usize>("batch", 1)?.max(1);
    let accept_timeout = Duration::from_secs_f64(args.take("accept-timeout", 120.0)?);
    args.finish()?;
    if rate <= 0.0 {
        return Err("--rate must be > 0".into());
    }

    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let listener = listen(port, &poll)?;
    let mut events = Events::with_capacity(1024);
    let mut peers: Vec<Option<Peer>> = Vec::new();
    let mut scratch = vec![0u8; 64 * 1024];
    let mut upgraded = 0usize;
    println!(
        "floor send: 127.0.0.1:{port}, waiting for {conns} upgrades, then {rate} rounds/s x {batch} frame(s) of {payload} B data for {duration:?}"
    );

    // The frame, encoded once: only the stamp's digits change between rounds.
    let mut json_payload = br#"{"event":"e","channel":"c","data":""#.to_vec();
    let stamp_in_json = json_payload.len();
    stamp::write_payload(&mut json_payload, 0, 0, payload);
    json_payload.extend_from_slice(b"\"}");
    let mut frame = Vec::new();
    fanoutd::ws::frame::write_frame(&mut frame, fanoutd::ws::OpCode::Text, &json_payload);
    let stamp_in_frame = frame.len() - json_payload.len() + stamp_in_json;
    let frame_len = frame.len();
    let mut buf: Vec<u8> = frame.repeat(batch);

    let accept_deadline = Instant::now() + accept_timeout;
    let mut sending_since: Option<Instant> = None;
    let mut cpu0 = 0;
    let mut next_round = Instant::now();
    let period = Duration::from_secs_f64(1.0 / rate);
    let mut seq: u64 = 0;
    let mut st = SendStats::default();
    let mut next_line = Instant::now() + Duration::from_secs(5);

    loop {
        let now = Instant::now();
        match sending_since {
            None if upgraded >= conns || (now >= accept_deadline && upgraded > 0) => {
                println!("{upgraded} connections upgraded; sending");
                sending_since = Some(now);
                next_round = now;
                cpu0 = fanoutd::sys::process::cpu_micros().unwrap_or(0);
            }
            None if now >= accept_deadline => {
                return Err("no connection before --accept-timeout".into());
            }
            Some(since) if now.duration_since(since) >= duration => break,
            _ => {}
        }
        if sending_since.is_some() {
            // Catch up on rounds that are due, but never more than 100 ms worth in a burst.
            if now.duration_since(next_round) > Duration::from_millis(100) {
                st.late_rounds += 1;
                next_round = now;
            }
            while Instant::now() >= next_round {
                let ts = net::monotonic_ns();
                for k in 0..batch {
                    stamp::patch(&mut buf, k * frame_len + stamp_in_frame, ts, seq + k as u64);
                }
                seq += batch as u64;
                st.rounds += 1;
                for slot in peers.iter_mut() {
                    let Some(p) = slot.as_mut().filter(|p| p.upgraded) else {
                        continue;
                    };
                    st.frames += batch as u64;
                    if !p.out.is_empty() {
                        st.queued_writes += 1;
                        p.out.extend_from_slice(&buf);
                        if p.out.len() > MAX_QUEUED_BYTES {
                            st.dropped_slow += 1;
                            *slot = None;
                            upgraded -= 1;
                        }
                        continue;
                    }
                    st.writes += 1;
                    match write_some(&mut p.stream, &buf) {
                        Ok(n) => {
                            st.bytes += n as u64;
                            if n < buf.len() {
                                st.short_writes += 1;
                                p.out.extend_from_slice(&buf[n..]);
                            }
                        }
                        Err(_) => {
                            st.closed += 1;
                            *slot = None;
                            upgraded -= 1;
                        }
                    }
                }
                next_round += period;
            }
            if Instant::now() >= next_line {
                next_line += Duration::from_secs(5);
                let cpu = fanoutd::sys::process::cpu_micros().unwrap_or(0) - cpu0;
                eprintln!(
                    "  rounds {} frames {} cpu {:.3} µs/frame, peers {upgraded}",
                    st.rounds,
                    st.frames,
                    cpu as f64 / st.frames.max(1) as f64
                );
            }
        }
        let timeout = if sending_since.is_some() {
            next_round.saturating_duration_since(Instant::now())
        } else {
            Duration::from_millis(50)
        };
        poll_once(&mut poll, &mut events, timeout)?;
        for ev in events.iter() {
            if ev.token() == LISTENER {
                accept_all(&listener, |mut stream| {
                    let i = peers.len();
                    if poll
                        .registry()
                        .register(
                            &mut stream,
                            Token(i),
                            Interest::READABLE | Interest::WRITABLE,
                        )
                        .is_ok()
                    {
                        peers.push(Some(Peer {
                            stream,
                            upgraded: false,
                            inbuf: Vec::new(),
                            out: Vec::new(),
                        }));
                    }
                });
                continue;
            }
            let i = ev.token().0;
            let Some(p) = peers.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            if !p.upgraded {
                if !ev.is_readable() {
                    continue;
                }
                match handshake(&mut p.stream, &mut p.inbuf, &mut scratch) {
                    Handshake::More => {}
                    Handshake::Refuse => peers[i] = None,
                    Handshake::Accept(resp) => {
                        p.inbuf = Vec::new();
                        match write_some(&mut p.stream, &resp) {
                            Ok(n) => {
                                p.out.extend_from_slice(&resp[n..]);
                                p.upgraded = true;
                                upgraded += 1;
                            }
                            Err(_) => peers[i] = None,
                        }
                    }
                }
                continue;
            }
            if ev.is_writable() && !p.out.is_empty() {
                match write_some(&mut p.stream, &p.out) {
                    Ok(n) => {
                        st.bytes += n as u64;
                        p.out.drain(..n);
                    }
                    Err(_) => {
                        st.closed += 1;
                        peers[i] = None;
                        upgraded -= 1;
                        continue;
                    }
                }
            }
            if (ev.is_readable() || ev.is_read_closed()) && !drain(&mut p.stream, &mut scratch) {
                st.closed += 1;
                peers[i] = None;
                upgraded -= 1;
            }
        }
    }
    let cpu_us = fanoutd::sys::process::cpu_micros().unwrap_or(0) - cpu0;
    let elapsed = sending_since.map(|s| s.elapsed()).unwrap_or_default();
    let per_frame = cpu_us as f64 / st.frames.max(1) as f64;
    let per_write = cpu_us as f64 / st.writes.max(1) as f64;
    println!(
        "sent {} rounds ({:.1}/s, {} late) = {} frames ({:.0}/s) in {} writes, {} MiB; short writes {}, queued {}, dropped slow {}, closed {}",
        st.rounds,
        st.rounds as f64 / elapsed.as_secs_f64().max(1e-9),
        st.late_rounds,
        st.frames,
        st.frames as f64 / elapsed.as_secs_f64().max(1e-9),
        st.writes,
        st.bytes / (1024 * 1024),
        st.short_writes,
        st.queued_writes,
        st.dropped_slow,
        st.closed
    );
    println!(
        "floor cpu: {cpu_us} µs = {per_frame:.3} µs per frame, {per_write:.3} µs per write ({:.1}% of one core)",
        cpu_us as f64 / 1e4 / elapsed.as_secs_f64().max(1e-9)
    );
    println!(
        "{}",
        json!({
            "mode": "floor-send",
            "conns": upgraded,
            "conns_wanted": conns,
            "rate": rate,
            "batch": batch,
            "payload_bytes": payload,
            "frame_bytes": frame_len,
            "duration_s": round3(elapsed.as_secs_f64()),
            "rounds": st.rounds,
            "late_rounds": st.late_rounds,
            "frames": st.frames,
            "frames_per_s": round3(st.frames as f64 / elapsed.as_secs_f64().max(1e-9)),
            "writes": st.writes,
            "bytes": st.bytes,
            "short_writes": st.short_writes,
            "queued_writes": st.queued_writes,
            "dropped_slow": st.dropped_slow,
            "closed": st.closed,
            "cpu_us": cpu_us,
            "cpu_us_per_frame": round3(per_frame),
            "cpu_us_per_write": round3(per_write),
            "rss_bytes": procfs::self_rss_bytes(),
        })
    );
    Ok(())
}

struct HttpPeer {
    stream: TcpStream,
    /// Unparsed input (a partial request); empty between requests.
    inbuf: Vec<u8>,
    /// Response bytes the socket did not take.
    out: Vec<u8>,
    /// Bytes of a request body still to skip.
    skip: usize,
    close_after: bool,
}

/// Takes every complete request off `buf`, appending one response per request to `out`.
/// Returns the bytes consumed, or `None` for a request to refuse (the connection closes).
fn answer_requests(
    buf: &[u8],
    skip: &mut usize,
    out: &mut Vec<u8>,
    response: &[u8],
    response_close: &[u8],
    close_after: &mut bool,
    requests: &mut u64,
) -> Option<usize> {
    let mut pos = 0;
    loop {
        if *skip > 0 {
            let n = (*skip).min(buf.len() - pos);
            pos += n;
            *skip -= n;
            if *skip > 0 {
                return Some(pos);
            }
        }
        if pos == buf.len() || *close_after {
            return Some(pos);
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let head_len = match req.parse(&buf[pos..]) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if buf.len() - pos <= MAX_HEAD_BYTES => return Some(pos),
            _ => return None,
        };
        let mut body = 0usize;
        for h in req.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                body = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                    .filter(|&n| n <= MAX_BODY_BYTES)?;
            } else if h.name.eq_ignore_ascii_case("connection")
                && h.value.eq_ignore_ascii_case(b"close")
            {
                *close_after = true;
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                // Not worth a chunked decoder: no Pusher client sends one.
                return None;
            }
        }
        *requests += 1;
        out.extend_from_slice(if *close_after {
            response_close
        } else {
            response
        });
        pos += head_len;
        *skip = body;
    }
}

fn http(mut args: Args) -> Result<(), String> {
    let port: u16 = args.take("port", 16202)?;
    let duration = Duration::from_secs_f64(args.take("duration", 10.0)?);
    args.finish()?;

    let body = br#"{"ok":true}"#;
    let mut response = Vec::new();
    fanoutd::http::write_response(
        &mut response,
        200,
        &[("Content-Type", "application/json")],
        body,
        true,
    );
    let mut response_close = Vec::new();
    fanoutd::http::write_response(
        &mut response_close,
        200,
        &[("Content-Type", "application/json")],
        body,
        false,
    );

    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let listener = listen(port, &poll)?;
    let mut events = Events::with_capacity(1024);
    let mut peers: Vec<Option<HttpPeer>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut scratch = vec![0u8; 64 * 1024];
    let mut requests: u64 = 0;
    let mut accepted: u64 = 0;
    let start = Instant::now();
    let end = start + duration;
    let cpu0 = fanoutd::sys::process::cpu_micros().unwrap_or(0);
    let mut last = (Instant::now(), cpu0, 0u64);
    println!("floor http: 127.0.0.1:{port}, fixed 200 {{\"ok\":true}} for {duration:?}");
    while Instant::now() < end {
        poll_once(&mut poll, &mut events, Duration::from_millis(100))?;
        for ev in events.iter() {
            if ev.token() == LISTENER {
                accept_all(&listener, |mut stream| {
                    let i = free.pop().unwrap_or(peers.len());
                    if poll
                        .registry()
                        .register(
                            &mut stream,
                            Token(i),
                            Interest::READABLE | Interest::WRITABLE,
                        )
                        .is_ok()
                    {
                        accepted += 1;
                        let peer = Some(HttpPeer {
                            stream,
                            inbuf: Vec::new(),
                            out: Vec::new(),
                            skip: 0,
                            close_after: false,
                        });
                        if i == peers.len() {
                            peers.push(peer);
                        } else {
                            peers[i] = peer;
                        }
                    }
                });
                continue;
            }
            let i = ev.token().0;
            let Some(p) = peers.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            let mut alive = true;
            if ev.is_readable() || ev.is_read_closed() {
                loop {
                    let n = match p.stream.read(&mut scratch) {
                        Ok(0) => {
                            alive = false;
                            break;
                        }
                        Ok(n) => n,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(_) => {
                            alive = false;
                            break;
                        }
                    };
                    let consumed = if p.inbuf.is_empty() {
                        let used = answer_requests(
                            &scratch[..n],
                            &mut p.skip,
                            &mut p.out,
                            &response,
                            &response_close,
                            &mut p.close_after,
                            &mut requests,
                        );
                        if let Some(used) = used {
                            p.inbuf.extend_from_slice(&scratch[used..n]);
                        }
                        used.is_some()
                    } else {
                        p.inbuf.extend_from_slice(&scratch[..n]);
                        let used = answer_requests(
                            &p.inbuf,
                            &mut p.skip,
                            &mut p.out,
                            &response,
                            &response_close,
                            &mut p.close_after,
                            &mut requests,
                        );
                        if let Some(used) = used {
                            p.inbuf.drain(..used);
                        }
                        used.is_some()
                    };
                    if !consumed {
                        alive = false;
                        break;
                    }
                    if n < scratch.len() {
                        break;
                    }
                }
            }
            // One write per batch of requests read.
            if alive && !p.out.is_empty() {
                match write_some(&mut p.stream, &p.out) {
                    Ok(n) => {
                        p.out.drain(..n);
                    }
                    Err(_) => alive = false,
                }
            }
            if p.close_after && p.out.is_empty() {
                alive = false;
            }
            if !alive {
                peers[i] = None;
                free.push(i);
            }
        }
        if last.0.elapsed() >= Duration::from_secs(1) {
            let cpu = fanoutd::sys::process::cpu_micros().unwrap_or(0);
            let reqs = requests - last.2;
            if reqs > 0 {
                eprintln!(
                    "  {:.0} req/s, {:.2} µs cpu per request",
                    reqs as f64 / last.0.elapsed().as_secs_f64(),
                    (cpu - last.1) as f64 / reqs as f64
                );
            }
            last = (Instant::now(), cpu, requests);
        }
    }
    let cpu_us = fanoutd::sys::process::cpu_micros().unwrap_or(0) - cpu0;
    let elapsed = start.elapsed();
    let per_req = cpu_us as f64 / requests.max(1) as f64;
    println!(
        "answered {requests} requests ({:.0}/s) on {accepted} connections; cpu {cpu_us} µs = {per_req:.3} µs per request",
        requests as f64 / elapsed.as_secs_f64()
    );
    println!(
        "{}",
        json!({
            "mode": "floor-http",
            "duration_s": round3(elapsed.as_secs_f64()),
            "requests": requests,
            "requests_per_s": round3(requests as f64 / elapsed.as_secs_f64()),
            "connections": accepted,
            "cpu_us": cpu_us,
            "cpu_us_per_request": round3(per_req),
            "response_bytes": response.len(),
            "rss_bytes": procfs::self_rss_bytes(),
        })
    );
    Ok(())
}

/// Tokens of upgraded connections in `idle` have this bit set; the rest index handshakes.
const OPEN_BIT: usize = 1 << (usize::BITS - 2);

/// Where an `idle` connection is before it is subscribed.
enum Pending {
    /// Reading the upgrade request head.
    Head(Vec<u8>),
    /// Upgraded; the first message gets the subscription answer.
    FirstMessage,
}

fn idle(mut args: Args) -> Result<(), String> {
    let port: u16 = args.take("port", 16203)?;
    let duration = Duration::from_secs_f64(args.take("duration", 60.0)?);
    args.finish()?;

    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let listener = listen(port, &poll)?;
    let mut events = Events::with_capacity(1024);
    // The two answers a Pusher server sends while a client connects and subscribes,
    // encoded once, by the server's own encoders.
    let text_frame = |json: &[u8]| {
        let mut frame = Vec::new();
        fanoutd::ws::frame::write_frame(&mut frame, fanoutd::ws::OpCode::Text, json);
        frame
    };
    let mut json = Vec::new();
    fanoutd::pusher::event::connection_established(&mut json, "1.1", 30);
    let established = text_frame(&json);
    json.clear();
    fanoutd::pusher::event::subscription_succeeded(&mut json, "c");
    let subscribed = text_frame(&json);
    // Connections not yet subscribed (slots reused), and subscribed ones: only the fd.
    let mut handshakes: Vec<Option<(TcpStream, Pending)>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut open: Vec<Option<TcpStream>> = Vec::new();
    let mut open_count = 0usize;
    let mut closed = 0u64;
    let mut scratch = vec![0u8; 16 * 1024];
    // Touch the read buffer now, so its pages are in the baseline, not charged to the first
    // connections.
    scratch.fill(1);
    let base = procfs::self_sample();
    let slab0 = procfs::kernel_slab_bytes();
    let start = Instant::now();
    let end = start + duration;
    let cpu0 = fanoutd::sys::process::cpu_micros().unwrap_or(0);
    // The figures while the most connections were open (sampled once a second), since the
    // load generator may hang up before this process stops.
    let mut held: Option<(usize, procfs::ProcSample, Option<u64>)> = None;
    let mut next_sample = start + Duration::from_secs(1);
    let mut next_line = start + Duration::from_secs(5);
    println!(
        "floor idle: 127.0.0.1:{port} for {duration:?}; own rss at start {} KiB (anonymous {} KiB)",
        base.rss_bytes / 1024,
        base.rss_anon_bytes / 1024
    );
    while Instant::now() < end {
        poll_once(&mut poll, &mut events, Duration::from_millis(200))?;
        for ev in events.iter() {
            let t = ev.token().0;
            if ev.token() == LISTENER {
                accept_all(&listener, |mut stream| {
                    let i = free.pop().unwrap_or(handshakes.len());
                    if poll
                        .registry()
                        .register(&mut stream, Token(i), Interest::READABLE)
                        .is_ok()
                    {
                        let entry = Some((stream, Pending::Head(Vec::new())));
                        if i == handshakes.len() {
                            handshakes.push(entry);
                        } else {
                            handshakes[i] = entry;
                        }
                    } else {
                        free.push(i);
                    }
                });
            } else if t & OPEN_BIT != 0 {
                let i = t & !OPEN_BIT;
                if let Some(stream) = open.get_mut(i).and_then(Option::as_mut) {
                    if !drain(stream, &mut scratch) {
                        open[i] = None;
                        open_count -= 1;
                        closed += 1;
                    }
                }
            } else if let Some((stream, pending)) = handshakes.get_mut(t).and_then(Option::as_mut) {
                // A 101 with a frame, or one frame, is a few hundred bytes: a fresh socket
                // always takes it whole.
                let accepted = match pending {
                    Pending::Head(inbuf) => match handshake(stream, inbuf, &mut scratch) {
                        Handshake::More => continue,
                        Handshake::Refuse => false,
                        Handshake::Accept(mut resp) => {
                            resp.extend_from_slice(&established);
                            if write_some(stream, &resp).is_ok_and(|n| n == resp.len()) {
                                *pending = Pending::FirstMessage;
                                continue;
                            }
                            false
                        }
                    },
                    // Whatever the client sent (its subscribe), one answer.
                    Pending::FirstMessage => {
                        drain(stream, &mut scratch)
                            && write_some(stream, &subscribed).is_ok_and(|n| n == subscribed.len())
                    }
                };
                let slot = handshakes[t].take();
                free.push(t);
                if let (true, Some((mut stream, _))) = (accepted, slot) {
                    let j = open.len();
                    if poll
                        .registry()
                        .reregister(&mut stream, Token(OPEN_BIT | j), Interest::READABLE)
                        .is_ok()
                    {
                        open.push(Some(stream));
                        open_count += 1;
                    }
                }
            }
        }
        let now = Instant::now();
        if now >= next_sample {
            next_sample += Duration::from_secs(1);
            if open_count > 0 && open_count >= held.as_ref().map_or(0, |h| h.0) {
                held = Some((
                    open_count,
                    procfs::self_sample(),
                    procfs::kernel_slab_bytes(),
                ));
            }
        }
        if now >= next_line {
            next_line += Duration::from_secs(5);
            if let Some((n, s, _)) = &held {
                eprintln!(
                    "  open {open_count}; at most {n}: own rss {} KiB, {:.1} B/conn ({:.1} B/conn anonymous)",
                    s.rss_bytes / 1024,
                    (s.rss_bytes as f64 - base.rss_bytes as f64) / *n as f64,
                    (s.rss_anon_bytes as f64 - base.rss_anon_bytes as f64) / *n as f64
                );
            }
        }
    }
    let cpu_us = fanoutd::sys::process::cpu_micros().unwrap_or(0) - cpu0;
    let (n, s, slab) = held.unwrap_or((0, base, slab0));
    let per = |a: u64, b: u64| (b as f64 - a as f64) / n.max(1) as f64;
    let rss_per_conn = per(base.rss_bytes, s.rss_bytes);
    let anon_per_conn = per(base.rss_anon_bytes, s.rss_anon_bytes);
    let slab_per_conn = match (slab0, slab) {
        (Some(a), Some(b)) if n > 0 => Some(per(a, b)),
        _ => None,
    };
    println!(
        "held at most {n} connections ({} accepted, {closed} closed by peers); own rss {} -> {} KiB = {rss_per_conn:.1} B per connection ({anon_per_conn:.1} B anonymous); cpu {cpu_us} µs",
        open.len(),
        base.rss_bytes / 1024,
        s.rss_bytes / 1024,
    );
    if let Some(x) = slab_per_conn {
        println!("kernel slab: {x:+.0} B per connection (machine-wide, both ends of each loopback connection)");
    }
    println!(
        "{}",
        json!({
            "mode": "floor-idle",
            "duration_s": round3(start.elapsed().as_secs_f64()),
            "conns_held_max": n,
            "conns_accepted": open.len(),
            "conns_closed": closed,
            "rss_bytes_start": base.rss_bytes,
            "rss_bytes_held": s.rss_bytes,
            "rss_bytes_per_conn": rss_per_conn.round(),
            "rss_anon_bytes_start": base.rss_anon_bytes,
            "rss_anon_bytes_held": s.rss_anon_bytes,
            "rss_anon_bytes_per_conn": anon_per_conn.round(),
            "kernel_slab_bytes_start": slab0,
            "kernel_slab_bytes_held": slab,
            "kernel_slab_bytes_per_conn_both_ends": slab_per_conn.map(f64::round),
            "cpu_us": cpu_us,
            "cpu_us_per_conn": round3(cpu_us as f64 / open.len().max(1) as f64),
        })
    );
    Ok(())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
