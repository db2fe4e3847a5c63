// The provider's verifications run on its worker pool and nowhere else: the
// production verifier (CosignImageVerifier, both signature formats) against a
// real docker-registry makes every registry request on a pool thread that
// existed before the verifications, and leaves the process with the threads
// it had. A control shows that the same check sees a registry request made
// from any other thread.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "signet/cosign/image_verification.h"
#include "signet/cosign/sign.h"
#include "signet/crypto/keys.h"
#include "signet/policy/policy_set.h"
#include "signet/policy/trusted_keys.h"
#include "signet/provider/cosign_image_verifier.h"
#include "signet/provider/verification_service.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/registry_server.h"
#include "support/test_images.h"

namespace signet {
namespace {

using signet::testing::PushedImage;
using signet::testing::RegistryServer;

long CurrentTid() { return static_cast<long>(::syscall(SYS_gettid)); }

// The ids of this process's live threads.
std::set<long> LiveThreads() {
  std::set<long> tids;
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return tids;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") tids.insert(std::stol(name));
  }
  ::closedir(dir);
  return tids;
}

// Forwards every call to a real registry client and records the thread that
// made it.
class ThreadRecordingRegistry : public oci::Registry {
 public:
  explicit ThreadRecordingRegistry(std::shared_ptr<oci::Registry> inner)
      : inner_(std::move(inner)) {}

  std::set<long> callers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return callers_;
  }
  int calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    callers_.clear();
    calls_ = 0;
  }

  Result<oci::ManifestHead> HeadManifest(const oci::Repository& repo, const std::string& ref,
                                         oci::Deadline deadline) override {
    Record();
    return inner_->HeadManifest(repo, ref, deadline);
  }
  Result<oci::Manifest> GetManifest(const oci::Repository& repo, const std::string& ref,
                                    std::uint64_t max_bytes, oci::Deadline deadline) override {
    Record();
    return inner_->GetManifest(repo, ref, max_bytes, deadline);
  }
  Result<std::string> GetBlob(const oci::Repository& repo, const std::string& digest,
                              std::uint64_t max_bytes, oci::Deadline deadline) override {
    Record();
    return inner_->GetBlob(repo, digest, max_bytes, deadline);
  }
  Status PutBlob(const oci::Repository& repo, const std::string& digest, const std::string& bytes,
                 oci::Deadline deadline) override {
    Record();
    return inner_->PutBlob(repo, digest, bytes, deadline);
  }
  Result<std::string> PutManifest(const oci::Repository& repo, const std::string& ref,
                                  const std::string& media_type, const std::string& bytes,
                                  oci::Deadline deadline) override {
    Record();
    return inner_->PutManifest(repo, ref, media_type, bytes, deadline);
  }
  Result<std::vector<std::string>> ListTags(const oci::Repository& repo,
                                            oci::Deadline deadline) override {
    Record();
    return inner_->ListTags(repo, deadline);
  }
  Result<oci::Referrers> ListReferrers(const oci::Repository& repo, const std::string& subject,
                                       oci::Deadline deadline,
                                       const oci::ReferrersOptions& options) override {
    Record();
    return inner_->ListReferrers(repo, subject, deadline, options);
  }
  Result<oci::ReferrersTag> ReadReferrersTag(const oci::Repository& repo,
                                             const std::string& subject, oci::Deadline deadline,
                                             const oci::ManifestLimits& limits) override {
    Record();
    return inner_->ReadReferrersTag(repo, subject, deadline, limits);
  }

 private:
  void Record() {
    std::lock_guard<std::mutex> lock(mu_);
    callers_.insert(CurrentTid());
    ++calls_;
  }

  std::shared_ptr<oci::Registry> inner_;
  mutable std::mutex mu_;
  std::set<long> callers_;
  int calls_ = 0;
};

class VerificationThreadsTest : public ::testing::Test {
 protected:
  static constexpr std::size_t kWorkers = 2;
  static constexpr int kImages = 6;

