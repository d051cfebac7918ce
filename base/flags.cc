// ParseFlags, UsageError and the logging flags. See flags.h.
//
// Abseil 20220623 reports a command-line error by writing "ERROR: ..." to std::cerr and
// then calling std::exit(1) from inside its parser, with no way to ask for anything
// else. So while it parses, std::cerr goes into a buffer, and an atexit handler that
// finds the parse still running turns the buffer into one line and exits kExitUsage
// instead. The help and version requests are handled here, after a successful parse,
// with Abseil's own printer (flags_internal::HandleUsageFlags) and exit 0.
#include "base/flags.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string_view>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/flags/internal/parse.h"
#include "absl/flags/internal/usage.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/log.h"

// Flag types for --log_level and --log_format (Abseil finds these by ADL).
namespace qlaster::log {

bool AbslParseFlag(absl::string_view text, Level* level, std::string* error) {
  absl::StatusOr<Level> parsed = ParseLevel(std::string_view(text.data(), text.size()));
  if (!parsed.ok()) {
    *error = std::string(parsed.status().message());
    return false;
  }
  *level = *parsed;
  return true;
}

std::string AbslUnparseFlag(Level level) { return LevelName(level); }

bool AbslParseFlag(absl::string_view text, Format* format, std::string* error) {
  absl::StatusOr<Format> parsed = ParseFormat(std::string_view(text.data(), text.size()));
  if (!parsed.ok()) {
    *error = std::string(parsed.status().message());
    return false;
  }
  *format = *parsed;
  return true;
}

std::string AbslUnparseFlag(Format format) { return format == Format::kJson ? "json" : "human"; }

}  // namespace qlaster::log

ABSL_FLAG(qlaster::log::Level, log_level, qlaster::log::Level::kInfo,
          "least severe log lines written: debug, info, warning or error");
ABSL_FLAG(qlaster::log::Format, log_format, qlaster::log::Format::kHuman,
          "log lines on stderr: human (time, level letter, program, message) or json (one "
          "object per line)");

namespace qlaster {
namespace {

constexpr absl::string_view kSourceDir = QLASTER_SOURCE_DIR "/";

std::string& ProgramNameStorage() {
  static std::string* name = new std::string("qlaster");
  return *name;
}

// Flags are registered with __FILE__, an absolute path in this build. Help shows them
// relative to the source tree ("sender/main.cc"); other files lose a leading "./" or "/",
// as Abseil's default does.
std::string NormalizeFilename(absl::string_view file) {
  if (absl::ConsumePrefix(&file, kSourceDir)) return std::string(file);
  while (absl::ConsumePrefix(&file, "./") || absl::ConsumePrefix(&file, "/")) {
  }
  return std::string(file);
}

// The flags --help shows: those of the project's own files (the binary's, and this
// file's), not Abseil's (--flagfile, --fromenv, ..., which --helpfull lists). Receives
// a name NormalizeFilename made.
bool IsProjectFile(absl::string_view normalized) {
  return !absl::StartsWith(normalized, "absl/") && !absl::StartsWith(normalized, "/") &&
         !absl::StrContains(normalized, "/absl/");
}

// What an atexit handler needs to turn Abseil's exit during parsing into exit 64. Lives
// forever (never destroyed), so that it is still there when exit handlers run.
struct ParseState {
  std::ostringstream captured;  // std::cerr while Abseil parses
  std::streambuf* saved_cerr = nullptr;
  bool parsing = false;
};

ParseState& State() {
  static ParseState* state = new ParseState();
  return *state;
}

// "Unknown command line flag 'x'" from Abseil's "ERROR: ..." lines, and how many more.
std::string DescribeErrors(const std::string& captured) {
  std::string first;
  int more = 0;
  for (absl::string_view line : absl::StrSplit(captured, '\n', absl::SkipEmpty())) {
    if (!absl::ConsumePrefix(&line, "ERROR: ")) continue;
    if (first.empty()) {
      first = std::string(line);
    } else {
      ++more;
    }
  }
  if (first.empty()) first = "the command line is not valid";
  if (more == 0) return absl::StrCat(first, " (see --help)");
  return absl::StrCat(first, " (and ", more, more == 1 ? " more error" : " more errors",
                      "; see --help)");
}

void WriteStderrLine(const std::string& line) {
  std::string out = absl::StrCat(ProgramNameStorage(), ": ", line, "\n");
  // One write: a line is never interleaved with another process's output on a shared
  // terminal or journal stream.
  (void)!::write(STDERR_FILENO, out.data(), out.size());
}

void ExitIfParseFailed() {
  ParseState& state = State();
  if (!state.parsing) return;
  state.parsing = false;
  std::cerr.rdbuf(state.saved_cerr);
  std::cout.flush();  // help text Abseil printed along with the errors
  std::fflush(stdout);
  WriteStderrLine(DescribeErrors(state.captured.str()));
  ::_exit(kExitUsage);
}

}  // namespace

const std::string& ProgramName() { return ProgramNameStorage(); }

// A list flag (std::vector<std::string>) given more than once keeps every value:
// `--to A --to B` is `--to=A,B`, as people write repeated flags. Abseil alone keeps the
// last. The gathered flag takes the place of its first occurrence.
std::vector<std::string> GatherListFlags(int argc, char** argv) {
  std::vector<std::string> out;
  std::map<std::string, size_t> first;  // flag name -> its index in `out`
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i] == nullptr ? "" : argv[i];
    if (i == 0 || arg.size() < 2 || arg[0] != '-' || arg == "--") {
      out.push_back(arg);
      if (arg == "--") {
        for (++i; i < argc; ++i) out.push_back(argv[i]);
      }
      continue;
    }
    const size_t dashes = arg[1] == '-' ? 2 : 1;
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(dashes, eq == std::string::npos ? std::string::npos : eq - dashes);
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr || !flag->IsOfType<std::vector<std::string>>() ||
        (eq == std::string::npos && i + 1 >= argc)) {
      out.push_back(arg);
      continue;
    }
    const std::string value = eq != std::string::npos ? arg.substr(eq + 1) : std::string(argv[++i]);
    auto [it, inserted] = first.try_emplace(name, out.size());
    if (inserted) {
      out.push_back("--" + name + "=" + value);
    } else if (!value.empty()) {
      std::string& gathered = out[it->second];
      if (gathered.back() != '=') gathered += ',';
      gathered += value;
    }
  }
  return out;
}

