//! The directory: the one owner of the state that must be exact across reactors.
//!
//! Subscription counts (for the REST API and occupied/vacated), presence members, the cache
//! channels' last events, and which reactors hold a channel's subscribers live here,
//! sharded by channel name over a handful of `parking_lot` mutexes. It is touched on
//! subscribe, unsubscribe, close, REST reads, and once per channel of each publish (to learn
//! which reactors it goes to, and for cache channels to store it), never per delivery:
//! delivering reads only the reactor's own [`crate::channels::Channels`].
//!
//! Every change goes through an operation here ([`Directory::subscribe`],
//! [`Directory::presence_join`], …); the state itself is private. Each operation returns its
//! [`Transitions`] and hands them to the [`TransitionSink`] under the channel's lock.
//!
//! Presence order: a membership change and the broadcast it causes are decided under the
//! channel's shard lock, and every membership change bumps the channel's sequence number.
//! The broadcast (tagged with that number) is enqueued to the inbox of every reactor with
//! subscribers of the channel while the lock is still held, so every reactor sees one
//! channel's broadcasts in the order of the changes; a joiner remembers the number its
//! member list was taken at and skips broadcasts already reflected in it. So a member never
//! receives `member_removed` for a user not in the list it was given, nor `member_added`
//! for one already in it.
//!
//! Routing: each channel records which reactors hold at least one of its subscribers (a
//! [`ReactorSet`], updated under the same lock when a reactor gains its first local
//! subscriber or loses its last). A publish is handed only to those reactors, so a reactor
//! with nothing to deliver is not woken: a reactor learns of its first subscriber before
//! that subscriber is confirmed, and every publish accepted after that reaches it.
//!
//! Apps are dense indices; the per-app tables grow when an app first shows up, so an app
//! added after start-up works.
//!
//! Seam for a cluster adapter: the counts and member lists here are this node's; a
//! horizontal adapter asks the other nodes and merges, and consumes the transitions.

mod reactor_set;
mod transition;

pub use reactor_set::ReactorSet;
pub use transition::{Discard, Recorder, Transition, TransitionSink, Transitions};

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, MutexGuard};

use crate::conn::SocketRef;
use crate::fanout::encode_item;
use crate::pusher::event;
use crate::reactor::inbox::{Command, Inbox, Presence as PresenceBroadcast};

const SHARDS: usize = 16;

/// One presence member.
#[derive(Debug, Clone)]
struct Member {
    /// `user_info` as raw JSON (`null` when absent).
    info: Box<str>,
    /// Sockets of this user in the channel (on this node).
    sockets: u32,
}

/// Presence state of a channel.
#[derive(Debug, Default)]
struct Presence {
    /// Members by raw JSON `user_id` (so `1` and `"1"` are different users, as in soketi).
    members: HashMap<Box<str>, Member>,
    /// Bumped by every membership change (member added or removed).
    seq: u64,
}

/// What the directory knows about one channel.
#[derive(Debug, Default)]
struct ChannelState {
    /// Subscribed sockets on this node.
    sockets: u32,
    /// Reactors holding at least one of those sockets.
    reactors: ReactorSet,
    /// Presence members, for presence channels.
    presence: Option<Box<Presence>>,
}

impl ChannelState {
    /// Counts one more subscriber, on `reactor` (its first local one when `first_here`).
    fn add_socket(&mut self, reactor: u8, first_here: bool, out: &mut Transitions) {
        self.sockets += 1;
        if first_here {
            self.reactors.insert(reactor);
        }
        if self.sockets == 1 {
            out.push(Transition::Occupied);
        }
    }

    /// Counts one subscriber less, on `reactor` (its last local one when `last_here`).
    fn remove_socket(&mut self, reactor: u8, last_here: bool) -> bool {
        debug_assert!(self.sockets > 0);
        self.sockets = self.sockets.saturating_sub(1);
        if last_here {
            self.reactors.remove(reactor);
        }
        self.sockets == 0
    }

    /// Number of distinct users (presence channels).
    fn user_count(&self) -> usize {
        self.presence.as_ref().map_or(0, |p| p.members.len())
    }
}

