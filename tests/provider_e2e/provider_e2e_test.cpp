// End-to-end tests of `signet serve`: the real binary over real HTTPS on
// 127.0.0.1, against a real docker-registry (TLS + Basic auth) holding images
// signed with signet's library, with openssl-made certificates for the
// server, for a Gatekeeper-like client and for a client from another CA.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "server/server_test_support.h"
#include "signet/cosign/attestation.h"
#include "signet/cosign/sign.h"
#include "signet/crypto/keys.h"
#include "signet/provider/redis_verdict_cache.h"
#include "support/paths.h"
#include "support/pki.h"
#include "support/process.h"
#include "support/prometheus_text.h"
#include "support/redis_server.h"
#include "support/registry_fixture.h"
#include "support/registry_server.h"
#include "support/test_images.h"

namespace signet::provider {
namespace {

using nlohmann::json;
using signet::testing::CertFiles;
using signet::testing::ChildProcess;
using signet::testing::ClientResponse;
using signet::testing::ClientTls;
using signet::testing::Eventually;
using signet::testing::HttpClient;
using signet::testing::LeafSpec;
using signet::testing::MetricSum;
using signet::testing::MetricValue;
using signet::testing::PushedImage;
using signet::testing::RegistryFixture;
using signet::testing::RegistryServer;
using signet::testing::TempDir;
using signet::testing::TestPki;

constexpr char kGatekeeperName[] = "gatekeeper-webhook-service.gatekeeper-system.svc";

std::string ProviderRequestBody(
    const std::vector<std::string>& keys,
    const std::string& api_version = "externaldata.gatekeeper.sh/v1beta1") {
  return json{
      {"apiVersion", api_version}, {"kind", "ProviderRequest"}, {"request", {{"keys", keys}}}}
      .dump();
}

// Field `field` of item `index` of a ProviderResponse, "" when the item has
// no such field, "<missing>" when there is no such item.
std::string ItemField(const json& answer, std::size_t index, const std::string& field) {
  try {
    return answer.at("response").at("items").at(index).value(field, std::string());
  } catch (const json::exception&) {
    return "<missing>";
  }
}

// The words of SIGNET_SERVE_WRAPPER, a command the provider runs under
// (scripts/valgrind-provider.sh sets it to valgrind); empty when unset.
std::vector<std::string> ServeWrapper() {
  std::vector<std::string> words;
  const char* wrapper = std::getenv("SIGNET_SERVE_WRAPPER");
  std::istringstream in(wrapper ? wrapper : "");
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// Under a wrapper the provider answers within its 60 s deadline (see
// ProviderProcess), later than the client's default 20 s: the client waits
// longer, so that a slow answer is judged by its content.
void WaitLongerUnderAWrapper(HttpClient& client) {
  if (!ServeWrapper().empty()) client.set_timeout(std::chrono::seconds(120));
}

// A `signet serve` child process. When the handle goes away it gets SIGTERM
// and time to shut down cleanly (a wrapper such as valgrind reports then).
class ProviderProcess {
 public:
  ProviderProcess(const std::vector<std::string>& args, const std::string& log_file)
      : port_(signet::testing::FreePort()), log_file_(log_file), wrapped_(!ServeWrapper().empty()) {
    std::vector<std::string> argv = ServeWrapper();
    argv.insert(argv.end(), {signet::testing::SignetBinary(), "serve", "--address", "127.0.0.1",
                             "--port", std::to_string(port_), "--health-addr", "127.0.0.1:0"});
    argv.insert(argv.end(), args.begin(), args.end());
    if (wrapped_) {
      // Under a wrapper every verification is many times slower: give the
      // requests (/validate and /mutate) a deadline that measures
      // correctness, not the wrapper.
      for (const char* flag : {"--deadline", "--mutate-deadline"}) {
        auto deadline = std::find(argv.begin(), argv.end(), flag);
        if (deadline != argv.end() && deadline + 1 != argv.end()) {
          *(deadline + 1) = "60s";
        } else {
          argv.insert(argv.end(), {flag, "60s"});
        }
      }
    }
    child_ = ChildProcess(argv, {}, log_file);
    started_ = signet::testing::WaitForPort(
        port_, wrapped_ ? std::chrono::seconds(120) : std::chrono::seconds(30));
  }
  ~ProviderProcess() {
    child_.Stop(SIGTERM, wrapped_ ? std::chrono::seconds(120) : std::chrono::seconds(5));
  }
  ProviderProcess(const ProviderProcess&) = delete;
  ProviderProcess& operator=(const ProviderProcess&) = delete;

  bool started() const { return started_; }
  int port() const { return port_; }
  std::string Url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string log() const { return signet::testing::ReadFile(log_file_); }
  // The log once it holds `needle` (or after 5 s, without it): a request's
  // line may be written just after its answer went out.
  std::string LogWith(const std::string& needle) const {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::string text = log();
    while (text.find(needle) == std::string::npos && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      text = log();
    }
    return text;
  }
  ChildProcess& child() { return child_; }

 private:
  int port_;
  std::string log_file_;
  bool wrapped_;
  ChildProcess child_;
  bool started_ = false;
};

class ProviderE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared_ = new Shared();
    Shared& s = *shared_;
    s.pki = std::make_unique<TestPki>(s.dir.path());
    s.ca = s.pki->CreateCa("ca", "signet provider test CA");
    s.server_cert = s.pki->IssueLoopbackServer(s.ca, "server");
    LeafSpec gatekeeper;
    gatekeeper.common_name = kGatekeeperName;
    gatekeeper.dns_names = {kGatekeeperName};
    gatekeeper.client_auth = true;
    s.gatekeeper_cert = s.pki->IssueLeaf(s.ca, "gatekeeper", gatekeeper);
    const CertFiles other_ca = s.pki->CreateCa("other-ca", "some other CA");
    s.other_client_cert = s.pki->IssueLeaf(other_ca, "other-client", gatekeeper);

    auto pair = crypto::GenerateKeyPair("e2e-password");
    ASSERT_TRUE(pair.ok()) << pair.error().message();
    signet::testing::WriteFile(s.dir.File("cosign.pub"), pair->public_pem);
    auto signer = crypto::LoadPrivateKey(pair->private_pem, "e2e-password", "e2e key");
    ASSERT_TRUE(signer.ok()) << signer.error().message();
    s.signer = std::move(signer).value();

    s.registry.WriteCredentials(s.dir.File("registry-secret"), "\n");

    s.signed_image = PushSigned("e2e/signed", "v1");
    s.unsigned_image = PushUnsigned("e2e/unsigned", "v1");
  }

  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
  }

  static PushedImage PushUnsigned(const std::string& path, const std::string& tag) {
    return shared_->registry.PushUnsigned(path, tag);
  }

  static PushedImage PushSigned(const std::string& path, const std::string& tag) {
    return shared_->registry.PushSigned(path, tag, *shared_->signer);
  }

  // Flags that point the provider at the shared registry, key and (unless
  // given) certificate.
  std::vector<std::string> BaseArgs(std::string cert_file = "", std::string key_file = "") const {
    const Shared& s = *shared_;
    if (cert_file.empty()) cert_file = s.server_cert.cert_file;
    if (key_file.empty()) key_file = s.server_cert.key_file;
    return {"--tls-cert-file",
            cert_file,
            "--tls-key-file",
            key_file,
            "--key",
            s.dir.File("cosign.pub"),
            "--registry-secret-dir",
            s.dir.File("registry-secret"),
            "--registry-secret-host",
            s.registry.server().host(),
            "--registry-cacert",
            s.registry.server().ca_file()};
  }

  std::unique_ptr<ProviderProcess> Start(std::vector<std::string> extra = {},
                                         std::vector<std::string> base = {}) {
    std::vector<std::string> args = base.empty() ? BaseArgs() : base;
    args.insert(args.end(), extra.begin(), extra.end());
    auto provider = std::make_unique<ProviderProcess>(
        args, dir_.File("provider-" + std::to_string(++provider_count_) + ".log"));
    EXPECT_TRUE(provider->started()) << provider->log();
    return provider;
  }

  // A provider whose only trusted key is `key_file`, a copy of the shared
  // signing key that the test may then replace or remove.
  std::unique_ptr<ProviderProcess> StartTrustingACopyOfTheKey(const std::string& key_file) {
    signet::testing::WriteFile(key_file,
                               signet::testing::ReadFile(shared_->dir.File("cosign.pub")));
    std::vector<std::string> args = BaseArgs();
    auto key_flag = std::find(args.begin(), args.end(), "--key");
    EXPECT_NE(key_flag, args.end());
    if (key_flag != args.end()) *(key_flag + 1) = key_file;
    return Start({}, args);
  }

  static ClientTls Trusting() { return ClientTls{shared_->ca.cert_file, "", "", false, false}; }
  static ClientTls AsGatekeeper() {
    return ClientTls{shared_->ca.cert_file, shared_->gatekeeper_cert.cert_file,
                     shared_->gatekeeper_cert.key_file, false, false};
  }

