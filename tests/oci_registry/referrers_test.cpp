// RegistryClient::ListReferrers and ReadReferrersTag against real registries:
// go-containerregistry's registry with the referrers API
// (ReferrersRegistryServer) and Debian's docker-registry 2.8, which has none
// (RegistryServer). The artifacts are pushed with the client's own PUTs.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "signet/oci/manifest.h"
#include "signet/oci/registry_client.h"
#include "support/referrers_registry_server.h"
#include "support/registry_server.h"
#include "support/test_images.h"

namespace signet::oci {
namespace {

using signet::testing::DigestOf;
using signet::testing::PushedImage;
using signet::testing::PushRandomImage;
using signet::testing::ReferrersRegistryServer;
using signet::testing::RegistryServer;

constexpr std::string_view kEmptyType = "application/vnd.oci.empty.v1+json";
constexpr std::string_view kBundleType = "application/vnd.dev.sigstore.bundle.v0.3+json";
constexpr std::string_view kSbomConfigType = "application/vnd.example.sbom.config.v1+json";

struct Pushed {
  std::string digest;
  std::string bytes;
};

// Pushes an artifact manifest whose subject is `subject` (by digest, never
// tagged): the shape cosign v3 writes when config_type is the empty type.
Pushed PushReferrer(RegistryClient& client, const Repository& repo, const PushedImage& subject,
                    std::string_view config_type, const std::string& content) {
  std::string config = config_type == kEmptyType ? "{}" : R"({"sbom":true})";
  EXPECT_TRUE(client.PutBlob(repo, DigestOf(config), config).ok());
  EXPECT_TRUE(client.PutBlob(repo, DigestOf(content), content).ok());
  std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":")" +
      std::string(config_type) + R"(","size":)" + std::to_string(config.size()) + R"(,"digest":")" +
      DigestOf(config) + R"("},"layers":[{"mediaType":")" + std::string(kBundleType) +
      R"(","size":)" + std::to_string(content.size()) + R"(,"digest":")" + DigestOf(content) +
      R"("}],"annotations":{"dev.sigstore.bundle.content":"dsse-envelope"},)"
      R"("subject":{"mediaType":")" +
      subject.media_type + R"(","size":)" + std::to_string(subject.manifest.size()) +
      R"(,"digest":")" + subject.digest + R"("},"artifactType":")" + std::string(kBundleType) +
      R"("})";
  std::string digest = DigestOf(manifest);
  auto put = client.PutManifest(repo, digest, std::string(kOciManifestMediaType), manifest);
  EXPECT_TRUE(put.ok()) << put.error().message();
  return Pushed{digest, manifest};
}

// Tags the already pushed image `image` with `tag`.
void TestImageTag(RegistryClient& client, const Repository& repo, const std::string& tag,
                  const PushedImage& image) {
  auto put = client.PutManifest(repo, tag, image.media_type, image.manifest);
  ASSERT_TRUE(put.ok()) << put.error().message();
}

