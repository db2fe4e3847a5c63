// Crypto-core micro benchmarks (Google Benchmark).
//
// ECDSA P-256 verification through signet's crypto::Verifier is measured
// against a bare OpenSSL EVP loop over the very same key, signature and
// payload, in the same binary, so their ratio is meaningful on a noisy
// machine. bench/run.sh turns the JSON output into a table of ops/s and
// ratios.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "instant_verifier.h"
#include "signet/cosign/payload.h"
#include "signet/cosign/verify.h"
#include "signet/crypto/encoding.h"
#include "signet/crypto/keys.h"
#include "signet/crypto/signer.h"
#include "signet/bounded_json.h"
#include "signet/oci/reference.h"
#include "signet/oci/registry.h"
#include "signet/policy/policy_set.h"
#include "signet/provider/expiring_cache.h"
#include "signet/provider/protocol.h"
#include "signet/provider/verification_service.h"

namespace {

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;
using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

// A cosign simple-signing payload of the usual size.
const std::string kPayload =
    R"({"critical":{"identity":{"docker-reference":"registry.example.com/team/app"},)"
    R"("image":{"docker-manifest-digest":"sha256:)"
    "4aa3054270f7a70b4528f2064ee90961788e1e1518703592ae4463de3b889dec"
    R"("},"type":"cosign container image signature"},"optional":null})";

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "crypto_bench: %s\n", what);
  std::exit(1);
}

// One P-256 key pair, its PKIX PEM and a DER signature over kPayload.
struct Fixture {
  EvpPkeyPtr key{nullptr, &EVP_PKEY_free};
  std::string public_pem;
  std::string signature;

  Fixture() {
    key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    if (!key) Die("EC P-256 key generation failed");
    BioPtr bio(BIO_new(BIO_s_mem()), &BIO_free);
    if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) Die("PEM export failed");
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    public_pem.assign(data, static_cast<size_t>(size));

    EvpMdCtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    size_t sig_len = 0;
    const auto* bytes = reinterpret_cast<const unsigned char*>(kPayload.data());
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &sig_len, bytes, kPayload.size()) != 1) {
      Die("signing failed");
    }
    signature.resize(sig_len);
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &sig_len,
                       bytes, kPayload.size()) != 1) {
      Die("signing failed");
    }
    signature.resize(sig_len);
  }
};

const Fixture& TheFixture() {
  static const Fixture fixture;
  return fixture;
}