/// A cache channel's last event.
#[derive(Debug, Clone)]
struct CacheEntry {
    expires: Instant,
    /// The event as the JSON object a subscriber receives (with its `channel`).
    message: Arc<[u8]>,
    /// Its cache sequence number (see [`Directory::cache_store`]).
    seq: u64,
}

#[derive(Debug, Default)]
struct AppShard {
    channels: HashMap<Box<str>, ChannelState>,
    cache: HashMap<Box<str>, CacheEntry>,
}

#[derive(Debug, Default)]
struct Shard {
    /// By dense app index; grown when an app first shows up.
    apps: Vec<AppShard>,
}

impl Shard {
    fn app_mut(&mut self, app: usize) -> &mut AppShard {
        if self.apps.len() <= app {
            self.apps.resize_with(app + 1, AppShard::default);
        }
        &mut self.apps[app]
    }
}

/// A locked channel entry; dropping it releases the shard lock, removing the entry if it
/// holds nothing any more.
struct ChannelGuard<'a> {
    shard: MutexGuard<'a, Shard>,
    app: usize,
    name: &'a str,
}

impl ChannelGuard<'_> {
    /// The channel's state (created empty if it was absent).
    fn state(&mut self) -> &mut ChannelState {
        let app = self.shard.app_mut(self.app);
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
        let app = self.shard.app_mut(self.app);
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

/// Who joins a presence channel.
#[derive(Debug, Clone, Copy)]
pub struct Joiner<'a> {
    pub socket: SocketRef,
    /// The socket's reactor has no other local subscriber of the channel.
    pub first_here: bool,
    /// Raw JSON `user_id` (canonical, see [`crate::pusher::user`]).
    pub user_id: &'a str,
    /// Raw JSON `user_info` (`null` when absent).
    pub user_info: &'a str,
}

/// A presence join that went through.
#[derive(Debug)]
pub struct PresenceJoined {
    pub transitions: Transitions,
    /// The membership sequence number the joiner's list was taken at.
    pub seq: u64,
    /// `pusher_internal:subscription_succeeded` with the member list, ready to send.
    pub reply: Vec<u8>,
}

/// The directory (see module docs).
pub struct Directory {
    shards: Box<[Mutex<Shard>]>,
    hasher: BuildHasherDefault<DefaultHasher>,
    /// Source of cache sequence numbers: increasing across the whole node, so per channel
    /// too (each is taken under the channel's lock).
    cache_seq: AtomicU64,
    /// Every reactor's inbox, for the presence broadcasts.
    inboxes: Arc<[Inbox]>,
    sink: Arc<dyn TransitionSink>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").finish_non_exhaustive()
    }
}

impl Directory {
    /// An empty directory whose presence broadcasts go to `inboxes` and whose transitions
    /// go to `sink`.
    pub fn new(inboxes: Arc<[Inbox]>, sink: Arc<dyn TransitionSink>) -> Directory {
        Directory {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: BuildHasherDefault::default(),
            cache_seq: AtomicU64::new(0),
            inboxes,
            sink,
        }
    }

    fn shard(&self, app: usize, name: &str) -> &Mutex<Shard> {
        let h = self.hasher.hash_one((app, name));
        &self.shards[(h as usize) % SHARDS]
    }

    fn lock<'a>(&'a self, app: usize, name: &'a str) -> ChannelGuard<'a> {
        ChannelGuard {
            shard: self.shard(app, name).lock(),
            app,
            name,
        }
    }

    /// Hands `out` to the sink (under the caller's lock).
    fn emit(&self, app: usize, name: &str, out: &Transitions) {
        for t in out.iter() {
            self.sink.transition(app, name, t);
        }
    }

    // ------------------------------------------------------------ operations

    /// A socket on `reactor` joined a non-presence channel (`first_here`: the reactor's
    /// first local subscriber of it).
    pub fn subscribe(&self, app: usize, name: &str, reactor: u8, first_here: bool) -> Transitions {
        let mut g = self.lock(app, name);
        let st = g.state();
        let mut out = Transitions::default();
        st.add_socket(reactor, first_here, &mut out);
        out.push(Transition::SubscriptionCount { count: st.sockets });
        self.emit(app, name, &out);
        out
    }

