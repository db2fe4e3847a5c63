#include "support/paths.h"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace signet::testing {

std::string SourceDir() { return SIGNET_SOURCE_DIR; }
std::string TestDataDir() { return SIGNET_TEST_DATA_DIR; }
std::string BinaryDir() { return SIGNET_BINARY_DIR; }
std::string ReferrersRegistryBinary() {
  return std::string(SIGNET_BINARY_DIR) + "/tools/referrers-registry/referrers-registry";
}
std::string SignetBinary() { return std::string(SIGNET_BINARY_DIR) + "/signet"; }
std::string CosignBinary() { return std::string(SIGNET_TOOLS_DIR) + "/cosign/usr/bin/cosign"; }
std::string CosignV3Binary() { return std::string(SIGNET_COSIGN_V3_DIR) + "/cosign"; }
std::string SigstoreJsDir() { return SIGNET_SIGSTORE_JS_DIR; }
std::string HelmBinary() { return std::string(SIGNET_TOOLS_DIR) + "/helm/helm"; }
std::string PromtoolBinary() {
  return std::string(SIGNET_TOOLS_DIR) + "/prometheus/usr/bin/promtool";
}
std::string PrometheusBinary() {
  return std::string(SIGNET_TOOLS_DIR) + "/prometheus/usr/bin/prometheus";
}
std::string AmtoolBinary() { return std::string(SIGNET_TOOLS_DIR) + "/prometheus/usr/bin/amtool"; }

TempDir::TempDir() {
  const std::filesystem::path base = std::filesystem::path(SIGNET_BINARY_DIR) / "Testing" / "tmp";
  std::filesystem::create_directories(base);
  std::string templ = (base / "signet-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace signet::testing
