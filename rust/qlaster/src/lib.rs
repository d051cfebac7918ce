//! Read Solana updates from a local qlaster-sender through shared memory.
//!
//! A safe layer over libqlaster-consumer's C ABI (the `qlaster-sys` crate). A [`Consumer`]
//! connects to the sender's Unix socket and reads updates in place from its own ring:
//! [`Consumer::poll`] hands each [`Event`] to a closure, borrowing account data and
//! transactions from the ring for the duration of that call only — the borrow checker
//! keeps them from escaping it.
//!
//! ```no_run
//! use qlaster::{Consumer, Options, Pubkey, Transactions, Body};
//! let mut c = Consumer::connect("/run/qlaster/sender.sock", &Options::named("my-bot"))?;
//! let token = Pubkey::from_base58("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")?;
//! c.subscribe(&[], &[token], Some(Transactions::NonVote))?;
//! loop {
//!     c.wait(Some(std::time::Duration::from_secs(1)))?;
//!     c.poll(256, |e| match &e.body {
//!         Body::Account(a) => println!("{} {} lamports", a.pubkey, a.lamports),
//!         Body::Gap(g) => println!("missed {}", g.dropped),
//!         _ => {}
//!     })?;
//! }
//! # Ok::<(), qlaster::Error>(())
//! ```
//!
//! Nothing is lost silently: dropped updates arrive as [`Body::Gap`], losing the sender as
//! [`Body::Disconnected`], and with auto-reconnect (the default) the new connection as
//! [`Body::Reconnected`] once the subscription has been replayed on it.
//!
//! Errors are [`Error`]s carrying the library's message and its absl::StatusCode.

use std::ffi::{CStr, CString};
use std::fmt;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::ptr::{self, NonNull};
use std::time::Duration;

use qlaster_sys as sys;

// ---------------------------------------------------------------------------- errors

/// A failure the library reported: its message and absl::StatusCode (`code`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: i32,
    pub message: String,
}

impl Error {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const FAILED_PRECONDITION: i32 = 9;
    pub const OUT_OF_RANGE: i32 = 11;
    pub const UNAVAILABLE: i32 = 14;
    pub const DATA_LOSS: i32 = 15;

    fn last() -> Error {
        // SAFETY: the library returns a NUL-terminated thread-local string, valid until
        // this thread's next call into it; it is copied at once.
        let message = unsafe {
            let p = sys::qlaster_last_error();
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        Error { code: unsafe { sys::qlaster_last_error_code() }, message }
    }

    fn invalid(message: impl Into<String>) -> Error {
        Error { code: Error::INVALID_ARGUMENT, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

fn check(rc: c_int) -> Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::last())
    }
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::invalid(format!("{s:?} contains a NUL byte")))
}

// ------------------------------------------------------------------------------ keys

macro_rules! key_type {
    ($name:ident, $n:expr, $from:ident, $to:ident, $cap:expr, $doc:expr) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $n]);

        impl $name {
            /// Decodes base58 text; an [`Error`] (invalid argument) names a character
            /// outside the alphabet or the wrong decoded length.
            pub fn from_base58(text: &str) -> Result<$name> {
                let c = cstring(text)?;
                let mut out = [0u8; $n];
                // SAFETY: `c` is NUL-terminated, `out` has the size the function writes.
                check(unsafe { sys::$from(c.as_ptr(), out.as_mut_ptr()) })?;
                Ok($name(out))
            }

            /// The base58 spelling.
            pub fn to_base58(&self) -> String {
                let mut buf = [0u8; $cap];
                // SAFETY: `buf` holds any spelling and its NUL.
                let n = unsafe {
                    sys::$to(self.0.as_ptr(), buf.as_mut_ptr() as *mut c_char, buf.len())
                };
                assert!(n >= 0, "a buffer of the documented size is always enough");
                String::from_utf8_lossy(&buf[..n as usize]).into_owned()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_base58())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_base58())
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<$name> {
                $name::from_base58(s)
            }
        }
    };
}