    /// A socket on `reactor` left a non-presence channel (`last_here`: it was the
    /// reactor's last local subscriber of it).
    pub fn unsubscribe(&self, app: usize, name: &str, reactor: u8, last_here: bool) -> Transitions {
        let mut g = self.lock(app, name);
        let st = g.state();
        let mut out = Transitions::default();
        let vacated = st.remove_socket(reactor, last_here);
        out.push(Transition::SubscriptionCount { count: st.sockets });
        if vacated {
            out.push(Transition::Vacated);
        }
        self.emit(app, name, &out);
        out
    }

    /// A socket joins presence channel `name` (see [`Joiner`]).
    /// Under the channel's lock: checks the member limit (`None` when full: nothing
    /// changed), counts the socket, records the member and enqueues `member_added` to every
    /// reactor holding subscribers (if the user is new), and encodes the member list the
    /// joiner is sent.
    pub fn presence_join(
        &self,
        app: usize,
        name: &str,
        joiner: Joiner<'_>,
        max_members: usize,
    ) -> Option<PresenceJoined> {
        let Joiner {
            socket: me,
            first_here,
            user_id,
            user_info: info,
        } = joiner;
        let mut g = self.lock(app, name);
        let st = g.state();
        let p = st.presence.get_or_insert_with(Default::default);
        let is_new = !p.members.contains_key(user_id);
        if is_new && p.members.len() >= max_members {
            return None;
        }
        let mut out = Transitions::default();
        st.add_socket(me.reactor, first_here, &mut out);
        let reactors = st.reactors;
        let p = st.presence.as_mut().expect("created above");
        if is_new {
            p.members.insert(
                user_id.into(),
                Member {
                    info: info.into(),
                    sockets: 1,
                },
            );
            p.seq += 1;
            let mut json = Vec::with_capacity(64 + name.len() + user_id.len() + info.len());
            event::member_added(&mut json, name, user_id, info);
            self.broadcast(app, name, &json, p.seq, me, reactors);
            out.push(Transition::MemberAdded {
                user_id: user_id.into(),
            });
        } else if let Some(m) = p.members.get_mut(user_id) {
            m.sockets += 1;
        }
        let seq = p.seq;
        let mut members: Vec<(&str, &str)> =
            p.members.iter().map(|(id, m)| (&**id, &*m.info)).collect();
        members.sort_unstable();
        let mut reply = Vec::with_capacity(64 + members.len() * 32);
        event::presence_succeeded(&mut reply, name, members.iter().copied());
        self.emit(app, name, &out);
        Some(PresenceJoined {
            transitions: out,
            seq,
            reply,
        })
    }

    /// Socket `me` (joined as `user_id`) leaves presence channel `name` (`last_here`: it
    /// was its reactor's last local subscriber). Enqueues `member_removed` when this was
    /// the user's last socket there.
    pub fn presence_leave(
        &self,
        app: usize,
        name: &str,
        me: SocketRef,
        last_here: bool,
        user_id: &str,
    ) -> Transitions {
        let mut g = self.lock(app, name);
        let st = g.state();
        let mut out = Transitions::default();
        let vacated = st.remove_socket(me.reactor, last_here);
        let reactors = st.reactors;
        if let Some(p) = st.presence.as_mut() {
            let gone = match p.members.get_mut(user_id) {
                Some(m) => {
                    m.sockets = m.sockets.saturating_sub(1);
                    m.sockets == 0
                }
                None => false,
            };
            if gone {
                p.members.remove(user_id);
                p.seq += 1;
                let mut json = Vec::with_capacity(64 + name.len() + user_id.len());
                event::member_removed(&mut json, name, user_id);
                self.broadcast(app, name, &json, p.seq, me, reactors);
                out.push(Transition::MemberRemoved {
                    user_id: user_id.into(),
                });
            }
        }
        if vacated {
            out.push(Transition::Vacated);
        }
        self.emit(app, name, &out);
        out
    }