// Runs `op` (returning a signet Result) once per iteration; the first failure
// stops the benchmark with its message.
template <typename Op>
void Loop(benchmark::State& state, Op op) {
  for (auto _ : state) {
    auto result = op();
    if (!result.ok()) {
      state.SkipWithError(result.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
}

// Baseline: the minimal correct EVP verification, a fresh digest context per
// signature (as any thread-safe verifier needs), key already parsed.
void BM_OpenSslEvpVerifyP256(benchmark::State& state) {
  const Fixture& f = TheFixture();
  const auto* sig = reinterpret_cast<const unsigned char*>(f.signature.data());
  const auto* msg = reinterpret_cast<const unsigned char*>(kPayload.data());
  for (auto _ : state) {
    EvpMdCtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, f.key.get()) != 1) {
      state.SkipWithError("EVP_DigestVerifyInit failed");
      break;
    }
    const int ok = EVP_DigestVerify(ctx.get(), sig, f.signature.size(), msg, kPayload.size());
    if (ok != 1) {
      state.SkipWithError("EVP_DigestVerify rejected the signature");
      break;
    }
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OpenSslEvpVerifyP256);

void BM_SignetVerifierP256(benchmark::State& state) {
  const Fixture& f = TheFixture();
  auto verifier = signet::crypto::LoadPublicKey(f.public_pem, "bench key");
  if (!verifier.ok()) {
    state.SkipWithError(verifier.error().message().c_str());
    return;
  }
  const signet::crypto::Verifier& v = *verifier.value();
  Loop(state, [&] { return v.Verify(f.signature, kPayload); });
}
BENCHMARK(BM_SignetVerifierP256);

// ParsePayload plus the claim checks VerifyImage makes on a layer: the payload
// names exactly the resolved digest.
void BM_PayloadParseAndClaims(benchmark::State& state) {
  const std::string digest =
      "sha256:4aa3054270f7a70b4528f2064ee90961788e1e1518703592ae4463de3b889dec";
  Loop(state, [&]() -> signet::Status {
    auto parsed = signet::cosign::ParsePayload(kPayload);
    if (!parsed.ok()) return parsed.error();
    if (parsed->docker_manifest_digest != digest ||
        parsed->type != signet::cosign::kSimpleSigningType) {
      return signet::Error(signet::ErrorCode::kVerificationFailed, "claims check failed");
    }
    return signet::OkStatus();
  });
}
BENCHMARK(BM_PayloadParseAndClaims);

// A read-only registry in memory holding one signed image, so that a whole
// VerifyImage (resolve, signature manifest, payload blob, signature, claims)
// is measured without any network.
class MemoryRegistry : public signet::oci::Registry {
 public:
  void AddManifest(const std::string& path, const std::string& tag_or_digest,
                   signet::oci::Manifest manifest) {
    manifests_[path + "|" + tag_or_digest] = std::move(manifest);
  }
  void AddBlob(const std::string& digest, std::string bytes) { blobs_[digest] = std::move(bytes); }

  signet::Result<signet::oci::ManifestHead> HeadManifest(const signet::oci::Repository& repo,
                                                         const std::string& ref,
                                                         signet::oci::Deadline) override {
    auto it = manifests_.find(repo.path + "|" + ref);
    if (it == manifests_.end()) return NotFound(ref);
    return signet::oci::ManifestHead{it->second.media_type, it->second.digest,
                                     it->second.bytes.size()};
  }
  signet::Result<signet::oci::Manifest> GetManifest(const signet::oci::Repository& repo,
                                                    const std::string& ref,
                                                    std::uint64_t /*max_bytes*/,
                                                    signet::oci::Deadline) override {
    auto it = manifests_.find(repo.path + "|" + ref);
    if (it == manifests_.end()) return NotFound(ref);
    return it->second;
  }
  signet::Result<std::string> GetBlob(const signet::oci::Repository& /*repo*/,
                                      const std::string& digest, std::uint64_t /*max_bytes*/,
                                      signet::oci::Deadline) override {
    auto it = blobs_.find(digest);
    if (it == blobs_.end()) return NotFound(digest);
    return it->second;
  }
  signet::Status PutBlob(const signet::oci::Repository&, const std::string&, const std::string&,
                         signet::oci::Deadline) override {
    return ReadOnly();
  }
  signet::Result<std::string> PutManifest(const signet::oci::Repository&, const std::string&,
                                          const std::string&, const std::string&,
                                          signet::oci::Deadline) override {
    return ReadOnly();
  }
  signet::Result<std::vector<std::string>> ListTags(const signet::oci::Repository&,
                                                    signet::oci::Deadline) override {
    return ReadOnly();
  }

 private:
  static signet::Error NotFound(const std::string& what) {
    return signet::Error(signet::ErrorCode::kNotFound, "memory registry: no " + what);
  }
  static signet::Error ReadOnly() {
    return signet::Error(signet::ErrorCode::kUnsupported, "memory registry is read-only");
  }
  std::map<std::string, signet::oci::Manifest> manifests_;
  std::map<std::string, std::string> blobs_;
};

std::string SignWithFixtureKey(const std::string& data) {
  const Fixture& f = TheFixture();
  EvpMdCtxPtr ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  size_t len = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, f.key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, bytes, data.size()) != 1) {
    Die("signing failed");
  }
  std::string signature(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len, bytes,
                     data.size()) != 1) {
    Die("signing failed");
  }
  signature.resize(len);
  return signature;
}

void BM_VerifyImageInMemory(benchmark::State& state) {
  const Fixture& f = TheFixture();
  const std::string repo = "bench/app";
  const std::string oci = std::string(signet::oci::kOciManifestMediaType);
  const std::string config = R"({"architecture":"amd64","os":"linux"})";
  const std::string image_manifest =
      R"({"schemaVersion":2,"mediaType":")" + oci + R"(","config":{"mediaType":")" +
      std::string(signet::oci::kOciConfigMediaType) + R"(","size":)" +
      std::to_string(config.size()) + R"(,"digest":")" + signet::crypto::Sha256Digest(config) +
      R"("},"layers":[]})";
  const std::string image_digest = signet::crypto::Sha256Digest(image_manifest);
  const std::string payload =
      signet::cosign::MarshalPayload("registry.example.com/" + repo, image_digest, {});
  const std::string signature = signet::crypto::Base64Encode(SignWithFixtureKey(payload));
  const std::string sig_manifest =
      R"({"schemaVersion":2,"mediaType":")" + oci + R"(","config":{"mediaType":")" +
      std::string(signet::oci::kOciConfigMediaType) + R"(","size":)" +
      std::to_string(config.size()) + R"(,"digest":")" + signet::crypto::Sha256Digest(config) +
      R"("},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":)" +
      std::to_string(payload.size()) + R"(,"digest":")" + signet::crypto::Sha256Digest(payload) +
      R"(","annotations":{"dev.cosignproject.cosign/signature":")" + signature + R"("}}]})";
  std::string sig_tag = image_digest + ".sig";
  sig_tag[sig_tag.find(':')] = '-';

  MemoryRegistry registry;
  const signet::oci::Manifest image{oci, image_digest, image_manifest};
  registry.AddManifest(repo, "v1", image);
  registry.AddManifest(repo, image_digest, image);
  registry.AddManifest(repo, sig_tag,
                       {oci, signet::crypto::Sha256Digest(sig_manifest), sig_manifest});
  registry.AddBlob(signet::crypto::Sha256Digest(payload), payload);
  registry.AddBlob(signet::crypto::Sha256Digest(config), config);

  auto verifier = signet::crypto::LoadPublicKey(f.public_pem, "bench key");
  auto reference = signet::oci::ImageReference::Parse("registry.example.com/" + repo + ":v1");
  if (!verifier.ok() || !reference.ok()) {
    state.SkipWithError("key or reference did not parse");
    return;
  }
  signet::cosign::VerifyOptions options;
  options.keys.push_back(std::shared_ptr<const signet::crypto::Verifier>(std::move(*verifier)));
  Loop(state, [&] { return signet::cosign::VerifyImage(registry, *reference, options); });
}
BENCHMARK(BM_VerifyImageInMemory);