std::vector<std::string> Digests(const ImageIndex& index) {
  std::vector<std::string> out;
  for (const auto& d : index.manifests) out.push_back(d.digest);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

RegistryClientOptions PlainHttp() {
  RegistryClientOptions options;
  options.max_retries = 1;
  options.max_retry_wait = std::chrono::milliseconds(100);
  return options;
}

// Two referrers of image A (a bundle-like one and an SBOM-like one), one of
// image B; image C has none.
struct Scene {
  PushedImage a, b, c;
  Pushed bundle_of_a, sbom_of_a, bundle_of_b;
};

Scene PushScene(RegistryClient& client, const Repository& repo) {
  Scene s;
  s.a = PushRandomImage(client, repo, "a");
  s.b = PushRandomImage(client, repo, "b");
  s.c = PushRandomImage(client, repo, "c");
  s.bundle_of_a = PushReferrer(client, repo, s.a, kEmptyType, "bundle of a");
  s.sbom_of_a = PushReferrer(client, repo, s.a, kSbomConfigType, "sbom of a");
  s.bundle_of_b = PushReferrer(client, repo, s.b, kEmptyType, "bundle of b");
  return s;
}

TEST(ReferrersTest, ReferrersApiListsEveryReferrerOfTheSubjectOnly) {
  auto server = ReferrersRegistryServer::Start();
  RegistryClient client(PlainHttp());
  Repository repo{server->host(), "team/app"};
  Scene s = PushScene(client, repo);

  auto of_a = client.ListReferrers(repo, s.a.digest, std::nullopt);
  ASSERT_TRUE(of_a.ok()) << of_a.error().message();
  EXPECT_EQ(of_a->answer, ReferrersAnswer::kListed);
  EXPECT_EQ(of_a->index.media_type, kOciIndexMediaType);
  EXPECT_EQ(Digests(of_a->index), Sorted({s.bundle_of_a.digest, s.sbom_of_a.digest}));
  for (const Descriptor& d : of_a->index.manifests) {
    EXPECT_EQ(d.media_type, kOciManifestMediaType);
    const Pushed& pushed = d.digest == s.bundle_of_a.digest ? s.bundle_of_a : s.sbom_of_a;
    EXPECT_EQ(d.size, static_cast<std::int64_t>(pushed.bytes.size()));
    // go-containerregistry reports config.mediaType, not the manifest's
    // artifactType (spec §6): why verification never filters.
    EXPECT_EQ(d.artifact_type, d.digest == s.bundle_of_a.digest ? kEmptyType : kSbomConfigType);
  }

  auto of_b = client.ListReferrers(repo, s.b.digest, std::nullopt);
  ASSERT_TRUE(of_b.ok()) << of_b.error().message();
  EXPECT_EQ(of_b->answer, ReferrersAnswer::kListed);
  EXPECT_EQ(Digests(of_b->index), std::vector<std::string>{s.bundle_of_b.digest});

  auto of_c = client.ListReferrers(repo, s.c.digest, std::nullopt);
  ASSERT_TRUE(of_c.ok()) << of_c.error().message();
  EXPECT_EQ(of_c->answer, ReferrersAnswer::kListed);
  EXPECT_TRUE(of_c->index.manifests.empty());

  // The referrer manifest itself comes back byte for byte, subject intact.
  auto fetched = client.GetManifest(repo, s.bundle_of_a.digest);
  ASSERT_TRUE(fetched.ok()) << fetched.error().message();
  auto parsed = ParseImageManifest(fetched->bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  ASSERT_TRUE(parsed->subject.has_value());
  EXPECT_EQ(parsed->subject->digest, s.a.digest);
}

TEST(ReferrersTest, ArtifactTypeFilterKeepsOnlyThatType) {
  auto server = ReferrersRegistryServer::Start();
  RegistryClient client(PlainHttp());
  Repository repo{server->host(), "filter"};
  Scene s = PushScene(client, repo);

  ReferrersOptions sbom;
  sbom.artifact_type = std::string(kSbomConfigType);
  auto only_sbom = client.ListReferrers(repo, s.a.digest, std::nullopt, sbom);
  ASSERT_TRUE(only_sbom.ok()) << only_sbom.error().message();
  EXPECT_EQ(only_sbom->answer, ReferrersAnswer::kListed);
  EXPECT_EQ(Digests(only_sbom->index), std::vector<std::string>{s.sbom_of_a.digest});

  ReferrersOptions empty;
  empty.artifact_type = std::string(kEmptyType);
  auto only_empty = client.ListReferrers(repo, s.a.digest, std::nullopt, empty);
  ASSERT_TRUE(only_empty.ok()) << only_empty.error().message();
  EXPECT_EQ(Digests(only_empty->index), std::vector<std::string>{s.bundle_of_a.digest});

  // The registry ignores ?artifactType= (it sends no OCI-Filters-Applied):
  // the request did carry it, and the client filtered.
  EXPECT_NE(server->log().find("artifactType="), std::string::npos) << server->log();

  // Without a filter both come back (the default, what verification reads).
  auto all = client.ListReferrers(repo, s.a.digest, std::nullopt);
  ASSERT_TRUE(all.ok()) << all.error().message();
  EXPECT_EQ(all->index.manifests.size(), 2u);
}

// docker-registry 2.8 stores the same referrer manifests but has no
// referrers API (gorilla/mux's text 404): kNoReferrersApi, the fallback
// path. The positive control is the same scene on the referrers registry.
TEST(ReferrersTest, DockerRegistryHasNoReferrersApi) {
  auto registry = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  auto referrers_registry = ReferrersRegistryServer::Start();
  RegistryClient client(PlainHttp());
  for (const std::string& host : {registry->host(), referrers_registry->host()}) {
    SCOPED_TRACE(host);
    Repository repo{host, "team/app"};
    Scene s = PushScene(client, repo);
    auto fetched = client.GetManifest(repo, s.bundle_of_a.digest);
    ASSERT_TRUE(fetched.ok()) << fetched.error().message();
    EXPECT_EQ(fetched->bytes, s.bundle_of_a.bytes);

    auto listed = client.ListReferrers(repo, s.a.digest, std::nullopt);
    ASSERT_TRUE(listed.ok()) << listed.error().message();
    if (host == registry->host()) {
      EXPECT_EQ(listed->answer, ReferrersAnswer::kNoReferrersApi);
      EXPECT_TRUE(listed->index.manifests.empty());
    } else {
      EXPECT_EQ(listed->answer, ReferrersAnswer::kListed);
      EXPECT_EQ(listed->index.manifests.size(), 2u);
    }
  }
  EXPECT_EQ(registry->CountRequests("GET", "/referrers/"), 1);
}

// Lines of a referrers registry's log that are GETs of a referrers list.
int ReferrersCalls(const ReferrersRegistryServer& server) {
  const std::string log = server.log();
  int n = 0;
  for (std::size_t at = 0; (at = log.find("/referrers/sha256:", at)) != std::string::npos; ++at) {
    ++n;
  }
  return n;
}

// A client asks a host without the referrers API once, and then answers
// kNoReferrersApi from memory for every repository and subject of that host,
// from any thread; each host is asked for itself (a second docker-registry,
// the referrers registry). The registry with the API is asked every time,
// and its 404 NAME_UNKNOWN for a repository it does not hold is not taken
// for "no referrers API". Requests are counted in each registry's own log.
TEST(ReferrersTest, HostWithoutTheApiIsAskedOncePerClient) {
  auto registry = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  auto second = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  auto referrers_registry = ReferrersRegistryServer::Start();
  RegistryClient client(PlainHttp());

  // The referrers registry first: its unknown repository is no reason to
  // stop asking it.
  const Repository known{referrers_registry->host(), "team/app"};
  Scene r = PushScene(client, known);
  auto unknown = client.ListReferrers(Repository{referrers_registry->host(), "never/pushed"},
                                      r.a.digest, std::nullopt);
  ASSERT_TRUE(unknown.ok()) << unknown.error().message();
  EXPECT_EQ(unknown->answer, ReferrersAnswer::kNoReferrersApi);
  for (const PushedImage* image : {&r.a, &r.b, &r.c}) {
    auto listed = client.ListReferrers(known, image->digest, std::nullopt);
    ASSERT_TRUE(listed.ok()) << listed.error().message();
    EXPECT_EQ(listed->answer, ReferrersAnswer::kListed);
  }
  EXPECT_EQ(ReferrersCalls(*referrers_registry), 4) << referrers_registry->log();

  // docker-registry: the first call is made (the control), the others not.
  Scene d = PushScene(client, Repository{registry->host(), "team/app"});
  Scene elsewhere = PushScene(client, Repository{registry->host(), "other/app"});
  const auto list_all = [&](const Scene& s, const Repository& repo) {
    for (const PushedImage* image : {&s.a, &s.b, &s.c}) {
      auto listed = client.ListReferrers(repo, image->digest, std::nullopt);
      ASSERT_TRUE(listed.ok()) << listed.error().message();
      EXPECT_EQ(listed->answer, ReferrersAnswer::kNoReferrersApi);
      EXPECT_TRUE(listed->index.manifests.empty());
    }
  };
  list_all(d, Repository{registry->host(), "team/app"});
  EXPECT_EQ(registry->CountRequests("GET", "/referrers/"), 1) << registry->log();
  list_all(elsewhere, Repository{registry->host(), "other/app"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] { list_all(d, Repository{registry->host(), "team/app"}); });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(registry->CountRequests("GET", "/referrers/"), 1) << registry->log();
  // The fallback tag, the way to the list on such a host, is still read.
  auto tag =
      client.ReadReferrersTag(Repository{registry->host(), "team/app"}, d.a.digest, std::nullopt);
  ASSERT_TRUE(tag.ok()) << tag.error().message();

  // Another host is asked, once; the referrers registry is still asked.
  Scene s2 = PushScene(client, Repository{second->host(), "team/app"});
  list_all(s2, Repository{second->host(), "team/app"});
  EXPECT_EQ(second->CountRequests("GET", "/referrers/"), 1) << second->log();
  auto again = client.ListReferrers(known, r.a.digest, std::nullopt);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->answer, ReferrersAnswer::kListed);
  EXPECT_EQ(again->index.manifests.size(), 2u);
  EXPECT_EQ(ReferrersCalls(*referrers_registry), 5) << referrers_registry->log();

  // A fresh client (a new `signet verify` process) asks again.
  RegistryClient fresh(PlainHttp());
  auto first =
      fresh.ListReferrers(Repository{registry->host(), "team/app"}, d.a.digest, std::nullopt);
  ASSERT_TRUE(first.ok()) << first.error().message();
  EXPECT_EQ(first->answer, ReferrersAnswer::kNoReferrersApi);
  EXPECT_EQ(registry->CountRequests("GET", "/referrers/"), 2) << registry->log();
}

// The fallback tag sha256-<hex> on docker-registry: absent before it is
// written (distinct from an empty list), then the index as written.
TEST(ReferrersTest, FallbackTagIsReadAsAnIndexAndItsAbsenceIsDistinct) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  RegistryClient client(PlainHttp());
  Repository repo{server->host(), "fallback"};
  Scene s = PushScene(client, repo);
  EXPECT_EQ(ReferrersTagFor(s.a.digest), "sha256-" + s.a.digest.substr(7));

  auto before = client.ReadReferrersTag(repo, s.a.digest, std::nullopt);
  ASSERT_TRUE(before.ok()) << before.error().message();
  EXPECT_EQ(before->answer, ReferrersTagAnswer::kAbsent);
  auto unknown_repo =
      client.ReadReferrersTag(Repository{server->host(), "never/pushed"}, s.a.digest, std::nullopt);
  ASSERT_TRUE(unknown_repo.ok()) << unknown_repo.error().message();
  EXPECT_EQ(unknown_repo->answer, ReferrersTagAnswer::kAbsent);

  std::string index =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)"
      R"("manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":)" +
      std::to_string(s.bundle_of_a.bytes.size()) + R"(,"digest":")" + s.bundle_of_a.digest +
      R"(","artifactType":"application/vnd.oci.empty.v1+json"}]})";
  auto put =
      client.PutManifest(repo, ReferrersTagFor(s.a.digest), std::string(kOciIndexMediaType), index);
  ASSERT_TRUE(put.ok()) << put.error().message();

  auto after = client.ReadReferrersTag(repo, s.a.digest, std::nullopt);
  ASSERT_TRUE(after.ok()) << after.error().message();
  EXPECT_EQ(after->answer, ReferrersTagAnswer::kFound);
  EXPECT_EQ(after->manifest.bytes, index);
  EXPECT_EQ(after->manifest.digest, *put);
  ASSERT_EQ(after->index.manifests.size(), 1u);
  EXPECT_EQ(after->index.manifests[0].digest, s.bundle_of_a.digest);
  EXPECT_EQ(after->index.manifests[0].artifact_type, kEmptyType);

  // B's tag is still absent; A's list is not B's.
  auto of_b = client.ReadReferrersTag(repo, s.b.digest, std::nullopt);
  ASSERT_TRUE(of_b.ok()) << of_b.error().message();
  EXPECT_EQ(of_b->answer, ReferrersTagAnswer::kAbsent);

  // An image manifest under a fallback tag is refused, not read as "none".
  ASSERT_TRUE(client
                  .PutManifest(repo, ReferrersTagFor(s.b.digest),
                               std::string(kOciManifestMediaType), s.c.manifest)
                  .ok());
  auto not_an_index = client.ReadReferrersTag(repo, s.b.digest, std::nullopt);
  ASSERT_FALSE(not_an_index.ok());
  EXPECT_EQ(not_an_index.error().code(), ErrorCode::kParse) << not_an_index.error().message();
  EXPECT_NE(not_an_index.error().message().find("not an OCI image index"), std::string::npos)
      << not_an_index.error().message();
}