    /// Enqueues a membership broadcast (`json`, membership number `seq`) to `reactors`,
    /// skipping socket `except`. Called under the channel's lock.
    fn broadcast(
        &self,
        app: usize,
        name: &str,
        json: &[u8],
        seq: u64,
        except: SocketRef,
        reactors: ReactorSet,
    ) {
        let b = Arc::new(PresenceBroadcast {
            app: app as u32,
            item: encode_item(name, json, 0),
            seq,
            except: Some(except),
        });
        for r in reactors.iter() {
            if let Some(inbox) = self.inboxes.get(r as usize) {
                inbox.push(Command::Presence(b.clone()));
            }
        }
    }

    /// Stores the last event of a cache channel until `expires`; returns its sequence
    /// number. A publish carries that number to every reactor, and a subscriber that read
    /// the cache at number `s` skips live copies numbered `<= s` (it was sent the replay,
    /// or something newer): each event reaches a joining subscriber exactly once.
    pub fn cache_store(&self, app: usize, name: &str, message: Arc<[u8]>, expires: Instant) -> u64 {
        let mut shard = self.shard(app, name).lock();
        let seq = self.cache_seq.fetch_add(1, Ordering::Relaxed) + 1;
        shard.app_mut(app).cache.insert(
            name.into(),
            CacheEntry {
                expires,
                message,
                seq,
            },
        );
        seq
    }

    /// A joiner reads a cache channel: its last event if that has not expired, and the
    /// sequence number the reader is up to date with. Nothing cached is a
    /// [`Transition::CacheMiss`].
    pub fn cache_get(&self, app: usize, name: &str, now: Instant) -> (Option<Arc<[u8]>>, u64) {
        let mut shard = self.shard(app, name).lock();
        let cache = &mut shard.app_mut(app).cache;
        match cache.get(name) {
            Some(e) if e.expires > now => (Some(e.message.clone()), e.seq),
            found => {
                if found.is_some() {
                    cache.remove(name);
                }
                self.sink.transition(app, name, &Transition::CacheMiss);
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

    // ------------------------------------------------------------ reads

    /// The reactors holding subscribers of a channel (none when it is unknown).
    pub fn reactors(&self, app: usize, name: &str) -> ReactorSet {
        let shard = self.shard(app, name).lock();
        shard
            .apps
            .get(app)
            .and_then(|a| a.channels.get(name))
            .map_or(ReactorSet::default(), |st| st.reactors)
    }

    /// (subscription count, user count) of one channel; zeros when unknown.
    pub fn channel(&self, app: usize, name: &str) -> (u32, usize) {
        let shard = self.shard(app, name).lock();
        shard
            .apps
            .get(app)
            .and_then(|a| a.channels.get(name))
            .map_or((0, 0), |st| (st.sockets, st.user_count()))
    }

    /// Calls `visit(name, subscription count, user count)` for every occupied channel of
    /// `app` whose name starts with `prefix`, one shard at a time under that shard's lock
    /// (in no particular order): a listing costs no copy of the names, and other reactors
    /// wait at most for one shard.
    pub fn visit_channels(
        &self,
        app: usize,
        prefix: &str,
        mut visit: impl FnMut(&str, u32, usize),
    ) {
        for shard in self.shards.iter() {
            let shard = shard.lock();
            let Some(a) = shard.apps.get(app) else {
                continue;
            };
            for (name, st) in &a.channels {
                if st.sockets > 0 && name.starts_with(prefix) {
                    visit(name, st.sockets, st.user_count());
                }
            }
        }
    }

    /// Every occupied channel of `app` whose name starts with `prefix`, sorted by name.
    pub fn channels(&self, app: usize, prefix: &str) -> Vec<ChannelInfo> {
        let mut out = Vec::new();
        self.visit_channels(app, prefix, |name, subscription_count, user_count| {
            out.push(ChannelInfo {
                name: name.into(),
                subscription_count,
                user_count,
            })
        });
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Members of a presence channel as (raw user id, raw user info), sorted.
    pub fn members(&self, app: usize, name: &str) -> Vec<(Box<str>, Box<str>)> {
        let shard = self.shard(app, name).lock();
        let Some(p) = shard
            .apps
            .get(app)
            .and_then(|a| a.channels.get(name))
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
}

#[cfg(test)]
mod tests;
