// RegistryClient against scripted_registry.py, a registry that misbehaves on
// purpose: retries, Retry-After, lying digests, cross-host redirects,
// relative upload locations and tag pagination.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "signet/crypto/encoding.h"
#include "signet/oci/deadline.h"
#include "signet/oci/keychain.h"
#include "signet/oci/registry_client.h"
#include "support/paths.h"
#include "support/process.h"

namespace signet::oci {
namespace {

using signet::testing::ChildProcess;
using signet::testing::TempDir;

class ScriptedRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = signet::testing::FreePort();
    host_ = "127.0.0.1:" + std::to_string(port_);
    server_ = ChildProcess(
        {"python3", signet::testing::SourceDir() + "/tests/oci_registry/scripted_registry.py",
         std::to_string(port_), dir_.File("requests.log")},
        {}, dir_.File("server.log"));
    ASSERT_TRUE(signet::testing::WaitForPort(port_))
        << signet::testing::ReadFile(dir_.File("server.log"));
  }

  RegistryClientOptions Options() const {
    RegistryClientOptions options;
    options.allow_insecure = true;  // plain HTTP
    // The script never answers a TLS handshake: give up on https quickly.
    options.connect_timeout = std::chrono::milliseconds(500);
    options.max_retries = 3;
    options.max_retry_wait = std::chrono::milliseconds(20);
    return options;
  }

  RegistryClientOptions OptionsWith(std::shared_ptr<Keychain> keychain,
                                    std::chrono::milliseconds credentials_ttl) const {
    RegistryClientOptions options = Options();
    options.keychain = std::move(keychain);
    options.credentials_ttl = credentials_ttl;
    return options;
  }

  // Logged requests (JSON lines) whose text contains every one of `parts`.
  int Count(const std::vector<std::string>& parts) const {
    std::istringstream log(signet::testing::ReadFile(dir_.File("requests.log")));
    int n = 0;
    for (std::string line; std::getline(log, line);) {
      bool all = true;
      for (const std::string& part : parts) all = all && line.find(part) != std::string::npos;
      n += all ? 1 : 0;
    }
    return n;
  }

  Repository Repo(const std::string& path) const { return Repository{host_, path}; }

  TempDir dir_;
  int port_ = 0;
  std::string host_;
  ChildProcess server_;
};

TEST_F(ScriptedRegistryTest, RetriesIdempotentRequestsOn5xx) {
  RegistryClient client(Options());
  auto manifest = client.GetManifest(Repo("flaky"), "v1");
  ASSERT_TRUE(manifest.ok()) << manifest.error().message();
  EXPECT_EQ(Count({"\"GET\"", "/v2/flaky/manifests/v1"}), 3);
}

TEST_F(ScriptedRegistryTest, RetriesAreBounded) {
  RegistryClient client(Options());
  auto manifest = client.GetManifest(Repo("down"), "v1");
  ASSERT_FALSE(manifest.ok());
  EXPECT_EQ(manifest.error().code(), ErrorCode::kRegistry);
  EXPECT_NE(manifest.error().message().find("503"), std::string::npos);
  EXPECT_NE(manifest.error().message().find("UNAVAILABLE: try later"), std::string::npos)
      << manifest.error().message();
  EXPECT_EQ(Count({"/v2/down/manifests/v1"}), 4);  // 1 + max_retries
}

TEST_F(ScriptedRegistryTest, HonoursRetryAfterOn429) {
  // Retry-After: 1 is waited for in full within a deadline, whatever
  // max_retry_wait (20 ms here) says...
  RegistryClient client(Options());
  auto manifest = client.GetManifest(Repo("limited"), "v1", kDefaultMaxManifestBytes,
                                     DeadlineClock::now() + std::chrono::seconds(20));
  ASSERT_TRUE(manifest.ok()) << manifest.error().message();
  EXPECT_EQ(Count({"/v2/limited/manifests/v1"}), 2);
}

