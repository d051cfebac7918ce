// E2eBot: one qlaster_e2e_consumer process (tests/e2e_consumer_main.cc) started by an
// end-to-end test, with its event log. StartE2eBot returns once the bot has said READY, so
// its subscription is in force before the test publishes anything.
#ifndef QLASTER_TESTS_E2E_BOT_H_
#define QLASTER_TESTS_E2E_BOT_H_

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "base/unique_fd.h"
#include "base/process.h"

namespace qlaster::testing {

struct E2eBot {
  std::unique_ptr<ChildProcess> process;
  std::string out;               // the event log
  UniqueFd stdin_write;          // held open for --wait_for_stdin_eof
  uint64_t effective_sequence = 0;

  // The log's lines, or only those of one kind ('A', 'T', 'S', 'G', 'D', 'R').
  std::vector<std::string> Lines(char kind = 0) const {
    std::ifstream in(out);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
      if (kind == 0 || (!line.empty() && line[0] == kind)) lines.push_back(line);
    }
    return lines;
  }
};

// Starts `binary` (qlaster_e2e_consumer) against `socket`, logging to DIR/NAME.log, and
// waits up to 20 s for its READY line. With `hold_stdin`, the bot reads nothing until
// the returned stdin_write is closed.
inline E2eBot StartE2eBot(const std::string& binary, const std::string& socket,
                          const std::string& dir, const std::string& name,
                          const std::vector<std::string>& args, bool hold_stdin = false) {
  E2eBot bot;
  bot.out = dir + "/" + name + ".log";
  int out_pipe[2], in_pipe[2];
  EXPECT_EQ(::pipe2(out_pipe, O_CLOEXEC), 0);
  EXPECT_EQ(::pipe2(in_pipe, O_CLOEXEC), 0);
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]), in_read(in_pipe[0]);
  bot.stdin_write.Reset(in_pipe[1]);
  std::vector<std::string> argv = {binary, "--socket=" + socket, "--name=" + name,
                                   "--out=" + bot.out};
  argv.insert(argv.end(), args.begin(), args.end());
  if (hold_stdin) argv.push_back("--wait_for_stdin_eof");
  auto child = ChildProcess::Spawn(argv, {{in_read.get(), 0}, {out_write.get(), 1}});
  EXPECT_TRUE(child.ok()) << child.status();
  if (!child.ok()) return bot;
  bot.process = std::make_unique<ChildProcess>(*std::move(child));
  out_write.Reset();
  std::string line;  // READY <effective_sequence>
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (line.find('\n') == std::string::npos && absl::Now() < deadline) {
    pollfd p{out_read.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[64];
    ssize_t n = ::read(out_read.get(), buf, sizeof(buf));
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(line.rfind("READY ", 0), 0u) << "bot " << name << " said: " << line;
  if (line.size() > 6) bot.effective_sequence = std::strtoull(line.c_str() + 6, nullptr, 10);
  return bot;
}

// Waits (up to 60 s) for the bot to exit, and expects exit 0.
inline void ExpectE2eBotFinished(E2eBot& bot) {
  ASSERT_NE(bot.process, nullptr);
  auto status = bot.process->Wait(absl::Seconds(60));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(DescribeWaitStatus(*status), "exited 0");
}

}  // namespace qlaster::testing

#endif  // QLASTER_TESTS_E2E_BOT_H_
