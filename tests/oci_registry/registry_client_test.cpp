// RegistryClient against a real docker-registry on 127.0.0.1 (plain HTTP,
// TLS + htpasswd Basic auth, and Bearer token auth).
#include "signet/oci/registry_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "signet/crypto/encoding.h"
#include "signet/oci/keychain.h"
#include "signet/oci/manifest.h"
#include "support/registry_server.h"

namespace signet::oci {
namespace {

using signet::testing::RegistryServer;

struct TestImage {
  std::string config;
  std::string layer;
  std::string manifest;
  std::string digest;  // of manifest
};

// Fails the test unless `result` is an error with `code`.
template <typename T>
void ExpectError(const Result<T>& result, ErrorCode code) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), code) << result.error().message();
}

TestImage MakeImage(const std::string& seed) {
  TestImage image;
  image.config = R"({"architecture":"amd64","os":"linux","seed":")" + seed + R"("})";
  image.layer = "layer bytes for " + seed;
  image.manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      crypto::Sha256Digest(image.config) + R"(","size":)" + std::to_string(image.config.size()) +
      R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
      crypto::Sha256Digest(image.layer) + R"(","size":)" + std::to_string(image.layer.size()) +
      "}]}";
  image.digest = crypto::Sha256Digest(image.manifest);
  return image;
}

void Push(Registry& registry, const Repository& repo, const TestImage& image,
          const std::string& tag) {
  Status config = registry.PutBlob(repo, crypto::Sha256Digest(image.config), image.config);
  ASSERT_TRUE(config.ok()) << config.error().message();
  Status layer = registry.PutBlob(repo, crypto::Sha256Digest(image.layer), image.layer);
  ASSERT_TRUE(layer.ok()) << layer.error().message();
  auto digest = registry.PutManifest(repo, tag, std::string(kOciManifestMediaType), image.manifest);
  ASSERT_TRUE(digest.ok()) << digest.error().message();
  EXPECT_EQ(*digest, image.digest);
}

RegistryClientOptions OptionsFor(const RegistryServer& server) {
  RegistryClientOptions options;
  options.allow_insecure = !server.tls();
  options.ca_file = server.ca_file();
  options.max_retries = 1;
  options.max_retry_wait = std::chrono::milliseconds(100);
  if (!server.username().empty()) {
    Credentials creds;
    creds.username = server.username();
    creds.password = server.password();
    options.keychain = StaticKeychain(server.host(), creds);
  }
  return options;
}

TEST(RegistryClientTest, PlainHttpRoundTrip) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  RegistryClient client(OptionsFor(*server));
  Repository repo{server->host(), "team/app"};
  TestImage image = MakeImage("round-trip");
  Push(client, repo, image, "v1");

  auto by_tag = client.GetManifest(repo, "v1");
  ASSERT_TRUE(by_tag.ok()) << by_tag.error().message();
  EXPECT_EQ(by_tag->bytes, image.manifest);
  EXPECT_EQ(by_tag->digest, image.digest);
  EXPECT_EQ(by_tag->media_type, kOciManifestMediaType);

  auto by_digest = client.GetManifest(repo, image.digest);
  ASSERT_TRUE(by_digest.ok()) << by_digest.error().message();
  EXPECT_EQ(by_digest->bytes, image.manifest);

  auto head = client.HeadManifest(repo, "v1");
  ASSERT_TRUE(head.ok()) << head.error().message();
  EXPECT_EQ(head->digest, image.digest);
  EXPECT_EQ(head->size, image.manifest.size());
  EXPECT_EQ(head->media_type, kOciManifestMediaType);

  auto layer = client.GetBlob(repo, crypto::Sha256Digest(image.layer));
  ASSERT_TRUE(layer.ok()) << layer.error().message();
  EXPECT_EQ(*layer, image.layer);

  auto parsed = ParseImageManifest(by_tag->bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  auto config = client.GetBlob(repo, parsed->config.digest);
  ASSERT_TRUE(config.ok()) << config.error().message();
  EXPECT_EQ(*config, image.config);
}

