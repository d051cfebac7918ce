// HttpServer: accept loop and one coroutine per scraper, on the metrics thread.
#include "metrics/http_server.h"

#include <thread>
#include <utility>  // before Boost.Asio in C++20
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>  // async_read_header
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "metrics/prometheus.h"

namespace qlaster::metrics {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

absl::StatusOr<tcp::endpoint> ParseEndpoint(const std::string& address) {
  const size_t colon = address.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics_address: '", address, "' is not HOST:PORT (such as 127.0.0.1:9464)"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  error_code ec;
  const asio::ip::address ip = asio::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics_address: '", host, "' is not an IP address (such as 127.0.0.1 or [::1])"));
  }
  return tcp::endpoint(ip, static_cast<uint16_t>(port));
}

}  // namespace

struct HttpServer::Impl {
  Impl(Render r, HttpIdentity id) : render(std::move(r)), identity(std::move(id)), acceptor(io) {}

  awaitable<void> AcceptLoop();
  awaitable<void> Serve(tcp::socket socket);
  http::response<http::string_body> Answer(const http::request<http::empty_body>& req);

  Render render;
  HttpIdentity identity;
  asio::io_context io;
  tcp::acceptor acceptor;
  int active = 0;  // scrapers connected (metrics thread only)
  std::string bound;  // address(), set before the thread starts
  std::thread thread;
};

awaitable<void> HttpServer::Impl::AcceptLoop() {
  for (;;) {
    error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted) break;
    if (ec) {
      QLASTER_LOG_RATE_LIMITED(kWarning, "metrics: accept: %s", ec.message());
      continue;
    }
    if (active >= kMaxConnections) {
      QLASTER_LOG_RATE_LIMITED(kWarning, "metrics: refusing a scraper: %d already connected",
                               active);
      socket.close(ec);
      continue;
    }
    ++active;
    asio::co_spawn(io, Serve(std::move(socket)), asio::detached);
  }
}

http::response<http::string_body> HttpServer::Impl::Answer(
    const http::request<http::empty_body>& req) {
  http::response<http::string_body> res;
  res.version(req.version());
  res.keep_alive(req.keep_alive());
  res.set(http::field::server, identity.server);
  absl::string_view target(req.target().data(), req.target().size());
  target = target.substr(0, target.find('?'));
  if (target != "/metrics") {
    res.result(http::status::not_found);
    res.set(http::field::content_type, "text/plain");
    res.body() = absl::StrCat(identity.server, " serves its metrics at /metrics\n");
  } else if (req.method() != http::verb::get) {
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, "GET");
  } else if (std::optional<std::string> body = render(); !body.has_value()) {
    res.result(http::status::service_unavailable);
    res.set(http::field::content_type, "text/plain");
    res.body() = identity.unavailable;
  } else {
    res.result(http::status::ok);
    res.set(http::field::content_type, kPrometheusContentType);
    res.body() = *std::move(body);
  }
  res.prepare_payload();
  return res;
}

awaitable<void> HttpServer::Impl::Serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer(16 * 1024);  // at most this much of a request at once
  for (;;) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8 * 1024);
    stream.expires_after(std::chrono::seconds(kRequestTimeoutSeconds));
    error_code ec;
    // The header only: a request with a body (there is nothing to post here) is answered
    // and the connection closed, its body never read.
    co_await http::async_read_header(stream, buffer, parser,
                                     asio::redirect_error(use_awaitable, ec));
    if (ec) break;  // closed, timed out, or not HTTP: nothing to answer
    const bool has_body = parser.chunked() || parser.content_length().value_or(0) > 0;
    http::response<http::string_body> res = Answer(parser.get());
    if (has_body) {
      res.keep_alive(false);
      res.prepare_payload();
    }
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    if (ec || !res.keep_alive()) break;
  }
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  --active;
}

HttpServer::HttpServer() = default;

HttpServer::~HttpServer() {
  if (impl_ == nullptr) return;
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

absl::Status HttpServer::CheckAddress(const std::string& address) {
  return ParseEndpoint(address).status();
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& address,
                                                              Render render,
                                                              HttpIdentity identity) {
  absl::StatusOr<tcp::endpoint> endpoint = ParseEndpoint(address);
  if (!endpoint.ok()) return endpoint.status();
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->impl_ = std::make_unique<Impl>(std::move(render), std::move(identity));
  Impl& s = *server->impl_;
  error_code ec;
  s.acceptor.open(endpoint->protocol(), ec);
  if (!ec) s.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(*endpoint, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("metrics endpoint ", address, ": ", ec.message()));
  }
  const tcp::endpoint local = s.acceptor.local_endpoint(ec);
  const std::string host = local.address().to_string();
  s.bound = local.address().is_v6() ? absl::StrCat("[", host, "]:", local.port())
                                    : absl::StrCat(host, ":", local.port());
  asio::co_spawn(s.io, s.AcceptLoop(), asio::detached);
  s.thread = std::thread([&s] { s.io.run(); });
  return server;
}

std::string HttpServer::address() const { return impl_->bound; }

}  // namespace qlaster::metrics
