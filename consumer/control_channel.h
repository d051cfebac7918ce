// ControlChannel: the consumer's side of the sender's control socket. The handshake
// (Hello -> Ready with the ring and doorbell fds), subscription requests and their
// acknowledgements, and everything the sender says unasked: Ping (answered), Evicted and
// Error (which say why it is going away), EOF.
//
// Every control message is interpreted in one place (Handle), and the one ordering rule
// is kept in one place (Pump): messages that arrived before an EOF are handled before the
// EOF is recorded, since an Evicted or Error says more than the closed connection does.
// Once the sender is gone, gone() holds the reason (kUnavailable, or kDataLoss for a
// malformed message) and nothing more is written to the socket.
//
// Never blocks except in Connect and Request, which wait up to their deadline.
// Thread-compatible: one thread at a time.
#ifndef QLASTER_CONSUMER_CONTROL_CHANNEL_H_
#define QLASTER_CONSUMER_CONTROL_CHANNEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"
#include "wire/control_framing.h"

namespace qlaster::consumer {

class ControlChannel {
 public:
  // What a completed handshake gives: the channel, the sender's Ready, and the two fds
  // that came with it.
  struct Handshake;

  // Connects to the sender at `path`, sends `hello`, and waits (until `deadline`) for
  // Ready and its two fds, answering pings meanwhile. Errors: kUnavailable when nobody
  // listens there or the sender closes the connection; kDeadlineExceeded; the sender's
  // Error (kFailedPrecondition for another protocol version, kResourceExhausted when it
  // is full, kPermissionDenied); kDataLoss for a malformed handshake; kInvalidArgument
  // for a path that cannot be a socket path.
  static absl::StatusOr<Handshake> Connect(const std::string& path, const HelloMsg& hello,
                                           absl::Time deadline);

  ControlChannel() = default;
  ControlChannel(ControlChannel&&) = default;
  ControlChannel& operator=(ControlChannel&&) = default;

  // Reads what the socket holds, without blocking, and handles it.
  void Service();

  // Sends `msg` (its request_id must be fresh) and waits until the sender acknowledges
  // it, refuses it (its Error as a status), goes away (gone()), or `deadline` passes
  // (kDeadlineExceeded), handling everything else that arrives meanwhile.
  absl::StatusOr<SubscribeAckMsg> Request(const SubscribeMsg& msg, absl::Time deadline);

  // OK while the sender is there; then why it is gone.
  const absl::Status& gone() const { return gone_; }
  bool open() const { return gone_.ok(); }
  int fd() const { return sock_.get(); }

 private:
  explicit ControlChannel(UniqueFd sock, ControlFrameReader reader)
      : sock_(std::move(sock)), reader_(std::move(reader)) {}

  // Reads once; handles every complete message; on EOF or a read error, handles what was
  // buffered first and then marks the sender gone. Returns whether bytes arrived.
  bool Pump();
  // Handles every complete message the reader holds.
  void HandleBuffered();
  // The one place where a message from the sender is interpreted.
  void Handle(const ControlMsg& msg);
  void Send(const std::vector<uint8_t>& frame);
  // Records the first reason the sender is gone; later ones are ignored.
  void Gone(absl::Status why);

  UniqueFd sock_;
  ControlFrameReader reader_;
  std::vector<uint8_t> chunk_ = std::vector<uint8_t>(64 * 1024);
  absl::Status gone_;
  bool eof_ = false;              // no more writes
  bool send_failed_ = false;  // a write failed: the connection is going
  std::string last_sender_error_;  // an Error outside a request: said before closing
  // The request Request() waits for, and its answer once it came.
  std::optional<uint64_t> awaited_;
  std::optional<absl::StatusOr<SubscribeAckMsg>> answer_;
};

struct ControlChannel::Handshake {
  ControlChannel channel;
  ReadyMsg ready;
  UniqueFd ring;
  UniqueFd doorbell;
};

}  // namespace qlaster::consumer

#endif  // QLASTER_CONSUMER_CONTROL_CHANNEL_H_