// distribution 2.8 serves an OCI index or a Docker manifest list only to a
// client whose Accept names that type (otherwise it answers 404): every
// manifest GET and HEAD must accept all four manifest types.
TEST(RegistryClientTest, EveryManifestTypeIsAcceptedOnGetAndHead) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  RegistryClient client(OptionsFor(*server));
  Repository repo{server->host(), "multi"};
  TestImage a = MakeImage("index-a");
  TestImage b = MakeImage("index-b");
  Push(client, repo, a, "a");
  Push(client, repo, b, "b");
  auto entry = [](const TestImage& image, const std::string& arch) {
    return R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
           image.digest + R"(","size":)" + std::to_string(image.manifest.size()) +
           R"(,"platform":{"architecture":")" + arch + R"(","os":"linux"}})";
  };
  std::string index = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)"
                      R"("manifests":[)" +
                      entry(a, "amd64") + "," + entry(b, "arm64") + "]}";
  auto index_digest = client.PutManifest(repo, "index", std::string(kOciIndexMediaType), index);
  ASSERT_TRUE(index_digest.ok()) << index_digest.error().message();

  // A Docker v2 manifest and a Docker manifest list naming it.
  std::string docker_config = R"({"architecture":"amd64","os":"linux","docker":true})";
  ASSERT_TRUE(client.PutBlob(repo, crypto::Sha256Digest(docker_config), docker_config).ok());
  ASSERT_TRUE(client.PutBlob(repo, crypto::Sha256Digest(a.layer), a.layer).ok());
  std::string docker_manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
      R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":")" +
      crypto::Sha256Digest(docker_config) + R"(","size":)" + std::to_string(docker_config.size()) +
      R"(},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":")" +
      crypto::Sha256Digest(a.layer) + R"(","size":)" + std::to_string(a.layer.size()) + "}]}";
  auto docker_digest =
      client.PutManifest(repo, "docker", std::string(kDockerManifestMediaType), docker_manifest);
  ASSERT_TRUE(docker_digest.ok()) << docker_digest.error().message();
  std::string docker_list =
      R"({"schemaVersion":2,)"
      R"("mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",)"
      R"("manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
      R"("digest":")" +
      *docker_digest + R"(","size":)" + std::to_string(docker_manifest.size()) +
      R"(,"platform":{"architecture":"amd64","os":"linux"}}]})";
  auto list_digest =
      client.PutManifest(repo, "list", std::string(kDockerManifestListMediaType), docker_list);
  ASSERT_TRUE(list_digest.ok()) << list_digest.error().message();

  struct Want {
    std::string tag, digest, media_type, bytes;
  };
  for (const Want& want : std::vector<Want>{
           {"a", a.digest, std::string(kOciManifestMediaType), a.manifest},
           {"index", *index_digest, std::string(kOciIndexMediaType), index},
           {"docker", *docker_digest, std::string(kDockerManifestMediaType), docker_manifest},
           {"list", *list_digest, std::string(kDockerManifestListMediaType), docker_list}}) {
    SCOPED_TRACE(want.tag);
    for (const std::string& ref : {want.tag, want.digest}) {
      auto got = client.GetManifest(repo, ref);
      ASSERT_TRUE(got.ok()) << got.error().message();
      EXPECT_EQ(got->bytes, want.bytes);
      EXPECT_EQ(got->digest, want.digest);
      EXPECT_EQ(got->media_type, want.media_type);
      auto head = client.HeadManifest(repo, ref);
      ASSERT_TRUE(head.ok()) << head.error().message();
      EXPECT_EQ(head->digest, want.digest);
      EXPECT_EQ(head->media_type, want.media_type);
      EXPECT_EQ(head->size, want.bytes.size());
    }
  }
  auto parsed = ParseImageIndex(client.GetManifest(repo, "index")->bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  ASSERT_EQ(parsed->manifests.size(), 2u);
  EXPECT_EQ(parsed->manifests[1].digest, b.digest);
}

