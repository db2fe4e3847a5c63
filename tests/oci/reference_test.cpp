#include "signet/oci/reference.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace signet::oci {
namespace {

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kDigest = "sha256:" + kHex;

struct ValidCase {
  std::string input;
  std::string registry;
  std::string path;
  std::string tag;
  std::string digest;
  std::string name;  // ImageReference::Name()
};

class ValidReferenceTest : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ValidReferenceTest, ParsesAndNormalises) {
  const ValidCase& c = GetParam();
  auto ref = ImageReference::Parse(c.input);
  ASSERT_TRUE(ref.ok()) << c.input << ": " << ref.error().message();
  EXPECT_EQ(ref->registry(), c.registry) << c.input;
  EXPECT_EQ(ref->repository().path, c.path) << c.input;
  EXPECT_EQ(ref->tag(), c.tag) << c.input;
  EXPECT_EQ(ref->digest(), c.digest) << c.input;
  EXPECT_EQ(ref->Name(), c.name) << c.input;
  EXPECT_EQ(ref->Identifier(), c.digest.empty() ? c.tag : c.digest) << c.input;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ValidReferenceTest,
    ::testing::Values(
        ValidCase{"nginx", "index.docker.io", "library/nginx", "latest", "",
                  "index.docker.io/library/nginx:latest"},
        ValidCase{"nginx:1.25", "index.docker.io", "library/nginx", "1.25", "",
                  "index.docker.io/library/nginx:1.25"},
        ValidCase{"library/nginx", "index.docker.io", "library/nginx", "latest", "",
                  "index.docker.io/library/nginx:latest"},
        ValidCase{"docker.io/x/y", "index.docker.io", "x/y", "latest", "",
                  "index.docker.io/x/y:latest"},
        ValidCase{"docker.io/nginx", "index.docker.io", "library/nginx", "latest", "",
                  "index.docker.io/library/nginx:latest"},
        ValidCase{"index.docker.io/nginx:stable", "index.docker.io", "library/nginx", "stable", "",
                  "index.docker.io/library/nginx:stable"},
        ValidCase{"ghcr.io/o/r/sub:tag", "ghcr.io", "o/r/sub", "tag", "", "ghcr.io/o/r/sub:tag"},
        ValidCase{"ghcr.io/one", "ghcr.io", "one", "latest", "", "ghcr.io/one:latest"},
        ValidCase{"localhost:5000/a", "localhost:5000", "a", "latest", "",
                  "localhost:5000/a:latest"},
        ValidCase{"localhost/a", "localhost", "a", "latest", "", "localhost/a:latest"},
        ValidCase{"127.0.0.1:5000/a@" + kDigest, "127.0.0.1:5000", "a", "", kDigest,
                  "127.0.0.1:5000/a@" + kDigest},
        ValidCase{"127.0.0.1:5000/a:v1@" + kDigest, "127.0.0.1:5000", "a", "v1", kDigest,
                  "127.0.0.1:5000/a@" + kDigest},
        ValidCase{"nginx:1.25@" + kDigest, "index.docker.io", "library/nginx", "1.25", kDigest,
                  "index.docker.io/library/nginx@" + kDigest},
        ValidCase{"nginx@" + kDigest, "index.docker.io", "library/nginx", "", kDigest,
                  "index.docker.io/library/nginx@" + kDigest},
        ValidCase{"[::1]:5000/a", "[::1]:5000", "a", "latest", "", "[::1]:5000/a:latest"},
        ValidCase{"[::1]/a:t", "[::1]", "a", "t", "", "[::1]/a:t"},
        ValidCase{"my-registry.example.com:443/team/app:v1.2.3-rc_1", "my-registry.example.com:443",
                  "team/app", "v1.2.3-rc_1", "",
                  "my-registry.example.com:443/team/app:v1.2.3-rc_1"},
        ValidCase{"foo.bar", "index.docker.io", "library/foo.bar", "latest", "",
                  "index.docker.io/library/foo.bar:latest"},
        // A bare "host:port" is Docker Hub image "localhost" with tag "5000", as in Docker.
        ValidCase{"localhost:5000", "index.docker.io", "library/localhost", "5000", "",
                  "index.docker.io/library/localhost:5000"},
        ValidCase{"a__b/c-d/e---f:_tag", "index.docker.io", "a__b/c-d/e---f", "_tag", "",
                  "index.docker.io/a__b/c-d/e---f:_tag"},
        ValidCase{"Example.COM/app", "Example.COM", "app", "latest", "", "Example.COM/app:latest"},
        ValidCase{"user/repo:TAG", "index.docker.io", "user/repo", "TAG", "",
                  "index.docker.io/user/repo:TAG"},
        ValidCase{"a/b:" + std::string(128, 'x'), "index.docker.io", "a/b", std::string(128, 'x'),
                  "", "index.docker.io/a/b:" + std::string(128, 'x')}));