key_type!(Pubkey, 32, qlaster_pubkey_from_base58, qlaster_pubkey_to_base58,
          sys::QLASTER_PUBKEY_BASE58_SIZE, "A Solana public key (32 bytes); base58 as text.");
key_type!(Signature, 64, qlaster_signature_from_base58, qlaster_signature_to_base58,
          sys::QLASTER_SIGNATURE_BASE58_SIZE, "A transaction signature (64 bytes); base58 as text.");

fn keys_ptr(keys: &[Pubkey]) -> *const u8 {
    // Pubkey is a newtype over [u8; 32]: a slice of them is n * 32 contiguous bytes.
    if keys.is_empty() {
        ptr::null()
    } else {
        keys.as_ptr() as *const u8
    }
}

// ----------------------------------------------------------------------------- options

/// What the sender does when this consumer's ring is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Disconnect the consumer (the default).
    Evict,
    /// Drop updates and report a [`Body::Gap`].
    DropAndCount,
}

/// How [`Consumer::wait`] waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitMode {
    SpinThenSleep,
    Spin,
    Sleep,
}

/// Which transactions a consumer wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transactions {
    None,
    All,
    NonVote,
}

impl Transactions {
    fn raw(t: Option<Transactions>) -> c_int {
        match t {
            None => sys::QLASTER_TX_UNCHANGED,
            Some(Transactions::None) => sys::QLASTER_TX_NONE,
            Some(Transactions::All) => sys::QLASTER_TX_ALL,
            Some(Transactions::NonVote) => sys::QLASTER_TX_NON_VOTE,
        }
    }
}

/// Connection options; `Options::default()` is the library's defaults.
#[derive(Clone, Debug)]
pub struct Options {
    /// Shown by the sender and qlaster-inspect; None: the sender names the consumer.
    pub name: Option<String>,
    /// Requested ring size; 0: the sender's default.
    pub ring_bytes: u64,
    pub overflow: Overflow,
    pub wait_mode: WaitMode,
    /// Reconnect (and replay the subscription) after losing the sender.
    pub auto_reconnect: bool,
    /// Delay before the second reconnection attempt (then doubled); None: the default.
    pub reconnect_backoff: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub request_timeout: Option<Duration>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            name: None,
            ring_bytes: 0,
            overflow: Overflow::Evict,
            wait_mode: WaitMode::SpinThenSleep,
            auto_reconnect: true,
            reconnect_backoff: None,
            connect_timeout: None,
            request_timeout: None,
        }
    }
}

impl Options {
    /// The defaults with a name.
    pub fn named(name: &str) -> Options {
        Options { name: Some(name.to_owned()), ..Options::default() }
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

// ------------------------------------------------------------------------------ events

/// An account write. `data` borrows the ring (or the library's buffer).
#[derive(Debug)]
pub struct AccountEvent<'a> {
    pub pubkey: Pubkey,
    pub owner: Pubkey,
    pub lamports: u64,
    pub slot: u64,
    pub write_version: u64,
    pub rent_epoch: u64,
    pub executable: bool,
    pub txn_signature: Option<Signature>,
    /// The account data, or its data slices one after the other.
    pub data: &'a [u8],
    /// The account's whole data size.
    pub account_data_len: u64,
    pub sliced: bool,
    pub was_compressed: bool,
}

#[derive(Debug)]
pub struct TransactionEvent<'a> {
    pub signature: Signature,
    pub slot: u64,
    pub index: u32,
    pub is_vote: bool,
    pub failed: bool,
    /// The transaction in Solana's wire format.
    pub data: &'a [u8],
    /// Its status in qlaster's encoding; empty when the source had none.
    pub status: &'a [u8],
}

#[derive(Debug)]
pub struct TransactionStatusEvent<'a> {
    pub signature: Signature,
    pub slot: u64,
    pub index: u32,
    pub is_vote: bool,
    pub failed: bool,
    /// The TransactionError's bincode; empty on success.
    pub error: &'a [u8],
}