TEST(RegistryClientTest, PutBlobSkipsExistingBlobs) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  RegistryClient client(OptionsFor(*server));
  Repository repo{server->host(), "skip"};
  std::string blob = "same blob";
  ASSERT_TRUE(client.PutBlob(repo, crypto::Sha256Digest(blob), blob).ok());
  int posts = server->CountRequests("POST", "/v2/skip/blobs/uploads/");
  EXPECT_EQ(posts, 1);
  ASSERT_TRUE(client.PutBlob(repo, crypto::Sha256Digest(blob), blob).ok());
  EXPECT_EQ(server->CountRequests("POST", "/v2/skip/blobs/uploads/"), posts);

  Status wrong = client.PutBlob(repo, crypto::Sha256Digest("other"), blob);
  ExpectError(wrong, ErrorCode::kInvalidArgument);
}

TEST(RegistryClientTest, ListTags) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  RegistryClient client(OptionsFor(*server));
  Repository repo{server->host(), "tags"};
  TestImage image = MakeImage("tags");
  std::set<std::string> want;
  for (int i = 0; i < 5; ++i) {
    std::string tag = "t";  // appended: `"t" + std::to_string(i)` trips GCC 12's -Wrestrict
    tag += std::to_string(i);
    Push(client, repo, image, tag);
    want.insert(tag);
  }
  auto tags = client.ListTags(repo);
  ASSERT_TRUE(tags.ok()) << tags.error().message();
  EXPECT_EQ(std::set<std::string>(tags->begin(), tags->end()), want);
}

TEST(RegistryClientTest, MissingManifestAndBlobAreNotFound) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  RegistryClient client(OptionsFor(*server));
  Repository repo{server->host(), "nothing/here"};
  auto manifest = client.GetManifest(repo, "latest");
  ExpectError(manifest, ErrorCode::kNotFound);
  EXPECT_NE(manifest.error().message().find("MANIFEST_UNKNOWN"), std::string::npos)
      << manifest.error().message();
  auto head = client.HeadManifest(repo, "latest");
  ExpectError(head, ErrorCode::kNotFound);
  auto blob = client.GetBlob(repo, crypto::Sha256Digest("absent"));
  ExpectError(blob, ErrorCode::kNotFound);
}

TEST(RegistryClientTest, CorruptedBlobIsADigestMismatch) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  RegistryClient client(OptionsFor(*server));
  Repository repo{server->host(), "corrupt"};
  std::string blob = "honest content";
  std::string digest = crypto::Sha256Digest(blob);
  ASSERT_TRUE(client.PutBlob(repo, digest, blob).ok());
  ASSERT_TRUE(client.GetBlob(repo, digest).ok());
  {
    std::ofstream out(server->BlobPath(digest), std::ios::binary | std::ios::trunc);
    ASSERT_TRUE(out) << server->BlobPath(digest);
    out << "forged content";  // same length as the original
  }
  auto fetched = client.GetBlob(repo, digest);
  ExpectError(fetched, ErrorCode::kDigestMismatch);
  EXPECT_NE(fetched.error().message().find(digest), std::string::npos);
  EXPECT_NE(fetched.error().message().find(crypto::Sha256Digest("forged content")),
            std::string::npos)
      << fetched.error().message();
}

// distribution itself notices this corruption and answers 500; either way
// the client must not return the forged bytes.
TEST(RegistryClientTest, CorruptedManifestFetchedByDigestFailsClosed) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  RegistryClient client(OptionsFor(*server));
  Repository repo{server->host(), "corrupt-manifest"};
  TestImage image = MakeImage("corrupt-manifest");
  Push(client, repo, image, "v1");
  std::string forged = image.manifest;
  forged[forged.size() - 2] = ' ';  // keep the length, change a byte
  {
    std::ofstream out(server->BlobPath(image.digest), std::ios::binary | std::ios::trunc);
    out << forged;
  }
  auto by_digest = client.GetManifest(repo, image.digest);
  ASSERT_FALSE(by_digest.ok());
  EXPECT_TRUE(by_digest.error().code() == ErrorCode::kDigestMismatch ||
              by_digest.error().code() == ErrorCode::kRegistry)
      << by_digest.error().message();
}

