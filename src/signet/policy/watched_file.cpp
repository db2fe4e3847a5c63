#include "signet/policy/watched_file.h"

#include <sys/stat.h>

namespace signet::policy {

bool WatchedFile::Changed(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (checked_ && !force && now - last_check_ < interval_) return false;
  last_check_ = now;
  Stamp current;
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) {
    current.mtime_ns =
        static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    current.size = st.st_size;
    current.inode = st.st_ino;
  }
  const bool changed = !checked_ || !(current == stamp_);
  checked_ = true;
  stamp_ = current;
  return changed;
}

}  // namespace signet::policy
