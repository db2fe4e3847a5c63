// The trusted public keys, by name. Each key file is read once and re-read
// when it changes on disk (checked at most once per second). A key is trusted
// only while its file holds it: when a changed file cannot be loaded (removed,
// unreadable, not a key) the key stops being trusted at once, Generation()
// changes (so results verified with it are never reused) and the reason is
// kept for reporting, until a good file appears again. Replacing a file with
// another valid key switches to the new key. Load() needs every key to load.
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
  // changed files. kVerificationFailed, naming why, when none of them is
  // trusted now.
  Result<std::vector<std::shared_ptr<const crypto::Verifier>>> Select(
      const std::vector<std::string>& names);

  // A number that changes whenever a key in use changes (a successful
  // reload), after reloading changed files. Results computed under one
  // generation must not be reused under another.
  std::uint64_t Generation();

  // "sha256:<hex>" over the names and public keys trusted now, after
  // reloading changed files: the same key material gives the same value in
  // every process (replicas sharing verdicts key them by it), and a rotated,
  // removed or added key gives another.
  std::string Fingerprint();

  // Messages of reloads that failed since the last call (then cleared).
  std::vector<std::string> TakeReloadErrors();

  // After reloading changed files: OK while at least one key is trusted,
  // else kVerificationFailed saying why each key is not (for readiness).
  Status Health();

 private:
  struct Key {
    std::string name;
    WatchedFile file;
    std::shared_ptr<const crypto::Verifier> verifier;  // null while not trusted
    std::string problem;  // why the key is not trusted now ("" when it is)
  };
  TrustedKeys() = default;
  void RefreshLocked();
  // "trusted key "a" is not trusted: ..." for each wanted key that is not.
  std::string ProblemsLocked(const std::vector<std::string>& names) const;

  std::mutex mu_;
  std::vector<Key> keys_;
  std::vector<std::string> reload_errors_;
  std::uint64_t generation_ = 0;
  std::string fingerprint_;  // of generation fingerprint_generation_
  std::uint64_t fingerprint_generation_ = 0;
};

}  // namespace signet::policy