  static json PostJson(ProviderProcess& provider, const std::string& path, const std::string& body,
                       ClientTls tls = Trusting()) {
    HttpClient client(std::move(tls));
    WaitLongerUnderAWrapper(client);
    const ClientResponse r =
        client.Request("POST", provider.Url(path), body, {{"Content-Type", "application/json"}});
    EXPECT_TRUE(r.transport_ok) << r.error << "\n" << provider.log();
    EXPECT_EQ(r.status, 200) << r.body;
    json parsed = json::parse(r.body, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << r.body;
    return parsed;
  }

  static std::string Metrics(ProviderProcess& provider) {
    HttpClient client(Trusting());
    WaitLongerUnderAWrapper(client);
    return client.Request("GET", provider.Url("/metrics")).body;
  }

  struct Shared {
    TempDir dir;
    RegistryFixture registry{RegistryServer::Mode::kTlsBasicAuth};
    std::unique_ptr<TestPki> pki;
    CertFiles ca, server_cert, gatekeeper_cert, other_client_cert;
    std::unique_ptr<crypto::Signer> signer;
    PushedImage signed_image, unsigned_image;
  };
  static Shared* shared_;

  TempDir dir_;
  int provider_count_ = 0;
};

ProviderE2ETest::Shared* ProviderE2ETest::shared_ = nullptr;

TEST_F(ProviderE2ETest, MutualTlsAcceptsGatekeeperAndRefusesOthers) {
  auto provider = Start({"--client-ca-file", shared_->ca.cert_file});
  const std::string body = ProviderRequestBody({shared_->signed_image.TagReference()});

  json answer = PostJson(*provider, "/validate", body, AsGatekeeper());
  EXPECT_EQ(ItemField(answer, 0, "value"), shared_->signed_image.DigestReference())
      << answer.dump();

  HttpClient no_cert(Trusting());
  const ClientResponse refused = no_cert.Request("POST", provider->Url("/validate"), body);
  EXPECT_FALSE(refused.transport_ok) << refused.status << " " << refused.body;

  HttpClient other_ca(ClientTls{shared_->ca.cert_file, shared_->other_client_cert.cert_file,
                                shared_->other_client_cert.key_file, false, false});
  const ClientResponse refused_too = other_ca.Request("POST", provider->Url("/validate"), body);
  EXPECT_FALSE(refused_too.transport_ok) << refused_too.status << " " << refused_too.body;
}

TEST_F(ProviderE2ETest, MixedSignedAndUnsignedGivePerKeyResultsInOrderForBothApiVersions) {
  auto provider = Start();
  const std::string good = shared_->signed_image.TagReference();
  const std::string bad = shared_->unsigned_image.TagReference();
  const std::string missing = shared_->registry.server().host() + "/e2e/missing:v1";
  for (const std::string api :
       {"externaldata.gatekeeper.sh/v1beta1", "externaldata.gatekeeper.sh/v1alpha1"}) {
    json answer =
        PostJson(*provider, "/validate", ProviderRequestBody({bad, good, missing, good}, api));
    EXPECT_EQ(answer["apiVersion"], "externaldata.gatekeeper.sh/v1beta1");
    EXPECT_EQ(answer["kind"], "ProviderResponse");
    json& items = answer["response"]["items"];
    ASSERT_EQ(items.size(), 4u) << answer.dump();
    EXPECT_EQ(items[0].value("key", ""), bad);
    EXPECT_EQ(items[0].value("error", ""), bad + "_invalid: no signatures found");
    EXPECT_EQ(items[1].value("key", ""), good);
    EXPECT_EQ(items[1].value("value", ""), shared_->signed_image.DigestReference());
    EXPECT_EQ(items[2].value("key", ""), missing);
    EXPECT_EQ(items[2].value("error", ""), missing + "_invalid: image not found");
    EXPECT_EQ(items[3].value("value", ""), shared_->signed_image.DigestReference());
    EXPECT_FALSE(answer["response"].contains("systemError"));
  }
  EXPECT_NE(provider->LogWith("\"request_id\"").find("\"request_id\""), std::string::npos);
  EXPECT_EQ(provider->log().find(shared_->registry.server().password()), std::string::npos);
}

TEST_F(ProviderE2ETest, RotatedKeyNeverAnswersFromResultsOfTheOldKey) {
  // The provider trusts a copy of the signing key; the copy is then replaced
  // by an unrelated key. The cached "valid" must not survive the rotation.
  const std::string key_file = dir_.File("rotating.pub");
  auto provider = StartTrustingACopyOfTheKey(key_file);
  const std::string good = shared_->signed_image.TagReference();
  const auto verdict = [&] {
    const json answer = PostJson(*provider, "/validate", ProviderRequestBody({good}));
    return ItemField(answer, 0, "error");
  };
  ASSERT_EQ(verdict(), "");
  ASSERT_EQ(verdict(), "");  // now answered from the cache

  auto other = crypto::GenerateKeyPair("other");
  ASSERT_TRUE(other.ok());
  signet::testing::WriteFile(dir_.File("rotating.pub.new"), other->public_pem);
  std::filesystem::rename(dir_.File("rotating.pub.new"), key_file);
  // Key files are checked at most once per second.
  EXPECT_TRUE(Eventually([&] { return verdict() == good + "_invalid: no matching signatures"; }))
      << verdict();
}

// Deleting the only key file used to revoke nothing: images signed by the
// removed key (never verified before) still came back valid.
TEST_F(ProviderE2ETest, RemovedKeyFileRevokesTheKeyAndReadinessSaysWhy) {
  const std::string key_file = dir_.File("removable.pub");
  auto provider = StartTrustingACopyOfTheKey(key_file);
  const auto verdict = [&](const std::string& key) {
    const json answer = PostJson(*provider, "/validate", ProviderRequestBody({key}));
    return ItemField(answer, 0, "error");
  };
  const auto readyz = [&] {
    HttpClient client(Trusting());
    WaitLongerUnderAWrapper(client);
    return client.Request("GET", provider->Url("/readyz"));
  };
  // Positive controls while the key file is there.
  const std::string cached = shared_->signed_image.TagReference();
  ASSERT_EQ(verdict(cached), "");
  ASSERT_EQ(readyz().status, 200) << readyz().body;
  const std::string fresh = PushSigned("e2e/revoked", "v1").TagReference();

  std::filesystem::remove(key_file);
  // Key files are checked at most once per second.
  EXPECT_TRUE(Eventually([&] { return readyz().status == 503; })) << readyz().body;
  const ClientResponse not_ready = readyz();
  EXPECT_NE(not_ready.body.find("\"status\":\"not ready\""), std::string::npos) << not_ready.body;
  EXPECT_NE(not_ready.body.find("removable.pub no longer exists"), std::string::npos)
      << not_ready.body;
  const std::string fresh_error = verdict(fresh);
  EXPECT_EQ(fresh_error.rfind(fresh + "_invalid: ", 0), 0u) << fresh_error;
  EXPECT_NE(fresh_error.find("no trusted key is loaded"), std::string::npos) << fresh_error;
  EXPECT_NE(fresh_error.find("removable.pub no longer exists"), std::string::npos) << fresh_error;
  // The verdict cached under the removed key is gone too.
  EXPECT_NE(verdict(cached), "");

  // The key file back: ready and valid again.
  signet::testing::WriteFile(key_file, signet::testing::ReadFile(shared_->dir.File("cosign.pub")));
  EXPECT_TRUE(Eventually([&] { return readyz().status == 200; })) << readyz().body;
  EXPECT_EQ(verdict(fresh), "");
}

// Issue scenario, end to end: a "prod" policy (key a) before a catch-all
// (key b). An image in prod signed only by key b was accepted when its
// registry host was spelled numerically ("127.1" for "127.0.0.1").
TEST_F(ProviderE2ETest, HostSpellingsDoNotFallThroughToTheCatchAllPolicy) {
  const std::string registry = shared_->registry.server().host();  // 127.0.0.1:PORT
  ASSERT_EQ(registry.rfind("127.0.0.1:", 0), 0u) << registry;
  const std::string port = registry.substr(registry.find(':') + 1);
  auto key_b = crypto::GenerateKeyPair("b-password");
  ASSERT_TRUE(key_b.ok()) << key_b.error().message();
  signet::testing::WriteFile(dir_.File("b.pub"), key_b->public_pem);
  auto signer_b = crypto::LoadPrivateKey(key_b->private_pem, "b-password", "key b");
  ASSERT_TRUE(signer_b.ok()) << signer_b.error().message();
  const PushedImage by_b = PushUnsigned("e2e/prod/by-b", "v1");
  auto by_b_reference = oci::ImageReference::Parse(by_b.TagReference());
  ASSERT_TRUE(by_b_reference.ok());
  ASSERT_TRUE(cosign::SignImage(shared_->registry.client(), *by_b_reference, **signer_b, {}).ok());
  const PushedImage by_a = PushSigned("e2e/prod/by-a", "v1");

  signet::testing::WriteFile(dir_.File("policy.yaml"),
                             "keys:\n  - {name: a, path: \"" + shared_->dir.File("cosign.pub") +
                                 "\"}\n  - {name: b, path: \"" + dir_.File("b.pub") +
                                 "\"}\n"
                                 "policies:\n"
                                 "  - {name: prod, images: [\"" +
                                 registry +
                                 "/e2e/prod/**\"], keys: [a]}\n"
                                 "  - {name: default, images: [\"**\"], keys: [b]}\n");
  std::vector<std::string> args = BaseArgs();
  auto key_flag = std::find(args.begin(), args.end(), "--key");
  ASSERT_NE(key_flag, args.end());
  args.erase(key_flag, key_flag + 2);
  args.insert(args.end(), {"--config", dir_.File("policy.yaml")});
  auto provider = Start({}, args);

  const std::vector<std::string> keys = {
      by_a.TagReference(),                    // positive control: prod, key a
      by_b.TagReference(),                    // prod wants key a
      "127.1:" + port + "/e2e/prod/by-b:v1",  // the catch-all would accept key b
      "0x7f.0.0.1:" + port + "/e2e/prod/by-b:v1",
      "127.000.000.001:" + port + "/e2e/prod/by-b:v1",
  };
  const json answer = PostJson(*provider, "/validate", ProviderRequestBody(keys));
  EXPECT_EQ(ItemField(answer, 0, "error"), "") << answer.dump();
  EXPECT_EQ(ItemField(answer, 0, "value"), by_a.DigestReference()) << answer.dump();
  EXPECT_EQ(ItemField(answer, 1, "error"), keys[1] + "_invalid: no matching signatures")
      << answer.dump();
  for (std::size_t i = 2; i < keys.size(); ++i) {
    const std::string error = ItemField(answer, i, "error");
    EXPECT_EQ(error.rfind(keys[i] + "_invalid: ", 0), 0u) << answer.dump();
    EXPECT_NE(error.find("non-canonical numeric"), std::string::npos) << error;
  }
}

// A policy that requires SLSA provenance: the signature alone no longer
// suffices; the attestation must verify with the policy's key and name the
// image, in either storage form.
TEST_F(ProviderE2ETest, PolicyRequiringAnAttestation) {
  const std::string registry = shared_->registry.server().host();
  auto key_b = crypto::GenerateKeyPair("b-password");
  ASSERT_TRUE(key_b.ok()) << key_b.error().message();
  auto signer_b = crypto::LoadPrivateKey(key_b->private_pem, "b-password", "key b");
  ASSERT_TRUE(signer_b.ok()) << signer_b.error().message();
  const auto attest = [&](const PushedImage& image, const std::string& type,
                          const crypto::Signer& signer, cosign::AttestationFormat format) {
    auto reference = oci::ImageReference::Parse(image.DigestReference());
    ASSERT_TRUE(reference.ok());
    cosign::AttestOptions options;
    options.format = format;
    options.type = type;
    options.predicate = R"({"builder":{"id":"https://ci.example/builder"}})";
    auto attested = cosign::AttestImage(shared_->registry.client(), *reference, signer, options);
    ASSERT_TRUE(attested.ok()) << attested.error().message();
  };
  const PushedImage as_bundle = PushSigned("e2e/slsa/bundle", "v1");
  attest(as_bundle, "slsaprovenance", *shared_->signer, cosign::AttestationFormat::kBundle);
  const PushedImage as_att = PushSigned("e2e/slsa/att", "v1");
  attest(as_att, "slsaprovenance", *shared_->signer, cosign::AttestationFormat::kLegacy);
  const PushedImage signed_only = PushSigned("e2e/slsa/bare", "v1");
  const PushedImage other_type = PushSigned("e2e/slsa/vex", "v1");
  attest(other_type, "openvex", *shared_->signer, cosign::AttestationFormat::kBundle);
  const PushedImage other_key = PushSigned("e2e/slsa/other-key", "v1");
  attest(other_key, "slsaprovenance", **signer_b, cosign::AttestationFormat::kBundle);
  const PushedImage unsigned_image = PushUnsigned("e2e/slsa/unsigned", "v1");
  attest(unsigned_image, "slsaprovenance", *shared_->signer, cosign::AttestationFormat::kLegacy);
  const PushedImage provenance_only = PushUnsigned("e2e/slsa/provenance-only", "v1");
  attest(provenance_only, "slsaprovenance", *shared_->signer, cosign::AttestationFormat::kBundle);

  signet::testing::WriteFile(dir_.File("slsa.yaml"),
                             "keys:\n  - {name: a, path: \"" + shared_->dir.File("cosign.pub") +
                                 "\"}\npolicies:\n  - {name: slsa, images: [\"" + registry +
                                 "/e2e/slsa/**\"], keys: [a], attestations: [slsaprovenance]}\n"
                                 "  - {name: default, images: [\"**\"], keys: [a]}\n");
  std::vector<std::string> args = BaseArgs();
  auto key_flag = std::find(args.begin(), args.end(), "--key");
  ASSERT_NE(key_flag, args.end());
  args.erase(key_flag, key_flag + 2);
  // A deadline that measures correctness, not a loaded machine (below the
  // test client's 20 s timeout).
  args.insert(args.end(), {"--config", dir_.File("slsa.yaml"), "--deadline", "15s"});
  // Under a wrapper (valgrind) each TLS handshake with the registry is slow
  // enough that eight verifications at once, each looking for bundles, .sig
  // and attestations in parallel, can exceed the registry connect timeout:
  // two at a time keeps that about the code, not the wrapper.
  if (!ServeWrapper().empty()) args.insert(args.end(), {"--workers", "2"});
  auto provider = Start({}, args);

  const std::vector<std::string> keys = {as_bundle.TagReference(),
                                         as_att.TagReference(),
                                         signed_only.TagReference(),
                                         other_type.TagReference(),
                                         other_key.TagReference(),
                                         unsigned_image.TagReference(),
                                         shared_->signed_image.TagReference(),
                                         provenance_only.TagReference()};
  const json answer = PostJson(*provider, "/validate", ProviderRequestBody(keys));
  // Positive controls: provenance as a bundle and as .att; the catch-all
  // policy requires none.
  EXPECT_EQ(ItemField(answer, 0, "value"), as_bundle.DigestReference()) << answer.dump();
  EXPECT_EQ(ItemField(answer, 1, "value"), as_att.DigestReference()) << answer.dump();
  EXPECT_EQ(ItemField(answer, 6, "value"), shared_->signed_image.DigestReference())
      << answer.dump();
  const std::string requires_prefix =
      "_invalid: verification failed: policy \"slsa\" requires attestations: ";
  EXPECT_EQ(ItemField(answer, 2, "error"),
            keys[2] + requires_prefix + "no matching attestations: no attestations found for " +
                signed_only.DigestReference())
      << answer.dump();
  EXPECT_EQ(ItemField(answer, 3, "error"),
            keys[3] + requires_prefix +
                "none of the attestations matched the predicate type: slsaprovenance, found: "
                "https://openvex.dev/ns")
      << answer.dump();
  // Key b's bundle hides key a's legacy signature (cosign v3's precedence)
  // and verifies in neither role.
  EXPECT_EQ(ItemField(answer, 4, "error").rfind(keys[4] + "_invalid: no matching signatures", 0),
            0u)
      << answer.dump();
  // A legacy .att attestation does not stand in for the signature ...
  EXPECT_EQ(ItemField(answer, 5, "error"), keys[5] + "_invalid: no signatures found")
      << answer.dump();
  // ... but a bundle attestation by the policy's key counts as a signature,
  // as in cosign v3 verify (docs/cosign-v3.md, signatures versus attestations).
  EXPECT_EQ(ItemField(answer, 7, "value"), provenance_only.DigestReference()) << answer.dump();
}

TEST_F(ProviderE2ETest, WholeRequestFailuresAreSystemErrors) {
  auto provider = Start({"--max-body-bytes", "2000"});
  const auto system_error = [&](const std::string& method, const std::string& body) {
    HttpClient client(Trusting());
    WaitLongerUnderAWrapper(client);
    const ClientResponse r = client.Request(method, provider->Url("/validate"), body);
    EXPECT_TRUE(r.transport_ok) << r.error;
    EXPECT_EQ(r.status, 200) << method << " " << r.body;
    const json parsed = json::parse(r.body, nullptr, false);
    if (parsed.is_discarded() || !parsed.contains("response")) {
      return std::string("unexpected body: ") + r.body;
    }
    EXPECT_FALSE(parsed.at("response").contains("items")) << r.body;
    return parsed.at("response").value("systemError", std::string());
  };
  EXPECT_EQ(system_error("POST", "{not json").rfind("unable to unmarshal request body", 0), 0u);
  EXPECT_EQ(system_error("GET", ""), "only POST is allowed");
  EXPECT_EQ(system_error("POST", ProviderRequestBody({std::string(3000, 'a')})),
            "request body exceeds the limit of 2000 bytes");
  EXPECT_EQ(system_error("POST", ProviderRequestBody({})), "request has no keys");
}

TEST_F(ProviderE2ETest, MutateReturnsDigests) {
  auto provider = Start();
  const PushedImage& image = shared_->signed_image;
  const std::string bad = shared_->unsigned_image.TagReference();
  json answer = PostJson(*provider, "/mutate",
                         ProviderRequestBody({image.TagReference(), image.DigestReference(), bad}));
  EXPECT_TRUE(answer.at("response").value("idempotent", false));
  json& items = answer["response"]["items"];
  ASSERT_EQ(items.size(), 3u) << answer.dump();
  EXPECT_EQ(items[0].value("value", ""), image.DigestReference());
  EXPECT_EQ(items[1].value("value", ""), image.DigestReference());
  EXPECT_EQ(items[2].value("error", ""), bad + "_invalid: no signatures found");
  EXPECT_FALSE(items[2].contains("value"));
}

// mutation.exemptImages against the real registry: an exempt unsigned image
// comes back from /mutate unchanged without any registry request; a near-miss
// name (also unsigned) and the same image on /validate are still refused.
TEST_F(ProviderE2ETest, MutateAnswersExemptUnsignedImagesUnchangedWithoutTheRegistry) {
  const PushedImage pause = PushUnsigned("e2e/pause", "3.10");
  const PushedImage evil = PushUnsigned("e2e/pause-evil", "3.10");
  const std::string host = shared_->registry.server().host();
  const std::string config = dir_.File("exempt.yaml");
  signet::testing::WriteFile(config, "mutation:\n  exemptImages:\n    - " + host +
                                         "/e2e/pause:*\n    - " + host + "/e2e/pause\n");
  auto provider = Start({"--config", config});

  const auto registry_requests = [&] {
    return MetricSum(Metrics(*provider), "signet_provider_registry_requests_total");
  };
  const double before = registry_requests();
  json answer = PostJson(*provider, "/mutate", ProviderRequestBody({pause.TagReference()}));
  EXPECT_EQ(ItemField(answer, 0, "value"), pause.TagReference()) << answer.dump();
  EXPECT_EQ(ItemField(answer, 0, "error"), "") << answer.dump();
  EXPECT_EQ(registry_requests(), before);

  // Controls: the near-miss name is verified (and refused), on the same request.
  answer = PostJson(*provider, "/mutate",
                    ProviderRequestBody({evil.TagReference(), pause.TagReference()}));
  EXPECT_EQ(ItemField(answer, 0, "error"), evil.TagReference() + "_invalid: no signatures found")
      << answer.dump();
  EXPECT_EQ(ItemField(answer, 0, "value"), "");
  EXPECT_EQ(ItemField(answer, 1, "value"), pause.TagReference());
  EXPECT_GT(registry_requests(), before);
  // /validate never uses the list.
  answer = PostJson(*provider, "/validate", ProviderRequestBody({pause.TagReference()}));
  EXPECT_EQ(ItemField(answer, 0, "error"), pause.TagReference() + "_invalid: no signatures found")
      << answer.dump();
  EXPECT_EQ(ItemField(answer, 0, "value"), "");
  // The digest spelling is not covered by "pause:*" nor by the exact "pause".
  answer = PostJson(*provider, "/mutate", ProviderRequestBody({pause.DigestReference()}));
  EXPECT_EQ(ItemField(answer, 0, "error"),
            pause.DigestReference() + "_invalid: no signatures found")
      << answer.dump();

  const std::string metrics = Metrics(*provider);
  EXPECT_EQ(
      MetricValue(metrics, "signet_provider_items_total{decision=\"exempt\",endpoint=\"mutate\"}"),
      2.0)
      << metrics;
  EXPECT_EQ(MetricValue(metrics,
                        "signet_provider_items_total{decision=\"exempt\",endpoint=\"validate\"}"),
            0.0);
  const std::string exempt_by = "\"decision\":\"exempt\",\"exempt_by\":\"" + host + "/e2e/pause:*\"";
  const std::string log = provider->LogWith(exempt_by);
  EXPECT_NE(log.find(exempt_by),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("\"mutate_exempt_images\":[\"" + host + "/e2e/pause:*\""), std::string::npos)
      << log;

  // A bad entry keeps the provider from starting, naming the key.
  const std::string bad = dir_.File("bad-exempt.yaml");
  signet::testing::WriteFile(bad, "mutation:\n  exemptImages: [\"" + host + "/*/pause\"]\n");
  std::vector<std::string> argv = {signet::testing::SignetBinary(),
                                   "serve",
                                   "--port",
                                   "0",
                                   "--health-addr",
                                   "off",
                                   "--config",
                                   bad};
  for (const std::string& arg : BaseArgs()) argv.push_back(arg);
  const auto refused = signet::testing::RunCommand(argv, {}, "", std::chrono::seconds(30));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("mutation.exemptImages[0]: \"" + host + "/*/pause\""),
            std::string::npos)
      << refused.err;
}

