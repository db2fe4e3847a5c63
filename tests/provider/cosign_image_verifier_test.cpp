// CosignImageVerifier's deadlines. The request deadline bounds what
// Gatekeeper waits for; the verification itself runs within the work budget
// after it, so that one whose request gave up (a tag resolved late, a queue)
// still fills the caches for the requests after it. Past the budget it does
// not start. No wall-clock waits: the deadlines are set in the past.
#include "signet/provider/cosign_image_verifier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "signet/cosign/sign.h"
#include "signet/policy/trusted_keys.h"
#include "support/in_memory_registry.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/signature_fixtures.h"
#include "support/test_images.h"

namespace signet::provider {
namespace {

using namespace std::chrono_literals;

class CosignImageVerifierDeadlineTest : public signet::testing::TwoKeyPairsTest {
 protected:
  void SetUp() override {
    registry_ = std::make_shared<signet::testing::InMemoryRegistry>();
    image_ = signet::testing::PushRandomImage(*registry_, repo_, "v1");
    auto signed_image = cosign::SignImage(
        *registry_, signet::testing::ParseReferenceForTest(image_.TagReference()),
        *keys_->signer, {});
    ASSERT_TRUE(signed_image.ok()) << signed_image.error().message();
    signet::testing::WriteFile(dir_.File("cosign.pub"), keys_->public_pem);
    auto keys = policy::TrustedKeys::Load({{"k", dir_.File("cosign.pub")}});
    ASSERT_TRUE(keys.ok()) << keys.error().message();
    keys_loaded_ = std::move(keys).value();
    verifier_ = std::make_unique<CosignImageVerifier>(registry_, keys_loaded_, kBudget,
                                                      policy::SignatureFormats::kBoth);
    policy::PolicyConfig policy;
    policy.name = "p";
    auto resolved = verifier_->Resolve(policy);
    ASSERT_TRUE(resolved.ok()) << resolved.error().message();
    policy_ = *resolved;
  }

  static constexpr std::chrono::milliseconds kBudget{10000};
  const oci::Repository repo_{"registry.test:5000", "team/app"};
  signet::testing::TempDir dir_;
  std::shared_ptr<signet::testing::InMemoryRegistry> registry_;
  signet::testing::PushedImage image_;
  std::shared_ptr<policy::TrustedKeys> keys_loaded_;
  std::unique_ptr<CosignImageVerifier> verifier_;
  std::shared_ptr<const ResolvedPolicy> policy_;
};

TEST_F(CosignImageVerifierDeadlineTest, WorkStartingAfterItsRequestDeadlineRunsWithinTheBudget) {
  const auto request_deadline_passed = std::chrono::steady_clock::now() - 1s;
  auto digest = verifier_->ResolveDigest(
      signet::testing::ParseReferenceForTest(image_.TagReference()), request_deadline_passed);
  ASSERT_TRUE(digest.ok()) << digest.error().message();
  EXPECT_EQ(*digest, image_.digest);
  auto pinned = signet::testing::ParseReferenceForTest(image_.TagReference()).Pinned(*digest);
  ASSERT_TRUE(pinned.ok());
  const Status verified = verifier_->Verify(*pinned, DigestOrigin::kResolved, *policy_,
                                            request_deadline_passed, nullptr);
  EXPECT_TRUE(verified.ok()) << verified.error().message();
}

TEST_F(CosignImageVerifierDeadlineTest, WorkPastTheBudgetDoesNotStart) {
  const auto budget_passed = std::chrono::steady_clock::now() - kBudget - 1s;
  auto pinned = signet::testing::ParseReferenceForTest(image_.DigestReference());
  const Status late =
      verifier_->Verify(pinned, DigestOrigin::kRequested, *policy_, budget_passed, nullptr);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code(), ErrorCode::kTimeout);
  EXPECT_NE(late.error().message().find("deadline passed before verifying"), std::string::npos)
      << late.error().message();
  auto digest = verifier_->ResolveDigest(
      signet::testing::ParseReferenceForTest(image_.TagReference()), budget_passed);
  ASSERT_FALSE(digest.ok());
  EXPECT_EQ(digest.error().code(), ErrorCode::kTimeout);
  // Control: the same verification with its request deadline still ahead.
  const Status in_time = verifier_->Verify(pinned, DigestOrigin::kRequested, *policy_,
                                           std::chrono::steady_clock::now() + 1h, nullptr);
  EXPECT_TRUE(in_time.ok()) << in_time.error().message();
}

TEST(RegistryBudgetTest, TheBudgetIsTwiceTheDeadlineAndAtLeastTenSeconds) {
  EXPECT_EQ(RegistryBudget(1500ms), 10s);  // the default deadline
  EXPECT_EQ(RegistryBudget(5s), 10s);
  EXPECT_EQ(RegistryBudget(8s), 16s);
  EXPECT_EQ(RegistryBudget(60s), 120s);
}

TEST(RegistryBudgetTest, TheConnectTimeoutIsAQuarterOfTheBudgetAndAtLeastFiveSeconds) {
  // The default deadline keeps the transport's 5 s.
  EXPECT_EQ(RegistryConnectTimeout(RegistryBudget(1500ms)), 5s);
  EXPECT_EQ(RegistryConnectTimeout(20s), 5s);
  // A long deadline (the e2e tests under valgrind use 60 s) lets a slow TLS
  // handshake finish.
  EXPECT_EQ(RegistryConnectTimeout(RegistryBudget(60s)), 30s);
  EXPECT_EQ(RegistryConnectTimeout(40s), 10s);
}

}  // namespace
}  // namespace signet::provider
