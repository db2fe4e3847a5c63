// Image signatures in cosign v3's Sigstore bundle format, between signet and
// the reference cosign v3.1.2, on both kinds of registry: Debian's
// docker-registry 2.8 (no referrers API: the fallback tag sha256-<hex>) and
// go-containerregistry's registry with the referrers API. Also the mixed
// and legacy cases with cosign 2.5.0. Offline and key-based: cosign v3 signs
// with --use-signing-config=false --tlog-upload=false and verifies with
// --insecure-ignore-tlog=true.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/server_test_support.h"
#include "signet/cosign/image_bundle.h"
#include "signet/cosign/statement.h"
#include "signet/oci/registry_client.h"
#include "support/paths.h"
#include "support/process.h"
#include "support/referrers_registry_server.h"
#include "support/registry_server.h"
#include "support/test_images.h"

namespace signet::testing {
namespace {

constexpr char kIgnoreTlog[] = "--insecure-ignore-tlog=true";

enum class RegistryKind { kDockerRegistry, kReferrersApi };

std::string KindName(const ::testing::TestParamInfo<RegistryKind>& info) {
  return info.param == RegistryKind::kDockerRegistry ? "DockerRegistryFallbackTag"
                                                     : "ReferrersApiRegistry";
}

class ImageBundleInterop : public ::testing::TestWithParam<RegistryKind> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(ReadFile(CosignV3Binary()).empty())
        << "reference cosign v3 missing; run scripts/install-deps.sh";
    if (GetParam() == RegistryKind::kDockerRegistry) {
      docker_ = RegistryServer::Start(RegistryServer::Mode::kPlainHttp);
      host_ = docker_->host();
    } else {
      referrers_ = ReferrersRegistryServer::Start();
      host_ = referrers_->host();
    }
    oci::RegistryClientOptions options;
    options.max_retries = 1;
    client_ = std::make_unique<oci::RegistryClient>(options);
    for (const char* prefix : {"v3", "v2", "other"}) {
      auto keys = RunCommand(
          {CosignV3Binary(), "generate-key-pair", "--output-key-prefix", dir_.File(prefix)}, Env());
      ASSERT_EQ(keys.exit_code, 0) << keys.err;
    }
  }

  std::vector<std::string> Env() const {
    return {"COSIGN_PASSWORD=pw",
            "HOME=" + dir_.File("home"),
            "TUF_ROOT=" + dir_.File("home/tuf"),
            "DOCKER_CONFIG=" + dir_.File("docker"),
            "SIGSTORE_NO_CACHE=true",
            "COSIGN_REPOSITORY",
            "REGISTRY_AUTH_FILE"};
  }

  oci::Repository Repo(const std::string& path) const { return oci::Repository{host_, path}; }

  std::string Key(const std::string& name) const { return dir_.File(name); }

