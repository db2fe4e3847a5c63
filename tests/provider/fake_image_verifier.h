// An in-memory ImageVerifier for the provider's unit tests: images are
// declared with a digest, whether they verify, and an optional delay; every
// call is counted. Hold() makes Verify calls wait until Release().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "signet/provider/expiring_cache.h"
#include "signet/provider/image_verifier.h"

namespace signet::provider::testing {

class FakeImageVerifier : public ImageVerifier {
 public:
  struct Image {
    std::string digest;
    ErrorCode failure = ErrorCode::kInternal;  // used when !valid
    bool valid = true;
    std::chrono::milliseconds delay{0};
    // When not empty: the names of the keys that signed the image; it
    // verifies only under a policy that trusts one of them (or every key).
    std::vector<std::string> signed_by = {};
    std::string failure_message = "fake failure";
    int failure_http_status = 0;  // Error::http_status of the failure
  };

  // `repository_name` is "registry/path" as oci::Repository::Name() spells
  // it; `tag` the tag it serves.
  void Add(const std::string& repository_name, const std::string& tag, Image image) {
    std::lock_guard<std::mutex> lock(mu_);
    images_[repository_name + ":" + tag] = image;
    by_digest_[repository_name + "@" + image.digest] = image;
  }

  Result<std::string> ResolveDigest(const oci::ImageReference& reference, Deadline) override {
    ++resolve_calls;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = images_.find(reference.repository().Name() + ":" + reference.tag());
    if (it == images_.end()) return Error(ErrorCode::kImageNotFound, "no such image");
    return it->second.digest;
  }

  // The policy as configured, under the trust version set now; counted.
  Result<std::shared_ptr<const ResolvedPolicy>> Resolve(
      const policy::PolicyConfig& policy) override {
    ++resolve_policy_calls;
    auto resolved = std::make_shared<ResolvedPolicy>();
    resolved->name = policy.name;
    resolved->key_names = policy.keys;
    resolved->annotations = policy.annotations;
    resolved->attestations = policy.attestations;
    resolved->trust_version = TrustVersion();
    return std::shared_ptr<const ResolvedPolicy>(std::move(resolved));
  }

  Status Verify(const oci::ImageReference& reference, DigestOrigin, const ResolvedPolicy& policy,
                Deadline, Executor*) override {
    ++verify_calls;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ++waiting_;
      released_cv_.notify_all();
      released_cv_.wait(lock, [this] { return !held_; });
      --waiting_;
    }
    Image image;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = by_digest_.find(reference.repository().Name() + "@" + reference.digest());
      if (it == by_digest_.end()) return Error(ErrorCode::kImageNotFound, "no such digest");
      image = it->second;
    }
    if (image.delay.count() > 0) std::this_thread::sleep_for(image.delay);
    if (!image.valid) {
      return Error(image.failure, image.failure_message, image.failure_http_status);
    }
    if (!image.signed_by.empty() && !policy.key_names.empty()) {
      bool trusted = false;
      for (const auto& key : policy.key_names) {
        for (const auto& signer : image.signed_by) trusted = trusted || key == signer;
      }
      if (!trusted) return Error(ErrorCode::kNoMatchingSignatures, "signed by no trusted key");
    }
    return OkStatus();
  }

  std::string TrustVersion() override {
    std::lock_guard<std::mutex> lock(mu_);
    return trust_version_;
  }
  // Simulates a change of the trusted keys.
  void SetTrustVersion(std::string version) {
    std::lock_guard<std::mutex> lock(mu_);
    trust_version_ = std::move(version);
  }

  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_ = false;
    }
    released_cv_.notify_all();
  }
  // Waits until `n` Verify calls are held.
  void WaitForHeld(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    released_cv_.wait(lock, [&] { return waiting_ >= n; });
  }

  std::atomic<int> resolve_calls{0};
  std::atomic<int> verify_calls{0};
  std::atomic<int> resolve_policy_calls{0};

 private:
  std::mutex mu_;
  std::condition_variable released_cv_;
  bool held_ = false;
  int waiting_ = 0;
  std::string trust_version_;
  std::map<std::string, Image> images_;
  std::map<std::string, Image> by_digest_;
};

// A clock that tests move by hand (for VerificationServiceOptions::clock).
struct ManualClock {
  std::shared_ptr<std::atomic<long long>> ms = std::make_shared<std::atomic<long long>>(0);
  Clock clock() const {
    auto counter = ms;
    return [counter] {
      return std::chrono::steady_clock::time_point(std::chrono::milliseconds(counter->load()));
    };
  }
  void Advance(std::chrono::milliseconds d) { ms->fetch_add(d.count()); }
};

// "sha256:" followed by 64 copies of `c` (a hex digit).
inline std::string FakeDigest(char c) { return "sha256:" + std::string(64, c); }

}  // namespace signet::provider::testing
