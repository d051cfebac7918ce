//! A minimal bot: follow one account (base58) and every non-vote transaction, and print
//! what arrives. Run by the test suite against a real sender (with --count).
//!
//!     bot [--count N] SOCKET PUBKEY
use std::time::Duration;

use qlaster::{Body, Consumer, Options, Pubkey, Transactions};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut count = 0u64;
    if args.len() >= 2 && args[0] == "--count" {
        count = args[1].parse().expect("--count N");
        args.drain(..2);
    }
    if args.len() != 2 {
        eprintln!("usage: bot [--count N] SOCKET PUBKEY");
        std::process::exit(2);
    }
    if let Err(e) = run(&args[0], &args[1], count) {
        eprintln!("bot: {e}");
        std::process::exit(1);
    }
}

fn run(socket: &str, pubkey: &str, count: u64) -> qlaster::Result<()> {
    let account = Pubkey::from_base58(pubkey)?;
    let mut c = Consumer::connect(socket, &Options::named("example-bot-rs"))?;
    c.subscribe(&[account], &[], Some(Transactions::NonVote))?;
    let mut seen = 0u64;
    while count == 0 || seen < count {
        c.wait(Some(Duration::from_secs(1)))?;
        c.poll(256, |e| match &e.body {
            // a.data borrows the ring: valid only inside this closure.
            Body::Account(a) => {
                println!("seq {} account {} lamports={} data={} bytes", e.sequence, a.pubkey,
                         a.lamports, a.data.len());
                seen += 1;
            }
            Body::Transaction(t) => {
                println!("seq {} transaction {} slot={}", e.sequence, t.signature, t.slot);
                seen += 1;
            }
            Body::Gap(g) => println!("missed {} updates", g.dropped),
            Body::Disconnected { reason, .. } => println!("sender gone: {reason}"),
            Body::Reconnected { .. } => println!("reconnected; sequence restarted"),
            _ => {}
        })?;
    }
    Ok(())
}