  CommandResult Run(const std::string& binary, std::vector<std::string> args) const {
    args.insert(args.begin(), binary);
    return RunCommand(args, Env());
  }
  // cosign v3, offline: no signing config, no transparency log.
  CommandResult CosignV3Sign(const std::string& key, const std::string& image,
                             std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"sign",
                                     "--key",
                                     Key(key),
                                     "--use-signing-config=false",
                                     "--tlog-upload=false",
                                     "--allow-insecure-registry",
                                     "--allow-http-registry",
                                     "-y"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(image);
    return Run(CosignV3Binary(), args);
  }
  CommandResult CosignVerify(const std::string& binary, const std::string& pub,
                             const std::string& image, std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"verify",
                                     "--key",
                                     Key(pub),
                                     kIgnoreTlog,
                                     "--allow-insecure-registry",
                                     "--allow-http-registry"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(image);
    return Run(binary, args);
  }
  // cosign 2.5.0 writes the legacy .sig form.
  CommandResult Cosign2Sign(const std::string& key, const std::string& image) const {
    return Run(CosignBinary(), {"sign", "--key", Key(key), "--tlog-upload=false",
                                "--allow-insecure-registry", "--allow-http-registry", "-y", image});
  }
  CommandResult SignetSign(const std::string& key, const std::string& image,
                           std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"sign", "--key", Key(key)};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(image);
    return Run(SignetBinary(), args);
  }
  CommandResult SignetVerify(const std::string& pub, const std::string& image,
                             std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"verify", "--key", Key(pub)};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(image);
    return Run(SignetBinary(), args);
  }

  // In `path`: an image cosign v3 signed in the bundle format (v3.key), one
  // cosign 2.5.0 signed in the legacy format (v2.key), and an unsigned one.
  struct SignedImages {
    PushedImage bundle, legacy, unsigned_image;
  };
  SignedImages PushSignedImages(const std::string& path) {
    SignedImages images{PushRandomImage(*client_, Repo(path), "bundle"),
                        PushRandomImage(*client_, Repo(path), "legacy"),
                        PushRandomImage(*client_, Repo(path), "unsigned")};
    for (const CommandResult& signed_image :
         {CosignV3Sign("v3.key", images.bundle.DigestReference()),
          Cosign2Sign("v2.key", images.legacy.DigestReference())}) {
      EXPECT_EQ(signed_image.exit_code, 0) << signed_image.out << signed_image.err;
    }
    return images;
  }

  // `signet serve` over plain HTTP on a free port, trusting v3.pub and
  // v2.pub, with `extra` flags; its log is serve-<name>.log. ValidateItems
  // asks the last one started.
  ChildProcess StartServe(const std::string& name, const std::vector<std::string>& extra) {
    serve_port_ = FreePort();
    std::vector<std::string> argv = {SignetBinary(),
                                     "serve",
                                     "--insecure-http",
                                     "--address",
                                     "127.0.0.1",
                                     "--port",
                                     std::to_string(serve_port_),
                                     "--health-addr",
                                     "127.0.0.1:0",
                                     "--key",
                                     Key("v3.pub"),
                                     "--key",
                                     Key("v2.pub"),
                                     "--allow-insecure-registry",
                                     "--deadline",
                                     "10s"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ChildProcess server(argv, {}, dir_.File("serve-" + name + ".log"));
    EXPECT_TRUE(WaitForPort(serve_port_, std::chrono::seconds(30)))
        << ReadFile(dir_.File("serve-" + name + ".log"));
    return server;
  }
  // The items of the answer to a /validate of `keys`.
  nlohmann::json ValidateItems(const std::vector<std::string>& keys) const {
    HttpClient http;
    const nlohmann::json body = {{"apiVersion", "externaldata.gatekeeper.sh/v1beta1"},
                                 {"kind", "ProviderRequest"},
                                 {"request", {{"keys", keys}}}};
    const ClientResponse response =
        http.Request("POST", "http://127.0.0.1:" + std::to_string(serve_port_) + "/validate",
                     body.dump(), {{"Content-Type", "application/json"}});
    EXPECT_EQ(response.status, 200) << response.body;
    auto answer = nlohmann::json::parse(response.body, nullptr, false);
    return answer.is_discarded() ? nlohmann::json::array()
                                 : answer["response"].value("items", nlohmann::json::array());
  }

  // The referrers of `image` as the registry lists them (API or fallback tag).
  std::vector<oci::Descriptor> Referrers(const PushedImage& image) {
    auto listed = client_->ListReferrers(image.repository, image.digest, std::nullopt);
    EXPECT_TRUE(listed.ok()) << listed.error().message();
    if (!listed.ok()) return {};
    const bool api = listed->answer == oci::ReferrersAnswer::kListed;
    EXPECT_EQ(api, GetParam() == RegistryKind::kReferrersApi);
    if (api) return listed->index.manifests;
    auto tag = client_->ReadReferrersTag(image.repository, image.digest, std::nullopt);
    EXPECT_TRUE(tag.ok()) << tag.error().message();
    return tag.ok() ? tag->index.manifests : std::vector<oci::Descriptor>{};
  }

  TempDir dir_;
  std::unique_ptr<RegistryServer> docker_;
  std::unique_ptr<ReferrersRegistryServer> referrers_;
  std::string host_;
  std::unique_ptr<oci::RegistryClient> client_;
  int serve_port_ = 0;
};

