//! The Redis adapter: soketi's broadcast over Redis pub/sub (docs/compat.md, `redis-adapter`), with the `redis`
//! crate's blocking client on two threads of its own.
//!
//! * Out: a reactor encodes the envelope and `try_send`s it into a bounded queue
//!   ([`QUEUE_MESSAGES`]); when the queue is full (Redis slow or down) the message is dropped
//!   and counted, so no reactor ever waits. The publisher thread `PUBLISH`es each one on the
//!   base channel (`redis-adapter`, or `<prefix>#redis-adapter`).
//! * In: the subscriber thread `PSUBSCRIBE`s `<base>*` as soketi does, parses each envelope
//!   once, skips its own and incomplete ones, and hands the message to the reactors' inboxes
//!   ([`super::deliver`]).
//!
//! Both threads reconnect with a doubling back-off (100 ms … 2 s) and log once per outage,
//! not per message. While the publisher is down, what it takes from the queue is dropped and
//! counted: a publish is not held for later (Pusher promises no delivery to a node that is
//! cut off, and a late burst would arrive out of order with newer local publishes).
//! The subscriber reads with a short timeout so that it notices the server stopping, and
//! `PING`s after [`HEALTH_CHECK_AFTER`] of silence so that a connection that died without a
//! word (a partition) is replaced; a `PUBLISH` that takes longer than [`COMMAND_TIMEOUT`]
//! gives the publisher's connection up the same way.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::{ConnectionAddr, ConnectionInfo, RedisConnectionInfo};

use super::{classify, encode_envelope, Adapter, Envelope, Inbound};
use crate::config::AdapterConfig;
use crate::metrics::stats::{BusCounter, Stats};
use crate::session::Shared;

/// Envelopes that may wait for the publisher; more are dropped (and counted).
pub const QUEUE_MESSAGES: usize = 16_384;
/// Time allowed to connect to Redis.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the subscriber waits for a message before checking whether the server stops.
const READ_TIMEOUT: Duration = Duration::from_millis(200);
/// Longest a `PUBLISH` (or the subscriber's health-check `PING`) may take before the
/// connection is given up as dead.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// After this long without a message the subscriber `PING`s Redis, so that a connection
/// that died silently (no FIN or RST: a partition, a host gone) is noticed and replaced.
const HEALTH_CHECK_AFTER: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// The Redis adapter (see the module docs).
pub struct Redis {
    uuid: String,
    queue: SyncSender<Vec<u8>>,
    stats: Arc<Stats>,
}

/// The base channel: `redis-adapter`, or `<prefix>#redis-adapter` (soketi's names).
pub fn base_channel(prefix: &str) -> String {
    if prefix.is_empty() {
        "redis-adapter".to_string()
    } else {
        format!("{prefix}#redis-adapter")
    }
}

fn connection_info(c: &AdapterConfig) -> ConnectionInfo {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    ConnectionInfo {
        addr: ConnectionAddr::Tcp(c.redis_host.clone(), c.redis_port),
        redis: RedisConnectionInfo {
            db: i64::from(c.redis_db),
            username: some(&c.redis_username),
            password: some(&c.redis_password),
            ..Default::default()
        },
    }
}

/// The subscriber's half, started once the node's shared state exists.
pub struct Subscriber {
    uuid: String,
    info: ConnectionInfo,
    pattern: String,
    stats: Arc<Stats>,
}

impl Redis {
    /// Starts the publisher thread; the subscriber is started with [`Subscriber::spawn`]
    /// once the shared state it delivers into exists.
    /// Its traffic is counted in `stats.bus`.
    pub fn start(
        config: &AdapterConfig,
        stats: Arc<Stats>,
    ) -> std::io::Result<(Redis, Subscriber)> {
        let uuid = super::node_uuid();
        let info = connection_info(config);
        let base = base_channel(&config.redis_prefix);
        let (queue, jobs) = sync_channel(QUEUE_MESSAGES);
        {
            let (info, base, stats) = (info.clone(), base.clone(), stats.clone());
            std::thread::Builder::new()
                .name("fanoutd-redis-pub".into())
                .spawn(move || publish_loop(info, base, jobs, stats))?;
        }
        let sub = Subscriber {
            uuid: uuid.clone(),
            info,
            pattern: format!("{base}*"),
            stats: stats.clone(),
        };
        Ok((Redis { uuid, queue, stats }, sub))
    }

    /// This node's uuid on the bus.
    pub fn uuid(&self) -> &str {
        &self.uuid
    }
}

impl Adapter for Redis {
    fn broadcast(
        &self,
        app_id: &str,
        channel: &str,
        message_json: &[u8],
        except_socket_id: Option<&str>,
    ) {
        let Some(env) =
            encode_envelope(&self.uuid, app_id, channel, message_json, except_socket_id)
        else {
            return;
        };
        match self.queue.try_send(env) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.stats.bus.bump(BusCounter::Dropped);
            }
        }
    }
}

/// Logs the start and the end of an outage, once each.
struct Outage {
    role: &'static str,
    down: bool,
    backoff: Duration,
}

impl Outage {
    fn new(role: &'static str) -> Outage {
        Outage {
            role,
            down: false,
            backoff: FIRST_BACKOFF,
        }
    }
    fn failed(&mut self, info: &ConnectionInfo, e: &redis::RedisError) {
        if !self.down {
            self.down = true;
            eprintln!(
                "fanoutd: redis adapter: {} cannot reach {}: {e}; retrying (cross-node delivery is off meanwhile)",
                self.role, info.addr
            );
        }
    }
    fn up(&mut self, info: &ConnectionInfo) {
        if self.down {
            self.down = false;
            eprintln!(
                "fanoutd: redis adapter: {} connected to {} (cross-node delivery is on)",
                self.role, info.addr
            );
        }
        self.backoff = FIRST_BACKOFF;
    }
    /// The wait before the next attempt (doubling up to [`MAX_BACKOFF`]).
    fn next_wait(&mut self) -> Duration {
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        wait
    }
}