TEST_F(ScriptedRegistryTest, WithoutADeadlineA429WaitsOnlyUpToMaxRetryWait) {
  // ...and without one, only when it is within max_retry_wait: here the 429
  // is the answer, with the reason, and its status typed on the error.
  RegistryClient client(Options());
  auto manifest = client.GetManifest(Repo("limited"), "v1");
  ASSERT_FALSE(manifest.ok());
  EXPECT_EQ(manifest.error().http_status(), 429);
  EXPECT_NE(manifest.error().message().find("more than the 20 ms this client waits"),
            std::string::npos)
      << manifest.error().message();
  EXPECT_EQ(Count({"/v2/limited/manifests/v1"}), 1);
}

TEST_F(ScriptedRegistryTest, DoesNotWaitForARetryPastTheDeadline) {
  RegistryClientOptions options = Options();
  options.max_retry_wait = std::chrono::seconds(5);  // Retry-After: 1 would be honoured
  RegistryClient client(options);
  auto manifest = client.GetManifest(Repo("limited"), "v1", kDefaultMaxManifestBytes,
                                     DeadlineClock::now() + std::chrono::milliseconds(900));
  ASSERT_FALSE(manifest.ok());
  EXPECT_NE(manifest.error().message().find("HTTP 429"), std::string::npos)
      << manifest.error().message();
  EXPECT_EQ(Count({"/v2/limited/manifests/v1"}), 1);
}

TEST_F(ScriptedRegistryTest, MakesNoRequestOnceTheDeadlineHasPassed) {
  RegistryClient client(Options());
  auto manifest = client.GetManifest(Repo("flaky"), "v1", kDefaultMaxManifestBytes,
                                     DeadlineClock::now() - std::chrono::milliseconds(1));
  ASSERT_FALSE(manifest.ok());
  EXPECT_EQ(manifest.error().code(), ErrorCode::kTimeout) << manifest.error().message();
  EXPECT_EQ(Count({"/v2/"}), 0);
}

TEST_F(ScriptedRegistryTest, RetriesAfterAConnectionReset) {
  RegistryClient client(Options());
  auto manifest = client.GetManifest(Repo("reset"), "v1");
  ASSERT_TRUE(manifest.ok()) << manifest.error().message();
  EXPECT_GE(Count({"/v2/reset/manifests/v1"}), 2);
}

TEST_F(ScriptedRegistryTest, NonIdempotentRequestsAreNotRetried) {
  RegistryClient client(Options());
  std::string blob = "x";
  Status put = client.PutBlob(Repo("flaky"), crypto::Sha256Digest(blob), blob);
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().code(), ErrorCode::kRegistry) << put.error().message();
  EXPECT_EQ(Count({"\"POST\"", "/v2/flaky/blobs/uploads/"}), 1);
}

TEST_F(ScriptedRegistryTest, LyingDockerContentDigestIsAMismatch) {
  RegistryClient client(Options());
  auto manifest = client.GetManifest(Repo("liar"), "v1");
  ASSERT_FALSE(manifest.ok());
  EXPECT_EQ(manifest.error().code(), ErrorCode::kDigestMismatch);
  EXPECT_NE(manifest.error().message().find("sha256:" + std::string(64, '1')), std::string::npos)
      << manifest.error().message();
  auto head = client.HeadManifest(Repo("liar"), "sha256:" + std::string(64, '2'));
  ASSERT_FALSE(head.ok());
}

TEST_F(ScriptedRegistryTest, RedirectsToAnotherHostCarryNoCredentials) {
  RegistryClientOptions options = Options();
  options.keychain = StaticKeychain(host_, Credentials{"user", "secret-pw", ""});
  RegistryClient client(std::move(options));
  std::string blob = "stored blob behind a redirect";
  auto fetched = client.GetBlob(Repo("private"), crypto::Sha256Digest(blob));
  ASSERT_TRUE(fetched.ok()) << fetched.error().message();
  EXPECT_EQ(*fetched, blob);
  EXPECT_EQ(Count({"/v2/private/blobs/", "\"auth\": true"}), 1);
  EXPECT_EQ(Count({"/storage/", "\"host\": \"localhost:"}), 1);
  EXPECT_EQ(Count({"/storage/", "\"auth\": true"}), 0) << "credentials leaked to another host";
}

