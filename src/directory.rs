//! The directory: the state that must be exact across reactors, in one place.
//!
//! Subscription counts (for the REST API and occupied/vacated transitions), presence
//! members, and the cache channels' last events live here, sharded by channel name over a
//! handful of `parking_lot` mutexes. It is touched on subscribe, unsubscribe, close, REST
//! reads, and once per channel of each publish (to learn which reactors it goes to, and
//! for cache channels to store it), never per delivery: delivering reads only the
//! reactor's own [`crate::channels::Channels`].
//!
//! Presence order: a membership change and the broadcast it causes are decided under the
//! channel's shard lock, and every membership change bumps the channel's sequence number.
//! The caller enqueues the broadcast (tagged with that number) to the inbox of every reactor
//! with subscribers of the channel while still holding the lock, so every reactor sees one channel's broadcasts in the order
//! of the changes; a joiner remembers the number its member list was taken at and skips
//! broadcasts already reflected in it.
//!
//! Routing: each channel also records which reactors hold at least one of its subscribers
//! (a [`ReactorSet`], updated under the same lock when a reactor gains its first local
//! subscriber or loses its last). A publish is handed only to those reactors, so a reactor
//! with nothing to deliver is not woken: a reactor learns of its first subscriber before
//! that subscriber is confirmed, and every publish accepted after that reaches it.
//!
//! Seam for a cluster adapter: the counts and member lists here are this node's; a
//! horizontal adapter will ask the other nodes and merge, as soketi's does.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::time::Instant;

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, MutexGuard};

const SHARDS: usize = 16;

/// One presence member.
#[derive(Debug, Clone)]
pub struct Member {
    /// `user_info` as raw JSON (`null` when absent).
    pub info: Box<str>,
    /// Sockets of this user in the channel (on this node).
    pub sockets: u32,
}

/// Presence state of a channel.
#[derive(Debug, Default)]
pub struct Presence {
    /// Members by raw JSON `user_id` (so `1` and `"1"` are different users, as in soketi).
    pub members: HashMap<Box<str>, Member>,
    /// Bumped by every membership change (member added or removed).
    pub seq: u64,
}

/// A set of reactor ids (every id is below 256: `FANOUTD_REACTORS` is at most 256).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReactorSet([u64; 4]);

impl ReactorSet {
    /// Every reactor of a server with `n` reactors.
    pub fn all(n: usize) -> ReactorSet {
        let mut s = ReactorSet::default();
        for r in 0..n.min(256) {
            s.insert(r as u8);
        }
        s
    }

    pub fn insert(&mut self, r: u8) {
        self.0[(r >> 6) as usize] |= 1 << (r & 63);
    }

    pub fn remove(&mut self, r: u8) {
        self.0[(r >> 6) as usize] &= !(1 << (r & 63));
    }

    /// Adds every member of `other`.
    pub fn union(&mut self, other: ReactorSet) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
    }

    /// The members, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &bits)| {
            let mut rest = bits;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let b = rest.trailing_zeros();
                    rest &= rest - 1;
                    (w as u32 * 64 + b) as u8
                })
            })
        })
    }
}

/// What the directory knows about one channel.
#[derive(Debug, Default)]
pub struct ChannelState {
    /// Subscribed sockets on this node.
    pub sockets: u32,
    /// Reactors holding at least one of those sockets.
    pub reactors: ReactorSet,
    /// Presence members, for presence channels.
    pub presence: Option<Box<Presence>>,
}

impl ChannelState {
    /// Counts one more subscriber, on `reactor` (its first local one when `first_here`);
    /// `true` when the channel just became occupied.
    pub fn add_socket(&mut self, reactor: u8, first_here: bool) -> bool {
        self.sockets += 1;
        if first_here {
            self.reactors.insert(reactor);
        }
        self.sockets == 1
    }

    /// Counts one subscriber less, on `reactor` (its last local one when `last_here`);
    /// `true` when the channel just became vacant.
    pub fn remove_socket(&mut self, reactor: u8, last_here: bool) -> bool {
        debug_assert!(self.sockets > 0);
        self.sockets = self.sockets.saturating_sub(1);
        if last_here {
            self.reactors.remove(reactor);
        }
        self.sockets == 0
    }

    /// Number of distinct users (presence channels).
    pub fn user_count(&self) -> usize {
        self.presence.as_ref().map_or(0, |p| p.members.len())
    }
}

/// A cache channel's last event.
#[derive(Debug, Clone)]
struct CacheEntry {
    expires: Instant,
    /// The event as the JSON object a subscriber receives (with its `channel`).
    message: std::sync::Arc<[u8]>,
    /// Its cache sequence number (see [`Directory::cache_store`]).
    seq: u64,
}

