use super::*;

use mio::{Poll, Waker};

/// A directory over `n` inboxes (with pollers kept alive) and a recording sink.
struct Fixture {
    dir: Directory,
    inboxes: Arc<[Inbox]>,
    rec: Arc<Recorder>,
    _polls: Vec<Poll>,
}

fn fixture(n: usize) -> Fixture {
    let polls: Vec<Poll> = (0..n).map(|_| Poll::new().unwrap()).collect();
    let inboxes: Arc<[Inbox]> = polls
        .iter()
        .map(|p| Inbox::new(Waker::new(p.registry(), mio::Token(0)).unwrap()))
        .collect();
    let rec = Arc::new(Recorder::default());
    Fixture {
        dir: Directory::new(inboxes.clone(), rec.clone()),
        inboxes,
        rec,
        _polls: polls,
    }
}

fn me(reactor: u8, slot: u32) -> SocketRef {
    SocketRef {
        node: 0,
        reactor,
        slot,
        rand: 7,
    }
}

fn joiner<'a>(
    socket: SocketRef,
    first_here: bool,
    user_id: &'a str,
    user_info: &'a str,
) -> Joiner<'a> {
    Joiner {
        socket,
        first_here,
        user_id,
        user_info,
    }
}

/// The presence broadcasts waiting in `inbox`: (seq, JSON payload).
fn broadcasts(inbox: &Inbox) -> Vec<(u64, String)> {
    let mut cmds = Vec::new();
    inbox.take(&mut cmds);
    cmds.into_iter()
        .map(|c| match c {
            Command::Presence(p) => {
                let json = &p.item.frame[p.item.frame.len() - p.item.payload_len..];
                (p.seq, String::from_utf8(json.to_vec()).unwrap())
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

fn t(app: usize, ch: &str, tr: Transition) -> (usize, String, Transition) {
    (app, ch.to_string(), tr)
}

#[test]
fn counts_and_transitions() {
    let f = fixture(1);
    let d = &f.dir;
    assert!(d.subscribe(0, "a", 0, true).occupied());
    assert!(!d.subscribe(0, "a", 0, false).occupied());
    assert!(d.subscribe(1, "a", 0, true).occupied());
    assert_eq!(d.channel(0, "a"), (2, 0));
    assert_eq!(d.channels(0, "").len(), 1);
    assert!(!d.unsubscribe(0, "a", 0, false).vacated());
    assert!(d.unsubscribe(0, "a", 0, true).vacated());
    assert_eq!(d.channel(0, "a"), (0, 0));
    assert!(d.channels(0, "").is_empty());
    assert_eq!(d.channels(1, "a").len(), 1);
    assert!(d.channels(1, "b").is_empty());
    // An app index never seen reads as empty.
    assert!(d.channels(9, "").is_empty());
    assert_eq!(d.channel(9, "a"), (0, 0));
}

#[test]
fn subscribe_and_unsubscribe_report_occupied_vacated_and_counts_in_order() {
    let f = fixture(1);
    f.dir.subscribe(0, "a", 0, true);
    f.dir.subscribe(0, "a", 0, false);
    f.dir.unsubscribe(0, "a", 0, false);
    f.dir.unsubscribe(0, "a", 0, true);
    use Transition::*;
    assert_eq!(
        f.rec.take(),
        vec![
            t(0, "a", Occupied),
            t(0, "a", SubscriptionCount { count: 1 }),
            t(0, "a", SubscriptionCount { count: 2 }),
            t(0, "a", SubscriptionCount { count: 1 }),
            t(0, "a", SubscriptionCount { count: 0 }),
            t(0, "a", Vacated),
        ]
    );
}

#[test]
fn presence_join_and_leave_report_members_once_per_user_and_broadcast_in_order() {
    let f = fixture(2);
    let ch = "presence-a";
    let j1 = f
        .dir
        .presence_join(0, ch, joiner(me(0, 1), true, "\"u1\"", "null"), 10)
        .unwrap();
    assert!(j1.transitions.occupied());
    assert_eq!(j1.seq, 1);
    assert!(String::from_utf8(j1.reply).unwrap().contains("\\\"u1\\\""));
    // The same user on another reactor: counted, no new member, no broadcast.
    let j2 = f
        .dir
        .presence_join(0, ch, joiner(me(1, 1), true, "\"u1\"", "null"), 10)
        .unwrap();
    assert!(j2.transitions.is_empty());
    assert_eq!(j2.seq, 1);
    let j3 = f
        .dir
        .presence_join(0, ch, joiner(me(1, 2), false, "\"u2\"", "{\"n\":1}"), 10)
        .unwrap();
    assert_eq!(j3.seq, 2);
    assert_eq!(f.dir.channel(0, ch), (3, 2));
    // member_added for u1 went to reactor 0 only (the only one holding subscribers then);
    // for u2 to both.
    let r0 = broadcasts(&f.inboxes[0]);
    let r1 = broadcasts(&f.inboxes[1]);
    assert_eq!(r0.len(), 2);
    assert_eq!(r1.len(), 1);
    assert!(r0[0].1.contains("member_added") && r0[0].1.contains("u1"));
    assert_eq!((r0[1].0, r1[0].0), (2, 2));
    // Leaving: the first of u1's two sockets removes nothing.
    assert!(f
        .dir
        .presence_leave(0, ch, me(0, 1), true, "\"u1\"")
        .is_empty());
    let left = f.dir.presence_leave(0, ch, me(1, 1), false, "\"u1\"");
    assert_eq!(
        left.iter().cloned().collect::<Vec<_>>(),
        vec![Transition::MemberRemoved {
            user_id: "\"u1\"".into()
        }]
    );
    let last = f.dir.presence_leave(0, ch, me(1, 2), true, "\"u2\"");
    assert!(last.vacated());
    // After reactor 0 lost its last subscriber, only reactor 1 hears u1's removal; u2's
    // goes nowhere (no subscriber is left to tell).
    assert!(broadcasts(&f.inboxes[0]).is_empty());
    let r1 = broadcasts(&f.inboxes[1]);
    assert_eq!(r1.iter().map(|b| b.0).collect::<Vec<_>>(), vec![3]);
    assert!(r1[0].1.contains("member_removed") && r1[0].1.contains("u1"));
    use Transition::*;
    let user = |u: &str| u.to_string().into_boxed_str();
    assert_eq!(
        f.rec.take(),
        vec![
            t(0, ch, Occupied),
            t(
                0,
                ch,
                MemberAdded {
                    user_id: user("\"u1\"")
                }
            ),
            t(
                0,
                ch,
                MemberAdded {
                    user_id: user("\"u2\"")
                }
            ),
            t(
                0,
                ch,
                MemberRemoved {
                    user_id: user("\"u1\"")
                }
            ),
            t(
                0,
                ch,
                MemberRemoved {
                    user_id: user("\"u2\"")
                }
            ),
            t(0, ch, Vacated),
        ]
    );
    assert_eq!(f.dir.channel(0, ch), (0, 0));
}

#[test]
fn a_full_presence_channel_changes_nothing() {
    let f = fixture(1);
    let ch = "presence-a";
    f.dir
        .presence_join(0, ch, joiner(me(0, 1), true, "1", "null"), 1)
        .unwrap();
    f.rec.take();
    broadcasts(&f.inboxes[0]);
    assert!(f
        .dir
        .presence_join(0, ch, joiner(me(0, 2), false, "2", "null"), 1)
        .is_none());
    // An existing member may still open another socket.
    assert!(f
        .dir
        .presence_join(0, ch, joiner(me(0, 3), false, "1", "null"), 1)
        .is_some());
    assert_eq!(f.dir.channel(0, ch), (2, 1));
    assert!(f.rec.take().is_empty());
    assert!(broadcasts(&f.inboxes[0]).is_empty());
}

#[test]
fn reactors_follow_first_and_last_local_subscribers() {
    let f = fixture(1);
    let d = &f.dir;
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
fn cache_expires_and_a_miss_is_a_transition() {
    let f = fixture(1);
    let d = &f.dir;
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
    assert_eq!(
        f.rec.take(),
        vec![
            t(0, "cache-a", Transition::CacheMiss),
            t(0, "cache-a", Transition::CacheMiss)
        ]
    );
}