#[derive(Debug)]
pub struct SlotEvent {
    pub slot: u64,
    pub parent: u64,
    /// 0 processed, 1 confirmed, 2 rooted, 3 first shred received, 4 completed,
    /// 5 created bank, 6 dead.
    pub status: i32,
}

#[derive(Debug)]
pub struct BlockMetaEvent {
    pub slot: u64,
    pub parent_slot: u64,
    pub blockhash: [u8; 32],
    pub parent_blockhash: [u8; 32],
    pub block_height: Option<u64>,
    pub block_time: Option<i64>,
    pub executed_transaction_count: u64,
    pub entries_count: u64,
}

#[derive(Debug)]
pub struct EntryEvent {
    pub slot: u64,
    pub index: u64,
    pub num_hashes: u64,
    pub hash: [u8; 32],
    pub executed_transaction_count: u64,
    pub starting_transaction_index: u64,
}

/// Updates with sequence numbers `first_missing..=last_missing` never arrived.
#[derive(Debug)]
pub struct GapEvent {
    pub dropped: u64,
    pub first_missing: u64,
    pub last_missing: u64,
    /// The sender said so (drop-and-count).
    pub reported_by_sender: bool,
}

#[derive(Debug)]
pub enum Body<'a> {
    Account(AccountEvent<'a>),
    Transaction(TransactionEvent<'a>),
    TransactionStatus(TransactionStatusEvent<'a>),
    Slot(SlotEvent),
    BlockMeta(BlockMetaEvent),
    Entry(EntryEvent),
    Gap(GapEvent),
    /// The connection is gone; updates after the last one delivered are lost.
    Disconnected { reason: &'a str, will_reconnect: bool },
    /// A new connection with the subscription replayed; sequence numbers restart at 1.
    Reconnected { consumer_id: u64, effective_sequence: u64 },
    /// A kind this crate does not know (a newer library).
    Unknown(i32),
}

/// One event, valid during the [`Consumer::poll`] callback.
#[derive(Debug)]
pub struct Event<'a> {
    /// Per connection, from 1; a gap's last_missing; 0 for lifecycle events.
    pub sequence: u64,
    /// When the sender published it (CLOCK_REALTIME, ns); 0 where none.
    pub timestamp_ns: u64,
    /// Bit i: the subscription's i-th named filter of this kind matched.
    pub filters: u32,
    pub body: Body<'a>,
}

/// # Safety
/// `p` is null or points at `N` readable bytes.
unsafe fn array<const N: usize>(p: *const u8) -> [u8; N] {
    let mut out = [0u8; N];
    if !p.is_null() {
        ptr::copy_nonoverlapping(p, out.as_mut_ptr(), N);
    }
    out
}

/// # Safety
/// `p` is null or points at `n` bytes that stay valid for `'a`.
unsafe fn bytes<'a>(p: *const u8, n: usize) -> &'a [u8] {
    if p.is_null() || n == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(p, n)
    }
}

/// What `Consumer::filter_names` needs of an event (its kind, sequence and filter bits),
/// small and `Copy` so that it can leave the `poll` callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilterMatch {
    kind: i32,
    sequence: u64,
    filters: u32,
}

impl<'a> Event<'a> {
    /// The event's filter bits with what names them; see `Consumer::filter_names`.
    pub fn filter_match(&self) -> FilterMatch {
        let kind = match self.body {
            Body::Account(_) => sys::QLASTER_EVENT_ACCOUNT,
            Body::Transaction(_) => sys::QLASTER_EVENT_TRANSACTION,
            Body::TransactionStatus(_) => sys::QLASTER_EVENT_TRANSACTION_STATUS,
            Body::Slot(_) => sys::QLASTER_EVENT_SLOT,
            Body::BlockMeta(_) => sys::QLASTER_EVENT_BLOCK_META,
            Body::Entry(_) => sys::QLASTER_EVENT_ENTRY,
            _ => 0,
        };
        FilterMatch { kind, sequence: self.sequence, filters: self.filters }
    }

