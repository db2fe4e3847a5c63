// Memory cost of the provider's verification cache.
//
//   cache_memory [--entries N]
//
// Fills a real provider::VerificationService (the engine behind /validate)
// with N distinct digest-pinned images, answered by an instant verifier, and
// prints one JSON line: process RSS before and after, and bytes per entry.
// Every key must come back valid and the second pass must be served from the
// cache, otherwise the program fails (exit 1).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "instant_verifier.h"
#include "signet/policy/policy_set.h"
#include "signet/provider/verification_service.h"

namespace {

long RssKib() {
  std::ifstream status("/proc/self/status");
  std::string field;
  long value = 0;
  while (status >> field) {
    if (field == "VmRSS:") {
      status >> value;
      return value;
    }
  }
  return 0;
}

int Fail(const std::string& why) {
  std::fprintf(stderr, "cache_memory: %s\n", why.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t entries = 100000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--entries") entries = std::strtoul(argv[i + 1], nullptr, 10);
  }
  auto policies = signet::policy::PolicySet::Create({}, signet::policy::UnmatchedImages::kVerify);
  if (!policies.ok()) return Fail(policies.error().message());

  signet::provider::VerificationServiceOptions options;
  options.cache_max_entries = entries;
  options.workers = 2;
  options.deadline = std::chrono::milliseconds(60000);
  const long rss_before = RssKib();
  {
    signet::provider::VerificationService service(
        options, std::make_shared<signet::bench::InstantVerifier>(), std::move(*policies), nullptr);
    const long rss_empty = RssKib();
    constexpr std::size_t kBatch = 1000;
    for (int pass = 0; pass < 2; ++pass) {
      for (std::size_t start = 0; start < entries; start += kBatch) {
        std::vector<std::string> keys;
        for (std::size_t i = start; i < start + kBatch && i < entries; ++i) {
          keys.push_back(signet::bench::BenchImageKey(i));
        }
        for (const auto& decision : service.Decide(keys)) {
          if (!decision.valid) return Fail("key " + decision.key + " invalid: " + decision.reason);
          if (pass == 1 && !decision.cached) return Fail("key " + decision.key + " not cached");
        }
      }
    }
    const long rss_full = RssKib();
    const double per_entry =
        entries ? static_cast<double>(rss_full - rss_empty) * 1024.0 / entries : 0.0;
    std::printf(
        "{\"entries\":%zu,\"rss_before_kib\":%ld,\"rss_empty_kib\":%ld,\"rss_after_kib\":%ld,"
        "\"bytes_per_entry\":%.0f}\n",
        entries, rss_before, rss_empty, rss_full, per_entry);
  }
  return 0;
}