TEST_F(ScriptedRegistryTest, UploadToARelativeLocationWithAQuery) {
  RegistryClient client(Options());
  std::string blob = "uploaded";
  Status put = client.PutBlob(Repo("upload"), crypto::Sha256Digest(blob), blob);
  ASSERT_TRUE(put.ok()) << put.error().message();
  EXPECT_EQ(
      Count({"\"PUT\"", "/upload/session-1?_state=abc&digest=sha256%3A" + crypto::Sha256Hex(blob)}),
      1);
}

TEST_F(ScriptedRegistryTest, ConnectionsAreKeptAlive) {
  RegistryClient client(Options());
  for (int i = 0; i < 10; ++i) {
    std::string tag = "v";  // appended: `"v" + std::to_string(i)` trips GCC 12's -Wrestrict
    tag += std::to_string(i);
    auto missing = client.GetManifest(Repo("keepalive"), tag);
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound) << missing.error().message();
  }
  std::istringstream log(signet::testing::ReadFile(dir_.File("requests.log")));
  std::set<std::string> ports;
  for (std::string line; std::getline(log, line);) {
    if (line.find("/v2/keepalive/") == std::string::npos) continue;
    ports.insert(line.substr(line.find("\"peer_port\"")));
  }
  EXPECT_EQ(Count({"/v2/keepalive/"}), 10);
  EXPECT_EQ(ports.size(), 1u) << "each request opened a new connection";
}

TEST_F(ScriptedRegistryTest, IdentityTokenIsExchangedWithAPostedRefreshToken) {
  RegistryClientOptions options = Options();
  options.keychain = StaticKeychain(host_, Credentials{"", "", "refresh-123"});
  RegistryClient client(std::move(options));
  auto manifest = client.GetManifest(Repo("oauth"), "v1");
  ASSERT_TRUE(manifest.ok()) << manifest.error().message();
  EXPECT_EQ(Count({"\"POST\"", "\"/token\""}), 1);
  EXPECT_EQ(Count({"\"GET\"", "/token?"}), 0);
}

TEST_F(ScriptedRegistryTest, BearerTokenWithBasicCredentialsAtTheRealm) {
  RegistryClientOptions options = Options();
  options.keychain = StaticKeychain(host_, Credentials{"user", "secret-pw", ""});
  RegistryClient client(std::move(options));
  for (int i = 0; i < 3; ++i) {
    auto manifest = client.GetManifest(Repo("oauth"), "v1");
    ASSERT_TRUE(manifest.ok()) << manifest.error().message();
  }
  EXPECT_EQ(Count({"\"GET\"", "/token?", "\"auth\": true"}), 1) << "token not cached";

  RegistryClientOptions wrong = Options();
  wrong.keychain = StaticKeychain(host_, Credentials{"user", "bad-pw-41", ""});
  RegistryClient wrong_client(std::move(wrong));
  auto refused = wrong_client.GetManifest(Repo("oauth"), "v1");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kAuth) << refused.error().message();
  EXPECT_EQ(refused.error().message().find("bad-pw-41"), std::string::npos);
}

// A Bearer realm on another host never receives the registry's credentials,
// not even when listed for it over plain HTTP; the registry's own realm does.
TEST_F(ScriptedRegistryTest, BearerRealmOnAnotherHostReceivesNoCredentials) {
  RegistryClientOptions options = Options();
  options.keychain = StaticKeychain(host_, Credentials{"user", "secret-pw", ""});
  RegistryClient client(options);
  auto refused = client.GetManifest(Repo("elsewhere"), "v1");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kAuth) << refused.error().message();
  EXPECT_NE(refused.error().message().find("tokenRealmHosts"), std::string::npos)
      << refused.error().message();
  EXPECT_EQ(refused.error().message().find("secret-pw"), std::string::npos);

  options.token_realm_hosts[host_] = {"localhost:" + std::to_string(port_)};
  RegistryClient listed_client(options);
  auto plain_http = listed_client.GetManifest(Repo("elsewhere"), "v1");
  ASSERT_FALSE(plain_http.ok()) << "a listed realm host still needs HTTPS";
  EXPECT_EQ(Count({"/token?", "\"host\": \"localhost:"}), 0) << "credentials went to another host";

  // Positive control: the registry's own realm receives them.
  RegistryClient fresh(options);
  auto own = fresh.GetManifest(Repo("oauth"), "v1");
  ASSERT_TRUE(own.ok()) << own.error().message();
  EXPECT_EQ(Count({"/token?", "\"host\": \"127.0.0.1:", "\"auth\": true"}), 1);
}