TEST(RegistryClientTest, ManifestOverTheCapIsRefused) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  RegistryClient client(OptionsFor(*server));
  Repository repo{server->host(), "big"};
  TestImage image = MakeImage("big");
  Push(client, repo, image, "v1");
  auto capped = client.GetManifest(repo, "v1", image.manifest.size() - 1);
  ExpectError(capped, ErrorCode::kTooLarge);
  auto exact = client.GetManifest(repo, "v1", image.manifest.size());
  EXPECT_TRUE(exact.ok());
  auto blob = client.GetBlob(repo, crypto::Sha256Digest(image.layer), 4);
  ExpectError(blob, ErrorCode::kTooLarge);
}

TEST(RegistryClientTest, RegistryDownIsANetworkErrorNamingTheHost) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  RegistryClientOptions options = OptionsFor(*server);
  std::atomic<int> transport_failures{0};
  options.on_response = [&](const std::string&, long status) {
    if (status == 0) ++transport_failures;
  };
  RegistryClient client(std::move(options));
  server->Stop();
  auto manifest = client.GetManifest(Repository{server->host(), "down"}, "latest");
  ExpectError(manifest, ErrorCode::kNetwork);
  EXPECT_NE(manifest.error().message().find(server->host()), std::string::npos)
      << manifest.error().message();
  EXPECT_GT(transport_failures.load(), 0);
}

TEST(RegistryClientTest, OnResponseSeesEveryExchange) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  RegistryClientOptions options = OptionsFor(*server);
  std::mutex mu;
  std::vector<std::pair<std::string, long>> seen;
  options.on_response = [&](const std::string& host, long status) {
    std::lock_guard<std::mutex> lock(mu);
    seen.emplace_back(host, status);
  };
  RegistryClient client(std::move(options));
  auto missing = client.GetManifest(Repository{server->host(), "seen"}, "nope");
  ASSERT_FALSE(missing.ok());
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().first, server->host());
  EXPECT_EQ(seen.back().second, 404);
}

TEST(RegistryClientTest, TlsBasicAuthRoundTripWithExtraCa) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kTlsBasicAuth);
  RegistryClient client(OptionsFor(*server));
  Repository repo{server->host(), "secure/app"};
  TestImage image = MakeImage("tls");
  Push(client, repo, image, "v1");
  auto manifest = client.GetManifest(repo, "v1");
  ASSERT_TRUE(manifest.ok()) << manifest.error().message();
  EXPECT_EQ(manifest->digest, image.digest);
}

TEST(RegistryClientTest, TlsWithoutTheCaFails) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kTlsBasicAuth);
  RegistryClientOptions options = OptionsFor(*server);
  options.ca_file.clear();
  RegistryClient client(std::move(options));
  auto manifest = client.GetManifest(Repository{server->host(), "secure/app"}, "v1");
  ExpectError(manifest, ErrorCode::kNetwork);

  // --allow-insecure-registry skips verification instead.
  RegistryClientOptions insecure = OptionsFor(*server);
  insecure.ca_file.clear();
  insecure.allow_insecure = true;
  RegistryClient insecure_client(std::move(insecure));
  auto absent = insecure_client.GetManifest(Repository{server->host(), "secure/app"}, "v1");
  ExpectError(absent, ErrorCode::kNotFound);
}

