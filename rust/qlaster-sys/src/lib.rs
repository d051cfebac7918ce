//! Raw declarations of libqlaster-consumer's C ABI, `qlaster/consumer.h`, field for field
//! and function for function. Read that header for the semantics; the safe API is the
//! `qlaster` crate.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_void};

#[repr(C)]
pub struct qlaster_consumer {
    _private: [u8; 0],
}

#[repr(C)]
pub struct qlaster_subscription {
    _private: [u8; 0],
}

pub const QLASTER_OVERFLOW_EVICT: i32 = 0;
pub const QLASTER_OVERFLOW_DROP_AND_COUNT: i32 = 1;

pub const QLASTER_WAIT_SPIN_THEN_SLEEP: i32 = 0;
pub const QLASTER_WAIT_SPIN: i32 = 1;
pub const QLASTER_WAIT_SLEEP: i32 = 2;

pub const QLASTER_TX_UNCHANGED: c_int = -1;
pub const QLASTER_TX_NONE: c_int = 0;
pub const QLASTER_TX_ALL: c_int = 1;
pub const QLASTER_TX_NON_VOTE: c_int = 2;

pub const QLASTER_EVENT_ACCOUNT: i32 = 1;
pub const QLASTER_EVENT_TRANSACTION: i32 = 2;
pub const QLASTER_EVENT_SLOT: i32 = 3;
pub const QLASTER_EVENT_GAP: i32 = 4;
pub const QLASTER_EVENT_RECONNECTED: i32 = 5;
pub const QLASTER_EVENT_DISCONNECTED: i32 = 6;
pub const QLASTER_EVENT_BLOCK_META: i32 = 7;
pub const QLASTER_EVENT_ENTRY: i32 = 8;
pub const QLASTER_EVENT_TRANSACTION_STATUS: i32 = 9;

pub const QLASTER_COMMITMENT_PROCESSED: c_int = 0;
pub const QLASTER_COMMITMENT_CONFIRMED: c_int = 1;
pub const QLASTER_COMMITMENT_FINALIZED: c_int = 2;

pub const QLASTER_LAMPORTS_EQ: c_int = 0;
pub const QLASTER_LAMPORTS_NE: c_int = 1;
pub const QLASTER_LAMPORTS_LT: c_int = 2;
pub const QLASTER_LAMPORTS_GT: c_int = 3;

pub const QLASTER_EITHER: c_int = -1;
pub const QLASTER_FILTER_TRANSACTIONS: c_int = 0;
pub const QLASTER_FILTER_TRANSACTION_STATUSES: c_int = 1;

pub const QLASTER_PUBKEY_BASE58_SIZE: usize = 45;
pub const QLASTER_SIGNATURE_BASE58_SIZE: usize = 89;

/// Sized options: set `struct_size` with `qlaster_options_default_sized(&mut o,
/// size_of::<qlaster_options>())`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct qlaster_options {
    pub struct_size: usize,
    pub name: *const c_char,
    pub ring_bytes: u64,
    pub overflow_policy: i32,
    pub wait_mode: i32,
    pub spin_us: i64,
    pub auto_reconnect: i32,
    pub reconnect_initial_backoff_us: i64,
    pub reconnect_max_backoff_us: i64,
    pub connect_timeout_us: i64,
    pub request_timeout_us: i64,
}

