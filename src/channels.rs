//! The per-reactor channel registry: channel → local subscribers, indexed both ways.
//!
//! Each reactor owns one and nobody else touches it, so delivery walks plain memory with no
//! lock. A channel's subscribers are a `Vec` of connection slots; each connection remembers
//! its position in every channel it joined ([`crate::conn::Sub`]), so leaving is a
//! `swap_remove` plus one back-reference fix-up: O(1) however large the channel, which keeps
//! a mass disconnect from stalling the reactor. An empty channel is removed at once.

use std::collections::HashMap;

/// A channel as one reactor sees it.
#[derive(Debug)]
pub struct LocalChannel {
    /// Dense app index.
    pub app: u32,
    /// Channel name.
    pub name: Box<str>,
    /// Connection slots subscribed on this reactor.
    pub subs: Vec<u32>,
    /// Presence joiners whose member list was taken at membership sequence `seq`: they must
    /// not receive the membership broadcasts numbered `<= seq` (those are already in their
    /// list). Pruned as broadcasts pass; empty for non-presence channels.
    pub joiners: Vec<(u32, u64)>,
    /// Cache-channel joiners and the cache sequence number they read the cache at: they
    /// skip live publishes numbered `<= seq` (see `Directory::cache_store`).
    pub cache_joiners: Vec<(u32, u64)>,
}

/// Result of removing a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    /// The connection moved into the freed position, and that position (fix its `Sub`).
    pub moved: Option<(u32, u32)>,
    /// The channel had no subscriber left and was removed.
    pub emptied: bool,
}

/// The registry.
#[derive(Debug, Default)]
pub struct Channels {
    /// Per app: name → channel id.
    by_name: Vec<HashMap<Box<str>, u32>>,
    slots: Vec<Option<LocalChannel>>,
    free: Vec<u32>,
}

impl Channels {
    /// An empty registry, sized for `apps` apps (it grows when more appear).
    pub fn new(apps: usize) -> Channels {
        Channels {
            by_name: (0..apps).map(|_| HashMap::new()).collect(),
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    /// The id of a channel with local subscribers.
    #[inline]
    pub fn lookup(&self, app: u32, name: &str) -> Option<u32> {
        self.by_name.get(app as usize)?.get(name).copied()
    }

    /// The channel `id` (must exist).
    #[inline]
    pub fn get(&self, id: u32) -> &LocalChannel {
        self.slots[id as usize]
            .as_ref()
            .expect("channel id refers to a live channel")
    }

    /// The channel `id` (must exist).
    #[inline]
    pub fn get_mut(&mut self, id: u32) -> &mut LocalChannel {
        self.slots[id as usize]
            .as_mut()
            .expect("channel id refers to a live channel")
    }

    /// Adds `conn` to channel `name` of `app`, creating it if needed. Returns the channel id
    /// and the position of `conn` in its subscriber list.
    pub fn add(&mut self, app: u32, name: &str, conn: u32) -> (u32, u32) {
        let id = match self.lookup(app, name) {
            Some(id) => id,
            None => {
                let ch = LocalChannel {
                    app,
                    name: name.into(),
                    subs: Vec::new(),
                    joiners: Vec::new(),
                    cache_joiners: Vec::new(),
                };
                let id = match self.free.pop() {
                    Some(id) => {
                        self.slots[id as usize] = Some(ch);
                        id
                    }
                    None => {
                        self.slots.push(Some(ch));
                        (self.slots.len() - 1) as u32
                    }
                };
                if self.by_name.len() <= app as usize {
                    // An app that appeared after start-up.
                    self.by_name.resize_with(app as usize + 1, HashMap::new);
                }
                self.by_name[app as usize].insert(name.into(), id);
                id
            }
        };
        let ch = self.get_mut(id);
        ch.subs.push(conn);
        (id, (ch.subs.len() - 1) as u32)
    }

    /// Removes the subscriber at `pos` of channel `id`.
    pub fn remove(&mut self, id: u32, pos: u32) -> Removed {
        let ch = self.get_mut(id);
        let pos_us = pos as usize;
        debug_assert!(pos_us < ch.subs.len());
        let gone = ch.subs.swap_remove(pos_us);
        ch.joiners.retain(|&(c, _)| c != gone);
        ch.cache_joiners.retain(|&(c, _)| c != gone);
        let moved = ch.subs.get(pos_us).map(|&c| (c, pos));
        if !ch.subs.is_empty() {
            return Removed {
                moved,
                emptied: false,
            };
        }
        let ch = self.slots[id as usize]
            .take()
            .expect("channel id refers to a live channel");
        self.by_name[ch.app as usize].remove(&ch.name);
        self.free.push(id);
        Removed {
            moved: None,
            emptied: true,
        }
    }

    /// Number of channels with local subscribers.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// `true` when no channel has local subscribers.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_remove_keeps_positions_consistent() {
        let mut c = Channels::new(1);
        let (id, p0) = c.add(0, "a", 10);
        let (id2, p1) = c.add(0, "a", 11);
        let (_, p2) = c.add(0, "a", 12);
        assert_eq!((id, p0, p1, p2), (id2, 0, 1, 2));
        // Removing position 0 moves the last subscriber (12) into it.
        let r = c.remove(id, 0);
        assert_eq!(r.moved, Some((12, 0)));
        assert_eq!(c.get(id).subs, vec![12, 11]);
        let r = c.remove(id, 1);
        assert_eq!(r.moved, None);
        let r = c.remove(id, 0);
        assert!(r.emptied);
        assert_eq!(c.lookup(0, "a"), None);
        assert!(c.is_empty());
        // The freed id is reused.
        let (id3, _) = c.add(0, "b", 1);
        assert_eq!(id3, id);
    }
}