#define EXPECT_EXIT_CODE(result, code)                                 \
  EXPECT_EQ((result).exit_code, code) << "stdout:\n"                   \
                                      << (result).out << "\nstderr:\n" \
                                      << (result).err

TEST_P(ImageBundleInterop, SignetSignsCosignV3VerifiesWithTheSameOutput) {
  const auto image = PushRandomImage(*client_, Repo("bundle/a"), "v1");
  auto sign = SignetSign("v3.key", image.DigestReference(), {"-a", "env=prod"});
  EXPECT_EXIT_CODE(sign, 0);
  EXPECT_NE(sign.err.find("--insecure-ignore-tlog=true"), std::string::npos) << sign.err;

  // Exactly one bundle referrer, and no legacy .sig tag.
  const auto referrers = Referrers(image);
  ASSERT_EQ(referrers.size(), 1u);
  auto manifest = client_->GetManifest(image.repository, referrers[0].digest);
  ASSERT_TRUE(manifest.ok());
  auto parsed = oci::ParseImageManifest(manifest->bytes);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->artifact_type, cosign::kBundleMediaTypeV03);
  EXPECT_EQ(parsed->subject->digest, image.digest);
  EXPECT_EQ(parsed->subject->media_type, image.media_type);
  EXPECT_FALSE(
      client_->GetManifest(image.repository, "sha256-" + image.digest.substr(7) + ".sig").ok());

  auto theirs = CosignVerify(CosignV3Binary(), "v3.pub", image.TagReference(), {"-a", "env=prod"});
  EXPECT_EXIT_CODE(theirs, 0);
  auto ours = SignetVerify("v3.pub", image.TagReference(), {kIgnoreTlog, "-a", "env=prod"});
  EXPECT_EXIT_CODE(ours, 0);
  EXPECT_EQ(ours.out, theirs.out);
  EXPECT_NE(ours.out.find(cosign::kCosignSignPredicateType), std::string::npos) << ours.out;

  // Negative controls: another key, another annotation value.
  EXPECT_NE(CosignVerify(CosignV3Binary(), "other.pub", image.TagReference()).exit_code, 0);
  EXPECT_EXIT_CODE(SignetVerify("other.pub", image.TagReference(), {kIgnoreTlog}), 1);
  EXPECT_NE(
      CosignVerify(CosignV3Binary(), "v3.pub", image.TagReference(), {"-a", "env=dev"}).exit_code,
      0);
  EXPECT_EXIT_CODE(SignetVerify("v3.pub", image.TagReference(), {kIgnoreTlog, "-a", "env=dev"}), 1);
}

TEST_P(ImageBundleInterop, CosignV3SignsSignetVerifies) {
  const auto image = PushRandomImage(*client_, Repo("bundle/b"), "v1");
  EXPECT_EXIT_CODE(CosignV3Sign("v3.key", image.DigestReference(), {"-a", "team=blue"}), 0);
  ASSERT_EQ(Referrers(image).size(), 1u);

  auto ours = SignetVerify("v3.pub", image.TagReference(), {kIgnoreTlog, "-a", "team=blue"});
  EXPECT_EXIT_CODE(ours, 0);
  auto theirs = CosignVerify(CosignV3Binary(), "v3.pub", image.TagReference(), {"-a", "team=blue"});
  EXPECT_EXIT_CODE(theirs, 0);
  EXPECT_EQ(ours.out, theirs.out);
  EXPECT_NE(ours.err.find("Verification for " + image.TagReference() + " --"), std::string::npos);

  // Without --insecure-ignore-tlog the bundle (no log entry) fails, saying why.
  auto strict = SignetVerify("v3.pub", image.TagReference());
  EXPECT_EXIT_CODE(strict, 1);
  EXPECT_NE(strict.err.find("--insecure-ignore-tlog=true"), std::string::npos) << strict.err;
  // Another key, a wrong annotation: exit 1 (the bundle path).
  EXPECT_EXIT_CODE(SignetVerify("other.pub", image.TagReference(), {kIgnoreTlog}), 1);
  EXPECT_EXIT_CODE(SignetVerify("v3.pub", image.TagReference(), {kIgnoreTlog, "-a", "team=red"}),
                   1);
  // The stricter mode accepts cosign's sign predicate.
  EXPECT_EXIT_CODE(
      SignetVerify("v3.pub", image.TagReference(), {kIgnoreTlog, "--require-sign-predicate"}), 0);
}