    /// # Safety
    /// `e` is a live event from the library, and 'a ends before the handler returns.
    unsafe fn from_raw(e: &'a sys::qlaster_event) -> Event<'a> {
        let body = match e.kind {
            sys::QLASTER_EVENT_ACCOUNT => Body::Account(AccountEvent {
                pubkey: Pubkey(array(e.pubkey)),
                owner: Pubkey(array(e.owner)),
                lamports: e.lamports,
                slot: e.slot,
                write_version: e.write_version,
                rent_epoch: e.rent_epoch,
                executable: e.executable != 0,
                txn_signature: (!e.txn_signature.is_null()).then(|| Signature(array(e.txn_signature))),
                data: bytes(e.data, e.data_len),
                account_data_len: e.account_data_len,
                sliced: e.sliced != 0,
                was_compressed: e.was_compressed != 0,
            }),
            sys::QLASTER_EVENT_TRANSACTION => Body::Transaction(TransactionEvent {
                signature: Signature(array(e.signature)),
                slot: e.slot,
                index: e.tx_index,
                is_vote: e.is_vote != 0,
                failed: e.failed != 0,
                data: bytes(e.data, e.data_len),
                status: bytes(e.status, e.status_len),
            }),
            sys::QLASTER_EVENT_TRANSACTION_STATUS => Body::TransactionStatus(TransactionStatusEvent {
                signature: Signature(array(e.signature)),
                slot: e.slot,
                index: e.tx_index,
                is_vote: e.is_vote != 0,
                failed: e.failed != 0,
                error: bytes(e.status, e.status_len),
            }),
            sys::QLASTER_EVENT_SLOT => {
                Body::Slot(SlotEvent { slot: e.slot, parent: e.parent, status: e.slot_status })
            }
            sys::QLASTER_EVENT_BLOCK_META => Body::BlockMeta(BlockMetaEvent {
                slot: e.slot,
                parent_slot: e.parent,
                blockhash: array(e.blockhash),
                parent_blockhash: array(e.parent_blockhash),
                block_height: (e.has_block_height != 0).then_some(e.block_height),
                block_time: (e.has_block_time != 0).then_some(e.block_time),
                executed_transaction_count: e.executed_transaction_count,
                entries_count: e.entries_count,
            }),
            sys::QLASTER_EVENT_ENTRY => Body::Entry(EntryEvent {
                slot: e.slot,
                index: e.entry_index,
                num_hashes: e.num_hashes,
                hash: array(e.blockhash),
                executed_transaction_count: e.executed_transaction_count,
                starting_transaction_index: e.starting_transaction_index,
            }),
            sys::QLASTER_EVENT_GAP => Body::Gap(GapEvent {
                dropped: e.dropped,
                first_missing: e.first_missing,
                last_missing: e.last_missing,
                reported_by_sender: e.reported_by_sender != 0,
            }),
            sys::QLASTER_EVENT_DISCONNECTED => Body::Disconnected {
                reason: if e.reason.is_null() {
                    ""
                } else {
                    CStr::from_ptr(e.reason).to_str().unwrap_or("(reason not UTF-8)")
                },
                will_reconnect: e.will_reconnect != 0,
            },
            sys::QLASTER_EVENT_RECONNECTED => Body::Reconnected {
                consumer_id: e.consumer_id,
                effective_sequence: e.effective_sequence,
            },
            k => Body::Unknown(k),
        };
        Event { sequence: e.sequence, timestamp_ns: e.timestamp_ns, filters: e.filters, body }
    }
}

/// Counters of a consumer, across reconnections.
pub type Stats = sys::qlaster_stats;

// ------------------------------------------------------------------------ subscription

/// A whole subscription in Yellowstone's vocabulary (named filters, data slices,
/// commitment, from_slot), set with [`Consumer::set_subscription`]. Builder methods
/// return `self`; the first invalid argument is reported by `set_subscription`.
pub struct Subscription {
    raw: NonNull<sys::qlaster_subscription>,
    error: Option<Error>,
}

/// Commitment levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commitment {
    Processed,
    Confirmed,
    Finalized,
}