// That the keys of one request are verified in parallel, and within the
// worker bound, is counted at the registry by
// HostileParallelTest.OneRequestsImagesReachTheRegistryInParallelWithinTheWorkerBound
// (tests/hostile); here a hundred of them over TLS and Basic auth all verify.
TEST_F(ProviderE2ETest, HundredImagesInOneRequestAreAllVerified) {
  std::vector<std::string> hundred;
  for (int i = 0; i < 100; ++i) {
    std::string tag = "t";  // appended: `"t" + std::to_string(i)` trips GCC 12's -Wrestrict
    tag += std::to_string(i);
    hundred.push_back(PushSigned("e2e/many", tag).TagReference());
  }
  const std::string pinned = shared_->registry.server().host() + "/e2e/many@sha256:";
  // A generous deadline: this test checks answers, it does not race them.
  auto provider = Start({"--deadline", "60s", "--workers", "16"});
  const json answer = PostJson(*provider, "/validate", ProviderRequestBody(hundred));
  ASSERT_EQ(answer["response"]["items"].size(), 100u) << answer.dump();
  for (std::size_t i = 0; i < hundred.size(); ++i) {
    EXPECT_EQ(ItemField(answer, i, "error"), "") << answer.dump();
    EXPECT_EQ(ItemField(answer, i, "key"), hundred[i]);
    EXPECT_EQ(ItemField(answer, i, "value").rfind(pinned, 0), 0u) << ItemField(answer, i, "value");
  }
  const std::string metrics = Metrics(*provider);
  EXPECT_GE(MetricValue(metrics, "signet_provider_verifications_total{result=\"valid\"}"), 100);
}

TEST_F(ProviderE2ETest, RegistryStoppedMidTestGivesItemErrorsAndCachedKeysStillAnswer) {
  RegistryFixture registry(RegistryServer::Mode::kTlsBasicAuth);
  const auto push = [&](const std::string& path, bool sign) {
    return sign ? registry.PushSigned(path, "v1", *shared_->signer)
                : registry.PushUnsigned(path, "v1");
  };
  const PushedImage cached = push("down/cached", true);
  const PushedImage uncached_signed = push("down/signed", true);
  const PushedImage uncached_unsigned = push("down/unsigned", false);

  std::vector<std::string> args = {"--tls-cert-file",
                                   shared_->server_cert.cert_file,
                                   "--tls-key-file",
                                   shared_->server_cert.key_file,
                                   "--key",
                                   shared_->dir.File("cosign.pub"),
                                   "--registry-secret-dir",
                                   shared_->dir.File("registry-secret"),
                                   "--registry-secret-host",
                                   registry.server().host(),
                                   "--registry-cacert",
                                   registry.server().ca_file(),
                                   "--deadline",
                                   "2500ms"};
  ProviderProcess provider(args, dir_.File("provider-down.log"));
  ASSERT_TRUE(provider.started()) << provider.log();
  const json warm = PostJson(provider, "/validate", ProviderRequestBody({cached.TagReference()}));
  ASSERT_EQ(ItemField(warm, 0, "value"), cached.DigestReference()) << warm.dump();

  registry.server().Stop();
  json answer =
      PostJson(provider, "/validate",
               ProviderRequestBody({uncached_signed.TagReference(), cached.TagReference(),
                                    uncached_unsigned.TagReference(), cached.DigestReference()}));
  json& items = answer["response"]["items"];
  ASSERT_EQ(items.size(), 4u) << answer.dump();
  for (int i : {0, 2}) {
    const std::string error = items[i].value("error", "");
    EXPECT_FALSE(items[i].contains("value")) << items[i].dump();
    EXPECT_NE(error.find("_invalid: "), std::string::npos) << items[i].dump();
    EXPECT_TRUE(error.find("registry unreachable") != std::string::npos ||
                error.find("verification timed out") != std::string::npos)
        << error;
  }
  EXPECT_EQ(items[1].value("value", ""), cached.DigestReference()) << items[1].dump();
  EXPECT_EQ(items[3].value("value", ""), cached.DigestReference()) << items[3].dump();
  EXPECT_FALSE(answer["response"].contains("systemError"));
}