// The provider's bounded LRU cache, holding 100,000 entries, looked up by key.
signet::provider::ExpiringCache<std::string>& FullCache() {
  static signet::provider::ExpiringCache<std::string> cache(100000,
                                                            signet::provider::SteadyClock());
  static const bool filled = [] {
    for (std::size_t i = 0; i < 100000; ++i) {
      cache.Put(signet::bench::BenchImageKey(i), "registry.example.com/team/app@sha256:verified",
                std::chrono::hours(1));
    }
    return true;
  }();
  (void)filled;
  return cache;
}

void BM_CacheLookupHit(benchmark::State& state) {
  auto& cache = FullCache();
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < 1024; ++i) keys.push_back(signet::bench::BenchImageKey(i * 97));
  std::size_t i = 0;
  for (auto _ : state) {
    auto value = cache.Get(keys[i++ & 1023]);
    if (!value) {
      state.SkipWithError("cached key missing");
      break;
    }
    benchmark::DoNotOptimize(value);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CacheLookupHit);

void BM_CacheLookupMiss(benchmark::State& state) {
  auto& cache = FullCache();
  const std::string absent = signet::bench::BenchImageKey(1000000);
  for (auto _ : state) {
    auto value = cache.Get(absent);
    benchmark::DoNotOptimize(value);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CacheLookupMiss);

// One cached key through the whole engine: reference parse, policy choice,
// cache lookup, decision (what /validate does per key on a warm cache).
void BM_DecideCachedKey(benchmark::State& state) {
  auto policies = signet::policy::PolicySet::Create({}, signet::policy::UnmatchedImages::kVerify);
  if (!policies.ok()) {
    state.SkipWithError(policies.error().message().c_str());
    return;
  }
  signet::provider::VerificationService service(
      {}, std::make_shared<signet::bench::InstantVerifier>(), std::move(*policies), nullptr);
  const std::vector<std::string> keys = {signet::bench::BenchImageKey(7)};
  service.Decide(keys);  // fills the cache
  for (auto _ : state) {
    auto decisions = service.Decide(keys);
    if (!decisions[0].valid || !decisions[0].cached) {
      state.SkipWithError("the key was not answered valid from the cache");
      break;
    }
    benchmark::DoNotOptimize(decisions);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecideCachedKey);

// A /validate body of 100 image keys, read two ways: a whole JSON DOM and
// its keys copied out (the reading before; the baseline), and
// ParseProviderRequest, which builds no DOM. Both run the same bounds scan.
std::string HundredKeyBody() {
  nlohmann::json keys = nlohmann::json::array();
  for (int i = 0; i < 100; ++i) keys.push_back(signet::bench::BenchImageKey(i));
  return nlohmann::json{{"apiVersion", "externaldata.gatekeeper.sh/v1beta1"},
                        {"kind", "ProviderRequest"},
                        {"request", {{"keys", keys}}}}
      .dump();
}

void BM_RequestBodyDom100(benchmark::State& state) {
  const std::string body = HundredKeyBody();
  for (auto _ : state) {
    auto document = signet::ParseBoundedJson(body, "body");
    std::vector<std::string> keys;
    if (document.ok()) {
      const auto& list = (*document)["request"]["keys"];
      keys.reserve(list.size());
      for (const auto& key : list) keys.push_back(key.get<std::string>());
    }
    if (keys.size() != 100) {
      state.SkipWithError("the DOM did not hold 100 keys");
      break;
    }
    benchmark::DoNotOptimize(keys);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RequestBodyDom100);

void BM_RequestBodyParse100(benchmark::State& state) {
  const std::string body = HundredKeyBody();
  for (auto _ : state) {
    auto request = signet::provider::ParseProviderRequest(body, 1000);
    if (!request.ok() || request->keys.size() != 100) {
      state.SkipWithError("the body was not read as 100 keys");
      break;
    }
    benchmark::DoNotOptimize(request);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RequestBodyParse100);

}  // namespace

BENCHMARK_MAIN();
