//! Channel listings (`GET /apps/{id}/channels`) built off the reactors.
//!
//! A listing's cost grows with the app's channels (100,000 channels: about 6 MB of JSON),
//! while a reactor must answer every other socket within milliseconds. So the reactor that
//! took the request hands the work to the listing thread and holds that connection's input;
//! the thread walks the directory (one shard lock at a time) and writes the JSON, and posts
//! the body back through the reactor's inbox, where it is written out as any response.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Weak;

use super::Shared;
use crate::directory::Directory;
use crate::pusher::event;
use crate::reactor::inbox::Command;

/// One listing to build.
#[derive(Debug)]
pub struct ListJob {
    pub app: usize,
    pub prefix: String,
    pub want_users: bool,
    /// Where the body goes: a connection slot (of this generation) on a reactor.
    pub reactor: u8,
    pub slot: u32,
    pub gen: u32,
}

/// Where reactors send listing jobs.
pub type Lister = Sender<ListJob>;

/// A channel for jobs: the sender goes into [`Shared`], the receiver to [`spawn`].
pub fn channel() -> (Lister, Receiver<ListJob>) {
    mpsc::channel()
}

/// Starts the listing thread. It ends when the node's shared state is gone (every sender
/// dropped with it).
pub fn spawn(jobs: Receiver<ListJob>, shared: Weak<Shared>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("fanoutd-lister".into())
        .spawn(move || {
            while let Ok(job) = jobs.recv() {
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                let body = channel_listing(&shared.directory, job.app, &job.prefix, job.want_users);
                if let Some(inbox) = shared.inboxes.get(job.reactor as usize) {
                    inbox.push(Command::Listed {
                        slot: job.slot,
                        gen: job.gen,
                        body,
                    });
                }
                drop(shared);
            }
        })?;
    Ok(())
}

/// The `{"channels":{…}}` body for the occupied channels of `app` under `prefix`, written as
/// the directory is visited: no copy of the names, no JSON tree (in no particular order:
/// an object's key order carries no meaning).
pub fn channel_listing(dir: &Directory, app: usize, prefix: &str, want_users: bool) -> Vec<u8> {
    let mut out = br#"{"channels":{"#.to_vec();
    let mut first = true;
    let mut n = itoa::Buffer::new();
    dir.visit_channels(app, prefix, |name, subs, users| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        event::write_str(&mut out, name);
        out.extend_from_slice(br#":{"subscription_count":"#);
        out.extend_from_slice(n.format(subs).as_bytes());
        out.extend_from_slice(br#","occupied":true"#);
        if want_users {
            out.extend_from_slice(br#","user_count":"#);
            out.extend_from_slice(n.format(users).as_bytes());
        }
        out.push(b'}');
    });
    out.extend_from_slice(b"}}");
    out
}