// A redirect's other host answers 401 with a realm of its own: that challenge
// is not taken, so no request (credentialed or not) goes to its realm, and the
// registry's own challenge keeps working.
TEST_F(ScriptedRegistryTest, ChallengeFromARedirectsOtherHostIsIgnored) {
  RegistryClient anonymous(Options());
  for (int i = 0; i < 2; ++i) {
    auto swapped = anonymous.GetManifest(Repo("swap"), "v1");
    ASSERT_FALSE(swapped.ok());
    EXPECT_EQ(swapped.error().code(), ErrorCode::kAuth) << swapped.error().message();
  }
  EXPECT_EQ(Count({"/swap-target"}), 2);  // the redirect was followed
  EXPECT_EQ(Count({"/evil-token"}), 0) << "the other host's challenge was taken";

  RegistryClientOptions options = Options();
  options.keychain = StaticKeychain(host_, Credentials{"user", "secret-pw", ""});
  RegistryClient client(std::move(options));
  ASSERT_FALSE(client.GetManifest(Repo("swap"), "v1").ok());
  EXPECT_EQ(Count({"/evil-token"}), 0) << "the other host's challenge was taken";
  // Positive control: the registry's own challenge still leads to its realm.
  auto own = client.GetManifest(Repo("oauth"), "v1");
  ASSERT_TRUE(own.ok()) << own.error().message();
  EXPECT_EQ(Count({"/token?", "\"host\": \"127.0.0.1:", "\"auth\": true"}), 1);
}

// A keychain whose credentials the test rotates; counts look-ups.
class RotatingKeychain : public Keychain {
 public:
  explicit RotatingKeychain(Credentials credentials) : credentials_(std::move(credentials)) {}
  void Rotate(Credentials credentials) {
    std::lock_guard<std::mutex> lock(mu_);
    credentials_ = std::move(credentials);
  }
  int resolves() const {
    std::lock_guard<std::mutex> lock(mu_);
    return resolves_;
  }
  Result<Credentials> Resolve(const std::string&) const override {
    std::lock_guard<std::mutex> lock(mu_);
    ++resolves_;
    return credentials_;
  }

 private:
  mutable std::mutex mu_;
  Credentials credentials_;
  mutable int resolves_ = 0;
};

// A rotated secret is used without a restart: at once when the registry
// refuses the old one, and after credentials_ttl otherwise.
TEST_F(ScriptedRegistryTest, RotatedCredentialsAreUsedWithoutARestart) {
  auto keychain = std::make_shared<RotatingKeychain>(Credentials{"user", "old-pw", ""});
  RegistryClient client(OptionsWith(keychain, std::chrono::hours(1)));
  auto old_secret = client.GetManifest(Repo("rotated"), "v1");
  ASSERT_FALSE(old_secret.ok());
  EXPECT_EQ(old_secret.error().code(), ErrorCode::kAuth) << old_secret.error().message();
  keychain->Rotate(Credentials{"user", "new-pw", ""});
  auto new_secret = client.GetManifest(Repo("rotated"), "v1");
  EXPECT_TRUE(new_secret.ok()) << "the refused secret is still cached: "
                               << new_secret.error().message();
}

