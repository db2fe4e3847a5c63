// The trusted public keys, by name. Each key file is read once and re-read
// when it changes on disk (checked at most once per second). When a changed
// file cannot be loaded the last good key stays in use and the error is kept
// for reporting; a key that never loaded is absent (so images needing only it
// fail closed).
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "signet/crypto/signer.h"
#include "signet/policy/config.h"
#include "signet/policy/watched_file.h"
#include "signet/result.h"

namespace signet::policy {

class TrustedKeys {
 public:
  // Loads every key; fails when any key cannot be loaded now.
  static Result<std::shared_ptr<TrustedKeys>> Load(
      const std::vector<KeyConfig>& keys,
      std::chrono::milliseconds reload_interval = std::chrono::seconds(1));

  // The current verifiers for `names` (empty = every key), after reloading
  // changed files. kNotFound when none of them is loaded.
  Result<std::vector<std::shared_ptr<const crypto::Verifier>>> Select(
      const std::vector<std::string>& names);

  // A number that changes whenever a key in use changes (a successful
  // reload), after reloading changed files. Results computed under one
  // generation must not be reused under another.
  std::uint64_t Generation();

  // Messages of reloads that failed since the last call (then cleared).
  std::vector<std::string> TakeReloadErrors();

 private:
  struct Key {
    std::string name;
    WatchedFile file;
    std::shared_ptr<const crypto::Verifier> verifier;
  };
  TrustedKeys() = default;
  void RefreshLocked();

  std::mutex mu_;
  std::vector<Key> keys_;
  std::vector<std::string> reload_errors_;
  std::uint64_t generation_ = 0;
};

}  // namespace signet::policy
