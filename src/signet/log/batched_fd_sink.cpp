#include "signet/log/batched_fd_sink.h"

#include <poll.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>

namespace signet::log {

BatchedFdSink::BatchedFdSink(int fd, std::size_t max_pending_bytes)
    : fd_(fd),
      max_pending_bytes_(max_pending_bytes),
      formatter_(std::make_unique<spdlog::pattern_formatter>()) {}

void BatchedFdSink::log(const spdlog::details::log_msg& msg) {
  std::unique_lock lock(mu_);
  // Back-pressure while a write blocks: wait for the writer to take a batch.
  if (writing_ && pending_.size() >= max_pending_bytes_) {
    ++waiters_;
    changed_.wait(lock, [this] { return !writing_ || pending_.size() < max_pending_bytes_; });
    --waiters_;
  }
  formatted_.clear();
  formatter_->format(msg, formatted_);
  pending_.append(formatted_.data(), formatted_.size());
  if (writing_) return;  // the writer takes it with its next batch

  writing_ = true;
  std::string batch;
  while (!pending_.empty()) {
    batch.swap(pending_);  // pending_ gets the previous batch's cleared buffer
    ++batches_;
    if (waiters_ > 0) changed_.notify_all();
    lock.unlock();
    WriteAll(batch);
    batch.clear();
    lock.lock();
  }
  writing_ = false;
  if (waiters_ > 0) changed_.notify_all();
}

void BatchedFdSink::flush() {
  std::unique_lock lock(mu_);
  ++waiters_;
  changed_.wait(lock, [this] { return !writing_; });
  --waiters_;
}

void BatchedFdSink::set_pattern(const std::string& pattern) {
  set_formatter(std::make_unique<spdlog::pattern_formatter>(pattern));
}

void BatchedFdSink::set_formatter(std::unique_ptr<spdlog::formatter> formatter) {
  std::lock_guard lock(mu_);
  formatter_ = std::move(formatter);
}

std::uint64_t BatchedFdSink::batches() const {
  std::lock_guard lock(mu_);
  return batches_;
}

void BatchedFdSink::WriteAll(const std::string& bytes) const {
  const char* data = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, data, left);
    if (n > 0) {
      data += n;
      left -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd ready{fd_, POLLOUT, 0};
      ::poll(&ready, 1, 100);
      continue;
    }
    return;  // closed or failing: this batch is lost
  }
}

void UseBatchedStdout() {
  auto& sinks = spdlog::default_logger_raw()->sinks();
  sinks.clear();
  sinks.push_back(std::make_shared<BatchedFdSink>(STDOUT_FILENO));
}

}  // namespace signet::log