TEST_F(ScriptedRegistryTest, CredentialsAreResolvedAgainAfterTheirTtl) {
  auto cached_keychain = std::make_shared<RotatingKeychain>(Credentials{"user", "new-pw", ""});
  RegistryClient cached_client(OptionsWith(cached_keychain, std::chrono::hours(1)));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(cached_client.GetManifest(Repo("rotated"), "v1").ok());
  EXPECT_EQ(cached_keychain->resolves(), 1) << "positive control: cached within the TTL";

  auto short_keychain = std::make_shared<RotatingKeychain>(Credentials{"user", "new-pw", ""});
  RegistryClient short_client(OptionsWith(short_keychain, std::chrono::milliseconds(50)));
  ASSERT_TRUE(short_client.GetManifest(Repo("rotated"), "v1").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  ASSERT_TRUE(short_client.GetManifest(Repo("rotated"), "v1").ok());
  EXPECT_EQ(short_keychain->resolves(), 2) << "credentials were cached past their TTL";
}

// Per-host state has a fixed bound however many hosts and scopes are named.
TEST_F(ScriptedRegistryTest, PerHostStateIsBounded) {
  const std::string other_host = "localhost:" + std::to_string(port_);
  auto make_options = [&] {
    RegistryClientOptions options = Options();
    options.keychain = ChainKeychain({StaticKeychain(host_, Credentials{"user", "secret-pw", ""}),
                                      StaticKeychain(other_host, Credentials{"user", "x", ""})});
    return options;
  };
  auto exercise = [&](RegistryClient& client) {
    for (const char* repo : {"oauth-a", "oauth-b", "oauth-c", "oauth-d"}) {
      auto manifest = client.GetManifest(Repo(repo), "v1");
      ASSERT_TRUE(manifest.ok()) << manifest.error().message();
    }
    auto missing = client.GetManifest(Repository{other_host, "rotated"}, "v1");
    ASSERT_FALSE(missing.ok());  // challenged, then refused
  };
  RegistryClient unbounded(make_options());
  exercise(unbounded);
  RegistryClientCacheSizes sizes = unbounded.CacheSizes();
  EXPECT_EQ(sizes.tokens, 4u);  // positive control: one per scope
  EXPECT_EQ(sizes.registries, 2u);

  RegistryClientOptions bounded_options = make_options();
  bounded_options.max_cached_registries = 1;
  bounded_options.max_cached_tokens = 2;
  RegistryClient bounded(std::move(bounded_options));
  exercise(bounded);
  sizes = bounded.CacheSizes();
  EXPECT_EQ(sizes.tokens, 2u);
  EXPECT_EQ(sizes.registries, 1u);
  EXPECT_LE(sizes.credentials, 1u);
  // Evicted entries are simply fetched again.
  auto again = bounded.GetManifest(Repo("oauth-a"), "v1");
  EXPECT_TRUE(again.ok()) << again.error().message();
}

TEST_F(ScriptedRegistryTest, ListTagsFollowsPagination) {
  RegistryClient client(Options());
  auto tags = client.ListTags(Repo("paged"));
  ASSERT_TRUE(tags.ok()) << tags.error().message();
  EXPECT_EQ(*tags, (std::vector<std::string>{"a", "b", "c"}));
}

// A referrers endpoint is read as a list only when it is a 200 with exactly
// the OCI index type and a well-formed, bounded index; what a registry without
// the API answers (400, 404, 406, another Content-Type) is kNoReferrersApi;
// anything else is an error, never a shorter or empty list. The positive
// controls are "ok" here and the real registries in referrers_test.cpp.
TEST_F(ScriptedRegistryTest, ReferrersAnswersAreClassifiedAndHostileOnesRefused) {
  const std::string subject = "sha256:" + std::string(64, 'a');
  // A client of its own for each answer: a client remembers a host that said
  // it has no referrers API (see the next test), and every answer here comes
  // from the same host.
  auto list = [&](const std::string& name) {
    RegistryClient client(Options());
    return client.ListReferrers(Repo("referrers-" + name), subject, std::nullopt);
  };
  auto ok = list("ok");
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->answer, ReferrersAnswer::kListed);
  ASSERT_EQ(ok->index.manifests.size(), 1u);
  EXPECT_EQ(ok->index.manifests[0].artifact_type, "application/vnd.example+json");

  for (const char* name :
       {"ok-charset", "json", "html", "400", "404", "406", "absent", "name-unknown"}) {
    auto listed = list(name);
    ASSERT_TRUE(listed.ok()) << name << ": " << listed.error().message();
    EXPECT_EQ(listed->answer, ReferrersAnswer::kNoReferrersApi) << name;
    EXPECT_TRUE(listed->index.manifests.empty()) << name;
  }

  struct Hostile {
    std::string name;
    ErrorCode code;
  };
  for (const Hostile& hostile : std::vector<Hostile>{{"500", ErrorCode::kRegistry},
                                                     {"garbage", ErrorCode::kParse},
                                                     {"not-an-object", ErrorCode::kParse},
                                                     {"deep", ErrorCode::kTooLarge},
                                                     {"huge", ErrorCode::kTooLarge},
                                                     {"many", ErrorCode::kTooLarge},
                                                     {"list-type", ErrorCode::kParse},
                                                     {"bad-digest", ErrorCode::kParse}}) {
    auto listed = list(hostile.name);
    ASSERT_FALSE(listed.ok()) << hostile.name;
    EXPECT_EQ(listed.error().code(), hostile.code)
        << hostile.name << ": " << listed.error().message();
    EXPECT_NE(listed.error().message().find("referrers-" + hostile.name), std::string::npos)
        << listed.error().message();
  }
  // Each was asked for once (500 with one retry), with the index Accept.
  EXPECT_EQ(Count({"/v2/referrers-deep/referrers/" + subject}), 1);
}

