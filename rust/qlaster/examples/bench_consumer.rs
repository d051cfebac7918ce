//! The Rust side of the bindings benchmark (tools/bindings_bench/run.py): drains N account
//! updates from a full ring, touching each (lamports and the first data byte).
//!
//!     bench_consumer SOCKET N     then one line "drain" on stdin per round
use std::io::BufRead;
use std::time::Instant;

use qlaster::{Body, Consumer, Options, Overflow, Pubkey, WaitMode};

fn main() -> qlaster::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args[2].parse().expect("N");
    let options = Options {
        ring_bytes: 64 << 20,
        overflow: Overflow::DropAndCount,
        wait_mode: WaitMode::Spin,
        ..Options::named("bench-rs")
    };
    let mut c = Consumer::connect(&args[1], &options)?;
    c.subscribe(&[], &[Pubkey([0x22; 32])], None)?;
    println!("ready");
    let mut sink = 0u64;
    for _ in std::io::stdin().lock().lines() {
        let (mut got, mut other) = (0u64, 0u64);
        let t0 = Instant::now();
        while got < n && other == 0 {  // a gap ends the round: run.py reports it
            let polled = c.poll(256, |e| match &e.body {
                Body::Account(a) => {
                    sink = sink.wrapping_add(a.lamports + u64::from(a.data[0]));
                    got += 1;
                }
                Body::Slot(_) => {}
                _ => other += 1,
            })?;
            if polled == 0 {
                break; // everything was published before "drain": some is missing
            }
        }
        other += n - got;
        println!("ns {} other {} sink {}", t0.elapsed().as_nanos(), other, sink & 1);
    }
    Ok(())
}