// The fallback write on docker-registry: appended with the descriptor the
// distribution spec asks for, once only, sorted, other entries kept as they
// were; a tag that is not an index is refused and left alone.
TEST(ReferrersTest, FallbackTagWriteAppendsOnceAndKeepsOtherEntries) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  RegistryClient client(PlainHttp());
  Repository repo{server->host(), "fallback-write"};
  Scene s = PushScene(client, repo);
  const std::string tag_of_a = ReferrersTagFor(s.a.digest);

  auto added = client.AddToReferrersTag(repo, s.bundle_of_a.bytes, std::nullopt);
  ASSERT_TRUE(added.ok()) << added.error().message();
  EXPECT_EQ(*added, ReferrersTagUpdate::kAdded);
  auto one = client.ReadReferrersTag(repo, s.a.digest, std::nullopt);
  ASSERT_TRUE(one.ok()) << one.error().message();
  ASSERT_EQ(one->answer, ReferrersTagAnswer::kFound);
  ASSERT_EQ(one->index.manifests.size(), 1u);
  const Descriptor& entry = one->index.manifests[0];
  EXPECT_EQ(entry.digest, s.bundle_of_a.digest);
  EXPECT_EQ(entry.media_type, kOciManifestMediaType);
  EXPECT_EQ(entry.size, static_cast<std::int64_t>(s.bundle_of_a.bytes.size()));
  EXPECT_EQ(entry.artifact_type, kBundleType);  // the manifest's, not config.mediaType
  EXPECT_EQ(entry.annotations.at("dev.sigstore.bundle.content"), "dsse-envelope");

  int puts = server->CountRequests("PUT", "/manifests/" + tag_of_a);
  EXPECT_EQ(puts, 1);
  auto again = client.AddToReferrersTag(repo, s.bundle_of_a.bytes, std::nullopt);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(*again, ReferrersTagUpdate::kAlreadyListed);
  EXPECT_EQ(server->CountRequests("PUT", "/manifests/" + tag_of_a), puts);

  auto second = client.AddToReferrersTag(repo, s.sbom_of_a.bytes, std::nullopt);
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_EQ(*second, ReferrersTagUpdate::kAdded);
  auto two = client.ReadReferrersTag(repo, s.a.digest, std::nullopt);
  ASSERT_TRUE(two.ok()) << two.error().message();
  ASSERT_EQ(two->index.manifests.size(), 2u);
  EXPECT_LT(two->index.manifests[0].digest, two->index.manifests[1].digest);
  EXPECT_EQ(Digests(two->index), Sorted({s.bundle_of_a.digest, s.sbom_of_a.digest}));
  EXPECT_EQ(two->index.manifests[0].digest == s.sbom_of_a.digest
                ? two->index.manifests[0].artifact_type
                : two->index.manifests[1].artifact_type,
            kBundleType);  // the SBOM-like manifest's own artifactType

  // B's referrer goes to B's tag only.
  ASSERT_TRUE(client.AddToReferrersTag(repo, s.bundle_of_b.bytes, std::nullopt).ok());
  auto of_b = client.ReadReferrersTag(repo, s.b.digest, std::nullopt);
  ASSERT_TRUE(of_b.ok()) << of_b.error().message();
  EXPECT_EQ(Digests(of_b->index), std::vector<std::string>{s.bundle_of_b.digest});
  auto still_two = client.ReadReferrersTag(repo, s.a.digest, std::nullopt);
  ASSERT_TRUE(still_two.ok()) << still_two.error().message();
  EXPECT_EQ(still_two->index.manifests.size(), 2u);

  // An entry another tool wrote, with a field signet does not know, is kept.
  std::string foreign =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)"
      R"("manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":)" +
      std::to_string(s.bundle_of_b.bytes.size()) + R"(,"digest":")" + s.bundle_of_b.digest +
      R"(","x-other-tool":"kept"}]})";
  ASSERT_TRUE(
      client
          .PutManifest(repo, ReferrersTagFor(s.c.digest), std::string(kOciIndexMediaType), foreign)
          .ok());
  Pushed bundle_of_c = PushReferrer(client, repo, s.c, kEmptyType, "bundle of c");
  ASSERT_TRUE(client.AddToReferrersTag(repo, bundle_of_c.bytes, std::nullopt).ok());
  auto of_c = client.ReadReferrersTag(repo, s.c.digest, std::nullopt);
  ASSERT_TRUE(of_c.ok()) << of_c.error().message();
  EXPECT_EQ(Digests(of_c->index), Sorted({s.bundle_of_b.digest, bundle_of_c.digest}));
  EXPECT_NE(of_c->manifest.bytes.find(R"("x-other-tool":"kept")"), std::string::npos)
      << of_c->manifest.bytes;

  // Something that is not an index under the tag: refused, left as it was.
  TestImageTag(client, repo, ReferrersTagFor(s.b.digest), s.c);
  Pushed other_of_b = PushReferrer(client, repo, s.b, kSbomConfigType, "other of b");
  auto refused = client.AddToReferrersTag(repo, other_of_b.bytes, std::nullopt);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kParse) << refused.error().message();
  auto left = client.GetManifest(repo, ReferrersTagFor(s.b.digest));
  ASSERT_TRUE(left.ok()) << left.error().message();
  EXPECT_EQ(left->bytes, s.c.manifest);

  // A manifest without a subject has no fallback tag.
  auto no_subject = client.AddToReferrersTag(repo, s.a.manifest, std::nullopt);
  ASSERT_FALSE(no_subject.ok());
  EXPECT_EQ(no_subject.error().code(), ErrorCode::kInvalidArgument);
}

