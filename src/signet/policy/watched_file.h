// Change detection for files that are loaded once and reloaded when they
// change on disk (keys, credentials): a (mtime, size, inode) stamp, checked at
// most once per `interval`.
//
// Not thread-safe; owners guard it with their own mutex.
#pragma once

#include <chrono>
#include <string>

namespace signet::policy {

class WatchedFile {
 public:
  explicit WatchedFile(std::string path,
                       std::chrono::milliseconds interval = std::chrono::seconds(1))
      : path_(std::move(path)), interval_(interval) {}

  const std::string& path() const { return path_; }

  // True when the file's stamp differs from the one last recorded (the
  // first call is always true). Between checks at most once per interval;
  // `force` checks now.
  bool Changed(bool force = false);
  // Whether the file existed at the last check.
  bool exists() const { return stamp_.mtime_ns != -1; }

 private:
  struct Stamp {
    long long mtime_ns = -1;
    long long size = -1;
    unsigned long long inode = 0;
    bool operator==(const Stamp&) const = default;
  };
  std::string path_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point last_check_{};
  bool checked_ = false;
  Stamp stamp_;
};

}  // namespace signet::policy