fn tri(v: Option<bool>) -> c_int {
    match v {
        None => sys::QLASTER_EITHER,
        Some(false) => 0,
        Some(true) => 1,
    }
}

impl Subscription {
    pub fn new() -> Subscription {
        // SAFETY: no arguments; null only when out of memory.
        let raw = NonNull::new(unsafe { sys::qlaster_subscription_new() })
            .expect("qlaster_subscription_new: out of memory");
        Subscription { raw, error: None }
    }

    fn apply(mut self, f: impl FnOnce(*mut sys::qlaster_subscription) -> Result<()>) -> Self {
        if self.error.is_none() {
            if let Err(e) = f(self.raw.as_ptr()) {
                self.error = Some(e);
            }
        }
        self
    }

    /// Account filter `name` (created when new) gains these pubkeys and owners.
    pub fn account(self, name: &str, pubkeys: &[Pubkey], owners: &[Pubkey]) -> Self {
        self.apply(|s| {
            let n = cstring(name)?;
            // SAFETY: the key arrays hold n * 32 bytes; the library copies them.
            check(unsafe {
                sys::qlaster_subscription_account(s, n.as_ptr(), keys_ptr(pubkeys), pubkeys.len(),
                                                  keys_ptr(owners), owners.len())
            })
        })
    }

    /// Account filter `name` requires `bytes` at `offset` of the data.
    pub fn memcmp(self, name: &str, offset: u64, bytes: &[u8]) -> Self {
        self.apply(|s| {
            let n = cstring(name)?;
            check(unsafe {
                sys::qlaster_subscription_account_memcmp(s, n.as_ptr(), offset, bytes.as_ptr(),
                                                         bytes.len())
            })
        })
    }

    /// Account filter `name` requires data of exactly `size` bytes.
    pub fn datasize(self, name: &str, size: u64) -> Self {
        self.apply(|s| {
            let n = cstring(name)?;
            check(unsafe { sys::qlaster_subscription_account_datasize(s, n.as_ptr(), size) })
        })
    }

    /// Transaction filter `name`: vote and failed as given (None: either), and at least
    /// one of `include` among its accounts (when not empty).
    pub fn transactions(self, name: &str, vote: Option<bool>, failed: Option<bool>,
                        include: &[Pubkey]) -> Self {
        self.apply(|s| {
            let n = cstring(name)?;
            check(unsafe {
                sys::qlaster_subscription_transaction(
                    s, sys::QLASTER_FILTER_TRANSACTIONS, n.as_ptr(), tri(vote), tri(failed),
                    ptr::null(), keys_ptr(include), include.len(), ptr::null(), 0, ptr::null(), 0)
            })
        })
    }

    /// Only these bytes of account data (slices concatenated).
    pub fn data_slice(self, offset: u64, length: u64) -> Self {
        self.apply(|s| check(unsafe { sys::qlaster_subscription_data_slice(s, offset, length) }))
    }

    pub fn commitment(self, c: Commitment) -> Self {
        let raw = match c {
            Commitment::Processed => sys::QLASTER_COMMITMENT_PROCESSED,
            Commitment::Confirmed => sys::QLASTER_COMMITMENT_CONFIRMED,
            Commitment::Finalized => sys::QLASTER_COMMITMENT_FINALIZED,
        };
        self.apply(|s| check(unsafe { sys::qlaster_subscription_commitment(s, raw) }))
    }

    /// Replay what the sender keeps from `slot` on, then the live stream.
    pub fn from_slot(self, slot: u64) -> Self {
        self.apply(|s| check(unsafe { sys::qlaster_subscription_from_slot(s, slot) }))
    }
}

impl Default for Subscription {
    fn default() -> Self {
        Subscription::new()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // SAFETY: owned, freed once.
        unsafe { sys::qlaster_subscription_free(self.raw.as_ptr()) }
    }
}

// ---------------------------------------------------------------------------- consumer

/// One connection to a qlaster-sender (and, with auto-reconnect, its successors).
/// Used by one thread at a time: `Send`, not `Sync`.
pub struct Consumer {
    raw: NonNull<sys::qlaster_consumer>,
}

