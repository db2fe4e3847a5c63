// BatchedFdSink: every line arrives whole and in order from any number of
// threads, a line logged at rest is written before log() returns, and a
// reader that stops reading holds back at most the pending bound.
#include "signet/log/batched_fd_sink.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "signet/log/json_log.h"
#include "support/paths.h"
#include "support/process.h"

namespace signet::log {
namespace {

using signet::testing::ReadFile;
using signet::testing::TempDir;

// A logger on a BatchedFdSink that writes to `fd`, lines as given ("%v").
std::shared_ptr<spdlog::logger> LoggerOn(const std::shared_ptr<BatchedFdSink>& sink) {
  sink->set_pattern("%v");
  auto logger = std::make_shared<spdlog::logger>("batched-test", sink);
  logger->set_level(spdlog::level::info);
  return logger;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A sink and its logger on a new file.
class BatchedFdSinkFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path = dir_.File("log");
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd_, 0);
    sink = std::make_shared<BatchedFdSink>(fd_);
    logger = LoggerOn(sink);
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
  }

  TempDir dir_;
  int fd_ = -1;
  std::string path;
  std::shared_ptr<BatchedFdSink> sink;
  std::shared_ptr<spdlog::logger> logger;
};

TEST_F(BatchedFdSinkFileTest, ALineLoggedAtRestIsWrittenBeforeLogReturns) {
  logger->info("first line");
  EXPECT_EQ(ReadFile(path), "first line\n");  // no flush() between
  logger->warn("second {}", 2);
  EXPECT_EQ(ReadFile(path), "first line\nsecond 2\n");
  EXPECT_EQ(sink->batches(), 2u);
  // Below the logger's level: nothing is written.
  logger->debug("hidden");
  EXPECT_EQ(ReadFile(path), "first line\nsecond 2\n");
}

TEST_F(BatchedFdSinkFileTest, LinesFromManyThreadsArriveWholeAndInEachThreadsOrder) {
  constexpr int kThreads = 8;
  constexpr int kLines = 3000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < kLines; ++i) {
        // Lengths vary, so that lines straddle batch boundaries.
        logger->info("t{} n{} {}", t, i, std::string(static_cast<std::size_t>(i % 97), 'x'));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  sink->flush();
  const std::vector<std::string> lines = SplitLines(ReadFile(path));
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kThreads * kLines));
  const std::regex shape(R"(t(\d+) n(\d+) (x*))");
  std::map<int, int> next;  // thread -> the line number it must log next
  for (const std::string& line : lines) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, shape)) << line;
    const int t = std::stoi(m[1]);
    const int i = std::stoi(m[2]);
    ASSERT_EQ(i, next[t]) << "thread " << t << " out of order: " << line;
    ASSERT_EQ(m[3].length(), static_cast<std::size_t>(i % 97)) << line;
    next[t] = i + 1;
  }
  ASSERT_EQ(next.size(), static_cast<std::size_t>(kThreads));
  for (const auto& [thread, count] : next) EXPECT_EQ(count, kLines) << "thread " << thread;
  // Never more writes than lines; how many lines shared one depends on timing.
  EXPECT_LE(sink->batches(), static_cast<std::uint64_t>(kThreads * kLines));
  EXPECT_GE(sink->batches(), 1u);
}

// Waits (up to 2 s) until the pipe's read end holds bytes, i.e. a write(2)
// into it has begun.
void WaitUntilPipeHoldsBytes(int read_fd) {
  for (int i = 0; i < 2000; ++i) {
    int queued = 0;
    ASSERT_EQ(::ioctl(read_fd, FIONREAD, &queued), 0);
    if (queued > 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  FAIL() << "nothing was written into the pipe";
}

std::string ReadAll(int read_fd) {
  std::string received;
  char buffer[65536];
  for (ssize_t n; (n = ::read(read_fd, buffer, sizeof(buffer))) > 0;) received.append(buffer, n);
  return received;
}

// A line logged while another thread writes returns at once, and that
// writer writes it after its own, with no later call to the sink.
TEST(BatchedFdSinkTest, TheWriterAlsoWritesWhatArrivedDuringItsWrite) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  auto sink = std::make_shared<BatchedFdSink>(pipe_fds[1]);
  auto logger = LoggerOn(sink);
  const std::string big(1 << 20, 'b');
  std::thread writer([&] { logger->info("{}", big); });
  WaitUntilPipeHoldsBytes(pipe_fds[0]);
  logger->info("during");  // returns while the writer is still blocked
  std::string received;
  std::thread reader([&] { received = ReadAll(pipe_fds[0]); });
  writer.join();
  ::close(pipe_fds[1]);
  reader.join();
  ::close(pipe_fds[0]);
  EXPECT_EQ(received, big + "\nduring\n");
  EXPECT_EQ(sink->batches(), 2u);
}

// A pipe nobody reads: the writer blocks in write(2) with a line bigger than
// the pipe, and other threads' lines stop being taken once the pending bound
// is reached, until the reader reads; then everything arrives.
TEST(BatchedFdSinkTest, AStalledReaderHoldsBackAtMostTheBound) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  constexpr std::size_t kBound = 4096;
  auto sink = std::make_shared<BatchedFdSink>(pipe_fds[1], kBound);
  auto logger = LoggerOn(sink);
  const std::string big(1 << 20, 'b');  // far more than a pipe holds
  std::thread writer([&] { logger->info("{}", big); });

  WaitUntilPipeHoldsBytes(pipe_fds[0]);
  constexpr int kSmall = 1000;  // 1000 lines of 100 bytes: far beyond the bound
  std::atomic<int> logged{0};
  std::thread other([&] {
    for (int i = 0; i < kSmall; ++i) {
      logger->info("{}", std::string(99, 's'));
      logged.fetch_add(1);
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // Held back: at most the bound (plus the line that crossed it) was taken.
  EXPECT_LE(logged.load(), static_cast<int>(kBound / 100) + 1);
  EXPECT_LT(logged.load(), kSmall);

  // The reader reads: both threads finish and every byte arrives.
  std::string received;
  std::thread reader([&] { received = ReadAll(pipe_fds[0]); });
  writer.join();
  other.join();
  sink->flush();
  ::close(pipe_fds[1]);
  reader.join();
  ::close(pipe_fds[0]);
  EXPECT_EQ(logged.load(), kSmall);
  const std::vector<std::string> lines = SplitLines(received);
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kSmall + 1));
  EXPECT_EQ(lines[0], big);
  for (std::size_t i = 1; i < lines.size(); ++i) ASSERT_EQ(lines[i], std::string(99, 's'));
}

}  // namespace
}  // namespace signet::log