// A host that answered that it has no referrers API (a 404, or a 200 that
// is not an index) is remembered by the client: its later ListReferrers
// answer kNoReferrersApi without a request, whatever the repository. Answers
// that say nothing about the host are not remembered: 400 and 406 (a
// registry with the API answers 400 to a request it finds invalid), a 404
// NAME_UNKNOWN (a registry with the API that does not hold the repository),
// and errors. The host is 127.0.0.1:<port>; the same server reached as
// localhost:<port> is another host, which is asked. Controls: "ok" is
// listed whenever the host is not remembered, and with a zero ttl nothing is.
TEST_F(ScriptedRegistryTest, ReferrersClientRemembersHostsWithoutTheApi) {
  const std::string subject = "sha256:" + std::string(64, 'a');
  const auto asked = [&](const std::string& name) {
    return Count({"/v2/referrers-" + name + "/referrers/" + subject});
  };
  std::atomic<int> skipped{0};
  RegistryClientOptions options = Options();
  options.on_referrers_call_skipped = [&](const std::string& host) {
    EXPECT_EQ(host, host_);
    ++skipped;
  };
  {
    // Nothing remembered from these: "ok" is still asked and listed after each.
    RegistryClient client(options);
    int ok_asked = asked("ok");
    for (const char* name : {"400", "406", "name-unknown", "absent", "500"}) {
      (void)client.ListReferrers(Repo(std::string("referrers-") + name), subject, std::nullopt);
      auto ok = client.ListReferrers(Repo("referrers-ok"), subject, std::nullopt);
      ASSERT_TRUE(ok.ok()) << name << ": " << ok.error().message();
      EXPECT_EQ(ok->answer, ReferrersAnswer::kListed) << name;
      EXPECT_EQ(asked("ok"), ++ok_asked) << name;
    }
    EXPECT_EQ(skipped.load(), 0);
  }
  for (const char* name : {"404", "html", "json"}) {
    SCOPED_TRACE(name);
    skipped = 0;
    RegistryClient client(options);
    auto first =
        client.ListReferrers(Repo(std::string("referrers-") + name), subject, std::nullopt);
    ASSERT_TRUE(first.ok()) << first.error().message();
    EXPECT_EQ(first->answer, ReferrersAnswer::kNoReferrersApi);
    EXPECT_EQ(asked(name), 1);
    // Remembered: "ok" (which would list) and "500" (which would fail) are
    // not asked, and both answer as the host said.
    const int ok_asked = asked("ok");
    const int failing_asked = asked("500");
    for (const char* later : {"ok", "500"}) {
      auto listed =
          client.ListReferrers(Repo(std::string("referrers-") + later), subject, std::nullopt);
      ASSERT_TRUE(listed.ok()) << later << ": " << listed.error().message();
      EXPECT_EQ(listed->answer, ReferrersAnswer::kNoReferrersApi) << later;
      EXPECT_TRUE(listed->index.manifests.empty()) << later;
    }
    EXPECT_EQ(asked("ok"), ok_asked);
    EXPECT_EQ(asked("500"), failing_asked);
    EXPECT_EQ(skipped.load(), 2);
    // An invalid subject digest is still refused, not answered from memory.
    auto bad = client.ListReferrers(Repo("referrers-ok"), "sha256:abc", std::nullopt);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
    // Another host (the same server by another name) is asked.
    const Repository elsewhere{"localhost:" + std::to_string(port_), "referrers-ok"};
    auto other = client.ListReferrers(elsewhere, subject, std::nullopt);
    ASSERT_TRUE(other.ok()) << other.error().message();
    EXPECT_EQ(other->answer, ReferrersAnswer::kListed);
    EXPECT_EQ(asked("ok"), ok_asked + 1);
  }
  // Control: with a zero ttl nothing is remembered.
  RegistryClientOptions forgetful = Options();
  forgetful.no_referrers_api.ttl = std::chrono::milliseconds(0);
  RegistryClient client(forgetful);
  ASSERT_TRUE(client.ListReferrers(Repo("referrers-404"), subject, std::nullopt).ok());
  auto ok = client.ListReferrers(Repo("referrers-ok"), subject, std::nullopt);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->answer, ReferrersAnswer::kListed);
}