// Scheme choice as cosign and go-containerregistry make it: a loopback
// registry (localhost, 127.0.0.0/8, [::1]) that speaks plain HTTP is reached
// without allow_insecure.
TEST(RegistryClientTest, PlainHttpLoopbackRegistryNeedsNoAllowInsecure) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  RegistryClientOptions options = OptionsFor(*server);
  options.allow_insecure = false;
  RegistryClient client(std::move(options));
  Repository repo{server->host(), "loopback/app"};
  TestImage image = MakeImage("loopback");
  Push(client, repo, image, "v1");
  auto manifest = client.GetManifest(repo, "v1");
  ASSERT_TRUE(manifest.ok()) << manifest.error().message();
  EXPECT_EQ(manifest->digest, image.digest);
  auto by_name = client.GetManifest(
      Repository{"localhost:" + std::to_string(server->port()), "loopback/app"}, "v1");
  ASSERT_TRUE(by_name.ok()) << by_name.error().message();
}

// Any other host is never downgraded to plain HTTP without allow_insecure,
// even when it resolves to loopback: "signet-test.localhost" is a DNS name
// (libcurl resolves *.localhost to 127.0.0.1 itself), not a loopback host.
// The error says what to do; the registry receives nothing.
TEST(RegistryClientTest, NonLoopbackHostIsNeverDowngradedToPlainHttp) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  const Repository repo{"signet-test.localhost:" + std::to_string(server->port()), "a"};
  RegistryClientOptions options = OptionsFor(*server);
  options.allow_insecure = false;
  RegistryClient client(std::move(options));
  auto manifest = client.GetManifest(repo, "v1");
  ExpectError(manifest, ErrorCode::kNetwork);
  EXPECT_NE(manifest.error().message().find("does not seem to speak TLS"), std::string::npos)
      << manifest.error().message();
  EXPECT_NE(manifest.error().message().find("--allow-insecure-registry"), std::string::npos)
      << manifest.error().message();
  EXPECT_EQ(server->CountRequests("GET", "/v2/a/manifests"), 0);

  // Positive control: the name does reach the registry, with allow_insecure.
  RegistryClient insecure(OptionsFor(*server));
  auto absent = insecure.GetManifest(repo, "v1");
  ExpectError(absent, ErrorCode::kNotFound);
  EXPECT_EQ(server->CountRequests("GET", "/v2/a/manifests"), 1);
}

TEST(RegistryClientTest, WrongBasicCredentialsAreAnAuthErrorWithoutThePassword) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kTlsBasicAuth);
  RegistryClientOptions options = OptionsFor(*server);
  Credentials wrong;
  wrong.username = server->username();
  wrong.password = "not-the-password-Zq9";
  options.keychain = StaticKeychain(server->host(), wrong);
  RegistryClient client(std::move(options));
  auto manifest = client.GetManifest(Repository{server->host(), "secure/app"}, "v1");
  ExpectError(manifest, ErrorCode::kAuth);
  EXPECT_EQ(manifest.error().message().find("not-the-password-Zq9"), std::string::npos);

  RegistryClientOptions anonymous = OptionsFor(*server);
  anonymous.keychain = AnonymousKeychain();
  RegistryClient anonymous_client(std::move(anonymous));
  const int before = server->CountRequests("GET", "/v2/secure/app/manifests/v1");
  auto denied = anonymous_client.GetManifest(Repository{server->host(), "secure/app"}, "v1");
  ExpectError(denied, ErrorCode::kAuth);
  // With nothing to answer the challenge with, the 401 is final: one request.
  EXPECT_EQ(server->CountRequests("GET", "/v2/secure/app/manifests/v1") - before, 1);
  // Positive control: with credentials the challenge is answered (a second
  // request, which succeeds or is refused).
  EXPECT_GE(server->CountRequests("GET", "/v2/secure/app/manifests/v1"), 2);
}

