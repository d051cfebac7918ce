// Command lines, the same way in every qlaster binary: one call at the top of main.
//
//   int main(int argc, char** argv) {
//     std::vector<char*> args = qlaster::ParseFlags(argc, argv, "fans updates out ...");
//     if (args.size() > 1) return qlaster::UsageError("unexpected argument ...");
//     if (GetFlag(FLAGS_x) < 0) return qlaster::UsageError("--x must be >= 0");
//
// What the binary then does on its own:
//   --help, --helpshort, --helppackage   its usage line and the flags defined in this
//                                        project's source files, with their defaults
//   --helpfull                           every flag, Abseil's own (--flagfile, ...) too
//   --version                            "PROGRAM VERSION"
//   --flagfile=FILE                      reads flags from FILE, one per line (how the
//                                        systemd units are configured)
//   --log_format=human|json, --log_level=debug|info|warning|error   for base/log.h
// The help and version requests exit 0. An unknown flag, a bad or missing value, an
// unreadable --flagfile: one line on stderr, "PROGRAM: WHAT (see --help)", and exit 64
// (kExitUsage).
//
// Abseil 20220623 itself would print "No flags matched" for --help (it keeps only the
// flags of a file named after the binary), and exit 1 for every error after one
// "ERROR: ..." line per error; ParseFlags replaces both behaviours.
#ifndef QLASTER_BASE_FLAGS_H_
#define QLASTER_BASE_FLAGS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace qlaster {

// sysexits.h EX_USAGE: the command line was wrong; nothing was started.
inline constexpr int kExitUsage = 64;

// Parses argv as described above and configures logging (log::Configure, with the
// basename of argv[0] as the program name). Returns what absl::ParseCommandLine returns:
// argv[0], then the positional arguments.
// Exits the process (0 or kExitUsage) for the help and version requests and for errors.
// REQUIRES: called once, at the start of main, before any other thread starts.
std::vector<char*> ParseFlags(int argc, char** argv, absl::string_view usage);

// Prints "PROGRAM: MESSAGE" on stderr and returns kExitUsage, for a value that parsed
// but cannot be used ("--max_consumers must be in [1, 1024]"). PROGRAM is the name
// ParseFlags saw ("qlaster" before it ran).
int UsageError(absl::string_view message);

// The basename of argv[0] as ParseFlags saw it ("qlaster" before it ran).
const std::string& ProgramName();

}  // namespace qlaster

#endif  // QLASTER_BASE_FLAGS_H_