  void SetUp() override {
    registry_server_ = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
    std::shared_ptr<oci::Registry> client = signet::testing::ClientFor(*registry_server_);
    auto pair = crypto::GenerateKeyPair("threads");
    ASSERT_TRUE(pair.ok()) << pair.error().message();
    auto signer = crypto::LoadPrivateKey(pair->private_pem, "threads", "threads key");
    ASSERT_TRUE(signer.ok()) << signer.error().message();
    signet::testing::WriteFile(dir_.File("cosign.pub"), pair->public_pem);
    auto keys = policy::TrustedKeys::Load({{"k", dir_.File("cosign.pub")}});
    ASSERT_TRUE(keys.ok()) << keys.error().message();
    keys_ = std::move(keys).value();

    for (int i = 0; i < kImages; ++i) {
      const PushedImage image = signet::testing::PushRandomImage(
          *client, signet::testing::RepositoryOn(*registry_server_, "threads/app"),
          "v" + std::to_string(i));
      auto reference = oci::ImageReference::Parse(image.TagReference());
      ASSERT_TRUE(reference.ok());
      // Two signatures: two layers, which the verifier checks side by side.
      for (int s = 0; s < 2; ++s) {
        auto signed_image = cosign::SignImage(*client, *reference, **signer, {});
        ASSERT_TRUE(signed_image.ok()) << signed_image.error().message();
      }
      keys_of_images_.push_back(image.TagReference());
    }
    recorder_ = std::make_shared<ThreadRecordingRegistry>(client);
  }

  std::unique_ptr<provider::VerificationService> MakeService() {
    auto verifier = std::make_shared<provider::CosignImageVerifier>(
        recorder_, keys_, std::chrono::seconds(30), policy::SignatureFormats::kBoth);
    policy::PolicyConfig policy;
    policy.name = "threads";
    policy.images = {registry_server_->host() + "/threads/**"};
    auto policies = policy::PolicySet::Create({policy}, policy::UnmatchedImages::kDeny);
    EXPECT_TRUE(policies.ok());
    provider::VerificationServiceOptions options;
    options.workers = kWorkers;
    options.deadline = std::chrono::seconds(60);
    return std::make_unique<provider::VerificationService>(options, verifier,
                                                           std::move(policies).value(), nullptr);
  }

  signet::testing::TempDir dir_;
  std::unique_ptr<RegistryServer> registry_server_;
  std::shared_ptr<policy::TrustedKeys> keys_;
  std::shared_ptr<ThreadRecordingRegistry> recorder_;
  std::vector<std::string> keys_of_images_;
};

TEST_F(VerificationThreadsTest, EveryRegistryRequestOfTheProviderIsMadeOnItsPoolThreads) {
  auto service = MakeService();
  const std::set<long> before = LiveThreads();
  ASSERT_FALSE(before.empty());

  const auto decisions = service->Decide(keys_of_images_);
  ASSERT_EQ(decisions.size(), keys_of_images_.size());
  for (const auto& decision : decisions) {
    EXPECT_TRUE(decision.valid) << decision.key << ": " << decision.reason << " "
                                << decision.detail;
    EXPECT_FALSE(decision.cached);
  }
  // Tag, signature manifest, blobs and referrers lookups for every image.
  EXPECT_GE(recorder_->calls(), 4 * kImages);

  const std::set<long> callers = recorder_->callers();
  ASSERT_FALSE(callers.empty());
  EXPECT_LE(callers.size(), kWorkers) << "more threads than the pool made registry requests";
  for (long tid : callers) {
    EXPECT_TRUE(before.count(tid) == 1)
        << "thread " << tid << " made a registry request but did not exist before the "
        << "verifications: a thread was started per verification";
  }
  EXPECT_NE(callers.count(CurrentTid()), 1u) << "the deciding thread is not a pool thread";
  EXPECT_EQ(LiveThreads(), before) << "verifications left threads behind or took some away";
}

// Control: a registry request made from a thread started after the snapshot
// is seen as one, by the same recorder and the same check.
TEST_F(VerificationThreadsTest, ARequestFromAThreadStartedLaterIsDetected) {
  auto service = MakeService();
  const std::set<long> before = LiveThreads();
  auto reference = oci::ImageReference::Parse(keys_of_images_.front());
  ASSERT_TRUE(reference.ok());
  auto verifier_keys = keys_->Select({});
  ASSERT_TRUE(verifier_keys.ok());
  cosign::ImageVerifyOptions options;
  options.common.keys = *verifier_keys;
  options.bundle_tlog_policy = cosign::TlogPolicy::kInsecureIgnore;
  bool valid = false;
  std::thread extra([&] {
    auto result = cosign::VerifyImageSignatures(*recorder_, *reference, options);
    valid = result.ok();
  });
  extra.join();
  EXPECT_TRUE(valid);
  const std::set<long> callers = recorder_->callers();
  ASSERT_EQ(callers.size(), 1u);  // no executor: every request on that one thread
  EXPECT_EQ(before.count(*callers.begin()), 0u);
}

}  // namespace
}  // namespace signet
