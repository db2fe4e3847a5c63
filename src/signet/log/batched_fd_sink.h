// BatchedFdSink: the spdlog sink `signet serve` writes its log lines with.
//
// spdlog's stdout sinks write and flush every line under one mutex, so under
// load the I/O threads queue on that mutex for the duration of a write(2)
// each. This sink formats a line under its mutex and appends it to a pending
// buffer; the thread that finds no write in progress becomes the writer and
// writes everything pending with one write(2) per batch, outside the mutex,
// until nothing is left. Lines that arrive during a write go out with the
// next batch, so under load several lines share a write, and at rest every
// line is written before log() returns (no timer, nothing held back).
//
// Lines are whole and in the order log() took them. While a write blocks
// (a reader that stops reading the pipe) at most `max_pending_bytes` wait;
// beyond that log() blocks, as a blocking write would. A write error other
// than EINTR/EAGAIN drops that batch (a log has no one to report to).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <spdlog/formatter.h>
#include <spdlog/sinks/sink.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace signet::log {

class BatchedFdSink final : public spdlog::sinks::sink {
 public:
  static constexpr std::size_t kDefaultMaxPendingBytes = 1 << 20;

  // Writes to `fd`, which the caller keeps open for the sink's lifetime.
  explicit BatchedFdSink(int fd, std::size_t max_pending_bytes = kDefaultMaxPendingBytes);

  void log(const spdlog::details::log_msg& msg) override;
  // Returns once no write is in progress and nothing is pending.
  void flush() override;
  void set_pattern(const std::string& pattern) override;
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override;

  // How many write batches have been written (each one or more lines).
  std::uint64_t batches() const;

 private:
  void WriteAll(const std::string& bytes) const;

  const int fd_;
  const std::size_t max_pending_bytes_;
  mutable std::mutex mu_;
  std::condition_variable changed_;  // a batch taken, or the writer done
  std::unique_ptr<spdlog::formatter> formatter_;
  spdlog::memory_buf_t formatted_;  // one line, reused
  std::string pending_;
  bool writing_ = false;
  int waiters_ = 0;
  std::uint64_t batches_ = 0;
};

// Makes the default logger write to standard output through a BatchedFdSink
// (in place of its sinks). Call at start-up, before other threads log and
// before InstallJsonLogFormat (which sets the sinks' format).
void UseBatchedStdout();

}  // namespace signet::log
