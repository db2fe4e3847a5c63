// mutation.exemptImages: the ConstraintTemplate's exemptImages semantics
// (exact name, or a prefix ending in "*", on the image string as written),
// and the refusal of entries that cannot mean what they say.
#include "signet/policy/exempt_images.h"

#include <gtest/gtest.h>

#include "signet/policy/config.h"

namespace signet::policy {
namespace {

constexpr char kDigest[] =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

ExemptImages Exempt(std::vector<std::string> entries) {
  auto exempt = ExemptImages::Create(std::move(entries));
  EXPECT_TRUE(exempt.ok()) << exempt.error().message();
  return exempt.ok() ? std::move(exempt).value() : ExemptImages();
}

bool Exempts(const ExemptImages& list, const std::string& image) {
  return list.Match(image) != nullptr;
}

TEST(ExemptImagesTest, PrefixEntryMatchesEveryTagOfThatRepositoryOnly) {
  const ExemptImages list = Exempt({"registry.k8s.io/pause:*"});
  EXPECT_TRUE(Exempts(list, "registry.k8s.io/pause:3.10"));
  EXPECT_TRUE(Exempts(list, "registry.k8s.io/pause:latest"));
  // The tag and the digest, as written: still starts with the prefix.
  EXPECT_TRUE(Exempts(list, std::string("registry.k8s.io/pause:3.10@") + kDigest));
  EXPECT_FALSE(Exempts(list, "registry.k8s.io/pause-evil:3.10"));
  EXPECT_FALSE(Exempts(list, "registry.k8s.io/pause-evil"));
  EXPECT_FALSE(Exempts(list, "registry.k8s.io/pause"));
  // The digest spelling needs an entry of its own ("...pause@*").
  EXPECT_FALSE(Exempts(list, std::string("registry.k8s.io/pause@") + kDigest));
  // No normalisation: another spelling of another registry is another string.
  EXPECT_FALSE(Exempts(list, "pause:3.10"));
  EXPECT_FALSE(Exempts(list, "REGISTRY.K8S.IO/pause:3.10"));
  EXPECT_FALSE(Exempts(list, "mirror.example/registry.k8s.io/pause:3.10"));
}

TEST(ExemptImagesTest, ShortPrefixEntryMatchesShortNames) {
  const ExemptImages list = Exempt({"pause:*"});
  EXPECT_TRUE(Exempts(list, "pause:3.10"));
  EXPECT_FALSE(Exempts(list, "registry.k8s.io/pause:3.10"));
  EXPECT_FALSE(Exempts(list, "pause"));
}

TEST(ExemptImagesTest, ExactEntryIsNotAPrefix) {
  const ExemptImages list =
      Exempt({"registry.k8s.io/pause", std::string("registry.k8s.io/pause@") + kDigest});
  EXPECT_TRUE(Exempts(list, "registry.k8s.io/pause"));
  EXPECT_FALSE(Exempts(list, "registry.k8s.io/pause:3.10"));
  EXPECT_FALSE(Exempts(list, "registry.k8s.io/pause-evil"));
  EXPECT_FALSE(Exempts(list, "registry.k8s.io/paus"));
  EXPECT_TRUE(Exempts(list, std::string("registry.k8s.io/pause@") + kDigest));
  EXPECT_FALSE(Exempts(list, std::string("registry.k8s.io/pause:3.10@") + kDigest));
  EXPECT_FALSE(Exempts(list, std::string("registry.k8s.io/pause@") + kDigest + "0"));
}

TEST(ExemptImagesTest, DigestPrefixEntryMatchesDigestSpellingsOnly) {
  const ExemptImages list = Exempt({"registry.k8s.io/pause@*"});
  EXPECT_TRUE(Exempts(list, std::string("registry.k8s.io/pause@") + kDigest));
  EXPECT_FALSE(Exempts(list, "registry.k8s.io/pause:3.10"));
  EXPECT_FALSE(Exempts(list, std::string("registry.k8s.io/pause-evil@") + kDigest));
}

TEST(ExemptImagesTest, MatchNamesTheEntryAndEmptyListMatchesNothing) {
  const ExemptImages list = Exempt({"a.example/x", "registry.k8s.io/pause:*"});
  const std::string* entry = list.Match("registry.k8s.io/pause:3.10");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(*entry, "registry.k8s.io/pause:*");
  EXPECT_EQ(ExemptImages().Match("registry.k8s.io/pause:3.10"), nullptr);
  EXPECT_EQ(ExemptImages().Match(""), nullptr);
}

TEST(ExemptImagesTest, EntriesThatCannotMeanWhatTheySayAreRefused) {
  for (const std::string bad :
       {"", "*", "registry.k8s.io/*/pause", "*pause", "registry.k8s.io/pause**",
        "registry.k8s.io/pause:*3", " registry.k8s.io/pause:*", "registry.k8s.io/pause:* ",
        "registry.k8s.io/pause\t", "registry.k8s.io/pa use"}) {
    const Status status = ExemptImages::CheckEntry(bad);
    EXPECT_FALSE(status.ok()) << "\"" << bad << "\" was accepted";
    EXPECT_FALSE(ExemptImages::Create({"registry.k8s.io/pause:*", bad}).ok()) << bad;
  }
  EXPECT_NE(ExemptImages::CheckEntry("*").error().message().find("every image"), std::string::npos);
  EXPECT_NE(ExemptImages::CheckEntry("a*b").error().message().find("only as the last character"),
            std::string::npos);
  // Positive controls.
  for (const std::string good : {"registry.k8s.io/pause:*", "registry.k8s.io/pause", "pause:3.10",
                                 "registry.k8s.io/pause@*", "a*"}) {
    EXPECT_TRUE(ExemptImages::CheckEntry(good).ok()) << good;
  }
}

TEST(ExemptImagesConfigTest, ParsedUnderMutationAndEmptyByDefault) {
  auto defaults = ParseConfig("", "empty.yaml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->mutation.exempt_images.empty());
  auto config = ParseConfig(
      "mutation:\n  exemptImages:\n    - registry.k8s.io/pause:*\n    - registry.k8s.io/pause\n",
      "signet.yaml");
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(config->mutation.exempt_images,
            (std::vector<std::string>{"registry.k8s.io/pause:*", "registry.k8s.io/pause"}));
  auto empty_list = ParseConfig("mutation:\n  exemptImages: []\n", "signet.yaml");
  ASSERT_TRUE(empty_list.ok()) << empty_list.error().message();
  EXPECT_TRUE(empty_list->mutation.exempt_images.empty());
}

TEST(ExemptImagesConfigTest, BadEntriesAreRefusedAtLoadNamingKeyAndLine) {
  const auto error = [](const std::string& yaml) {
    auto config = ParseConfig(yaml, "signet.yaml");
    return config.ok() ? std::string("<accepted>") : config.error().message();
  };
  EXPECT_EQ(error("mutation:\n  exemptImages:\n    - registry.k8s.io/pause:*\n    - \"\"\n"),
            "signet.yaml:4: mutation.exemptImages[1]: an entry is empty");
  EXPECT_EQ(
      error("mutation:\n  exemptImages: [\"*\"]\n")
          .rfind("signet.yaml:2: mutation.exemptImages[0]: \"*\": a bare \"*\" would exempt", 0),
      0u)
      << error("mutation:\n  exemptImages: [\"*\"]\n");
  EXPECT_EQ(error("mutation:\n  exemptImages:\n    - registry.k8s.io/*/pause\n")
                .rfind("signet.yaml:3: mutation.exemptImages[0]: \"registry.k8s.io/*/pause\": "
                       "\"*\" is allowed only as the last character",
                       0),
            0u);
  EXPECT_EQ(error("mutation:\n  exemptImages: registry.k8s.io/pause:*\n"),
            "signet.yaml:2: mutation.exemptImages: expected a list of strings");
  EXPECT_EQ(error("mutation:\n  exemptImages: [[a]]\n"),
            "signet.yaml:2: mutation.exemptImages[0]: expected a string");
  EXPECT_NE(error("mutation:\n  exempt: [a]\n").find("mutation.exempt: unknown key"),
            std::string::npos);
  // The list is not a key of verification (it is not a verification setting).
  EXPECT_NE(error("verification:\n  exemptImages: [a]\n").find("unknown key"), std::string::npos);
  // A config built in code is checked the same way.
  Config config = DefaultConfig();
  config.mutation.exempt_images = {"registry.k8s.io/pause:*", "a*b"};
  const Status status = ValidateConfig(config);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message().rfind("mutation.exemptImages[1]: \"a*b\"", 0), 0u)
      << status.error().message();
  config.mutation.exempt_images = {"registry.k8s.io/pause:*"};
  EXPECT_TRUE(ValidateConfig(config).ok());
}

}  // namespace
}  // namespace signet::policy