// The memory ends after its ttl (an injected clock moves past it), so that
// a registry that gains the API is noticed.
TEST_F(ScriptedRegistryTest, ReferrersMemoryOfAHostExpires) {
  const std::string subject = "sha256:" + std::string(64, 'a');
  auto now = DeadlineClock::now();
  RegistryClientOptions options = Options();
  options.no_referrers_api.now = [&now] { return now; };
  RegistryClient client(options);
  ASSERT_TRUE(client.ListReferrers(Repo("referrers-404"), subject, std::nullopt).ok());
  const int ok_asked = Count({"/v2/referrers-ok/referrers/" + subject});
  now += std::chrono::minutes(10) - std::chrono::seconds(1);
  auto remembered = client.ListReferrers(Repo("referrers-ok"), subject, std::nullopt);
  ASSERT_TRUE(remembered.ok());
  EXPECT_EQ(remembered->answer, ReferrersAnswer::kNoReferrersApi);
  EXPECT_EQ(Count({"/v2/referrers-ok/referrers/" + subject}), ok_asked);
  now += std::chrono::seconds(1);
  auto asked = client.ListReferrers(Repo("referrers-ok"), subject, std::nullopt);
  ASSERT_TRUE(asked.ok()) << asked.error().message();
  EXPECT_EQ(asked->answer, ReferrersAnswer::kListed);
  EXPECT_EQ(Count({"/v2/referrers-ok/referrers/" + subject}), ok_asked + 1);
}