#[derive(Debug, Default)]
struct AppShard {
    channels: HashMap<Box<str>, ChannelState>,
    cache: HashMap<Box<str>, CacheEntry>,
}

#[derive(Debug)]
struct Shard {
    apps: Vec<AppShard>,
}

/// The directory (see module docs).
#[derive(Debug)]
pub struct Directory {
    shards: Box<[Mutex<Shard>]>,
    hasher: BuildHasherDefault<DefaultHasher>,
    /// Source of cache sequence numbers: increasing across the whole node, so per channel
    /// too (each is taken under the channel's lock).
    cache_seq: AtomicU64,
}

/// A locked channel entry; dropping it releases the shard lock, removing the entry if it
/// holds nothing any more.
pub struct ChannelGuard<'a> {
    shard: MutexGuard<'a, Shard>,
    app: usize,
    name: &'a str,
}

impl ChannelGuard<'_> {
    /// The channel's state (created empty if it was absent).
    pub fn state(&mut self) -> &mut ChannelState {
        let app = &mut self.shard.apps[self.app];
        if !app.channels.contains_key(self.name) {
            app.channels
                .insert(self.name.into(), ChannelState::default());
        }
        app.channels
            .get_mut(self.name)
            .expect("entry inserted above")
    }
}

impl Drop for ChannelGuard<'_> {
    fn drop(&mut self) {
        let app = &mut self.shard.apps[self.app];
        if let Some(st) = app.channels.get(self.name) {
            if st.sockets == 0 && st.presence.as_ref().is_none_or(|p| p.members.is_empty()) {
                app.channels.remove(self.name);
            }
        }
    }
}

/// Summary of one channel for the REST API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    pub name: Box<str>,
    pub subscription_count: u32,
    pub user_count: usize,
}