TEST_F(ProviderE2ETest, FiftyConcurrentIdenticalRequestsRunOneVerification) {
  const PushedImage image = PushSigned("e2e/rollout", "v1");
  auto provider = Start();
  const std::string body = ProviderRequestBody({image.TagReference()});
  std::atomic<int> valid{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&] {
      HttpClient client(Trusting());
      const ClientResponse r = client.Request("POST", provider->Url("/validate"), body);
      const json parsed = json::parse(r.body, nullptr, false);
      if (ItemField(parsed, 0, "value") == image.DigestReference()) {
        ++valid;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(valid.load(), 50);
  const std::string metrics = Metrics(*provider);
  EXPECT_EQ(MetricSum(metrics, "signet_provider_verifications_total"), 1.0) << metrics;
  EXPECT_EQ(
      MetricValue(metrics,
                  "signet_provider_requests_total{endpoint=\"validate\",outcome=\"allowed\"}"),
      50.0);
}

TEST_F(ProviderE2ETest, ReplacedCertificateIsPickedUp) {
  namespace fs = std::filesystem;
  LeafSpec spec;
  spec.dns_names = {"localhost"};
  spec.ip_addresses = {"127.0.0.1"};
  spec.common_name = "provider-one";
  const CertFiles one = shared_->pki->IssueLeaf(shared_->ca, "provider-one", spec);
  spec.common_name = "provider-two";
  const CertFiles two = shared_->pki->IssueLeaf(shared_->ca, "provider-two", spec);
  const std::string cert = dir_.File("tls.crt");
  const std::string key = dir_.File("tls.key");
  const auto install = [](const std::string& from, const std::string& to) {
    fs::copy_file(from, to + ".new", fs::copy_options::overwrite_existing);
    fs::rename(to + ".new", to);
  };
  install(one.cert_file, cert);
  install(one.key_file, key);
  auto provider = Start({}, BaseArgs(cert, key));
  const auto served_subject = [&] {
    HttpClient client(Trusting());
    WaitLongerUnderAWrapper(client);
    const ClientResponse r = client.Request("GET", provider->Url("/healthz"));
    return r.transport_ok ? r.server_cert_subject : "error: " + r.error;
  };
  EXPECT_NE(served_subject().find("provider-one"), std::string::npos) << served_subject();
  install(two.key_file, key);
  install(two.cert_file, cert);
  EXPECT_TRUE(Eventually([&] {
    return served_subject().find("provider-two") != std::string::npos;
  })) << served_subject();
  json answer =
      PostJson(*provider, "/validate", ProviderRequestBody({shared_->signed_image.TagReference()}));
  EXPECT_EQ(ItemField(answer, 0, "value"), shared_->signed_image.DigestReference());
}

// A TCP listener that never accepts: connections complete in the kernel and
// then hang, like a registry that stopped answering.
class BlackHole {
 public:
  BlackHole() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 64);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~BlackHole() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(ProviderE2ETest, SigtermDrainsRequestsInFlight) {
  BlackHole hole;
  auto provider = Start({"--deadline", "3s"});
  const std::string stuck = "127.0.0.1:" + std::to_string(hole.port()) + "/slow/app:v1";
  ClientResponse in_flight;
  std::thread request([&] {
    HttpClient client(Trusting());
    in_flight = client.Request("POST", provider->Url("/validate"), ProviderRequestBody({stuck}));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  const int status = provider->child().Stop(SIGTERM, std::chrono::seconds(20));
  request.join();
  ASSERT_TRUE(in_flight.transport_ok) << in_flight.error << "\n" << provider->log();
  EXPECT_EQ(in_flight.status, 200);
  json answer = json::parse(in_flight.body, nullptr, false);
  ASSERT_FALSE(answer.is_discarded()) << in_flight.body;
  EXPECT_EQ(ItemField(answer, 0, "error"), stuck + "_invalid: verification timed out")
      << in_flight.body;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << provider->log();
  EXPECT_NE(provider->log().find("provider_stopped"), std::string::npos) << provider->log();
}

TEST_F(ProviderE2ETest, StartupFailsClearlyWithoutCertificateOrKey) {
  const auto run = [](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {
        signet::testing::SignetBinary(), "serve", "--port", "0", "--health-addr", "off"};
    argv.insert(argv.end(), args.begin(), args.end());
    return signet::testing::RunCommand(argv, {}, "", std::chrono::seconds(30));
  };
  const auto missing_cert = run({"--tls-cert-file", dir_.File("nope.crt"), "--tls-key-file",
                                 dir_.File("nope.key"), "--key", shared_->dir.File("cosign.pub")});
  EXPECT_NE(missing_cert.exit_code, 0);
  EXPECT_NE(missing_cert.err.find("nope.crt"), std::string::npos) << missing_cert.err;

  const auto missing_key = run({"--tls-cert-file", shared_->server_cert.cert_file, "--tls-key-file",
                                shared_->server_cert.key_file, "--key", dir_.File("missing.pub")});
  EXPECT_NE(missing_key.exit_code, 0);
  EXPECT_NE(missing_key.err.find("missing.pub"), std::string::npos) << missing_key.err;

  const auto no_tls = run({"--key", shared_->dir.File("cosign.pub")});
  EXPECT_NE(no_tls.exit_code, 0);
  EXPECT_NE(no_tls.err.find("--tls-cert-file"), std::string::npos) << no_tls.err;
}

// Every provider counter against a run whose outcomes are known: signed and
// unsigned images by digest and by tag, a missing image, an unreachable
// registry and a hanging one (each by tag and by digest), then the same keys
// again from the caches. Each sample's change is compared exactly.
// Refresh ahead and last-known-good grace against a registry of their own,
// which the tests stop, and a provider configured with short cache TTLs.
class RefreshAndGraceE2ETest : public ProviderE2ETest {
 protected:
  void SetUp() override {
    registry_.emplace(RegistryServer::Mode::kTlsBasicAuth);
    registry_->WriteCredentials(dir_.File("secret"), "\n");
    signet::testing::WriteFile(dir_.File("cosign.pub"),
                               signet::testing::ReadFile(shared_->dir.File("cosign.pub")));
  }

  PushedImage PushSignedHere(const std::string& path) {
    return registry_->PushSigned(path, "v1", *shared_->signer);
  }

  // `verification` is the body of the config file's verification section.
  std::unique_ptr<ProviderProcess> StartWith(const std::string& verification) {
    signet::testing::WriteFile(dir_.File("signet.yaml"), "verification:\n" + verification);
    return Start(
        {"--config", dir_.File("signet.yaml")},
        {"--tls-cert-file", shared_->server_cert.cert_file, "--tls-key-file",
         shared_->server_cert.key_file, "--key", dir_.File("cosign.pub"), "--registry-secret-dir",
         dir_.File("secret"), "--registry-secret-host", registry_->server().host(),
         "--registry-cacert", registry_->server().ca_file(), "--deadline", "2500ms"});
  }

  json Validate(ProviderProcess& provider, const std::vector<std::string>& keys) {
    return PostJson(provider, "/validate", ProviderRequestBody(keys));
  }

  // Validates `keys` until `done` accepts the answer (the cache TTLs are
  // short: this waits for an expiry without assuming how long it takes).
  json ValidateUntil(ProviderProcess& provider, const std::vector<std::string>& keys,
                     const std::function<bool(const json&)>& done) {
    json answer;
    EXPECT_TRUE(Eventually([&] {
      answer = Validate(provider, keys);
      return done(answer);
    })) << answer.dump();
    return answer;
  }

  std::optional<RegistryFixture> registry_;
};

constexpr char kGraceAnswers[] = "signet_provider_grace_answers_total";

bool Denied(const json& answer, std::size_t index, const std::string& reason) {
  return ItemField(answer, index, "error").find(reason) != std::string::npos &&
         ItemField(answer, index, "value").empty();
}

TEST_F(RefreshAndGraceE2ETest, GraceAnswersAVerifiedImageWhileTheRegistryIsDown) {
  const PushedImage verified = PushSignedHere("grace/verified");
  const PushedImage never = PushSignedHere("grace/never");
  auto provider = StartWith("  cacheTTL: 1s\n  refreshAhead: 0s\n  lastKnownGoodGrace: 1h\n");
  const json warm = Validate(*provider, {verified.DigestReference()});
  ASSERT_EQ(ItemField(warm, 0, "value"), verified.DigestReference()) << warm.dump();

  registry_->server().Stop();
  // Once the 1 s result has expired, the verified image is answered from its
  // verdict; the signed image never verified before is denied with the reason.
  const json answer = ValidateUntil(
      *provider, {never.DigestReference(), verified.DigestReference()},
      [&](const json&) { return MetricValue(Metrics(*provider), kGraceAnswers) > 0; });
  EXPECT_TRUE(Denied(answer, 0, "registry unreachable")) << answer.dump();
  EXPECT_EQ(ItemField(answer, 1, "value"), verified.DigestReference()) << answer.dump();
  EXPECT_EQ(MetricValue(Metrics(*provider), kGraceAnswers), 1.0);
  const std::string log = provider->LogWith("\"graced\":true");
  EXPECT_NE(log.find("\"event\":\"grace_answer\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"graced\":true"), std::string::npos) << log;
}

TEST_F(RefreshAndGraceE2ETest, GraceOffDeniesAVerifiedImageWithTheReason) {
  const PushedImage verified = PushSignedHere("nograce/verified");
  auto provider = StartWith("  cacheTTL: 1s\n  refreshAhead: 0s\n  negativeCacheTTL: 0s\n");
  const json warm = Validate(*provider, {verified.DigestReference()});
  ASSERT_EQ(ItemField(warm, 0, "value"), verified.DigestReference()) << warm.dump();
  registry_->server().Stop();
  const json answer = ValidateUntil(*provider, {verified.DigestReference()}, [](const json& a) {
    return !ItemField(a, 0, "error").empty();
  });
  EXPECT_TRUE(Denied(answer, 0, "registry unreachable")) << answer.dump();
  EXPECT_EQ(MetricValue(Metrics(*provider), kGraceAnswers), 0.0);
  EXPECT_EQ(provider->log().find("grace_answer"), std::string::npos);
}

TEST_F(RefreshAndGraceE2ETest, AKeyRotationVoidsGraceAtOnce) {
  const PushedImage verified = PushSignedHere("grace/rotated");
  auto provider = StartWith("  cacheTTL: 1s\n  refreshAhead: 0s\n  lastKnownGoodGrace: 1h\n");
  ASSERT_EQ(ItemField(Validate(*provider, {verified.DigestReference()}), 0, "value"),
            verified.DigestReference());
  registry_->server().Stop();
  // Positive control: graced under the same key.
  ValidateUntil(*provider, {verified.DigestReference()}, [&](const json& a) {
    return ItemField(a, 0, "value") == verified.DigestReference() &&
           MetricValue(Metrics(*provider), kGraceAnswers) > 0;
  });
  // Another key replaces the trusted one: the verdict of the old key is void.
  auto other = crypto::GenerateKeyPair("other");
  ASSERT_TRUE(other.ok());
  signet::testing::WriteFile(dir_.File("cosign.pub"), other->public_pem);
  const json answer = ValidateUntil(*provider, {verified.DigestReference()}, [](const json& a) {
    return !ItemField(a, 0, "error").empty();
  });
  EXPECT_TRUE(Denied(answer, 0, "registry unreachable")) << answer.dump();
}

TEST_F(RefreshAndGraceE2ETest, ARefreshThatFindsTheSignatureGoneDeniesAndGraceNeverRevivesIt) {
  const PushedImage image = PushSignedHere("refresh/revoked");
  const PushedImage control = PushSignedHere("refresh/control");
  // Every lookup from 3 s after a verification on is inside the window.
  auto provider = StartWith(
      "  cacheTTL: 10m\n  refreshAhead: 597s\n  negativeCacheTTL: 0s\n  "
      "lastKnownGoodGrace: 1h\n");
  const json warm = Validate(*provider, {image.DigestReference(), control.DigestReference()});
  ASSERT_EQ(ItemField(warm, 0, "value"), image.DigestReference()) << warm.dump();
  ASSERT_EQ(ItemField(warm, 1, "value"), control.DigestReference()) << warm.dump();
  std::this_thread::sleep_for(std::chrono::milliseconds(3100));

  // The signature is replaced by an unrelated manifest (no signature left).
  const std::string digest = image.DigestReference().substr(image.DigestReference().find('@') + 1);
  std::string signature_tag = digest + ".sig";
  signature_tag[digest.find(':')] = '-';
  registry_->PushUnsigned("refresh/revoked", signature_tag);
  // Still inside the TTL: answered at once, and the refresh starts.
  const json stale = Validate(*provider, {image.DigestReference()});
  EXPECT_EQ(ItemField(stale, 0, "value"), image.DigestReference()) << stale.dump();
  EXPECT_TRUE(Eventually([&] {
    return MetricValue(Metrics(*provider),
                       "signet_provider_cache_refreshes_total{result=\"invalid\"}") >= 1;
  })) << Metrics(*provider);
  const json revoked = Validate(*provider, {image.DigestReference()});
  EXPECT_FALSE(ItemField(revoked, 0, "error").empty()) << revoked.dump();
  EXPECT_TRUE(ItemField(revoked, 0, "value").empty()) << revoked.dump();

  // The registry goes down. Failures are not cached (negativeCacheTTL 0s),
  // so the revoked image is verified again and fails to connect, and its
  // forgotten verdict does not make it valid; the control image, still
  // cached, is valid.
  registry_->server().Stop();
  const json down = Validate(*provider, {image.DigestReference(), control.DigestReference()});
  EXPECT_TRUE(Denied(down, 0, "registry unreachable")) << down.dump();
  EXPECT_EQ(ItemField(down, 1, "value"), control.DigestReference()) << down.dump();
  EXPECT_EQ(MetricValue(Metrics(*provider), kGraceAnswers), 0.0);
}

TEST_F(RefreshAndGraceE2ETest, AHerdInTheRefreshWindowCostsTheRegistryOneVerification) {
  const PushedImage primer = PushSignedHere("refresh/primer");
  const PushedImage image = PushSignedHere("refresh/herd");
  // Every lookup from 3 s after a verification on is inside the window.
  auto provider = StartWith("  cacheTTL: 10m\n  refreshAhead: 597s\n");
  const auto requests = [&] {
    return registry_->server().CountRequests("GET", "/v2/") +
           registry_->server().CountRequests("HEAD", "/v2/");
  };
  // The primer takes the authentication challenge; then one verification of
  // the image by digest costs what its refresh costs.
  ASSERT_EQ(ItemField(Validate(*provider, {primer.DigestReference()}), 0, "value"),
            primer.DigestReference());
  const int before_warm = requests();
  ASSERT_EQ(ItemField(Validate(*provider, {image.DigestReference()}), 0, "value"),
            image.DigestReference());
  const int per_verification = requests() - before_warm;
  ASSERT_GT(per_verification, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(3100));

  const int before_herd = requests();
  std::atomic<int> valid{0};
  std::vector<std::thread> herd;
  for (int i = 0; i < 20; ++i) {
    herd.emplace_back([&] {
      HttpClient client(Trusting());
      const ClientResponse r = client.Request("POST", provider->Url("/validate"),
                                              ProviderRequestBody({image.DigestReference()}));
      if (ItemField(json::parse(r.body, nullptr, false), 0, "value") == image.DigestReference()) {
        ++valid;
      }
    });
  }
  for (auto& thread : herd) thread.join();
  EXPECT_EQ(valid.load(), 20);
  std::string metrics;
  EXPECT_TRUE(Eventually([&] {
    metrics = Metrics(*provider);
    return MetricValue(metrics, "signet_provider_cache_refreshes_total{result=\"valid\"}") >= 1;
  })) << metrics;
  EXPECT_EQ(MetricValue(metrics, "signet_provider_cache_refreshes_total{result=\"valid\"}"), 1.0)
      << metrics;
  EXPECT_EQ(requests() - before_herd, per_verification);
}

class ProviderMetricsE2ETest : public ProviderE2ETest {
 protected:
  // The change of every listed sample between two scrapes.
  static std::map<std::string, double> Deltas(const std::string& before, const std::string& after,
                                              const std::vector<std::string>& samples) {
    std::map<std::string, double> deltas;
    for (const auto& sample : samples) {
      deltas[sample] = MetricValue(after, sample) - MetricValue(before, sample);
    }
    return deltas;
  }
};

// A metric family: its type and the names of its labels ("le" left out).
struct Family {
  std::string type;
  std::set<std::string> labels;
  bool operator==(const Family&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Family& family) {
  out << family.type << " {";
  for (const auto& label : family.labels) out << " " << label;
  return out << " }";
}

// The families of a Prometheus text exposition, from its "# TYPE" lines and
// the label names of its samples.
std::map<std::string, Family> ExposedFamilies(const std::string& text) {
  std::map<std::string, Family> families;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name, type;
      words >> name >> type;
      families[name].type = type;
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    const std::size_t brace = line.find('{');
    if (brace == std::string::npos) continue;
    std::string name = line.substr(0, brace);
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s(suffix);
      if (!families.count(name) && name.size() > s.size() &&
          name.compare(name.size() - s.size(), s.size(), s) == 0) {
        name.resize(name.size() - s.size());
      }
    }
    const std::string labels = line.substr(brace + 1, line.find('}') - brace - 1);
    std::size_t pos = 0;
    while (pos < labels.size()) {
      const std::size_t eq = labels.find('=', pos);
      if (eq == std::string::npos) break;
      const std::string label = labels.substr(pos, eq - pos);
      if (label != "le") families[name].labels.insert(label);
      // Skip the quoted value (escaped quotes included).
      std::size_t end = eq + 2;
      while (end < labels.size() && labels[end] != '"') end += labels[end] == '\\' ? 2 : 1;
      pos = end + 2;
    }
  }
  return families;
}

// The families listed in the table of docs/provider.md's "## Metrics":
// rows "| `name` | type | `label`, ... | meaning |".
std::map<std::string, Family> DocumentedFamilies() {
  const std::string doc =
      signet::testing::ReadFile(signet::testing::SourceDir() + "/docs/provider.md");
  const std::size_t start = doc.find("\n## Metrics\n");
  const std::size_t end = doc.find("\n## ", start + 1);
  std::map<std::string, Family> families;
  if (start == std::string::npos) return families;
  std::istringstream in(doc.substr(start, end - start));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| `signet_", 0) != 0) continue;
    std::vector<std::string> cells;
    std::istringstream row(line.substr(1));
    for (std::string cell; std::getline(row, cell, '|');) cells.push_back(cell);
    if (cells.size() < 3) continue;
    const auto ticked = [](const std::string& cell) {
      std::vector<std::string> words;
      for (std::size_t open = cell.find('`'); open != std::string::npos;) {
        const std::size_t close = cell.find('`', open + 1);
        if (close == std::string::npos) break;
        words.push_back(cell.substr(open + 1, close - open - 1));
        open = cell.find('`', close + 1);
      }
      return words;
    };
    const auto names = ticked(cells[0]);
    if (names.size() != 1) continue;
    Family family;
    std::istringstream type(cells[1]);
    type >> family.type;
    for (const auto& label : ticked(cells[2])) family.labels.insert(label);
    families[names[0]] = family;
  }
  return families;
}