#[repr(C)]
pub struct qlaster_event {
    pub kind: i32,
    pub sequence: u64,
    pub timestamp_ns: u64,
    pub slot: u64,
    pub pubkey: *const u8,
    pub owner: *const u8,
    pub lamports: u64,
    pub rent_epoch: u64,
    pub write_version: u64,
    pub txn_signature: *const u8,
    pub executable: i32,
    pub was_compressed: i32,
    pub data: *const u8,
    pub data_len: usize,
    pub signature: *const u8,
    pub tx_index: u32,
    pub is_vote: i32,
    pub failed: i32,
    pub parent: u64,
    pub slot_status: i32,
    pub dropped: u64,
    pub first_missing: u64,
    pub last_missing: u64,
    pub reported_by_sender: i32,
    pub reason: *const c_char,
    pub will_reconnect: i32,
    pub consumer_id: u64,
    pub effective_sequence: u64,
    pub filters: u32,
    pub account_data_len: u64,
    pub sliced: i32,
    pub status: *const u8,
    pub status_len: usize,
    pub blockhash: *const u8,
    pub parent_blockhash: *const u8,
    pub block_height: u64,
    pub has_block_height: i32,
    pub block_time: i64,
    pub has_block_time: i32,
    pub executed_transaction_count: u64,
    pub entries_count: u64,
    pub rewards: *const u8,
    pub reward_count: usize,
    pub entry_index: u64,
    pub num_hashes: u64,
    pub starting_transaction_index: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct qlaster_stats {
    pub received: u64,
    pub gaps: u64,
    pub dropped: u64,
    pub lag_bytes: u64,
    pub reconnects: u64,
    pub disconnects: u64,
    pub last_sequence: u64,
    pub connected: i32,
}

pub type qlaster_handler = unsafe extern "C" fn(event: *const qlaster_event, user: *mut c_void);

extern "C" {
    pub fn qlaster_options_default_sized(options: *mut qlaster_options, struct_size: usize);
    pub fn qlaster_connect_with(
        path: *const c_char,
        options: *const qlaster_options,
    ) -> *mut qlaster_consumer;
    pub fn qlaster_subscribe(
        c: *mut qlaster_consumer,
        pubkeys: *const u8,
        n_pubkeys: usize,
        owners: *const u8,
        n_owners: usize,
        transactions: c_int,
    ) -> c_int;
    pub fn qlaster_unsubscribe(
        c: *mut qlaster_consumer,
        pubkeys: *const u8,
        n_pubkeys: usize,
        owners: *const u8,
        n_owners: usize,
        transactions: c_int,
    ) -> c_int;
    pub fn qlaster_replace(
        c: *mut qlaster_consumer,
        pubkeys: *const u8,
        n_pubkeys: usize,
        owners: *const u8,
        n_owners: usize,
        transactions: c_int,
    ) -> c_int;
    pub fn qlaster_set_transactions(c: *mut qlaster_consumer, transactions: c_int) -> c_int;
    pub fn qlaster_poll(
        c: *mut qlaster_consumer,
        handler: qlaster_handler,
        user: *mut c_void,
        max: c_int,
    ) -> c_int;
    pub fn qlaster_wait(c: *mut qlaster_consumer, timeout_us: i64) -> c_int;
    pub fn qlaster_get_stats_sized(
        c: *const qlaster_consumer,
        stats: *mut qlaster_stats,
        size: usize,
    ) -> c_int;
    pub fn qlaster_consumer_id(c: *const qlaster_consumer) -> u64;
    pub fn qlaster_ring_bytes(c: *const qlaster_consumer) -> u64;
    pub fn qlaster_close(c: *mut qlaster_consumer);
    pub fn qlaster_last_error() -> *const c_char;
    pub fn qlaster_last_error_code() -> c_int;

    pub fn qlaster_pubkey_from_base58(text: *const c_char, out: *mut u8) -> c_int;
    pub fn qlaster_pubkey_to_base58(key: *const u8, out: *mut c_char, out_size: usize) -> c_int;
    pub fn qlaster_signature_from_base58(text: *const c_char, out: *mut u8) -> c_int;
    pub fn qlaster_signature_to_base58(sig: *const u8, out: *mut c_char, out_size: usize)
        -> c_int;

    pub fn qlaster_subscription_new() -> *mut qlaster_subscription;
    pub fn qlaster_subscription_free(s: *mut qlaster_subscription);
    pub fn qlaster_subscription_account(
        s: *mut qlaster_subscription,
        name: *const c_char,
        pubkeys: *const u8,
        n_pubkeys: usize,
        owners: *const u8,
        n_owners: usize,
    ) -> c_int;
    pub fn qlaster_subscription_account_memcmp(
        s: *mut qlaster_subscription,
        name: *const c_char,
        offset: u64,
        bytes: *const u8,
        len: usize,
    ) -> c_int;
    pub fn qlaster_subscription_account_datasize(
        s: *mut qlaster_subscription,
        name: *const c_char,
        size: u64,
    ) -> c_int;
    pub fn qlaster_subscription_account_lamports(
        s: *mut qlaster_subscription,
        name: *const c_char,
        op: c_int,
        value: u64,
    ) -> c_int;
    pub fn qlaster_subscription_account_token_account_state(
        s: *mut qlaster_subscription,
        name: *const c_char,
    ) -> c_int;
    pub fn qlaster_subscription_account_nonempty_txn_signature(
        s: *mut qlaster_subscription,
        name: *const c_char,
        value: c_int,
    ) -> c_int;
    pub fn qlaster_subscription_transaction(
        s: *mut qlaster_subscription,
        kind: c_int,
        name: *const c_char,
        vote: c_int,
        failed: c_int,
        signature: *const u8,
        include: *const u8,
        n_include: usize,
        exclude: *const u8,
        n_exclude: usize,
        required: *const u8,
        n_required: usize,
    ) -> c_int;
    pub fn qlaster_subscription_slots(
        s: *mut qlaster_subscription,
        name: *const c_char,
        filter_by_commitment: c_int,
        interslot_updates: c_int,
    ) -> c_int;
    pub fn qlaster_subscription_blocks_meta(s: *mut qlaster_subscription, name: *const c_char)
        -> c_int;
    pub fn qlaster_subscription_entries(s: *mut qlaster_subscription, name: *const c_char)
        -> c_int;
    pub fn qlaster_subscription_data_slice(
        s: *mut qlaster_subscription,
        offset: u64,
        length: u64,
    ) -> c_int;
    pub fn qlaster_subscription_commitment(s: *mut qlaster_subscription, commitment: c_int)
        -> c_int;
    pub fn qlaster_subscription_from_slot(s: *mut qlaster_subscription, slot: u64) -> c_int;
    pub fn qlaster_set_subscription(
        c: *mut qlaster_consumer,
        s: *const qlaster_subscription,
        effective_sequence: *mut u64,
    ) -> c_int;
    pub fn qlaster_filter_name(
        c: *mut qlaster_consumer,
        e: *const qlaster_event,
        bit: c_int,
    ) -> *const c_char;
}
