"""The Python side of proto_interop_test.cc.

Usage: proto_interop_test.py STUBS_DIR CPP_UPDATE CPP_REQUEST PY_UPDATE PY_REQUEST

Parses the two messages the C++ test wrote and checks every field against the values the
C++ side set; writes two messages built here for the C++ side to check; checks the
generated gRPC module. Run with Debian's /usr/bin/python3 (python3-grpcio). Exits 1 with
the first difference.
"""
import sys

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
import geyser_pb2  # noqa: E402
import geyser_pb2_grpc  # noqa: E402

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
TOKEN = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
JUPITER = "JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4"


def b58decode(text):
    n = 0
    for c in text:
        n = n * 58 + ALPHABET.index(c)
    return n.to_bytes(32, "big")


def b58encode(data):
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = ALPHABET[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def expect(what, got, want):
    if got != want:
        sys.exit(f"{what}: got {got!r}, want {want!r}")


def check_update(path):
    u = geyser_pb2.SubscribeUpdate()
    u.ParseFromString(open(path, "rb").read())
    expect("filters", list(u.filters), ["txs"])
    expect("oneof", u.WhichOneof("update_oneof"), "transaction")
    expect("created_at", (u.created_at.seconds, u.created_at.nanos), (1700000000, 5))
    expect("slot", u.transaction.slot, 300000001)
    info = u.transaction.transaction
    expect("signature", info.signature, b"\x07" * 64)
    expect("is_vote", info.is_vote, False)
    expect("index", info.index, 42)
    expect("signatures", list(info.transaction.signatures), [b"\x07" * 64])
    m = info.transaction.message
    h = m.header
    expect("header", (h.num_required_signatures, h.num_readonly_signed_accounts,
                      h.num_readonly_unsigned_accounts), (1, 0, 1))
    expect("account_keys", list(m.account_keys), [b"\x14" * 32, b"\x15" * 32, b58decode(JUPITER)])
    expect("recent_blockhash", m.recent_blockhash, b"\x99" * 32)
    expect("instructions", [(i.program_id_index, i.accounts, i.data) for i in m.instructions],
           [(2, b"\x00\x01\x03", b"\xe5\x17")])
    expect("versioned", m.versioned, True)
    expect("config", m.HasField("config"), False)
    expect("lookups", [(l.account_key, l.writable_indexes, l.readonly_indexes)
                       for l in m.address_table_lookups], [(b"\x1e" * 32, b"\x04", b"")])
    meta = info.meta
    expect("err", meta.err.err, bytes([8, 0, 0, 0, 0, 25, 0, 0, 0, 0x71, 0x17, 0, 0]))
    expect("fee", meta.fee, 5000)
    expect("pre_balances", list(meta.pre_balances), [10, 20, 1, 30])
    expect("post_balances", list(meta.post_balances), [5, 20, 1, 30])
    expect("log_messages", list(meta.log_messages), ["Program log: hi"])
    expect("log_messages_none", meta.log_messages_none, False)
    expect("inner_instructions_none", meta.inner_instructions_none, True)
    expect("return_data_none", meta.return_data_none, True)
    expect("return_data", meta.HasField("return_data"), False)
    expect("compute_units_consumed", (meta.HasField("compute_units_consumed"),
                                      meta.compute_units_consumed), (True, 1234))
    expect("cost_units", meta.HasField("cost_units"), False)
    expect("loaded_writable", list(meta.loaded_writable_addresses), [b"\x28" * 32])
    expect("loaded_readonly", list(meta.loaded_readonly_addresses), [])
    expect("post_token_balances", len(meta.post_token_balances), 0)
    (b,) = meta.pre_token_balances
    expect("token balance", (b.account_index, b.mint, b.owner, b.program_id),
           (1, USDC, b58encode(b"\x14" * 32), TOKEN))
    a = b.ui_token_amount
    expect("ui_token_amount", (a.ui_amount, a.decimals, a.amount, a.ui_amount_string),
           (1.5, 6, "1500000", "1.5"))


def check_request(path):
    r = geyser_pb2.SubscribeRequest()
    r.ParseFromString(open(path, "rb").read())
    a = r.accounts["usdc"]
    expect("owner", list(a.owner), [TOKEN])
    expect("account", list(a.account), [USDC])
    expect("nonempty_txn_signature", (a.HasField("nonempty_txn_signature"),
                                      a.nonempty_txn_signature), (True, False))
    f = a.filters
    expect("filter kinds", [x.WhichOneof("filter") for x in f],
           ["memcmp", "datasize", "token_account_state", "lamports"])
    expect("memcmp", (f[0].memcmp.offset, f[0].memcmp.WhichOneof("data"), f[0].memcmp.base58),
           (32, "base58", USDC))
    expect("datasize", f[1].datasize, 165)
    expect("token_account_state", f[2].token_account_state, True)
    expect("lamports", (f[3].lamports.WhichOneof("cmp"), f[3].lamports.gt), ("gt", 2039280))
    t = r.transactions["swaps"]
    expect("vote", (t.HasField("vote"), t.vote), (True, False))
    expect("failed", t.HasField("failed"), False)
    expect("account_include", list(t.account_include), [JUPITER])
    expect("account_required", list(t.account_required), [USDC])
    expect("token_accounts", t.token_accounts, geyser_pb2.BALANCE_CHANGED)
    expect("slots", r.slots["slots"].filter_by_commitment, True)
    expect("blocks_meta", list(r.blocks_meta.keys()), ["meta"])
    expect("entry", list(r.entry.keys()), ["entries"])
    expect("commitment", (r.HasField("commitment"), r.commitment), (True, geyser_pb2.CONFIRMED))
    expect("data slices", [(s.offset, s.length) for s in r.accounts_data_slice], [(0, 40)])
    expect("ping", r.ping.id, 7)
    expect("from_slot", r.from_slot, 299999000)


def write_update(path):
    u = geyser_pb2.SubscribeUpdate()
    u.filters.extend(["a", "b"])
    u.account.slot = 250000000
    u.account.is_startup = True
    acc = u.account.account
    acc.pubkey = b"\x01" * 32
    acc.owner = b"\x02" * 32
    acc.lamports = 2039280
    acc.executable = True
    acc.rent_epoch = 2**64 - 1
    acc.data = b"\x00\x01\xff"
    acc.write_version = 987654321012
    acc.txn_signature = b"\x09" * 64
    u.created_at.seconds = 1700000001
    open(path, "wb").write(u.SerializeToString())


def write_request(path):
    r = geyser_pb2.SubscribeRequest()
    r.slots["s"].interslot_updates = False  # present, and false
    r.transactions_status["st"].failed = True
    r.transactions_status["st"].signature = "5sig"
    m = r.accounts["m"]
    m.filters.add().memcmp.bytes = b"\x06\xdd"
    m.filters.add().lamports.ne = 0  # a oneof set to its default is still set
    r.commitment = geyser_pb2.FINALIZED
    r.blocks["b"].include_transactions = True
    open(path, "wb").write(r.SerializeToString())


def check_service():
    service = geyser_pb2.DESCRIPTOR.services_by_name["Geyser"]
    expect("service", service.full_name, "geyser.Geyser")
    expect("methods", sorted(service.methods_by_name), sorted([
        "Subscribe", "SubscribeDeshred", "SubscribeReplayInfo", "Ping", "GetLatestBlockhash",
        "GetBlockHeight", "GetSlot", "IsBlockhashValid", "GetVersion"]))
    channel = grpc.insecure_channel("127.0.0.1:1")  # never connected: stubs are lazy
    stub = geyser_pb2_grpc.GeyserStub(channel)
    expect("Subscribe is bidirectional",
           isinstance(stub.Subscribe, grpc.StreamStreamMultiCallable), True)
    expect("GetSlot is unary", isinstance(stub.GetSlot, grpc.UnaryUnaryMultiCallable), True)
    expect("servicer", hasattr(geyser_pb2_grpc, "add_GeyserServicer_to_server"), True)
    channel.close()


def main():
    _, _, cpp_update, cpp_request, py_update, py_request = sys.argv
    check_update(cpp_update)
    check_request(cpp_request)
    write_update(py_update)
    write_request(py_request)
    check_service()
    print("proto interop: python side ok")


if __name__ == "__main__":
    main()