constexpr char kVerifiedValid[] = "signet_provider_verifications_total{result=\"valid\"}";
constexpr char kVerifiedUnsigned[] =
    "signet_provider_verifications_total{result=\"no_signatures\"}";
constexpr char kVerifiedNotFound[] =
    "signet_provider_verifications_total{result=\"image_not_found\"}";
constexpr char kVerifiedNetwork[] = "signet_provider_verifications_total{result=\"network\"}";
constexpr char kVerifiedTimeout[] = "signet_provider_verifications_total{result=\"timeout\"}";
constexpr char kTagHits[] = "signet_provider_cache_hits_total{cache=\"tag\"}";
constexpr char kTagMisses[] = "signet_provider_cache_misses_total{cache=\"tag\"}";
constexpr char kResultHits[] = "signet_provider_cache_hits_total{cache=\"verification\"}";
constexpr char kResultMisses[] = "signet_provider_cache_misses_total{cache=\"verification\"}";
constexpr char kItemsValid[] =
    "signet_provider_items_total{decision=\"valid\",endpoint=\"validate\"}";
constexpr char kItemsInvalid[] =
    "signet_provider_items_total{decision=\"invalid\",endpoint=\"validate\"}";
constexpr char kRequestsDenied[] =
    "signet_provider_requests_total{endpoint=\"validate\",outcome=\"denied\"}";
constexpr char kRequestsOther[] =
    "signet_provider_requests_total{endpoint=\"other\",outcome=\"system_error\"}";

