//! The qlaster crate against a real sender: QLASTER_TEST_PUBLISHER names
//! consumer/testing/publisher_main.cc's binary, which publishes slot N, account A
//! (0x11 * 32, owner 0x22 * 32, data "qlaster test account"), a non-vote and a vote
//! transaction every 2 ms. Each test starts its own on a socket in a fresh directory.
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use qlaster::{Body, Consumer, Error, Options, Overflow, Pubkey, Signature, Subscription,
              Transactions, WaitMode};

const ACCOUNT_A: &str = "29d2S7vB453rNYFdR5Ycwt7y9haRT5fwVwL9zTmBhfV2";
const OWNER_A: &str = "3JF3sEqM796hk5WFqA6EtmEwJQ9quALszsfJyvXNQKy3";

struct Publisher {
    dir: PathBuf,
    socket: String,
    child: Option<Child>,
}

impl Publisher {
    fn new(test: &str) -> Publisher {
        let dir = std::env::temp_dir().join(format!("qlaster-rust-{}-{}", test, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("sender.sock").to_string_lossy().into_owned();
        let mut p = Publisher { dir, socket, child: None };
        p.start();
        p
    }

    fn start(&mut self) {
        let bin = std::env::var("QLASTER_TEST_PUBLISHER")
            .expect("QLASTER_TEST_PUBLISHER is not set (run through ctest)");
        let mut child = Command::new(bin)
            .args(["--socket", &self.socket])
            .stdout(Stdio::piped())
            .spawn()
            .expect("cannot start the publisher");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the publisher said {line:?}");
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM: a clean stop, as a service manager does it.
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            let _ = c.wait();
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls until `pred` has held for `n` events (fails after 10 s). What the events
/// borrow is checked inside `pred`, while it is valid.
fn take(c: &mut Consumer, n: usize, mut pred: impl FnMut(&qlaster::Event<'_>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = 0;
    while got < n {
        assert!(Instant::now() < deadline, "only {got} of {n} events in 10 s");
        c.wait(Some(Duration::from_millis(10))).unwrap();
        c.poll(256, |e| {
            if got < n && pred(e) {
                got += 1;
            }
        })
        .unwrap();
    }
}

fn sleepy(name: &str) -> Options {
    Options { wait_mode: WaitMode::Sleep, ..Options::named(name) }
}

#[test]
fn base58_round_trip_and_errors() {
    let a = Pubkey::from_base58(ACCOUNT_A).unwrap();
    assert_eq!(a.0, [0x11; 32]);
    assert_eq!(a.to_string(), ACCOUNT_A);
    let s = Signature([0x33; 64]);
    assert_eq!(Signature::from_base58(&s.to_base58()).unwrap(), s);
    let e = Pubkey::from_base58("0OIl").unwrap_err();
    assert_eq!(e.code, Error::INVALID_ARGUMENT);
    assert!(e.message.contains("invalid character '0' at position 0"), "{e}");
    let e = Pubkey::from_base58("2g").unwrap_err();
    assert!(e.message.contains("expected 32 bytes, got 1"), "{e}");
}

#[test]
fn connect_error_carries_the_library_message() {
    let e = Consumer::connect("/nonexistent/qlaster.sock", &Options::default()).err().unwrap();
    assert_eq!(e.code, Error::UNAVAILABLE);
    assert!(e.message.contains("no qlaster-sender at"), "{e}");
}

#[test]
fn subscribe_by_base58_owner_receives_accounts_and_transactions() {
    let p = Publisher::new("owner");
    let mut c = Consumer::connect(&p.socket, &sleepy("rust-owner")).unwrap();
    assert!(c.consumer_id() > 0);
    c.subscribe(&[], &[OWNER_A.parse().unwrap()], None).unwrap();
    let mut transactions_before = 0;
    take(&mut c, 3, |e| match &e.body {
        Body::Account(a) => {
            assert_eq!(a.pubkey.to_string(), ACCOUNT_A);
            assert_eq!(a.owner.to_string(), OWNER_A);
            assert_eq!(a.lamports, 1_000_000 + a.slot);
            assert_eq!((a.rent_epoch, a.write_version, a.executable), (361, a.slot, false));
            assert_eq!(a.txn_signature, Some(Signature([0x33; 64])));
            assert_eq!(a.data, b"qlaster test account");
            assert!(e.sequence > 0 && e.timestamp_ns > 0);
            true
        }
        Body::Transaction(_) => {
            transactions_before += 1;
            false
        }
        _ => false,
    });
    assert_eq!(transactions_before, 0, "transactions arrived before they were asked for");
    c.subscribe(&[], &[], Some(Transactions::NonVote)).unwrap();
    take(&mut c, 3, |e| match &e.body {
        Body::Transaction(t) => {
            assert!(!t.is_vote && t.index == 7 && t.data == [0xde, 0xad, 0xbe, 0xef]);
            true
        }
        _ => false,
    });
    let st = c.stats();
    assert!(st.connected == 1 && st.gaps == 0);
}

#[test]
fn named_filters_with_a_data_slice() {
    let p = Publisher::new("named");
    let mut c = Consumer::connect(&p.socket, &sleepy("rust-named")).unwrap();
    let owner: Pubkey = OWNER_A.parse().unwrap();
    let sub = Subscription::new()
        .account("a", &[], &[owner])
        .memcmp("a", 0, b"qlaster")
        .account("b", &[], &[owner])
        .datasize("b", 4096)
        .transactions("nonvote", Some(false), None, &[])
        .data_slice(8, 4);
    c.set_subscription(&sub).unwrap();
    let mut matches = Vec::new();
    take(&mut c, 3, |e| match &e.body {
        Body::Account(a) => {
            assert_eq!((a.data, a.sliced, a.account_data_len, e.filters), (&b"test"[..], true, 20, 1));
            matches.push(e.filter_match());
            true
        }
        _ => false,
    });
    for m in matches {
        assert_eq!(c.filter_names(m), vec!["a".to_string()]);
    }
    let e = c.set_subscription(&Subscription::new().account("a", &[], &[owner]).from_slot(1))
        .unwrap_err();
    assert_eq!(e.code, Error::OUT_OF_RANGE, "{e}");
    assert!(e.message.contains("oldest"), "{e}");
}

#[test]
fn gap_under_drop_and_count() {
    let p = Publisher::new("gap");
    let options = Options { ring_bytes: 4096, overflow: Overflow::DropAndCount, ..sleepy("rust-slow") };
    let mut c = Consumer::connect(&p.socket, &options).unwrap();
    c.subscribe(&[ACCOUNT_A.parse().unwrap()], &[], Some(Transactions::All)).unwrap();
    // Read nothing until the unread bytes stop growing while the publisher goes on (a
    // round every 2 ms): the ring is full and the sender drops and counts.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut previous = u64::MAX;
    loop {
        let lag = c.stats().lag_bytes;
        if lag > 0 && lag == previous {
            break;
        }
        assert!(Instant::now() < deadline, "the ring never filled");
        previous = lag;
        std::thread::sleep(Duration::from_millis(20)); // ten publishing rounds
    }
    let mut dropped = 0;
    take(&mut c, 1, |e| match &e.body {
        Body::Gap(g) => {
            assert!(g.reported_by_sender && g.dropped >= 1);
            assert_eq!(g.dropped, g.last_missing - g.first_missing + 1);
            dropped = g.dropped;
            true
        }
        _ => false,
    });
    let st = c.stats();
    assert!(st.gaps >= 1 && st.dropped >= dropped);
}

#[test]
fn disconnect_and_reconnect_when_the_sender_restarts() {
    let mut p = Publisher::new("restart");
    let options = Options { reconnect_backoff: Some(Duration::from_millis(10)), ..sleepy("rust-restart") };
    let mut c = Consumer::connect(&p.socket, &options).unwrap();
    c.subscribe(&[], &[OWNER_A.parse().unwrap()], None).unwrap();
    take(&mut c, 1, |e| matches!(e.body, Body::Account(_)));
    p.stop();
    take(&mut c, 1, |e| match &e.body {
        Body::Disconnected { reason, will_reconnect } => {
            assert!(*will_reconnect && !reason.is_empty());
            true
        }
        _ => false,
    });
    p.start();
    take(&mut c, 1, |e| matches!(e.body, Body::Reconnected { consumer_id, .. } if consumer_id > 0));
    take(&mut c, 1, |e| matches!(&e.body, Body::Account(a) if a.owner.to_string() == OWNER_A));
    let st = c.stats();
    assert_eq!((st.reconnects, st.disconnects, st.connected), (1, 1, 1));
}

#[test]
fn a_panic_in_the_callback_unwinds_after_the_library_returns() {
    let p = Publisher::new("panic");
    let mut c = Consumer::connect(&p.socket, &sleepy("rust-panic")).unwrap();
    c.subscribe(&[ACCOUNT_A.parse().unwrap()], &[], None).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        take(&mut c, 1, |e| matches!(e.body, Body::Account(_)) && panic!("from the handler"))
    }));
    assert!(r.is_err());
    // The consumer is still usable.
    take(&mut c, 1, |e| matches!(e.body, Body::Account(_)));
}
