// A key's parse and policy choice are kept by its text (the planned keys):
// a key seen before is not parsed and matched again, and what it is answered
// never depends on whether it was kept. Bounded, least recently used first.
#include <gtest/gtest.h>

#include "fake_image_verifier.h"
#include "signet/provider/verification_service.h"

namespace signet::provider {
namespace {

using testing::FakeDigest;
using testing::FakeImageVerifier;

constexpr char kRepo[] = "registry.test:5000/team/app";
const std::string kTag = std::string(kRepo) + ":v1";
const std::string kDigest = std::string(kRepo) + "@" + FakeDigest('a');
const std::string kTagAndDigest = std::string(kRepo) + ":v1@" + FakeDigest('a');
const std::string kUnsigned = std::string(kRepo) + ":unsigned";
constexpr std::string_view kFive = "cdef1";  // five images, tagged t<c>, digest of c's

// Every field of a decision, to compare answers whole.
std::string Describe(const KeyDecision& d) {
  return d.key + "|" + (d.valid ? "valid" : "invalid") + "|" +
         (d.key_has_digest ? "digest" : "tag") + "|" + d.digest_reference + "|" + d.reason +
         "|" + d.detail + "|" + d.policy + "|" + (d.graced ? "graced" : "");
}

class PlannedKeysTest : public ::testing::Test {
 protected:
  PlannedKeysTest() {
    fake_->Add(kRepo, "v1", {FakeDigest('a'), ErrorCode::kInternal, true, {}});
    fake_->Add(kRepo, "unsigned", {FakeDigest('b'), ErrorCode::kNoSignatures, false, {}});
    for (const char c : kFive) {
      fake_->Add(kRepo, std::string("t") + c, {FakeDigest(c), ErrorCode::kInternal, true, {}});
    }
  }
  std::unique_ptr<VerificationService> Make(std::size_t planned_max,
                                            policy::UnmatchedImages unmatched) {
    VerificationServiceOptions options;
    options.planned_keys_max_entries = planned_max;
    return std::make_unique<VerificationService>(
        options, fake_,
        *policy::PolicySet::Create({{"team", {"registry.test:5000/team/**"}, {}, {}}}, unmatched),
        nullptr);
  }
  std::shared_ptr<FakeImageVerifier> fake_ = std::make_shared<FakeImageVerifier>();
};

TEST_F(PlannedKeysTest, AKeyIsPlannedOnceAndAnsweredTheSameWhenKept) {
  auto service = Make(100, policy::UnmatchedImages::kVerify);
  const std::vector<std::string> keys = {kTag,          kDigest,   kTagAndDigest, kUnsigned,
                                         "ghcr.io/x/y:1", "Not A Ref", "127.1/x/y:1", kTag};
  const auto first = service->Decide(keys);
  // Kept: the four distinct keys of the team policy and the unmatched one;
  // not kept: the two keys refused before any verification.
  EXPECT_EQ(service->PlannedKeysKept(), 5u);
  EXPECT_EQ(service->LocalCacheLookups().planned_key, keys.size());
  const auto second = service->Decide(keys);
  EXPECT_EQ(service->PlannedKeysKept(), 5u);
  EXPECT_EQ(service->LocalCacheLookups().planned_key, 2 * keys.size());
  ASSERT_EQ(first.size(), keys.size());
  ASSERT_EQ(second.size(), keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    // Answered from the cache the second time; otherwise the same answer.
    EXPECT_EQ(Describe(second[i]), Describe(first[i])) << keys[i];
  }
  // Each outcome the checks above compare is the one expected.
  EXPECT_TRUE(first[0].valid);
  EXPECT_TRUE(first[1].valid);
  EXPECT_TRUE(first[2].valid);
  EXPECT_EQ(first[2].digest_reference, kDigest);
  EXPECT_FALSE(first[3].valid);
  EXPECT_EQ(first[4].policy, "unmatched");
  EXPECT_EQ(first[5].reason, "invalid image reference");
  EXPECT_FALSE(first[6].valid);
  EXPECT_NE(first[6].reason.find("refused"), std::string::npos) << first[6].reason;
  EXPECT_TRUE(first[7].valid);
  EXPECT_TRUE(second[0].cached);
  EXPECT_TRUE(second[1].cached);
}

TEST_F(PlannedKeysTest, AnImageNoPolicyMatchesIsRefusedEveryTimeAndNotKept) {
  auto service = Make(100, policy::UnmatchedImages::kDeny);
  for (int round = 0; round < 2; ++round) {
    const auto decisions = service->Decide({"ghcr.io/x/y:1", kTag});
    ASSERT_EQ(decisions.size(), 2u);
    EXPECT_FALSE(decisions[0].valid);
    EXPECT_EQ(decisions[0].reason, "no policy matches image ghcr.io/x/y") << round;
    EXPECT_TRUE(decisions[1].valid) << round;  // positive control
  }
  EXPECT_EQ(service->PlannedKeysKept(), 1u);
}

TEST_F(PlannedKeysTest, TheKeptKeysAreBounded) {
  auto service = Make(2, policy::UnmatchedImages::kDeny);
  std::vector<std::string> keys;
  for (const char c : kFive) keys.push_back(std::string(kRepo) + ":t" + c);
  for (int round = 0; round < 2; ++round) {
    const auto decisions = service->Decide(keys);
    ASSERT_EQ(decisions.size(), keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      EXPECT_TRUE(decisions[i].valid) << keys[i];
      EXPECT_EQ(decisions[i].digest_reference, std::string(kRepo) + "@" + FakeDigest(kFive[i]));
    }
    EXPECT_EQ(service->PlannedKeysKept(), 2u);
  }
}

TEST(PolicySetFindTest, FindsTheSamePolicyThatMatchCopies) {
  auto set = policy::PolicySet::Create(
      {{"prod", {"a.io/prod/**"}, {"k1"}, {{"env", "prod"}}}, {"rest", {"a.io/**"}, {}, {}}},
      policy::UnmatchedImages::kVerify);
  ASSERT_TRUE(set.ok());
  for (const char* name : {"a.io/prod/app", "a.io/dev/app", "b.io/app"}) {
    auto repository = oci::Repository::Parse(name);
    ASSERT_TRUE(repository.ok());
    auto found = set->Find(*repository);
    auto again = set->Find(*repository);
    auto copied = set->Match(*repository);
    ASSERT_TRUE(found.ok() && again.ok() && copied.ok()) << name;
    EXPECT_EQ(*found, *again) << name;  // the same object each time
    EXPECT_EQ((*found)->name, copied->name) << name;
    EXPECT_EQ((*found)->keys, copied->keys) << name;
    EXPECT_EQ((*found)->annotations, copied->annotations) << name;
  }
  auto unmatched = set->Find(*oci::Repository::Parse("b.io/app"));
  ASSERT_TRUE(unmatched.ok());
  EXPECT_EQ((*unmatched)->name, "unmatched");
  auto denied = policy::PolicySet::Create({{"prod", {"a.io/prod/**"}, {}, {}}},
                                          policy::UnmatchedImages::kDeny);
  ASSERT_TRUE(denied.ok());
  EXPECT_FALSE(denied->Find(*oci::Repository::Parse("b.io/app")).ok());
  EXPECT_TRUE(denied->Find(*oci::Repository::Parse("a.io/prod/x")).ok());  // positive control
}

}  // namespace
}  // namespace signet::provider
