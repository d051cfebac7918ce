// Fuzzes the sender's control plane: arbitrary bytes from a connected client go through
// the real ControlServer (framing, verification, handshake, subscriptions, stats) on a
// socketpair. The sender must answer or hang up, never crash, leak or hang.
#include <sys/socket.h>
#include <unistd.h>

#include <utility>  // before Boost.Asio in C++20
#include <boost/asio/io_context.hpp>

#include "sender/control_server.h"

using namespace qlaster;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static shm::EventFd notify = *shm::EventFd::Create();
  static sender::Dispatcher dispatcher(&notify);

  boost::asio::io_context io;
  sender::ControlOptions options;
  options.default_ring_bytes = 4096;
  options.max_ring_bytes = 65536;
  options.verbose = false;
  sender::ControlServer server(io, dispatcher, notify, options);
  server.Start();

  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0) return 0;
  server.Adopt(fds[0]);
  UniqueFd client(fds[1]);

  size_t sent = 0;
  bool hung_up = false;
  uint8_t sink[65536];
  for (int round = 0; round < 20000 && server.session_count() > 0; ++round) {
    if (sent < size) {
      ssize_t n = ::send(client.get(), data + sent, size - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN) sent = size;
    } else if (!hung_up) {
      ::shutdown(client.get(), SHUT_WR);
      hung_up = true;
    }
    // Drain replies (read() also disposes of passed fds) so the server never blocks.
    while (::read(client.get(), sink, sizeof(sink)) > 0) {
    }
    io.poll();
    dispatcher.Poll();  // this thread is also the dispatch thread
  }
  client.Reset();
  server.Shutdown();
  io.run();
  dispatcher.Poll();
  return 0;
}