std::vector<char*> ParseFlags(int argc, char** argv, absl::string_view usage) {
  if (argc > 0 && argv[0] != nullptr) {
    absl::string_view name = argv[0];
    if (size_t slash = name.rfind('/'); slash != absl::string_view::npos) {
      name.remove_prefix(slash + 1);
    }
    if (!name.empty()) ProgramNameStorage() = std::string(name);
  }

  absl::FlagsUsageConfig config;
  config.contains_help_flags = IsProjectFile;
  config.contains_helpshort_flags = IsProjectFile;
  config.contains_helppackage_flags = IsProjectFile;
  config.normalize_filename = NormalizeFilename;
  config.version_string = [] { return absl::StrCat(ProgramNameStorage(), " " QLASTER_VERSION "\n"); };
  absl::SetFlagsUsageConfig(std::move(config));
  absl::SetProgramUsageMessage(absl::StrCat(
      usage,
      "\n\nFlags also come from files: --flagfile=FILE reads one --flag=value per line "
      "(lines starting with # are comments); a later flag overrides an earlier one. "
      "--helpfull lists every flag, Abseil's own too."));

  ParseState& state = State();
  static const bool registered = std::atexit(&ExitIfParseFailed) == 0;
  (void)registered;
  state.saved_cerr = std::cerr.rdbuf(state.captured.rdbuf());
  state.parsing = true;
  // Abseil keeps pointers into argv in what it returns: the rewritten arguments live on.
  static std::vector<std::string>* gathered = new std::vector<std::string>();
  *gathered = GatherListFlags(argc, argv);
  static std::vector<char*>* gathered_argv = new std::vector<char*>();
  gathered_argv->clear();
  for (std::string& a : *gathered) gathered_argv->push_back(a.data());
  gathered_argv->push_back(nullptr);
  std::vector<char*> positional = absl::flags_internal::ParseCommandLineImpl(
      static_cast<int>(gathered->size()), gathered_argv->data(), absl::flags_internal::ArgvListAction::kRemoveParsedArgs,
      absl::flags_internal::UsageFlagsAction::kIgnoreUsage,
      absl::flags_internal::OnUndefinedFlag::kAbortIfUndefined);
  state.parsing = false;
  std::cerr.rdbuf(state.saved_cerr);
  // Warnings of a successful parse, if any, go where they were meant to.
  if (const std::string rest = state.captured.str(); !rest.empty()) std::cerr << rest;

  // --help and friends, --version, --only_check_args: after a successful parse, so that
  // `--help --bogus` still reports --bogus. Abseil's handler returns 1 for help; a help
  // request that was answered is a success.
  if (absl::flags_internal::HandleUsageFlags(std::cout, absl::ProgramUsageMessage()) != -1) {
    std::cout.flush();
    std::exit(0);
  }

  log::Configure(log::Options{.program = ProgramNameStorage(),
                              .min_level = absl::GetFlag(FLAGS_log_level),
                              .format = absl::GetFlag(FLAGS_log_format),
                              .fd = STDERR_FILENO});
  return positional;
}

int UsageError(absl::string_view message) {
  WriteStderrLine(std::string(message));
  return kExitUsage;
}

}  // namespace qlaster