impl Directory {
    /// An empty directory for `apps` apps.
    pub fn new(apps: usize) -> Directory {
        Directory {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        apps: (0..apps).map(|_| AppShard::default()).collect(),
                    })
                })
                .collect(),
            hasher: BuildHasherDefault::default(),
            cache_seq: AtomicU64::new(0),
        }
    }

    fn shard(&self, app: usize, name: &str) -> &Mutex<Shard> {
        let h = self.hasher.hash_one((app, name));
        &self.shards[(h as usize) % SHARDS]
    }

    /// Locks channel `name` of `app`.
    pub fn lock<'a>(&'a self, app: usize, name: &'a str) -> ChannelGuard<'a> {
        ChannelGuard {
            shard: self.shard(app, name).lock(),
            app,
            name,
        }
    }

    /// Counts one more subscriber, on `reactor` (see [`ChannelState::add_socket`]); `true`
    /// when the channel just became occupied.
    pub fn subscribe(&self, app: usize, name: &str, reactor: u8, first_here: bool) -> bool {
        self.lock(app, name).state().add_socket(reactor, first_here)
    }

    /// Counts one subscriber less, on `reactor` (see [`ChannelState::remove_socket`]);
    /// `true` when the channel just became vacant.
    pub fn unsubscribe(&self, app: usize, name: &str, reactor: u8, last_here: bool) -> bool {
        self.lock(app, name)
            .state()
            .remove_socket(reactor, last_here)
    }

    /// The reactors holding subscribers of a channel (none when it is unknown).
    pub fn reactors(&self, app: usize, name: &str) -> ReactorSet {
        let shard = self.shard(app, name).lock();
        shard.apps[app]
            .channels
            .get(name)
            .map_or(ReactorSet::default(), |st| st.reactors)
    }

    /// (subscription count, user count) of one channel; zeros when unknown.
    pub fn channel(&self, app: usize, name: &str) -> (u32, usize) {
        let shard = self.shard(app, name).lock();
        shard.apps[app]
            .channels
            .get(name)
            .map_or((0, 0), |st| (st.sockets, st.user_count()))
    }

    /// Every occupied channel of `app` whose name starts with `prefix`, sorted by name.
    pub fn channels(&self, app: usize, prefix: &str) -> Vec<ChannelInfo> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for (name, st) in &shard.apps[app].channels {
                if st.sockets > 0 && name.starts_with(prefix) {
                    out.push(ChannelInfo {
                        name: name.clone(),
                        subscription_count: st.sockets,
                        user_count: st.user_count(),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Members of a presence channel as (raw user id, raw user info).
    pub fn members(&self, app: usize, name: &str) -> Vec<(Box<str>, Box<str>)> {
        let shard = self.shard(app, name).lock();
        let Some(p) = shard.apps[app]
            .channels
            .get(name)
            .and_then(|st| st.presence.as_ref())
        else {
            return Vec::new();
        };
        let mut v: Vec<_> = p
            .members
            .iter()
            .map(|(id, m)| (id.clone(), m.info.clone()))
            .collect();
        v.sort();
        v
    }

    /// Stores the last event of a cache channel until `expires`; returns its sequence
    /// number. A publish carries that number to every reactor, and a subscriber that read
    /// the cache at number `s` skips live copies numbered `<= s` (it was sent the replay,
    /// or something newer): each event reaches a joining subscriber exactly once.
    pub fn cache_store(
        &self,
        app: usize,
        name: &str,
        message: std::sync::Arc<[u8]>,
        expires: Instant,
    ) -> u64 {
        let mut shard = self.shard(app, name).lock();
        let seq = self.cache_seq.fetch_add(1, Ordering::Relaxed) + 1;
        shard.apps[app].cache.insert(
            name.into(),
            CacheEntry {
                expires,
                message,
                seq,
            },
        );
        seq
    }

    /// The last event of a cache channel if it has not expired, and the sequence number
    /// the reader is up to date with.
    pub fn cache_get(
        &self,
        app: usize,
        name: &str,
        now: Instant,
    ) -> (Option<std::sync::Arc<[u8]>>, u64) {
        let mut shard = self.shard(app, name).lock();
        let cache = &mut shard.apps[app].cache;
        match cache.get(name) {
            Some(e) if e.expires > now => (Some(e.message.clone()), e.seq),
            found => {
                if found.is_some() {
                    cache.remove(name);
                }
                // Nothing cached: every later store of this channel gets a larger number.
                (None, self.cache_seq.load(Ordering::Relaxed))
            }
        }
    }

    /// Drops expired cache entries (called now and then by a reactor).
    pub fn cache_sweep(&self, now: Instant) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            for app in shard.apps.iter_mut() {
                app.cache.retain(|_, e| e.expires > now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_transitions() {
        let d = Directory::new(2);
        assert!(d.subscribe(0, "a", 0, true));
        assert!(!d.subscribe(0, "a", 0, false));
        assert!(d.subscribe(1, "a", 0, true));
        assert_eq!(d.channel(0, "a"), (2, 0));
        assert_eq!(d.channels(0, "").len(), 1);
        assert!(!d.unsubscribe(0, "a", 0, false));
        assert!(d.unsubscribe(0, "a", 0, true));
        assert_eq!(d.channel(0, "a"), (0, 0));
        assert!(d.channels(0, "").is_empty());
        assert_eq!(d.channels(1, "a").len(), 1);
        assert!(d.channels(1, "b").is_empty());
    }

    #[test]
    fn reactors_follow_first_and_last_local_subscribers() {
        let d = Directory::new(1);
        let set = |rs: &[u8]| {
            let mut s = ReactorSet::default();
            rs.iter().for_each(|&r| s.insert(r));
            s
        };
        assert_eq!(d.reactors(0, "a"), ReactorSet::default());
        d.subscribe(0, "a", 3, true);
        d.subscribe(0, "a", 3, false);
        d.subscribe(0, "a", 200, true);
        assert_eq!(d.reactors(0, "a"), set(&[3, 200]));
        assert_eq!(d.reactors(0, "a").iter().collect::<Vec<_>>(), vec![3, 200]);
        d.unsubscribe(0, "a", 3, false);
        assert_eq!(d.reactors(0, "a"), set(&[3, 200]));
        d.unsubscribe(0, "a", 3, true);
        assert_eq!(d.reactors(0, "a"), set(&[200]));
        d.unsubscribe(0, "a", 200, true);
        assert_eq!(d.reactors(0, "a"), ReactorSet::default());
        assert_eq!(ReactorSet::all(3), set(&[0, 1, 2]));
        assert_eq!(ReactorSet::all(256).iter().count(), 256);
    }

    #[test]
    fn cache_expires() {
        let d = Directory::new(1);
        let now = Instant::now();
        let secs = std::time::Duration::from_secs;
        let (none, s0) = d.cache_get(0, "cache-a", now);
        assert!(none.is_none());
        let s1 = d.cache_store(0, "cache-a", b"x".to_vec().into(), now + secs(1));
        assert!(s1 > s0);
        assert_eq!(
            d.cache_get(0, "cache-a", now),
            (Some(b"x".to_vec().into()), s1)
        );
        let later = now + secs(2);
        let (expired, s2) = d.cache_get(0, "cache-a", later);
        assert!(expired.is_none() && s2 >= s1);
        let s3 = d.cache_store(0, "cache-a", b"y".to_vec().into(), later + secs(1));
        assert!(s3 > s2);
    }
}