TEST_F(ProviderMetricsE2ETest, EveryCounterMatchesARunWithKnownOutcomes) {
  const std::string host = shared_->registry.server().host();
  const PushedImage signed_a = PushSigned("metrics/signed-a", "v1");
  const PushedImage signed_b = PushSigned("metrics/signed-b", "v1");
  const PushedImage unsigned_a = PushUnsigned("metrics/unsigned-a", "v1");
  const PushedImage unsigned_b = PushUnsigned("metrics/unsigned-b", "v1");
  const std::string absent_digest = "@sha256:" + std::string(64, 'a');
  const std::string closed = "127.0.0.1:" + std::to_string(signet::testing::FreePort());
  BlackHole hole;
  const std::string hanging = "127.0.0.1:" + std::to_string(hole.port());
  const std::vector<std::string> keys = {
      signed_a.DigestReference(),   signed_b.TagReference(),
      unsigned_a.DigestReference(), unsigned_b.TagReference(),
      host + "/metrics/missing:v1", host + "/metrics/missing" + absent_digest,
      closed + "/metrics/app:v1",   closed + "/metrics/app" + absent_digest,
  };
  const std::vector<std::string> hanging_keys = {hanging + "/metrics/app:v1",
                                                 hanging + "/metrics/app" + absent_digest};
  const std::vector<std::string> samples = {
      kVerifiedValid, kVerifiedUnsigned, kVerifiedNotFound, kVerifiedNetwork, kVerifiedTimeout,
      kTagHits,       kTagMisses,        kResultHits,       kResultMisses,    kItemsValid,
      kItemsInvalid,  kRequestsDenied,   kRequestsOther};

  // A registry that answers 429 and 503 on purpose, for the admission
  // control's families: reached as 127.0.0.1 (default limits) and as
  // localhost, a host of its own limited to one request per 6.7 s.
  const int scripted_port = signet::testing::FreePort();
  ChildProcess scripted(
      {"python3", signet::testing::SourceDir() + "/tests/oci_registry/scripted_registry.py",
       std::to_string(scripted_port), dir_.File("scripted-requests.log")},
      {}, dir_.File("scripted.log"));
  ASSERT_TRUE(signet::testing::WaitForPort(scripted_port));
  const std::string slow_host = "localhost:" + std::to_string(scripted_port);
  // Cached answers must outlive the run, however loaded the machine is.
  signet::testing::WriteFile(dir_.File("cache.yaml"),
                             "verification:\n  negativeCacheTTL: 10m\n  tagCacheTTL: 10m\n"
                             "registries:\n  - host: " +
                                 slow_host + "\n    requestsPerSecond: 0.15\n    burst: 1\n");
  auto provider = Start({"--deadline", "1500ms", "--config", dir_.File("cache.yaml")});
  const std::string start = Metrics(*provider);

  json first = PostJson(*provider, "/validate", ProviderRequestBody(keys));
  ASSERT_EQ(first["response"]["items"].size(), keys.size()) << first.dump();
  EXPECT_EQ(ItemField(first, 0, "value"), signed_a.DigestReference()) << first.dump();
  EXPECT_EQ(ItemField(first, 1, "value"), signed_b.DigestReference()) << first.dump();
  for (std::size_t i = 2; i < keys.size(); ++i) {
    EXPECT_NE(ItemField(first, i, "error"), "") << i << " " << first.dump();
  }
  json stuck = PostJson(*provider, "/validate", ProviderRequestBody(hanging_keys));
  EXPECT_EQ(ItemField(stuck, 0, "error"), hanging_keys[0] + "_invalid: verification timed out");
  EXPECT_EQ(ItemField(stuck, 1, "error"), hanging_keys[1] + "_invalid: verification timed out");
  // The hanging verifications end at the request's deadline, just after the
  // answer; wait for them to be counted.
  std::string after_first;
  EXPECT_TRUE(signet::testing::Eventually([&] {
    after_first = Metrics(*provider);
    return MetricValue(after_first, kVerifiedTimeout) - MetricValue(start, kVerifiedTimeout) >= 2;
  })) << after_first;

  const std::map<std::string, double> expected_first = {
      // One verification per distinct key: the tag ones end while resolving
      // the tag when the image is missing or its registry fails.
      {kVerifiedValid, 2},
      {kVerifiedUnsigned, 2},
      {kVerifiedNotFound, 2},
      {kVerifiedNetwork, 2},
      {kVerifiedTimeout, 2},
      // Nothing cached yet: five tags missed, and seven verification-cache
      // lookups missed (the five digests, and the two tags that resolved).
      {kTagHits, 0},
      {kTagMisses, 5},
      {kResultHits, 0},
      {kResultMisses, 7},
      {kItemsValid, 2},
      {kItemsInvalid, 8},
      {kRequestsDenied, 2},
      {kRequestsOther, 0},
  };
  EXPECT_EQ(Deltas(start, after_first, samples), expected_first) << after_first;

  // The same keys again: everything but the timeouts is cached (failures for
  // the negative TTL), so no verification runs.
  json again = PostJson(*provider, "/validate", ProviderRequestBody(keys));
  EXPECT_EQ(again["response"]["items"], first["response"]["items"]) << again.dump();
  const std::string after_again = Metrics(*provider);
  const std::map<std::string, double> expected_again = {
      {kVerifiedValid, 0},
      {kVerifiedUnsigned, 0},
      {kVerifiedNotFound, 0},
      {kVerifiedNetwork, 0},
      {kVerifiedTimeout, 0},
      // Four tags hit (two resolved, two failures); six results hit (the
      // four digests and the two tags that resolved).
      {kTagHits, 4},
      {kTagMisses, 0},
      {kResultHits, 6},
      {kResultMisses, 0},
      {kItemsValid, 2},
      {kItemsInvalid, 6},
      {kRequestsDenied, 1},
      {kRequestsOther, 0}};
  EXPECT_EQ(Deltas(after_first, after_again, samples), expected_again) << after_again;
  // Answers from the caches cost no registry exchange; the first round's
  // failures to connect were counted as transport failures (code 0).
  EXPECT_EQ(MetricSum(after_again, "signet_provider_registry_requests_total") -
                MetricSum(after_first, "signet_provider_registry_requests_total"),
            0)
      << after_again;
  EXPECT_GE(MetricValue(after_first, "signet_provider_registry_requests_total{code=\"0\"}") -
                MetricValue(start, "signet_provider_registry_requests_total{code=\"0\"}"),
            2)
      << after_first;

  // A request refused before routing, on a path that is neither provider
  // path, counts as endpoint "other".
  HttpClient client(Trusting());
  const ClientResponse oversized =
      client.Request("POST", provider->Url("/elsewhere"), std::string(2 << 20, 'x'));
  EXPECT_TRUE(oversized.transport_ok) << oversized.error;
  const std::string after_other = Metrics(*provider);
  EXPECT_EQ(MetricValue(after_other, kRequestsOther) - MetricValue(after_again, kRequestsOther), 1)
      << oversized.status << " " << oversized.body << "\n"
      << after_other;

  // Admission control. 127.0.0.1: the first HEAD of limited:v1 is answered
  // 429 (Retry-After: 1), honoured within the registry budget. localhost:
  // the plain-HTTP request waits for the token the HTTPS attempt left
  // (6.7 s later); after the 503 that answers it, the retry's token would
  // come only after its deadline, so it is refused.
  const std::string throttled_host = "127.0.0.1:" + std::to_string(scripted_port);
  const std::string authority_throttled = "{host=\"" + throttled_host + "\"}";
  const std::string authority_slow = "{host=\"" + slow_host + "\"}";
  json admitted =
      PostJson(*provider, "/validate",
               ProviderRequestBody({throttled_host + "/limited:v1", slow_host + "/flaky:v1"}));
  EXPECT_EQ(admitted["response"]["items"].size(), 2u) << admitted.dump();
  std::string after_admission;
  EXPECT_TRUE(Eventually(
      [&] {
        after_admission = Metrics(*provider);
        return MetricValue(after_admission, "signet_provider_registry_admission_rejections_total" +
                                                authority_slow) >= 1;
      },
      std::chrono::seconds(40)))
      << after_admission;
  EXPECT_EQ(MetricValue(after_admission,
                        "signet_provider_registry_throttled_total" + authority_throttled),
            1)
      << after_admission;
  EXPECT_GE(MetricValue(after_admission,
                        "signet_provider_registry_admission_waits_total" + authority_slow),
            1)
      << after_admission;
  // Control: the registry with default limits never had to wait for a token.
  EXPECT_EQ(MetricValue(after_admission, "signet_provider_registry_admission_rejections_total" +
                                             authority_throttled),
            0)
      << after_admission;
  // The 429 halved the throttled host's rate, once; the host that answered
  // 503 (not a throttle) kept its own.
  EXPECT_EQ(MetricValue(after_admission,
                        "signet_provider_registry_rate_lowered_total" + authority_throttled),
            1)
      << after_admission;
  EXPECT_EQ(MetricValue(after_admission,
                        "signet_provider_registry_rate_lowered_total" + authority_slow),
            0)
      << after_admission;

  // Every family this run exposed, and only those, is in docs/provider.md
  // with its type and label names.
  const auto documented = DocumentedFamilies();
  EXPECT_GE(documented.size(), 22u);
  EXPECT_EQ(ExposedFamilies(after_admission), documented) << after_admission;

  // Prometheus's own linter accepts the hand-written exposition.
  TempDir scrape;
  signet::testing::WriteFile(scrape.File("metrics.txt"), after_admission);
  const auto lint =
      signet::testing::RunCommand({"sh", "-c", "\"$0\" check metrics < \"$1\"",
                                   signet::testing::PromtoolBinary(), scrape.File("metrics.txt")});
  EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;
  EXPECT_EQ(lint.out + lint.err, "");
}

// Registry round trips per cold verification, counted in the registry's own
// access log: an anonymous registry serves exactly HEAD (or GET) of the image,
// GET of the signature manifest and GET of its blob; a token registry adds
// the one 401 that carries its challenge (and one token request). Never a
// /v2/ ping, never a second HEAD. Run for `signet verify` and for `signet
// serve`'s /validate, by tag and by digest, each on a fresh image so that no
// cache answers.
class RoundTripTest : public ::testing::TestWithParam<RegistryServer::Mode> {
 protected:
  void SetUp() override {
    registry_.emplace(GetParam());
    pki_ = std::make_unique<TestPki>(dir_.path());
    ca_ = pki_->CreateCa("ca", "signet round trip test CA");
    server_cert_ = pki_->IssueLoopbackServer(ca_, "server");
    auto pair = crypto::GenerateKeyPair("round-trip");
    ASSERT_TRUE(pair.ok()) << pair.error().message();
    signet::testing::WriteFile(dir_.File("cosign.pub"), pair->public_pem);
    auto signer = crypto::LoadPrivateKey(pair->private_pem, "round-trip", "round trip key");
    ASSERT_TRUE(signer.ok()) << signer.error().message();
    signer_ = std::move(signer).value();
    if (registry_->server().tls()) registry_->WriteCredentials(dir_.File("secret"));
  }

  bool token() const { return GetParam() == RegistryServer::Mode::kTokenAuth; }

  PushedImage PushSigned(const std::string& path,
                         cosign::SignatureFormat format = cosign::SignatureFormat::kLegacy) {
    cosign::SignOptions options;
    options.format = format;
    return registry_->PushSigned(path, "v1", *signer_, options,
                                 RegistryFixture::SignThrough::kDigest);
  }

  // Every request the registry has logged (readiness probes excepted).
  int RegistryRequests() const {
    int n = 0;
    for (const char* method : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}) {
      n += registry_->server().CountRequests(method, "/");
    }
    return n;
  }

  // Requests the registry logged since `before`, once the count has settled
  // at `expected` or more (its access log line follows the response).
  int RequestsSince(int before, int expected) const {
    Eventually([&] { return RegistryRequests() - before >= expected; }, std::chrono::seconds(5));
    return RegistryRequests() - before;
  }

  // GET /v2/ pings: every repository of these tests is under "rt/".
  int Pings() const {
    return registry_->server().CountRequests("GET", "/v2/") -
           registry_->server().CountRequests("GET", "/v2/rt/");
  }

  // The exact count a cold verification costs: 3 requests, plus the 401 that
  // carries a token registry's challenge.
  int Expected() const { return token() ? 4 : 3; }

  // `signet verify` of the legacy format only (--new-bundle-format=false),
  // the format `signet serve` reads; `formats` "both" verifies as cosign v3
  // does (bundle discovery beside the legacy path).
  signet::testing::CommandResult Verify(const std::string& reference,
                                        const std::string& formats = "legacy") const {
    std::vector<std::string> argv = {signet::testing::SignetBinary(), "verify", "--key",
                                     dir_.File("cosign.pub")};
    if (formats == "legacy") argv.push_back("--new-bundle-format=false");
    if (registry_->server().tls()) {
      argv.insert(argv.end(), {"--registry-cacert", registry_->server().ca_file(),
                               "--registry-username", registry_->server().username(),
                               "--registry-password", registry_->server().password()});
    }
    argv.push_back(reference);
    return signet::testing::RunCommand(argv);
  }

  // The legacy format only unless `formats` says otherwise: the 3-request
  // count is the legacy-only one.
  std::unique_ptr<ProviderProcess> StartProvider(const std::string& formats = "legacy") {
    std::vector<std::string> args = {
        "--tls-cert-file", server_cert_.cert_file,  "--tls-key-file",      server_cert_.key_file,
        "--key",           dir_.File("cosign.pub"), "--signature-formats", formats};
    if (registry_->server().tls()) {
      args.insert(args.end(),
                  {"--registry-secret-dir", dir_.File("secret"), "--registry-secret-host",
                   registry_->server().host(), "--registry-cacert", registry_->server().ca_file()});
    }
    auto provider = std::make_unique<ProviderProcess>(args, dir_.File("provider.log"));
    EXPECT_TRUE(provider->started()) << provider->log();
    return provider;
  }

  std::string Validate(ProviderProcess& provider, const std::string& key) const {
    HttpClient client(ClientTls{ca_.cert_file, "", "", false, false});
    const ClientResponse r =
        client.Request("POST", provider.Url("/validate"), ProviderRequestBody({key}),
                       {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 200) << r.error << r.body << "\n" << provider.log();
    json answer = json::parse(r.body, nullptr, false);
    return ItemField(answer, 0, "error") + "|" + ItemField(answer, 0, "value");
  }

  TempDir dir_;
  std::optional<RegistryFixture> registry_;
  std::unique_ptr<TestPki> pki_;
  CertFiles ca_, server_cert_;
  std::unique_ptr<crypto::Signer> signer_;
};

TEST_P(RoundTripTest, CliVerifyCostsThreeRequestsByTagAndByDigest) {
  const PushedImage by_tag = PushSigned("rt/cli-tag");
  const PushedImage by_digest = PushSigned("rt/cli-digest");
  for (const std::string& reference : {by_tag.TagReference(), by_digest.DigestReference()}) {
    const int before = RegistryRequests();
    const int tokens_before = token() ? registry_->server().token_requests() : 0;
    const auto verified = Verify(reference);
    ASSERT_EQ(verified.exit_code, 0) << reference << "\n" << verified.err;
    EXPECT_EQ(RequestsSince(before, Expected()), Expected()) << reference << "\n"
                                                             << registry_->server().log();
    EXPECT_EQ(Pings(), 0) << registry_->server().log();
    if (token()) {
      EXPECT_EQ(registry_->server().token_requests() - tokens_before, 1);
    }
  }
  // Positive control of the count itself: an unsigned image costs the
  // resolution and the missing signature manifest, so the count moves.
  const PushedImage unsigned_image = registry_->PushUnsigned("rt/unsigned", "v1");
  const int before = RegistryRequests();
  EXPECT_NE(Verify(unsigned_image.TagReference()).exit_code, 0);
  EXPECT_EQ(RequestsSince(before, Expected() - 1), Expected() - 1);
}

