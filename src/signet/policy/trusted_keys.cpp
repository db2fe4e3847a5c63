#include "signet/policy/trusted_keys.h"

#include <algorithm>

#include "signet/crypto/encoding.h"
#include "signet/crypto/keys.h"

namespace signet::policy {

Result<std::shared_ptr<TrustedKeys>> TrustedKeys::Load(const std::vector<KeyConfig>& keys,
                                                       std::chrono::milliseconds reload_interval) {
  std::shared_ptr<TrustedKeys> set(new TrustedKeys());
  for (const auto& config : keys) {
    Key key{config.name, WatchedFile(config.path, reload_interval), nullptr, ""};
    key.file.Changed(/*force=*/true);
    auto verifier = crypto::LoadPublicKeyFile(config.path);
    if (!verifier.ok()) {
      return verifier.error().WithContext("trusted key \"" + config.name + "\"");
    }
    key.verifier = std::shared_ptr<const crypto::Verifier>(std::move(verifier).value());
    set->keys_.push_back(std::move(key));
  }
  return set;
}

void TrustedKeys::RefreshLocked() {
  for (auto& key : keys_) {
    if (!key.file.Changed()) continue;
    auto verifier = crypto::LoadPublicKeyFile(key.file.path());
    if (!verifier.ok()) {
      const std::string why = key.file.exists()
                                  ? verifier.error().message()
                                  : "its file " + key.file.path() + " no longer exists";
      key.problem = "trusted key \"" + key.name + "\" is not trusted: " + why;
      reload_errors_.push_back("reloading trusted key \"" + key.name +
                               "\" failed; the key is no longer trusted: " + why);
      if (key.verifier) {
        key.verifier.reset();
        ++generation_;
      }
      continue;
    }
    key.verifier = std::shared_ptr<const crypto::Verifier>(std::move(verifier).value());
    key.problem.clear();
    ++generation_;
  }
}

std::string TrustedKeys::ProblemsLocked(const std::vector<std::string>& names) const {
  std::string out;
  for (const auto& key : keys_) {
    const bool wanted =
        names.empty() || std::find(names.begin(), names.end(), key.name) != names.end();
    if (!wanted || key.problem.empty()) continue;
    out += (out.empty() ? "" : "; ") + key.problem;
  }
  return out;
}

std::uint64_t TrustedKeys::Generation() {
  std::lock_guard<std::mutex> lock(mu_);
  RefreshLocked();
  return generation_;
}

std::string TrustedKeys::Fingerprint() {
  std::lock_guard<std::mutex> lock(mu_);
  RefreshLocked();
  if (fingerprint_.empty() || fingerprint_generation_ != generation_) {
    std::string material;
    for (const auto& key : keys_) {
      // Length-prefixed, so that no two key sets spell the same bytes.
      const std::string pem = key.verifier ? key.verifier->PublicKeyPem() : std::string();
      material +=
          std::to_string(key.name.size()) + ":" + key.name + std::to_string(pem.size()) + ":" + pem;
    }
    fingerprint_ = crypto::Sha256Digest(material);
    fingerprint_generation_ = generation_;
  }
  return fingerprint_;
}

Result<std::vector<std::shared_ptr<const crypto::Verifier>>> TrustedKeys::Select(
    const std::vector<std::string>& names) {
  std::lock_guard<std::mutex> lock(mu_);
  RefreshLocked();
  std::vector<std::shared_ptr<const crypto::Verifier>> out;
  for (const auto& key : keys_) {
    const bool wanted =
        names.empty() || std::find(names.begin(), names.end(), key.name) != names.end();
    if (wanted && key.verifier) out.push_back(key.verifier);
  }
  if (out.empty()) {
    const std::string problems = ProblemsLocked(names);
    return Error(ErrorCode::kVerificationFailed,
                 "no trusted key is loaded for this policy" +
                     (problems.empty() ? std::string() : ": " + problems));
  }
  return out;
}

std::vector<std::string> TrustedKeys::TakeReloadErrors() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  out.swap(reload_errors_);
  return out;
}

Status TrustedKeys::Health() {
  std::lock_guard<std::mutex> lock(mu_);
  RefreshLocked();
  for (const auto& key : keys_) {
    if (key.verifier) return OkStatus();
  }
  const std::string problems = ProblemsLocked({});
  return Error(ErrorCode::kVerificationFailed,
               "no trusted key is loaded" + (problems.empty() ? std::string() : ": " + problems));
}

}  // namespace signet::policy