TEST(RegistryClientTest, TokenFlowRoundTripAndTokenCaching) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kTokenAuth);
  RegistryClient client(OptionsFor(*server));
  Repository repo{server->host(), "tokens/app"};
  TestImage image = MakeImage("token");
  Push(client, repo, image, "v1");
  int after_push = server->token_requests();
  EXPECT_GE(after_push, 1);

  for (int i = 0; i < 3; ++i) {
    auto manifest = client.GetManifest(repo, "v1");
    ASSERT_TRUE(manifest.ok()) << manifest.error().message();
    EXPECT_EQ(manifest->digest, image.digest);
  }
  int after_first_pulls = server->token_requests();
  // The pull scope differs from the push scope: at most one more token.
  EXPECT_LE(after_first_pulls - after_push, 1);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client.GetBlob(repo, crypto::Sha256Digest(image.layer)).ok());
  }
  EXPECT_EQ(server->token_requests(), after_first_pulls) << "tokens must be cached per scope";
}

TEST(RegistryClientTest, TokenFlowWithWrongCredentials) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kTokenAuth);
  RegistryClientOptions options = OptionsFor(*server);
  Credentials wrong;
  wrong.username = server->username();
  wrong.password = "wrong-Pw-77";
  options.keychain = StaticKeychain(server->host(), wrong);
  RegistryClient client(std::move(options));
  auto manifest = client.GetManifest(Repository{server->host(), "tokens/app"}, "v1");
  ExpectError(manifest, ErrorCode::kAuth);
  EXPECT_EQ(manifest.error().message().find("wrong-Pw-77"), std::string::npos);
}

// The registry named as localhost:<port> whose token realm is
// https://127.0.0.1:<other port>: another host. Its credentials go there only
// once that realm host is listed for the registry.
TEST(RegistryClientTest, TokenRealmOnAnotherHostGetsCredentialsOnlyWhenListed) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kTokenAuth);
  const std::string host = "localhost:" + std::to_string(server->port());
  const std::string realm_host = server->token_realm().substr(
      8, server->token_realm().find('/', 8) - 8);  // "127.0.0.1:<port>"
  RegistryClientOptions options = OptionsFor(*server);
  options.keychain = StaticKeychain(host, Credentials{server->username(), server->password(), ""});
  Repository repo{host, "listed/app"};

  RegistryClient unlisted(options);
  auto refused = unlisted.GetManifest(repo, "v1");
  ExpectError(refused, ErrorCode::kAuth);
  EXPECT_NE(refused.error().message().find("tokenRealmHosts"), std::string::npos)
      << refused.error().message();
  EXPECT_EQ(server->token_requests(), 0) << "the realm on another host received a request";

  options.token_realm_hosts[host] = {realm_host};
  RegistryClient listed(options);
  auto found = listed.GetManifest(repo, "v1");
  ExpectError(found, ErrorCode::kNotFound);  // authenticated; the image does not exist
  EXPECT_GE(server->token_requests(), 1);
}

TEST(RegistryClientTest, ExpiredTokensAreRenewed) {
  RegistryServer::Options server_options;
  server_options.token_expires_in_seconds = 1;  // below the renewal margin: never cached
  auto server = RegistryServer::Start(RegistryServer::Mode::kTokenAuth, server_options);
  RegistryClient client(OptionsFor(*server));
  Repository repo{server->host(), "short/lived"};
  auto first = client.GetManifest(repo, "v1");
  ExpectError(first, ErrorCode::kNotFound);
  int before = server->token_requests();
  auto second = client.GetManifest(repo, "v1");
  ExpectError(second, ErrorCode::kNotFound);
  EXPECT_GT(server->token_requests(), before);
}

TEST(RegistryClientTest, ConcurrentPullsShareOneClient) {
  auto server = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
  RegistryClient client(OptionsFor(*server));
  Repository repo{server->host(), "concurrent"};
  TestImage image = MakeImage("concurrent");
  Push(client, repo, image, "v1");
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto m = client.GetManifest(repo, "v1");
        if (m.ok() && m->digest == image.digest) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 40);
}

}  // namespace
}  // namespace signet::oci