// SAFETY: the library allows a consumer to move between threads as long as one thread
// uses it at a time, which &mut self guarantees.
unsafe impl Send for Consumer {}

struct PollState<F> {
    f: F,
    panic: Option<Box<dyn std::any::Any + Send>>,
}

unsafe extern "C" fn trampoline<F: FnMut(&Event<'_>)>(ev: *const sys::qlaster_event,
                                                       user: *mut c_void) {
    let state = &mut *(user as *mut PollState<F>);
    if state.panic.is_some() {
        return; // a panic is pending: deliver nothing more, unwind after poll returns
    }
    let event = Event::from_raw(&*ev);
    if let Err(p) = catch_unwind(AssertUnwindSafe(|| (state.f)(&event))) {
        state.panic = Some(p);
    }
}

impl Consumer {
    /// Connects to the sender at `path` and completes the handshake. Errors: code 14
    /// (unavailable) when no sender listens there, 9 for another protocol version, 8 when
    /// the sender is full, 3 for bad options.
    pub fn connect(path: &str, options: &Options) -> Result<Consumer> {
        let path = cstring(path)?;
        let name = options.name.as_deref().map(cstring).transpose()?;
        // SAFETY: `o` is a plain struct the library fills for its own size.
        let mut o: sys::qlaster_options = unsafe { std::mem::zeroed() };
        unsafe {
            sys::qlaster_options_default_sized(&mut o, std::mem::size_of::<sys::qlaster_options>())
        };
        o.name = name.as_ref().map_or(ptr::null(), |n| n.as_ptr());
        o.ring_bytes = options.ring_bytes;
        o.overflow_policy = match options.overflow {
            Overflow::Evict => sys::QLASTER_OVERFLOW_EVICT,
            Overflow::DropAndCount => sys::QLASTER_OVERFLOW_DROP_AND_COUNT,
        };
        o.wait_mode = match options.wait_mode {
            WaitMode::SpinThenSleep => sys::QLASTER_WAIT_SPIN_THEN_SLEEP,
            WaitMode::Spin => sys::QLASTER_WAIT_SPIN,
            WaitMode::Sleep => sys::QLASTER_WAIT_SLEEP,
        };
        o.auto_reconnect = options.auto_reconnect as i32;
        if let Some(d) = options.reconnect_backoff {
            o.reconnect_initial_backoff_us = micros(d);
        }
        if let Some(d) = options.connect_timeout {
            o.connect_timeout_us = micros(d);
        }
        if let Some(d) = options.request_timeout {
            o.request_timeout_us = micros(d);
        }
        // SAFETY: both pointers live across the call; the library copies the name.
        let raw = unsafe { sys::qlaster_connect_with(path.as_ptr(), &o) };
        NonNull::new(raw).map(|raw| Consumer { raw }).ok_or_else(Error::last)
    }

    /// Adds account pubkeys and owners and (unless None) sets the transaction filter;
    /// returns once the sender acknowledged it.
    pub fn subscribe(&mut self, pubkeys: &[Pubkey], owners: &[Pubkey],
                     transactions: Option<Transactions>) -> Result<()> {
        check(unsafe {
            sys::qlaster_subscribe(self.raw.as_ptr(), keys_ptr(pubkeys), pubkeys.len(),
                                   keys_ptr(owners), owners.len(), Transactions::raw(transactions))
        })
    }

    /// Removes pubkeys and owners (and sets the transaction filter unless None).
    pub fn unsubscribe(&mut self, pubkeys: &[Pubkey], owners: &[Pubkey],
                       transactions: Option<Transactions>) -> Result<()> {
        check(unsafe {
            sys::qlaster_unsubscribe(self.raw.as_ptr(), keys_ptr(pubkeys), pubkeys.len(),
                                     keys_ptr(owners), owners.len(), Transactions::raw(transactions))
        })
    }

