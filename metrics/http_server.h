// HttpServer: a small HTTP/1.1 server (Boost.Beast) for Prometheus to scrape: GET
// /metrics answers with the text `render` returns; anything else is 404 or 405. The one
// implementation behind every qlaster daemon's --metrics_address (qlaster-sender,
// qlaster-grpc).
//
// Threads: the server runs on a thread of its own, with its own io_context, so a scrape
// never waits for the control plane's event loop to be free of other work and never
// touches the dispatch thread. `render` is called on that thread, once per scrape.
//
// Abuse: at most kMaxConnections scrapers at once (more are closed at accept), each
// request must arrive within kRequestTimeout, headers are limited to 8 KiB and bodies are
// not accepted.
#ifndef QLASTER_METRICS_HTTP_SERVER_H_
#define QLASTER_METRICS_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace qlaster::metrics {

// What the server says about the daemon it serves.
struct HttpIdentity {
  std::string server = "qlaster";  // the Server header, and the 404 text names it
  std::string unavailable = "the daemon did not answer in time\n";  // a 503's body
};

class HttpServer {
 public:
  // The body of a 200 answer, or nullopt for a 503 (the data could not be had in time).
  using Render = std::function<std::optional<std::string>()>;

  // Binds `address` ("HOST:PORT": an IPv4 address, or an IPv6 one in brackets; port 0
  // picks a free one) and starts serving. kInvalidArgument for an address that does not
  // parse, kUnavailable if it cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& address,
                                                            Render render,
                                                            HttpIdentity identity = {});

  // Start's kInvalidArgument check alone, binding nothing.
  static absl::Status CheckAddress(const std::string& address);

  // Stops serving and joins the thread.
  ~HttpServer();

  // The bound address, "HOST:PORT" (with the port chosen when 0 was asked for).
  std::string address() const;

  static constexpr int kMaxConnections = 8;
  static constexpr int kRequestTimeoutSeconds = 10;

 private:
  HttpServer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qlaster::metrics

#endif  // QLASTER_METRICS_HTTP_SERVER_H_