fn connect(info: &ConnectionInfo) -> redis::RedisResult<redis::Connection> {
    let conn = redis::Client::open(info.clone())?.get_connection_with_timeout(CONNECT_TIMEOUT)?;
    conn.set_write_timeout(Some(COMMAND_TIMEOUT))?;
    conn.set_read_timeout(Some(COMMAND_TIMEOUT))?;
    Ok(conn)
}

fn publish_loop(info: ConnectionInfo, channel: String, jobs: Receiver<Vec<u8>>, stats: Arc<Stats>) {
    let mut outage = Outage::new("publisher");
    let mut conn: Option<redis::Connection> = None;
    let mut retry_at = std::time::Instant::now();
    // Ends when the adapter (the server's shared state) is dropped.
    while let Ok(env) = jobs.recv() {
        if conn.is_none() && std::time::Instant::now() >= retry_at {
            match connect(&info) {
                Ok(c) => {
                    outage.up(&info);
                    conn = Some(c);
                }
                Err(e) => {
                    outage.failed(&info, &e);
                    retry_at = std::time::Instant::now() + outage.next_wait();
                }
            }
        }
        let Some(c) = conn.as_mut() else {
            stats.bus.bump(BusCounter::Dropped);
            continue;
        };
        let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH").arg(&channel).arg(env).query(c);
        match sent {
            Ok(_) => stats.bus.bump(BusCounter::Published),
            Err(e) => {
                stats.bus.bump(BusCounter::Dropped);
                outage.failed(&info, &e);
                conn = None;
                retry_at = std::time::Instant::now() + outage.next_wait();
            }
        }
    }
}

impl Subscriber {
    /// Starts the subscriber thread, delivering into `shared` until the server closes.
    pub fn spawn(self, shared: Weak<Shared>) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("fanoutd-redis-sub".into())
            .spawn(move || self.run(shared))?;
        Ok(())
    }

    fn run(self, shared: Weak<Shared>) {
        let mut outage = Outage::new("subscriber");
        let stopping = |w: &Weak<Shared>| w.upgrade().is_none_or(|s| s.is_closing());
        while !stopping(&shared) {
            let failure = match self.subscribed(&shared, &mut outage) {
                Ok(()) => return, // the server stops
                Err(e) => e,
            };
            if stopping(&shared) {
                return; // the server stops: Redis going away with it is no outage
            }
            outage.failed(&self.info, &failure);
            let wait = outage.next_wait();
            let until = std::time::Instant::now() + wait;
            while std::time::Instant::now() < until && !stopping(&shared) {
                std::thread::sleep(READ_TIMEOUT.min(wait));
            }
        }
    }

    /// Connects, subscribes and delivers until the server stops (`Ok`) or Redis fails.
    fn subscribed(&self, shared: &Weak<Shared>, outage: &mut Outage) -> redis::RedisResult<()> {
        let mut conn = connect(&self.info)?;
        let mut pubsub = conn.as_pubsub();
        pubsub.psubscribe(&self.pattern)?;
        pubsub.set_read_timeout(Some(READ_TIMEOUT))?;
        outage.up(&self.info);
        let mut heard = std::time::Instant::now();
        loop {
            let msg = match pubsub.get_message() {
                Ok(msg) => msg,
                Err(e) if e.is_timeout() => {
                    match shared.upgrade() {
                        Some(s) if !s.is_closing() => {}
                        _ => return Ok(()),
                    }
                    if heard.elapsed() >= HEALTH_CHECK_AFTER {
                        // Messages that arrive meanwhile are kept for `get_message`.
                        pubsub.set_read_timeout(Some(COMMAND_TIMEOUT))?;
                        pubsub.ping::<redis::Value>()?;
                        pubsub.set_read_timeout(Some(READ_TIMEOUT))?;
                        heard = std::time::Instant::now();
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            heard = std::time::Instant::now();
            let Some(shared) = shared.upgrade() else {
                return Ok(());
            };
            let Ok(env) = serde_json::from_slice::<Envelope<'_>>(msg.get_payload_bytes()) else {
                continue; // not JSON: soketi ignores it too
            };
            if let Inbound::Deliver {
                app_id,
                channel,
                data,
                except,
            } = classify(&env, &self.uuid)
            {
                if super::deliver(&shared, app_id, channel, data, except) {
                    self.stats.bus.bump(BusCounter::Received);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let stats = Arc::new(Stats::new(1, 0));
        let (queue, jobs) = sync_channel(1);
        let redis = Redis {
            uuid: "me".into(),
            queue,
            stats: stats.clone(),
        };
        for _ in 0..3 {
            redis.broadcast("app", "ch", b"{}", None);
        }
        assert_eq!(stats.bus.value(BusCounter::Dropped), 2);
        assert_eq!(
            jobs.try_recv().unwrap(),
            br#"{"uuid":"me","appId":"app","channel":"ch","data":"{}","exceptingId":null}"#
        );
        drop(jobs);
        redis.broadcast("app", "ch", b"{}", None);
        assert_eq!(stats.bus.value(BusCounter::Dropped), 3);
    }

    #[test]
    fn soketis_channel_names() {
        assert_eq!(base_channel(""), "redis-adapter");
        assert_eq!(base_channel("eu"), "eu#redis-adapter");
    }
}
