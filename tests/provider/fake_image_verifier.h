// An in-memory ImageVerifier for the provider's unit tests: images are
// declared with a digest, whether they verify, and an optional delay; every
// call is counted.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

  Status Verify(const oci::ImageReference& reference, DigestOrigin,
                const policy::PolicyConfig& policy, Deadline) override {
    ++verify_calls;
    Image image;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = by_digest_.find(reference.repository().Name() + "@" + reference.digest());
      if (it == by_digest_.end()) return Error(ErrorCode::kImageNotFound, "no such digest");
      image = it->second;
    }
    if (image.delay.count() > 0) std::this_thread::sleep_for(image.delay);
    if (!image.valid) return Error(image.failure, "fake failure");
    if (!image.signed_by.empty() && !policy.keys.empty()) {
      bool trusted = false;
      for (const auto& key : policy.keys) {
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

  std::atomic<int> resolve_calls{0};
  std::atomic<int> verify_calls{0};

 private:
  std::mutex mu_;
  std::string trust_version_;
  std::map<std::string, Image> images_;
  std::map<std::string, Image> by_digest_;
};

// "sha256:" followed by 64 copies of `c` (a hex digit).
inline std::string FakeDigest(char c) { return "sha256:" + std::string(64, c); }

}  // namespace signet::provider::testing