TEST_P(ImageBundleInterop, BothToolsSignTheSameImageAndEachVerifiesBoth) {
  const auto image = PushRandomImage(*client_, Repo("bundle/c"), "v1");
  EXPECT_EXIT_CODE(CosignV3Sign("v3.key", image.DigestReference()), 0);
  EXPECT_EXIT_CODE(SignetSign("other.key", image.DigestReference()), 0);
  EXPECT_EQ(Referrers(image).size(), 2u);
  for (const char* pub : {"v3.pub", "other.pub"}) {
    EXPECT_EXIT_CODE(SignetVerify(pub, image.DigestReference(), {kIgnoreTlog}), 0);
    EXPECT_EXIT_CODE(CosignVerify(CosignV3Binary(), pub, image.DigestReference()), 0);
  }
  EXPECT_EXIT_CODE(SignetVerify("v2.pub", image.DigestReference(), {kIgnoreTlog}), 1);
}

TEST_P(ImageBundleInterop, LegacySignaturesStillVerifyAndMixedImagesFollowCosignPrecedence) {
  // Legacy only, written by cosign 2.5.0: signet and cosign v3 read it.
  const auto legacy = PushRandomImage(*client_, Repo("bundle/legacy"), "v1");
  EXPECT_EXIT_CODE(Cosign2Sign("v2.key", legacy.DigestReference()), 0);
  EXPECT_EXIT_CODE(SignetVerify("v2.pub", legacy.TagReference()), 0);
  EXPECT_EXIT_CODE(SignetVerify("v2.pub", legacy.TagReference(), {kIgnoreTlog}), 0);
  EXPECT_EXIT_CODE(CosignVerify(CosignV3Binary(), "v2.pub", legacy.TagReference()), 0);
  EXPECT_EXIT_CODE(SignetVerify("v3.pub", legacy.TagReference()), 12);

  // Legacy written by signet: cosign 2.5.0 reads it.
  const auto ours = PushRandomImage(*client_, Repo("bundle/ours-legacy"), "v1");
  EXPECT_EXIT_CODE(SignetSign("v2.key", ours.DigestReference(), {"--new-bundle-format=false"}), 0);
  EXPECT_TRUE(Referrers(ours).empty());
  EXPECT_EXIT_CODE(CosignVerify(CosignBinary(), "v2.pub", ours.TagReference()), 0);

  // Mixed: a legacy signature by v2 and a bundle by v3. Bundles win, as in
  // cosign v3; --new-bundle-format=false reads the legacy one.
  const auto mixed = PushRandomImage(*client_, Repo("bundle/mixed"), "v1");
  EXPECT_EXIT_CODE(Cosign2Sign("v2.key", mixed.DigestReference()), 0);
  EXPECT_EXIT_CODE(CosignV3Sign("v3.key", mixed.DigestReference()), 0);
  EXPECT_EXIT_CODE(SignetVerify("v3.pub", mixed.TagReference(), {kIgnoreTlog}), 0);
  EXPECT_EXIT_CODE(CosignVerify(CosignV3Binary(), "v3.pub", mixed.TagReference()), 0);
  EXPECT_EXIT_CODE(SignetVerify("v2.pub", mixed.TagReference(), {kIgnoreTlog}), 1);
  EXPECT_NE(CosignVerify(CosignV3Binary(), "v2.pub", mixed.TagReference()).exit_code, 0);
  EXPECT_EXIT_CODE(
      SignetVerify("v2.pub", mixed.TagReference(), {kIgnoreTlog, "--new-bundle-format=false"}), 0);
  EXPECT_EXIT_CODE(
      SignetVerify("v3.pub", mixed.TagReference(), {kIgnoreTlog, "--new-bundle-format=false"}), 12);
}

