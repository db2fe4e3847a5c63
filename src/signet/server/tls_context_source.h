// Internal to the server area: builds the OpenSSL server context from the
// certificate, key and client CA files, and rebuilds it when those files
// change on disk.
//
// Current() returns the context new connections should use; a connection
// keeps the context it started with (shared ownership), so a reload never
// disturbs open connections. Files are checked at most once per second. A
// replacement that fails to load is logged once and the previous context is
// kept. Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "signet/result.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace signet::server {

struct TlsSettings {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;            // "" disables client authentication
  std::vector<std::string> client_sans;  // DNS SAN pin for client certificates
  std::string min_version = "1.3";       // "1.3" or "1.2"
};

class TlsContextSource {
 public:
  // Loads the files once; fails with the reason when they are unusable.
  static Result<std::unique_ptr<TlsContextSource>> Create(TlsSettings settings);

  std::shared_ptr<boost::asio::ssl::context> Current();

 private:
  struct FileStamp {
    unsigned long long device = 0, inode = 0, size = 0;
    long long mtime_ns = 0;
    bool exists = false;
    bool operator==(const FileStamp&) const = default;
  };
  using Stamps = std::vector<FileStamp>;

  explicit TlsContextSource(TlsSettings settings);
  Stamps ReadStamps() const;
  void ReloadIfChanged();

  const TlsSettings settings_;
  std::mutex mutex_;
  std::shared_ptr<boost::asio::ssl::context> current_;
  Stamps loaded_stamps_;
  Stamps failed_stamps_;
  std::chrono::steady_clock::time_point last_check_;
};

}  // namespace signet::server