// A paginated referrers list (Link: <...>; rel="next") is read to its end
// and merged; the Link is the registry's word and is followed only on the
// same host to the same list, never in a loop, for a bounded number of pages
// and entries. Each refusal names why, and the request it refused is never
// made. Positive control: "three" (relative, then absolute links).
TEST_F(ScriptedRegistryTest, ReferrersPaginationIsFollowedOnlyWithinTheSameList) {
  RegistryClient client(Options());
  const std::string subject = "sha256:" + std::string(64, 'a');
  auto list = [&](const std::string& name) {
    return client.ListReferrers(Repo("refpages-" + name), subject, std::nullopt);
  };
  auto digest = [](int n) {
    char hex[65];
    std::snprintf(hex, sizeof hex, "%064x", n);
    return "sha256:" + std::string(hex);
  };

  auto three = list("three");
  ASSERT_TRUE(three.ok()) << three.error().message();
  EXPECT_EQ(three->answer, ReferrersAnswer::kListed);
  EXPECT_EQ(three->index.media_type, kOciIndexMediaType);
  std::vector<std::string> digests;
  for (const Descriptor& d : three->index.manifests) digests.push_back(d.digest);
  EXPECT_EQ(digests,
            (std::vector<std::string>{digest(1), digest(2), digest(3), digest(4), digest(5)}));
  EXPECT_EQ(Count({"/v2/refpages-three/referrers/" + subject}), 3);
  EXPECT_EQ(Count({"/v2/refpages-three/referrers/" + subject + "?last=4"}), 1);

  struct Hostile {
    std::string name;
    ErrorCode code;
    std::string says;
  };
  for (const Hostile& hostile :
       std::vector<Hostile>{{"offhost", ErrorCode::kRegistry, "to another host"},
                            {"otherpath", ErrorCode::kRegistry, "to another path"},
                            {"loop", ErrorCode::kRegistry, "leads back to a page already read"},
                            {"endless", ErrorCode::kTooLarge, "more than 16 pages"},
                            {"toomany", ErrorCode::kTooLarge, "more than 1000 referrers"},
                            {"gone", ErrorCode::kNotFound, "(page 2): HTTP 404"}}) {
    auto listed = list(hostile.name);
    ASSERT_FALSE(listed.ok()) << hostile.name;
    EXPECT_EQ(listed.error().code(), hostile.code)
        << hostile.name << ": " << listed.error().message();
    EXPECT_NE(listed.error().message().find(hostile.says), std::string::npos)
        << hostile.name << ": " << listed.error().message();
  }
  // The refused links were never requested: nothing went to the other host
  // or to the other repository's list.
  EXPECT_EQ(Count({"refpages-offhost", "?last=1"}), 0);
  EXPECT_EQ(Count({"\"host\": \"localhost"}), 0);
  EXPECT_EQ(Count({"/v2/refpages-three/referrers/" + subject}), 3);
  // The loop was cut after the page that pointed back to itself; the endless
  // list after 16 pages.
  EXPECT_EQ(Count({"/v2/refpages-loop/referrers/"}), 2);
  EXPECT_EQ(Count({"/v2/refpages-endless/referrers/"}), 16);
}

// PushReferrer trusts the registry to keep the list only when the PUT
// answers OCI-Subject AND the referrers API then lists; a registry that sends
// OCI-Subject without the API (as ECR does) gets the fallback tag.
TEST_F(ScriptedRegistryTest, PushReferrerFallsBackUnlessTheRegistryListsIt) {
  RegistryClient client(Options());
  const std::string subject = "sha256:" + std::string(64, 'b');
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":")" +
      crypto::Sha256Digest("{}") +
      R"("},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("size":10,"digest":")" +
      subject + R"("}})";
  const std::string tag_path = "/manifests/sha256-" + subject.substr(7);

  auto api = client.PushReferrer(Repo("subject-api"), manifest, std::nullopt);
  ASSERT_TRUE(api.ok()) << api.error().message();
  EXPECT_EQ(api->digest, crypto::Sha256Digest(manifest));
  EXPECT_EQ(api->oci_subject, subject);
  EXPECT_EQ(api->listed_by, ReferrerListedBy::kReferrersApi);
  EXPECT_EQ(Count({"subject-api" + tag_path}), 0);

  auto ecr = client.PushReferrer(Repo("subject-ecr"), manifest, std::nullopt);
  ASSERT_TRUE(ecr.ok()) << ecr.error().message();
  EXPECT_EQ(ecr->oci_subject, subject);
  EXPECT_EQ(ecr->listed_by, ReferrerListedBy::kFallbackTag);
  EXPECT_EQ(Count({"\"PUT\"", "subject-ecr" + tag_path}), 1);
}

}  // namespace
}  // namespace signet::oci