TEST_P(ImageBundleInterop, RecursiveSigningOfAnIndexSignsEachChildAtItsDigest) {
  const auto index = PushTwoPlatformIndex(*client_, Repo("bundle/multi"), "v1");
  EXPECT_EXIT_CODE(SignetSign("v3.key", index.DigestReference(), {"--recursive"}), 0);
  std::vector<std::string> references = {index.DigestReference()};
  for (const auto& child : index.children) references.push_back(child.DigestReference());
  for (const std::string& reference : references) {
    EXPECT_EXIT_CODE(CosignVerify(CosignV3Binary(), "v3.pub", reference), 0);
    EXPECT_EXIT_CODE(SignetVerify("v3.pub", reference, {kIgnoreTlog}), 0);
  }
  // Control: an unrelated image is not signed.
  const auto unsigned_image = PushRandomImage(*client_, Repo("bundle/multi"), "other");
  EXPECT_EXIT_CODE(SignetVerify("v3.pub", unsigned_image.DigestReference(), {kIgnoreTlog}), 10);
}

TEST_P(ImageBundleInterop, TlogUploadAndSigningConfigAreRefusedWhenTrue) {
  const auto image = PushRandomImage(*client_, Repo("bundle/flags"), "v1");
  EXPECT_NE(SignetSign("v3.key", image.DigestReference(), {"--tlog-upload=true"}).exit_code, 0);
  EXPECT_NE(SignetSign("v3.key", image.DigestReference(), {"--use-signing-config"}).exit_code, 0);
  EXPECT_TRUE(Referrers(image).empty());
  // Control: the cosign command line for offline signing is accepted.
  EXPECT_EXIT_CODE(SignetSign("v3.key", image.DigestReference(),
                              {"--tlog-upload=false", "--use-signing-config=false"}),
                   0);
  EXPECT_EQ(Referrers(image).size(), 1u);
}

// sigstore-js's @sigstore/oci as an independent producer: Node signs cosign's
// statement and @sigstore/oci attaches the bundle (its own referrer manifest
// and fallback-tag code). signet verifies it; cosign v3 too, as a check on
// the producer.
TEST_P(ImageBundleInterop, BundleAttachedBySigstoreJsOciVerifies) {
  const std::string oci_package = SigstoreJsDir() + "/node_modules/@sigstore/oci/package.json";
  ASSERT_FALSE(ReadFile(oci_package).empty())
      << "@sigstore/oci missing; run scripts/install-deps.sh";
  auto attach = [&](const PushedImage& image, const std::string& subject_hex,
                    const std::string& key_out) {
    return RunCommand({"node", SourceDir() + "/tests/interop_bundle/sigstore-oci-attach.cjs",
                       image.repository.Name(), image.digest, subject_hex, Key(key_out)},
                      {"NODE_PATH=" + SigstoreJsDir() + "/node_modules"});
  };
  const auto image = PushRandomImage(*client_, Repo("bundle/js"), "v1");
  auto attached = attach(image, image.digest.substr(7), "js.pub");
  ASSERT_EQ(attached.exit_code, 0) << attached.err;
  ASSERT_EQ(Referrers(image).size(), 1u);
  EXPECT_EXIT_CODE(SignetVerify("js.pub", image.TagReference(), {kIgnoreTlog}), 0);
  EXPECT_EXIT_CODE(CosignVerify(CosignV3Binary(), "js.pub", image.TagReference()), 0);
  EXPECT_EXIT_CODE(SignetVerify("v3.pub", image.TagReference(), {kIgnoreTlog}), 1);

  // The same producer, with a statement about another image: refused.
  const auto other = PushRandomImage(*client_, Repo("bundle/js"), "other");
  ASSERT_EQ(attach(other, image.digest.substr(7), "js-other.pub").exit_code, 0);
  auto refused = SignetVerify("js-other.pub", other.TagReference(), {kIgnoreTlog});
  EXPECT_EXIT_CODE(refused, 1);
  EXPECT_NE(refused.err.find("no subject"), std::string::npos) << refused.err;
}