// Both formats, as cosign v3: bundle discovery adds the referrers API call
// (docker-registry answers 404) and the fallback tag (404), made beside the
// legacy path, so the count is two more and nothing else changes.
TEST_P(RoundTripTest, CliVerifyOfBothFormatsAddsTheTwoReferrerLookups) {
  const PushedImage image = PushSigned("rt/cli-both");
  const int before = RegistryRequests();
  const auto verified = Verify(image.DigestReference(), "both");
  ASSERT_EQ(verified.exit_code, 0) << verified.err;
  const int expected = Expected() + 2;
  if (token()) {
    // Each thread of the new process may meet the registry's challenge (a
    // 401) before the other has learnt it.
    const int seen = RequestsSince(before, expected);
    EXPECT_GE(seen, expected) << registry_->server().log();
    EXPECT_LE(seen, expected + 1) << registry_->server().log();
  } else {
    EXPECT_EQ(RequestsSince(before, expected), expected) << registry_->server().log();
  }
  const std::string referrers = "/v2/rt/cli-both/referrers/" + image.digest;
  const std::string tag = "/v2/rt/cli-both/manifests/sha256-" + image.digest.substr(7);
  // The fallback tag sha256-<hex>, not the legacy sha256-<hex>.sig.
  const auto fallback_gets = [&] {
    return registry_->server().CountRequests("GET", tag) -
           registry_->server().CountRequests("GET", tag + ".sig");
  };
  EXPECT_EQ(registry_->server().CountRequests("GET", referrers), 1) << registry_->server().log();
  EXPECT_EQ(fallback_gets(), 1) << registry_->server().log();
  // Control: the legacy-only verification asks for neither.
  const int legacy_before = RegistryRequests();
  ASSERT_EQ(Verify(image.DigestReference()).exit_code, 0);
  EXPECT_EQ(RequestsSince(legacy_before, Expected()), Expected()) << registry_->server().log();
  EXPECT_EQ(registry_->server().CountRequests("GET", referrers), 1);
  EXPECT_EQ(fallback_gets(), 1);
}

TEST_P(RoundTripTest, ServeValidateCostsThreeRequestsByTagAndByDigest) {
  const PushedImage by_tag = PushSigned("rt/serve-tag");
  const PushedImage by_digest = PushSigned("rt/serve-digest");
  auto provider = StartProvider();
  ASSERT_TRUE(provider->started());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {by_tag.TagReference(), by_tag.DigestReference()},
      {by_digest.DigestReference(), by_digest.DigestReference()}};
  bool first = true;
  for (const auto& [reference, pinned] : cases) {
    const int before = RegistryRequests();
    const int tokens_before = token() ? registry_->server().token_requests() : 0;
    EXPECT_EQ(Validate(*provider, reference), "|" + pinned) << provider->log();
    // The registry's challenge is learnt once (the first 401); each
    // repository here is new, so it needs a token of its own.
    const int expected = first ? Expected() : 3;
    EXPECT_EQ(RequestsSince(before, expected), expected) << reference << "\n"
                                                         << registry_->server().log();
    if (token()) {
      EXPECT_EQ(registry_->server().token_requests() - tokens_before, 1);
    }
    first = false;
  }
  EXPECT_EQ(Pings(), 0) << registry_->server().log();
  // A second request for the same keys is answered from the cache.
  const int before = RegistryRequests();
  EXPECT_EQ(Validate(*provider, by_digest.DigestReference()).front(), '|');
  EXPECT_EQ(RegistryRequests() - before, 0);
}

// signet serve reads both formats by default: a legacy-signed image costs
// the two referrer lookups more (made beside the legacy fetches), a
// bundle-signed one is verified from its referrer, and with
// --signature-formats legacy the bundle is not looked for. docker-registry
// has no referrers API: the provider asks once (the first verification),
// and later verifications read the fallback tag straight away, with the
// same verdicts.
TEST_P(RoundTripTest, ServeValidatesBothFormatsByDefault) {
  const PushedImage legacy = PushSigned("rt/both-legacy");
  const PushedImage bundle = PushSigned("rt/both-bundle", cosign::SignatureFormat::kBundle);
  auto provider = StartProvider("both");
  ASSERT_TRUE(provider->started());
  // legacy: HEAD, GET .sig, GET blob, GET referrers (404), GET sha256-<hex> (404);
  // bundle: HEAD, GET .sig (404), GET sha256-<hex>, GET referrer manifest,
  // GET bundle blob (no referrers call: the host said it has no API).
  const std::vector<std::pair<PushedImage, int>> cases = {{legacy, 5}, {bundle, 5}};
  for (const auto& [image, requests] : cases) {
    const int before = RegistryRequests();
    EXPECT_EQ(Validate(*provider, image.DigestReference()), "|" + image.DigestReference())
        << provider->log();
    if (!token()) {
      EXPECT_EQ(RequestsSince(before, requests), requests) << registry_->server().log();
    } else {
      EXPECT_GE(RequestsSince(before, requests), requests) << registry_->server().log();
    }
  }
  // The control is the first verification's call; the second made none
  // (on a token registry a 401 that carries the challenge is logged too).
  const int first_calls = registry_->server().CountRequests("GET", "/v2/rt/both-legacy/referrers/");
  EXPECT_GE(first_calls, 1) << registry_->server().log();
  EXPECT_EQ(registry_->server().CountRequests("GET", "/referrers/"), first_calls)
      << registry_->server().log();
  // A bundle signed by another key is refused, with the reason.
  auto other = crypto::GenerateKeyPair("other");
  ASSERT_TRUE(other.ok());
  auto other_signer = crypto::LoadPrivateKey(other->private_pem, "other", "other key");
  ASSERT_TRUE(other_signer.ok());
  const PushedImage stranger = registry_->PushUnsigned("rt/both-stranger", "v1");
  cosign::SignOptions bundle_options;
  bundle_options.format = cosign::SignatureFormat::kBundle;
  auto stranger_ref = oci::ImageReference::Parse(stranger.DigestReference());
  ASSERT_TRUE(stranger_ref.ok());
  ASSERT_TRUE(
      cosign::SignImage(registry_->client(), *stranger_ref, **other_signer, bundle_options).ok());
  EXPECT_NE(Validate(*provider, stranger.DigestReference()).find("no matching signatures"),
            std::string::npos);
  // Found in the fallback tag without a referrers call; the provider counts
  // the calls it saved.
  EXPECT_EQ(registry_->server().CountRequests("GET", "/v2/rt/both-stranger/referrers/"), 0);
  HttpClient scraper(ClientTls{ca_.cert_file, "", "", false, false});
  const ClientResponse metrics = scraper.Request("GET", provider->Url("/metrics"));
  EXPECT_NE(metrics.body.find("\nsignet_provider_registry_referrers_calls_skipped_total 2\n"),
            std::string::npos)
      << metrics.body;

  // Legacy only: the bundle is not looked for, the legacy image still passes.
  auto legacy_only = StartProvider("legacy");
  ASSERT_TRUE(legacy_only->started());
  EXPECT_NE(Validate(*legacy_only, bundle.DigestReference()).find("no signatures found"),
            std::string::npos)
      << legacy_only->log();
  EXPECT_EQ(Validate(*legacy_only, legacy.DigestReference()), "|" + legacy.DigestReference());
}

INSTANTIATE_TEST_SUITE_P(Registries, RoundTripTest,
                         ::testing::Values(RegistryServer::Mode::kPlainHttp,
                                           RegistryServer::Mode::kTokenAuth),
                         [](const auto& info) { return RegistryServer::ModeName(info.param); });

// Two `signet serve` replicas sharing one real redis-server (cache.redis),
// each trusting its own copy of the signing key, against the real registry,
// whose access log counts what each replica asks it.
class SharedCacheE2ETest : public ProviderE2ETest {
 protected:
  void SetUp() override {
    redis_ = signet::testing::RedisServer::Launch(kRedisPassword);
    signet::testing::WriteFile(dir_.File("redis-password"), std::string(kRedisPassword) + "\n",
                               0600);
    signet::testing::WriteFile(dir_.File("redis-hmac"), std::string(kHmacKey) + "\n", 0600);
    signet::testing::WriteFile(dir_.File("shared.yaml"),
                               "cache:\n  redis:\n    address: \"" + redis_->address() +
                                   "\"\n    timeout: 200ms\n    passwordFile: \"" +
                                   dir_.File("redis-password") + "\"\n    hmacKeyFile: \"" +
                                   dir_.File("redis-hmac") + "\"\n");
  }

  // A replica trusting `key_file`, a copy of the signing key, configured by
  // `config_args` (shared.yaml when empty).
  std::unique_ptr<ProviderProcess> StartReplica(const std::string& key_file,
                                                std::vector<std::string> config_args = {}) {
    signet::testing::WriteFile(key_file,
                               signet::testing::ReadFile(shared_->dir.File("cosign.pub")));
    std::vector<std::string> args = BaseArgs();
    auto key_flag = std::find(args.begin(), args.end(), "--key");
    if (key_flag != args.end()) *(key_flag + 1) = key_file;
    if (config_args.empty()) config_args = {"--config", dir_.File("shared.yaml")};
    return Start(config_args, args);
  }

  // `signet serve` with the usual flags and `args`, run to its end.
  signet::testing::CommandResult RunServe(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {
        signet::testing::SignetBinary(), "serve", "--port", "0", "--health-addr", "127.0.0.1:0"};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const std::string& arg : BaseArgs()) argv.push_back(arg);
    return signet::testing::RunCommand(argv, {}, "", std::chrono::seconds(30));
  }

  // Registry exchanges for repositories under `path` so far.
  int RegistryRequests(const std::string& path) const {
    return shared_->registry.server().CountRequests("GET", "/v2/" + path) +
           shared_->registry.server().CountRequests("HEAD", "/v2/" + path);
  }

  static std::string Verdict(ProviderProcess& provider, const std::string& key) {
    const json answer = PostJson(provider, "/validate", ProviderRequestBody({key}));
    const std::string error = ItemField(answer, 0, "error");
    return error.empty() ? "valid " + ItemField(answer, 0, "value") : error;
  }

  static double Stored(ProviderProcess& provider) {
    return MetricValue(Metrics(provider),
                       "signet_provider_shared_cache_stores_total{result=\"stored\"}");
  }

  static constexpr char kRedisPassword[] = "e2e-redis-password";
  static constexpr char kHmacKey[] = "e2e-shared-verdict-hmac-key-0123456789abcdef";
  std::unique_ptr<signet::testing::RedisServer> redis_;
};