// Writers sharing one client (as `sign --recursive` will) lose no entry:
// each of eight threads pushes its own referrer of the same image and lists
// it in the fallback tag at the same time.
TEST(ReferrersTest, ConcurrentFallbackTagWritersLoseNoEntry) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  RegistryClient client(PlainHttp());
  Repository repo{server->host(), "fallback-concurrent"};
  PushedImage image = PushRandomImage(client, repo, "v1");
  constexpr int kWriters = 8;
  std::vector<Pushed> referrers;
  for (int i = 0; i < kWriters; ++i) {
    referrers.push_back(
        PushReferrer(client, repo, image, kEmptyType, "bundle number " + std::to_string(i)));
  }
  std::vector<std::string> errors(kWriters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      auto added = client.AddToReferrersTag(repo, referrers[i].bytes, std::nullopt);
      if (!added.ok()) errors[i] = added.error().message();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  auto tag = client.ReadReferrersTag(repo, image.digest, std::nullopt);
  ASSERT_TRUE(tag.ok()) << tag.error().message();
  std::vector<std::string> want;
  for (const auto& r : referrers) want.push_back(r.digest);
  EXPECT_EQ(Digests(tag->index), Sorted(want));
}

// Neither real registry sends OCI-Subject, so PushReferrer writes the
// fallback tag on both; the referrers registry lists the referrer in its API
// as well.
TEST(ReferrersTest, PushReferrerListsTheReferrerOnBothRegistries) {
  auto registry = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  auto referrers_registry = ReferrersRegistryServer::Start();
  RegistryClient client(PlainHttp());
  for (const std::string& host : {registry->host(), referrers_registry->host()}) {
    SCOPED_TRACE(host);
    Repository repo{host, "push"};
    PushedImage image = PushRandomImage(client, repo, "v1");
    // Blobs and manifest bytes as PushReferrer's callers will prepare them.
    Pushed prepared = PushReferrer(client, repo, image, kEmptyType, "pushed bundle");
    auto pushed = client.PushReferrer(repo, prepared.bytes, std::nullopt);
    ASSERT_TRUE(pushed.ok()) << pushed.error().message();
    EXPECT_EQ(pushed->digest, prepared.digest);
    EXPECT_EQ(pushed->oci_subject, "");
    EXPECT_EQ(pushed->listed_by, ReferrerListedBy::kFallbackTag);
    auto tag = client.ReadReferrersTag(repo, image.digest, std::nullopt);
    ASSERT_TRUE(tag.ok()) << tag.error().message();
    EXPECT_EQ(Digests(tag->index), std::vector<std::string>{prepared.digest});
    auto listed = client.ListReferrers(repo, image.digest, std::nullopt);
    ASSERT_TRUE(listed.ok()) << listed.error().message();
    if (host == referrers_registry->host()) {
      EXPECT_EQ(Digests(listed->index), std::vector<std::string>{prepared.digest});
    } else {
      EXPECT_EQ(listed->answer, ReferrersAnswer::kNoReferrersApi);
    }
  }
}

TEST(ReferrersTest, InvalidSubjectDigestIsRefusedWithoutARequest) {
  RegistryClient client(PlainHttp());
  Repository repo{"127.0.0.1:1", "x"};
  for (const std::string& bad : {std::string("latest"), std::string("sha256:abc"),
                                 std::string("sha256:") + std::string(64, 'A')}) {
    auto listed = client.ListReferrers(repo, bad, std::nullopt);
    ASSERT_FALSE(listed.ok()) << bad;
    EXPECT_EQ(listed.error().code(), ErrorCode::kInvalidArgument);
    auto tag = client.ReadReferrersTag(repo, bad, std::nullopt);
    ASSERT_FALSE(tag.ok()) << bad;
    EXPECT_EQ(tag.error().code(), ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace signet::oci
