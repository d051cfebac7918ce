"""A scripted Yellowstone gRPC upstream (geyser.Geyser/Subscribe) in Python grpcio, for the
Yellowstone source's tests and benchmark.

The script, not the server, decides what is sent: every Subscribe stream gets a queue,
and `send(update)` puts a SubscribeUpdate on the newest stream. The server records each
stream's metadata and every SubscribeRequest it receives (from_slot, pings), can refuse
resumes with OUT_OF_RANGE, and checks the x-token when one is required.

Import it with the generated stubs (geyser_pb2, geyser_pb2_grpc) on sys.path; run it
with Debian's /usr/bin/python3 (python3-grpcio).
"""
import queue
import threading
import time
from concurrent import futures

import grpc
import geyser_pb2
import geyser_pb2_grpc
import solana_storage_pb2

_END = object()


class Stamped:
    """An account update whose lamports get the time (CLOCK_REALTIME ns) at which the
    server hands it to gRPC: what the benchmark measures latency from."""

    def __init__(self, update):
        self.update = update


class Stream:
    """One Subscribe call as the script sees it."""

    def __init__(self, metadata):
        self.metadata = metadata
        self.requests = []  # SubscribeRequests, in arrival order
        self.outbox = queue.Queue()
        self.got_request = threading.Condition()
        self.closed = threading.Event()

    def wait_request(self, predicate, timeout=10.0):
        """The first request satisfying predicate, waiting up to timeout seconds."""
        deadline = time.monotonic() + timeout
        with self.got_request:
            while True:
                for r in self.requests:
                    if predicate(r):
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching SubscribeRequest")
                self.got_request.wait(left)


class _Servicer(geyser_pb2_grpc.GeyserServicer):
    def __init__(self, upstream):
        self.up = upstream

    def Subscribe(self, request_iterator, context):
        metadata = dict(context.invocation_metadata())
        if self.up.x_token is not None and metadata.get("x-token") != self.up.x_token:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad x-token")
        first = next(request_iterator, None)
        if first is None:
            return
        if first.HasField("from_slot") and self.up.refuse_from_slot:
            self.up._add_refused(first)
            context.abort(grpc.StatusCode.OUT_OF_RANGE,
                          f"from_slot {first.from_slot} is older than what is kept")
        stream = Stream(metadata)
        stream.requests.append(first)

        def read_requests():
            try:
                for r in request_iterator:
                    with stream.got_request:
                        stream.requests.append(r)
                        stream.got_request.notify_all()
            except grpc.RpcError:
                pass
            stream.closed.set()
            stream.outbox.put(_END)

        threading.Thread(target=read_requests, daemon=True).start()
        self.up._add_stream(stream)
        context.add_callback(lambda: (stream.closed.set(), stream.outbox.put(_END)))
        while True:
            item = stream.outbox.get()
            if item is _END:
                return
            if isinstance(item, Stamped):
                item.update.account.account.lamports = time.time_ns()
                item = item.update
            yield item


class Upstream:
    def __init__(self, port=0, x_token=None, refuse_from_slot=False):
        self.x_token = x_token
        self.refuse_from_slot = refuse_from_slot
        self.streams = []
        self.refused = []  # first requests refused with OUT_OF_RANGE
        self._cond = threading.Condition()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                                   options=[("grpc.so_reuseport", 0)])
        geyser_pb2_grpc.add_GeyserServicer_to_server(_Servicer(self), self._server)
        self.port = self._server.add_insecure_port(f"127.0.0.1:{port}")
        if self.port == 0:
            raise RuntimeError(f"cannot bind 127.0.0.1:{port}")
        self._server.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _add_stream(self, stream):
        with self._cond:
            self.streams.append(stream)
            self._cond.notify_all()

    def _add_refused(self, request):
        with self._cond:
            self.refused.append(request)
            self._cond.notify_all()

    def wait(self, predicate, timeout=20.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("upstream: condition not reached")
                self._cond.wait(left)

    def wait_stream(self, count=1, timeout=20.0):
        """The count-th stream (1-based), once it is open."""
        self.wait(lambda: len(self.streams) >= count, timeout)
        return self.streams[count - 1]

    def send(self, update, stream=None):
        (stream or self.streams[-1]).outbox.put(update)

    def stop(self):
        for s in self.streams:
            s.outbox.put(_END)
        self._server.stop(0).wait()


# ---- building updates -------------------------------------------------------------

def account(pubkey, owner, lamports, slot, write_version, data, txn_signature=None):
    u = geyser_pb2.SubscribeUpdate()
    u.account.slot = slot
    a = u.account.account
    a.pubkey, a.owner, a.lamports, a.write_version, a.data = (
        pubkey, owner, lamports, write_version, data)
    if txn_signature is not None:
        a.txn_signature = txn_signature
    return u


def slot(number, status=geyser_pb2.SLOT_PROCESSED, parent=None):
    u = geyser_pb2.SubscribeUpdate()
    u.slot.slot = number
    u.slot.status = status
    if parent is not None:
        u.slot.parent = parent
    return u


def ping():
    u = geyser_pb2.SubscribeUpdate()
    u.ping.SetInParent()
    return u


def transaction(confirmed_tx, slot_number, index):
    """A SubscribeUpdateTransaction from a ConfirmedBlock's ConfirmedTransaction."""
    u = geyser_pb2.SubscribeUpdate()
    u.transaction.slot = slot_number
    info = u.transaction.transaction
    info.signature = confirmed_tx.transaction.signatures[0]
    info.transaction.CopyFrom(confirmed_tx.transaction)
    info.meta.CopyFrom(confirmed_tx.meta)
    info.index = index
    return u


def load_block(path):
    block = solana_storage_pb2.ConfirmedBlock()
    with open(path, "rb") as f:
        block.ParseFromString(f.read())
    return block


def _compact_u16(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def wire_bytes(tx):
    """A legacy storage Transaction in Solana's wire format (what qlaster carries)."""
    m = tx.message
    if m.versioned:
        raise ValueError("only legacy transactions here")
    out = bytearray(_compact_u16(len(tx.signatures)))
    for s in tx.signatures:
        out += s
    out += bytes([m.header.num_required_signatures, m.header.num_readonly_signed_accounts,
                  m.header.num_readonly_unsigned_accounts])
    out += _compact_u16(len(m.account_keys))
    for k in m.account_keys:
        out += k
    out += m.recent_blockhash
    out += _compact_u16(len(m.instructions))
    for ix in m.instructions:
        out.append(ix.program_id_index)
        out += _compact_u16(len(ix.accounts)) + ix.accounts
        out += _compact_u16(len(ix.data)) + ix.data
    return bytes(out)
