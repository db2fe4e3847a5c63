// Where the tests find the project, its test data, the built signet binary
// and the reference tools fetched by scripts/install-deps.sh.
#pragma once

#include <string>

namespace signet::testing {

std::string SourceDir();
std::string TestDataDir();       // tests/data
std::string SignetBinary();      // the built CLI
std::string CosignBinary();      // reference cosign 2.5.0
std::string CosignV3Binary();    // reference cosign v3.1.2 (Sigstore bundles)
std::string HelmBinary();        // reference helm
std::string PromtoolBinary();    // promtool from Debian's prometheus package
std::string PrometheusBinary();  // the Prometheus server from the same package
std::string AmtoolBinary();      // amtool from Debian's prometheus-alertmanager package
std::string SigstoreJsDir();     // sigstore-js packages (node_modules inside)
std::string BinaryDir();         // the CMake build tree
// go-containerregistry's registry with the referrers API (tests/referrers_registry,
// built into the build tree by scripts/build-referrers-registry.sh).
std::string ReferrersRegistryBinary();

// A fresh private directory under the build tree's Testing/tmp, removed by
// the caller's TempDir destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace signet::testing