TEST_F(SharedCacheE2ETest, TheSecondReplicaAnswersWithoutTheRegistryAndNeverAcrossKeys) {
  auto first = StartReplica(dir_.File("first.pub"));
  auto second = StartReplica(dir_.File("second.pub"));
  const PushedImage image = PushSigned("e2e/shared/app", "v1");
  const std::string digest_key = image.DigestReference();
  const std::string valid = "valid " + digest_key;

  ASSERT_EQ(Verdict(*first, digest_key), valid);
  const int after_first = RegistryRequests("e2e/shared/app");
  ASSERT_GT(after_first, 0);  // positive control: the first replica asked the registry
  ASSERT_TRUE(Eventually([&] { return Stored(*first) >= 1; })) << Metrics(*first);

  EXPECT_EQ(Verdict(*second, digest_key), valid);
  EXPECT_EQ(RegistryRequests("e2e/shared/app"), after_first);
  const std::string second_metrics = Metrics(*second);
  EXPECT_EQ(
      MetricValue(second_metrics, "signet_provider_shared_cache_lookups_total{result=\"hit\"}"), 1)
      << second_metrics;
  EXPECT_EQ(MetricValue(second_metrics, "signet_provider_verifications_total{result=\"valid\"}"), 0)
      << second_metrics;
  EXPECT_EQ(MetricValue(second_metrics, "signet_provider_shared_cache_up"), 1) << second_metrics;
  // A tag still costs the second replica its own tag lookup (tags are not
  // shared: HEAD of the tag, after the registry's auth challenge), and no
  // GET of a manifest or blob.
  const int gets = shared_->registry.server().CountRequests("GET", "/v2/e2e/shared/app");
  const int heads =
      shared_->registry.server().CountRequests("HEAD", "/v2/e2e/shared/app/manifests/v1");
  EXPECT_EQ(Verdict(*second, image.TagReference()), valid);
  EXPECT_EQ(shared_->registry.server().CountRequests("GET", "/v2/e2e/shared/app"), gets);
  EXPECT_GT(shared_->registry.server().CountRequests("HEAD", "/v2/e2e/shared/app/manifests/v1"),
            heads);

  // The second replica's key is replaced by an unrelated one: the verdict
  // made under the old key (in its own cache and in Redis) is not used.
  auto other = crypto::GenerateKeyPair("other");
  ASSERT_TRUE(other.ok());
  signet::testing::WriteFile(dir_.File("second.pub.new"), other->public_pem);
  std::filesystem::rename(dir_.File("second.pub.new"), dir_.File("second.pub"));
  EXPECT_TRUE(Eventually([&] {
    return Verdict(*second, digest_key) == digest_key + "_invalid: no matching signatures";
  })) << Verdict(*second, digest_key);
  // A fresh image the first replica verifies after the rotation is not
  // valid on the second either, which now asks the registry.
  const PushedImage fresh = PushSigned("e2e/shared/fresh", "v1");
  ASSERT_EQ(Verdict(*first, fresh.DigestReference()), "valid " + fresh.DigestReference());
  ASSERT_TRUE(Eventually([&] { return Stored(*first) >= 2; })) << Metrics(*first);
  const int before_second = RegistryRequests("e2e/shared/fresh");
  EXPECT_EQ(Verdict(*second, fresh.DigestReference()),
            fresh.DigestReference() + "_invalid: no matching signatures");
  EXPECT_GT(RegistryRequests("e2e/shared/fresh"), before_second);
  // Positive control: the first replica, whose key is unchanged, still
  // answers valid.
  EXPECT_EQ(Verdict(*first, digest_key), valid);
  for (ProviderProcess* replica : {first.get(), second.get()}) {
    EXPECT_EQ(replica->log().find(kRedisPassword), std::string::npos);
    EXPECT_EQ(replica->log().find(kHmacKey), std::string::npos);
  }
}

// Whoever can write to Redis but lacks the replicas' HMAC key cannot admit
// an image: a "valid" verdict planted for exactly the right subject (copied
// from the denial a replica stored) without a MAC or with a wrong one is not
// used; the replica asks the registry and reports the real verdict.
TEST_F(SharedCacheE2ETest, AForgedValidVerdictInRedisIsNotUsed) {
  auto first = StartReplica(dir_.File("first.pub"));
  const PushedImage image = PushUnsigned("e2e/shared/forged", "v1");
  const std::string digest_key = image.DigestReference();
  const std::string denied = digest_key + "_invalid: no signatures found";
  ASSERT_EQ(Verdict(*first, digest_key), denied);
  ASSERT_TRUE(Eventually([&] { return Stored(*first) >= 1; })) << Metrics(*first);
  const std::string key = redis_->Command({"KEYS", "signet:verdict:*"});
  ASSERT_EQ(key.find('\n'), std::string::npos) << key;  // exactly one entry
  const std::string stored = redis_->Command({"GET", key});
  ASSERT_GT(stored.size(), 64u) << stored;
  json forged = json::parse(stored.substr(64));
  ASSERT_EQ(forged.value("valid", true), false) << stored;
  forged["valid"] = true;
  forged.erase("reason");
  forged.erase("detail");
  const std::string payload = forged.dump();
  std::string wrong_mac = RedisVerdictCache::Seal(payload, kHmacKey);
  wrong_mac[0] = wrong_mac[0] == 'a' ? 'b' : 'a';

  for (const std::string& value : {payload, wrong_mac}) {
    ASSERT_EQ(redis_->Command({"SET", key, value, "PX", "60000"}), "OK");
    auto replica = StartReplica(dir_.File("replica.pub"));
    const int before = RegistryRequests("e2e/shared/forged");
    EXPECT_EQ(Verdict(*replica, digest_key), denied);
    EXPECT_GT(RegistryRequests("e2e/shared/forged"), before);
    const std::string metrics = Metrics(*replica);
    EXPECT_EQ(MetricValue(metrics,
                          "signet_provider_shared_cache_lookups_total{result=\"unauthenticated\"}"),
              1)
        << metrics;
    EXPECT_EQ(MetricValue(metrics, "signet_provider_shared_cache_lookups_total{result=\"hit\"}"), 0)
        << metrics;
  }

  // Positive control: the same value authenticated with the replicas' key
  // is used without the registry (which is why that key must stay secret).
  ASSERT_EQ(
      redis_->Command({"SET", key, RedisVerdictCache::Seal(payload, kHmacKey), "PX", "60000"}),
      "OK");
  auto control = StartReplica(dir_.File("control.pub"));
  const int before = RegistryRequests("e2e/shared/forged");
  EXPECT_EQ(Verdict(*control, digest_key), "valid " + digest_key);
  EXPECT_EQ(RegistryRequests("e2e/shared/forged"), before);
}

// Fail closed: with cache.redis.address and no HMAC key, serve refuses to
// start and says why.
TEST_F(SharedCacheE2ETest, ServeRefusesRedisWithoutAnHmacKey) {
  signet::testing::WriteFile(dir_.File("no-key.yaml"),
                             "cache:\n  redis:\n    address: \"" + redis_->address() + "\"\n");
  std::vector<std::string> args = {signet::testing::SignetBinary(),
                                   "serve",
                                   "--port",
                                   "0",
                                   "--health-addr",
                                   "127.0.0.1:0",
                                   "--config",
                                   dir_.File("no-key.yaml")};
  for (const std::string& arg : BaseArgs()) args.push_back(arg);
  const auto result = signet::testing::RunCommand(args, {}, "", std::chrono::seconds(30));
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("cache.redis.hmacKeyFile: give hmacKeyFile or hmacKeyEnv"),
            std::string::npos)
      << result.err << result.out;
}

// The secrets in the file and the address by --redis-address (as
// bench/run.sh's replicas section starts its replicas): the check that the
// secrets come with an address runs on the file with the flags applied, and
// the replicas share their verdicts through that Redis.
TEST_F(SharedCacheE2ETest, TheAddressByFlagMeetsTheSecretsInTheFile) {
  const std::string secrets = "cache:\n  redis:\n    hmacKeyFile: \"" + dir_.File("redis-hmac") +
                              "\"\n    timeout: 200ms\n    passwordFile: \"" +
                              dir_.File("redis-password") + "\"\n";
  signet::testing::WriteFile(dir_.File("secrets.yaml"), secrets);
  const std::vector<std::string> by_flag = {"--config", dir_.File("secrets.yaml"),
                                            "--redis-address", redis_->address()};
  auto first = StartReplica(dir_.File("first.pub"), by_flag);
  auto second = StartReplica(dir_.File("second.pub"), by_flag);
  ASSERT_TRUE(first->started() && second->started()) << first->log() << second->log();
  EXPECT_NE(first->log().find("\"shared_cache\":\"" + redis_->address() + "\""), std::string::npos)
      << first->log();

  const PushedImage image = PushSigned("e2e/shared/by-flag", "v1");
  const std::string valid = "valid " + image.DigestReference();
  ASSERT_EQ(Verdict(*first, image.DigestReference()), valid);
  ASSERT_TRUE(Eventually([&] { return Stored(*first) >= 1; })) << Metrics(*first);
  EXPECT_NE(redis_->Command({"KEYS", "signet:verdict:*"}), "");
  const int after_first = RegistryRequests("e2e/shared/by-flag");
  ASSERT_GT(after_first, 0);  // positive control: the first replica asked the registry
  EXPECT_EQ(Verdict(*second, image.DigestReference()), valid);
  EXPECT_EQ(RegistryRequests("e2e/shared/by-flag"), after_first);
  EXPECT_EQ(
      MetricValue(Metrics(*second), "signet_provider_shared_cache_lookups_total{result=\"hit\"}"),
      1)
      << Metrics(*second);
}

// Negative control of the above: an HMAC key (or password) in the file and no
// address, neither in the file nor by flag, is refused at start-up, with the
// file's name and the reason.
TEST_F(SharedCacheE2ETest, SecretsWithoutAnAddressAreRefused) {
  signet::testing::WriteFile(dir_.File("hmac-only.yaml"), "cache:\n  redis:\n    hmacKeyFile: \"" +
                                                              dir_.File("redis-hmac") + "\"\n");
  const auto hmac_only = RunServe({"--config", dir_.File("hmac-only.yaml")});
  EXPECT_EQ(hmac_only.exit_code, 1) << hmac_only.err << hmac_only.out;
  EXPECT_NE(hmac_only.err.find("Error: " + dir_.File("hmac-only.yaml") +
                               ": cache.redis.address: needed with hmacKeyFile or hmacKeyEnv"),
            std::string::npos)
      << hmac_only.err;

  signet::testing::WriteFile(
      dir_.File("password-only.yaml"),
      "cache:\n  redis:\n    passwordFile: \"" + dir_.File("redis-password") + "\"\n");
  const auto password_only = RunServe({"--config", dir_.File("password-only.yaml")});
  EXPECT_EQ(password_only.exit_code, 1) << password_only.err << password_only.out;
  EXPECT_NE(
      password_only.err.find("Error: " + dir_.File("password-only.yaml") +
                             ": cache.redis.address: needed with passwordFile or passwordEnv"),
      std::string::npos)
      << password_only.err;
}

TEST_F(SharedCacheE2ETest, WithRedisKilledAnswersComeFromTheLocalCacheAndTheRegistryInTime) {
  auto first = StartReplica(dir_.File("first.pub"));
  auto second = StartReplica(dir_.File("second.pub"));
  const PushedImage cached = PushSigned("e2e/shared/cached", "v1");
  const PushedImage later = PushSigned("e2e/shared/later", "v1");
  ASSERT_EQ(Verdict(*first, cached.DigestReference()), "valid " + cached.DigestReference());
  ASSERT_TRUE(Eventually([&] { return Stored(*first) >= 1; })) << Metrics(*first);
  // Positive control: with Redis up the second replica answers from it.
  const int before = RegistryRequests("e2e/shared/cached");
  ASSERT_EQ(Verdict(*second, cached.DigestReference()), "valid " + cached.DigestReference());
  ASSERT_EQ(RegistryRequests("e2e/shared/cached"), before);

  redis_->Stop();
  for (int i = 0; i < 3; ++i) {
    // Each answer inside the request deadline (1500 ms; the client would
    // see a timeout reason otherwise): from the local cache, or verified.
    EXPECT_EQ(Verdict(*second, cached.DigestReference()), "valid " + cached.DigestReference());
    EXPECT_EQ(Verdict(*second, later.DigestReference()), "valid " + later.DigestReference());
  }
  EXPECT_EQ(Verdict(*first, later.DigestReference()), "valid " + later.DigestReference());
  const std::string metrics = Metrics(*second);
  EXPECT_EQ(MetricValue(metrics, "signet_provider_shared_cache_up"), 0) << metrics;
  EXPECT_GE(MetricValue(metrics, "signet_provider_shared_cache_connection_failures_total"), 1)
      << metrics;
  EXPECT_GE(MetricValue(metrics, "signet_provider_shared_cache_lookups_total{result=\"error\"}"), 1)
      << metrics;
  // Logged once per change of state, however many calls failed.
  const std::string log = second->log();
  std::size_t downs = 0;
  for (std::size_t at = log.find("shared_cache_down"); at != std::string::npos;
       at = log.find("shared_cache_down", at + 1)) {
    ++downs;
  }
  EXPECT_EQ(downs, 1u) << log;
}

}  // namespace
}  // namespace signet::provider
