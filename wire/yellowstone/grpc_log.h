// gRPC's own log lines (connection failures, TLS errors, its internal warnings) written
// through base/log.h, so that a program that uses gRPC logs in one format: the
// --log_format and --log_level its operator chose, rate-limited like every other line.
// Without this gRPC writes its own format to stderr ("E1203 14:08:46.123 ... file.cc:42]").
#ifndef QLASTER_WIRE_YELLOWSTONE_GRPC_LOG_H_
#define QLASTER_WIRE_YELLOWSTONE_GRPC_LOG_H_

namespace qlaster::yellowstone {

// Installs the route (gpr_set_log_function) and sets gRPC's verbosity from the log's level
// (overriding GRPC_VERBOSITY). Call once, after log::Configure and before the first gRPC
// object is made. gRPC's debug and info lines (its internals:
// subchannel states, experiments) reach the log only at --log_level=debug; its errors are
// logged as warnings (a peer that went away is gRPC's error, not the program's), each
// prefixed "grpc: " and its source file.
void RouteGrpcLogs();

}  // namespace qlaster::yellowstone

#endif  // QLASTER_WIRE_YELLOWSTONE_GRPC_LOG_H_