struct InvalidCase {
  std::string input;
  std::string message_part;  // the error must point at this
};

class InvalidReferenceTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidReferenceTest, RejectsWithPointedMessage) {
  const InvalidCase& c = GetParam();
  auto ref = ImageReference::Parse(c.input);
  ASSERT_FALSE(ref.ok()) << "accepted: " << c.input << " as " << ref->Name();
  EXPECT_EQ(ref.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(ref.error().message().find(c.message_part), std::string::npos)
      << c.input << " gave: " << ref.error().message();
  EXPECT_NE(ref.error().message().find("\"" + c.input + "\""), std::string::npos)
      << "message must quote the input: " << ref.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Table, InvalidReferenceTest,
    ::testing::Values(
        InvalidCase{"", "empty reference"}, InvalidCase{"Nginx", "must be lowercase"},
        InvalidCase{"docker.io/Library/nginx", "must be lowercase"},
        InvalidCase{"Localhost/a", "must be lowercase"},
        InvalidCase{"localhost:5000/", "repository name is missing"},
        InvalidCase{":tag", "repository name is missing"},
        InvalidCase{":5000", "repository name is missing"},
        InvalidCase{"@" + kDigest, "repository name is missing"},
        InvalidCase{"nginx@sha256:abc", "64 hex characters, got 3"},
        InvalidCase{"nginx@sha256:" + kHex + "0", "64 hex characters, got 65"},
        InvalidCase{"nginx@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
                    "lowercase hex"},
        InvalidCase{"nginx@sha256:g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                    "non-hex"},
        InvalidCase{"nginx@md5:" + kHex, "unsupported digest algorithm \"md5\""},
        InvalidCase{"nginx@" + kHex, "no algorithm"}, InvalidCase{"nginx@", "digest is missing"},
        InvalidCase{"nginx:", "tag is missing"}, InvalidCase{"ngi nx", "whitespace"},
        InvalidCase{" nginx", "whitespace"}, InvalidCase{"nginx\t", "whitespace"},
        InvalidCase{"ngi\nnx", "whitespace"}, InvalidCase{"ngi\vnx", "whitespace"},
        InvalidCase{"ngi\fnx", "whitespace"}, InvalidCase{"ngi\rnx", "whitespace"},
        InvalidCase{"ngi\x1fnx", "non-printable"}, InvalidCase{"ngi\x85nx", "non-ASCII"},
        InvalidCase{"ngi\xa0nx", "non-ASCII"}, InvalidCase{"a//b", "empty path component"},
        InvalidCase{"a/b/", "ends with '/'"},
        InvalidCase{"a/b:" + std::string(129, 'x'), "longer than 128"},
        InvalidCase{"nginx:-tag", "invalid tag \"-tag\""},
        InvalidCase{"nginx:.tag", "invalid tag \".tag\""},
        InvalidCase{"nginx:ta/g", "invalid registry \"nginx:ta\""},
        InvalidCase{"nginx:t@g", "digest"},
        InvalidCase{"-nginx", "invalid repository path component \"-nginx\""},
        InvalidCase{"nginx-", "invalid repository path component \"nginx-\""},
        InvalidCase{"a..b", "invalid repository path component \"a..b\""},
        InvalidCase{"a___b", "invalid repository path component \"a___b\""},
        InvalidCase{"a/_b", "invalid repository path component \"_b\""},
        InvalidCase{".registry/a", "invalid registry \".registry\""},
        InvalidCase{"registry./a", "invalid registry \"registry.\""},
        InvalidCase{"host:port/a", "invalid registry \"host:port\""},
        InvalidCase{"host:99999/a", "invalid registry \"host:99999\""},
        InvalidCase{"-host.com/a", "invalid registry \"-host.com\""},
        InvalidCase{"ho_st.com/a", "invalid registry \"ho_st.com\""},
        InvalidCase{"[::1/a", "invalid registry"}, InvalidCase{"[zz]:5000/a", "invalid registry"},
        InvalidCase{"a/" + std::string(260, 'b'), "longer than 255"},
        InvalidCase{"nginx\xc3\xa9", "non-ASCII"}));

TEST(ReferenceTest, RepositoryParse) {
  auto hub = Repository::Parse("nginx");
  ASSERT_TRUE(hub.ok()) << hub.error().message();
  EXPECT_EQ(hub->registry, "index.docker.io");
  EXPECT_EQ(hub->path, "library/nginx");
  EXPECT_EQ(hub->Name(), "index.docker.io/library/nginx");

  auto local = Repository::Parse("localhost:5000/team/app");
  ASSERT_TRUE(local.ok()) << local.error().message();
  EXPECT_EQ(local->registry, "localhost:5000");
  EXPECT_EQ(local->path, "team/app");
  EXPECT_EQ(*local, (Repository{"localhost:5000", "team/app"}));

  auto tagged = Repository::Parse("localhost:5000/a:tag");
  ASSERT_FALSE(tagged.ok());
  EXPECT_NE(tagged.error().message().find("must not carry a tag"), std::string::npos);
  auto digested = Repository::Parse("a@" + kDigest);
  ASSERT_FALSE(digested.ok());
  EXPECT_NE(digested.error().message().find("must not carry a digest"), std::string::npos);
  EXPECT_FALSE(Repository::Parse("Upper/case").ok());
  EXPECT_FALSE(Repository::Parse("").ok());
}

TEST(ReferenceTest, WithDigestDropsTag) {
  auto ref = ImageReference::Parse("localhost:5000/a:v1");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->WithDigest(kDigest), "localhost:5000/a@" + kDigest);
  EXPECT_FALSE(ref->has_digest());
}

TEST(ReferenceTest, PinnedIsWhatParsingTheDigestReferenceGives) {
  for (const std::string& input :
       std::vector<std::string>{"localhost:5000/a:v1", "nginx", "Registry.Example:443/x/y:t",
                                "localhost:5000/a@sha256:" + std::string(64, 'b')}) {
    auto ref = ImageReference::Parse(input);
    ASSERT_TRUE(ref.ok()) << input;
    auto pinned = ref->Pinned(kDigest);
    ASSERT_TRUE(pinned.ok()) << input << ": " << pinned.error().message();
    auto parsed = ImageReference::Parse(ref->WithDigest(kDigest));
    ASSERT_TRUE(parsed.ok()) << input;
    EXPECT_EQ(pinned->repository(), parsed->repository()) << input;
    EXPECT_EQ(pinned->tag(), parsed->tag()) << input;
    EXPECT_EQ(pinned->tag(), "") << input;
    EXPECT_EQ(pinned->digest(), kDigest) << input;
    EXPECT_EQ(pinned->Name(), parsed->Name()) << input;
  }
}

TEST(ReferenceTest, PinnedRefusesWhatIsNotASha256Digest) {
  auto ref = ImageReference::Parse("localhost:5000/a:v1");
  ASSERT_TRUE(ref.ok());
  for (const std::string& bad : std::vector<std::string>{
           kHex, "sha512:" + kHex, "sha256:" + kHex.substr(1), std::string()}) {
    auto pinned = ref->Pinned(bad);
    ASSERT_FALSE(pinned.ok()) << bad;
    EXPECT_EQ(pinned.error().code(), ErrorCode::kInvalidArgument);
    // Parsing the same text refuses it too.
    EXPECT_FALSE(ImageReference::Parse(ref->WithDigest(bad)).ok()) << bad;
  }
  EXPECT_TRUE(ref->Pinned(kDigest).ok());  // control
}

TEST(ReferenceTest, IsValidSha256Digest) {
  EXPECT_TRUE(IsValidSha256Digest(kDigest));
  EXPECT_FALSE(IsValidSha256Digest(kHex));
  EXPECT_FALSE(IsValidSha256Digest("sha256:" + kHex.substr(1)));
  EXPECT_FALSE(IsValidSha256Digest("sha512:" + kHex));
  EXPECT_FALSE(IsValidSha256Digest(""));
}

// The registry keeps its spelling, as go-containerregistry keeps it: it is the
// docker-reference cosign writes into signatures. Only CanonicalName() folds
// the spellings of one host together.
TEST(ReferenceTest, RegistryKeepsItsSpellingAndCanonicalNameFoldsIt) {
  auto upper = ImageReference::Parse("LOCALHOST:27000/prod/app:v1");
  ASSERT_TRUE(upper.ok()) << upper.error().message();
  EXPECT_EQ(upper->repository().Name(), "LOCALHOST:27000/prod/app");
  auto canonical = upper->repository().CanonicalName();
  ASSERT_TRUE(canonical.ok()) << canonical.error().message();
  EXPECT_EQ(*canonical, "localhost:27000/prod/app");

  auto hub = ImageReference::Parse("registry-1.docker.io/nginx");
  ASSERT_TRUE(hub.ok()) << hub.error().message();
  EXPECT_EQ(hub->repository().Name(), "registry-1.docker.io/nginx");
  EXPECT_EQ(*hub->repository().CanonicalName(), "index.docker.io/library/nginx");
  EXPECT_EQ(*ImageReference::Parse("nginx")->repository().CanonicalName(),
            "index.docker.io/library/nginx");

  auto numeric = ImageReference::Parse("127.1:27000/prod/app");
  ASSERT_TRUE(numeric.ok()) << numeric.error().message();
  auto refused = numeric->repository().CanonicalName();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("non-canonical numeric"), std::string::npos)
      << refused.error().message();
}

}  // namespace
}  // namespace signet::oci