// signet serve (both formats by default) admits an image cosign v3 signed
// in the bundle format and one cosign 2.5.0 signed in the legacy format, and
// denies an unsigned one; with --signature-formats legacy the bundle-signed
// image has no signature.
TEST_P(ImageBundleInterop, SignetServeVerifiesCosignV3BundlesAndLegacySignatures) {
  const auto [bundle, legacy, unsigned_image] = PushSignedImages("bundle/serve");
  const std::vector<std::string> keys = {bundle.DigestReference(), legacy.DigestReference(),
                                         unsigned_image.DigestReference()};
  const auto validate = [&](const std::string& formats) {
    ChildProcess server = StartServe(formats, {"--signature-formats", formats});
    return ValidateItems(keys);
  };
  const nlohmann::json both = validate("both");
  ASSERT_EQ(both.size(), 3u) << both.dump();
  EXPECT_EQ(both[0].value("error", ""), "") << both.dump();
  EXPECT_EQ(both[0].value("value", ""), bundle.DigestReference());
  EXPECT_EQ(both[1].value("error", ""), "") << both.dump();
  EXPECT_EQ(both[1].value("value", ""), legacy.DigestReference());
  EXPECT_NE(both[2].value("error", "").find("no signatures found"), std::string::npos)
      << both.dump();
  const nlohmann::json legacy_only = validate("legacy");
  ASSERT_EQ(legacy_only.size(), 3u) << legacy_only.dump();
  EXPECT_NE(legacy_only[0].value("error", "").find("no signatures found"), std::string::npos)
      << legacy_only.dump();
  EXPECT_EQ(legacy_only[1].value("value", ""), legacy.DigestReference()) << legacy_only.dump();
}

// One signet serve verifies images one request at a time: on docker-registry
// (no referrers API) only the first verification asks for referrers, the
// later ones read the fallback tag straight away; the registry with the API
// is asked for every image. The verdicts are the same on both registries:
// a cosign v3 bundle is found either way, a legacy signature verifies, an
// unsigned image is denied. Requests are counted in each registry's log.
TEST_P(ImageBundleInterop, SignetServeAsksARegistryWithoutTheApiForReferrersOnce) {
  const auto [bundle, legacy, unsigned_image] = PushSignedImages("bundle/once");
  const auto referrers_calls = [&] {
    if (docker_) return docker_->CountRequests("GET", "/referrers/");
    const std::string log = referrers_->log();
    int n = 0;
    for (std::size_t at = 0; (at = log.find("/referrers/sha256:", at)) != std::string::npos; ++at) {
      ++n;
    }
    return n;
  };
  ChildProcess server = StartServe("once", {});
  const auto validate = [&](const PushedImage& image) {
    const nlohmann::json items = ValidateItems({image.DigestReference()});
    if (items.size() != 1) return std::string("?");
    return items[0].value("error", "") + "|" + items[0].value("value", "");
  };
  const int before = referrers_calls();
  EXPECT_EQ(validate(legacy), "|" + legacy.DigestReference());
  EXPECT_EQ(referrers_calls() - before, 1);  // the control: the first one asks
  EXPECT_EQ(validate(bundle), "|" + bundle.DigestReference());
  EXPECT_NE(validate(unsigned_image).find("no signatures found"), std::string::npos);
  const int expected = GetParam() == RegistryKind::kDockerRegistry ? 1 : 3;
  EXPECT_EQ(referrers_calls() - before, expected) << ReadFile(dir_.File("serve-once.log"));
}

INSTANTIATE_TEST_SUITE_P(Registries, ImageBundleInterop,
                         ::testing::Values(RegistryKind::kDockerRegistry,
                                           RegistryKind::kReferrersApi),
                         KindName);

}  // namespace
}  // namespace signet::testing