    /// Replaces the whole subscription.
    pub fn replace(&mut self, pubkeys: &[Pubkey], owners: &[Pubkey],
                   transactions: Transactions) -> Result<()> {
        check(unsafe {
            sys::qlaster_replace(self.raw.as_ptr(), keys_ptr(pubkeys), pubkeys.len(),
                                 keys_ptr(owners), owners.len(), Transactions::raw(Some(transactions)))
        })
    }

    /// Replaces the whole subscription with `s`; returns the sequence number after which
    /// every update is filtered by it. Code 11 (out of range) for a from_slot older than
    /// the sender keeps; 3 when the sender refuses a filter.
    pub fn set_subscription(&mut self, s: &Subscription) -> Result<u64> {
        if let Some(e) = &s.error {
            return Err(e.clone());
        }
        let mut effective = 0u64;
        check(unsafe {
            sys::qlaster_set_subscription(self.raw.as_ptr(), s.raw.as_ptr(), &mut effective)
        })?;
        Ok(effective)
    }

    /// The names of the named filters an event matched (its `filters` bits), under the
    /// subscription in force when it was published. Ask soon after the event was read:
    /// the library keeps the names of earlier subscriptions only while updates filtered by
    /// them may still be in the ring.
    pub fn filter_names(&mut self, m: FilterMatch) -> Vec<String> {
        let mut names = Vec::new();
        if m.kind == 0 || m.filters == 0 {
            return names;
        }
        // SAFETY: every field of the C event is an integer or a pointer, so all-zero is a
        // valid value; the library reads only kind, sequence and filters.
        let mut raw: sys::qlaster_event = unsafe { std::mem::zeroed() };
        raw.kind = m.kind;
        raw.sequence = m.sequence;
        raw.filters = m.filters;
        for bit in 0..32 {
            if m.filters & (1u32 << bit) == 0 {
                continue;
            }
            // SAFETY: `raw` outlives the call; the name is copied before the next call.
            let p = unsafe { sys::qlaster_filter_name(self.raw.as_ptr(), &raw, bit) };
            if !p.is_null() {
                names.push(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned());
            }
        }
        names
    }

    /// Hands the events of up to `max` waiting ring records to `f`, in order; returns how
    /// many were delivered (0 when nothing waits). The event and what it borrows live
    /// only during the call of `f`. A panic in `f` stops the delivery and resumes after
    /// the library has returned. Errors once the sender is gone for good (auto-reconnect
    /// off), after the Disconnected event.
    pub fn poll<F: FnMut(&Event<'_>)>(&mut self, max: i32, f: F) -> Result<usize> {
        let mut state = PollState { f, panic: None };
        // SAFETY: `state` outlives the call; the trampoline is instantiated for F.
        let n = unsafe {
            sys::qlaster_poll(self.raw.as_ptr(), trampoline::<F>,
                              &mut state as *mut PollState<F> as *mut c_void, max.max(1))
        };
        if let Some(p) = state.panic {
            resume_unwind(p);
        }
        if n < 0 {
            Err(Error::last())
        } else {
            Ok(n as usize)
        }
    }

    /// Waits up to `timeout` (None: forever) for something to poll; true when ready.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        let us = timeout.map_or(-1, micros);
        match unsafe { sys::qlaster_wait(self.raw.as_ptr(), us) } {
            1 => Ok(true),
            0 => Ok(false),
            _ => Err(Error::last()),
        }
    }

    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        // SAFETY: the library writes at most size_of::<Stats>() bytes.
        let rc = unsafe {
            sys::qlaster_get_stats_sized(self.raw.as_ptr(), &mut s, std::mem::size_of::<Stats>())
        };
        debug_assert_eq!(rc, 0);
        s
    }

    /// The sender's id for the current connection (changes on reconnection).
    pub fn consumer_id(&self) -> u64 {
        unsafe { sys::qlaster_consumer_id(self.raw.as_ptr()) }
    }

    /// The ring size the sender granted.
    pub fn ring_bytes(&self) -> u64 {
        unsafe { sys::qlaster_ring_bytes(self.raw.as_ptr()) }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        // SAFETY: owned, closed once.
        unsafe { sys::qlaster_close(self.raw.as_ptr()) }
    }
}
