// scripts/package-release.sh makes a self-contained signet: the package runs
// in a root that holds nothing but the host's C library (loader, libc, libm,
// libpthread, libdl, librt, libresolv, as present) and /proc - as on a machine without
// Debian's libspdlog/libyaml-cpp, e.g. GitHub's ubuntu-latest - and signs and
// verifies there; the plain build binary does not start in that root. Runs
// chroot, so it needs root (as CI runs it).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include "deploy/deploy_files.h"

namespace signet::deploytest {
namespace {

namespace fs = std::filesystem;
using signet::testing::CommandResult;
using signet::testing::ReadFile;
using signet::testing::RunCommand;
using signet::testing::SignetBinary;
using signet::testing::SourceDir;
using signet::testing::TempDir;
using signet::testing::WriteFile;

constexpr char kPassword[] = "release-test-password";

// The host's C library as `ldd binary` resolves it: the loader (the line
// without "=>") and these sonames, plus those of the same family that exist
// beside libc.
std::vector<std::string> HostGlibcFiles(const std::string& binary) {
  const auto ldd = RunCommand({"ldd", binary});
  EXPECT_EQ(ldd.exit_code, 0) << ldd.err;
  std::vector<std::string> files;
  std::string libc_dir;
  std::istringstream lines(ldd.out);
  std::string line;
  const std::regex resolved(R"(^\s*(\S+) => (/\S+) \(0x)");
  const std::regex loader(R"(^\s*(/\S*ld-linux\S*) \(0x)");
  std::smatch match;
  while (std::getline(lines, line)) {
    if (std::regex_search(line, match, loader)) files.push_back(match[1]);
    if (std::regex_search(line, match, resolved) && match[1] == "libc.so.6") {
      libc_dir = fs::path(match[2].str()).parent_path().string();
    }
  }
  EXPECT_FALSE(libc_dir.empty()) << ldd.out;
  for (const char* name : {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
                           "libresolv.so.2"}) {
    if (fs::exists(libc_dir + "/" + name)) files.push_back(libc_dir + "/" + name);
  }
  return files;
}

// Copies each file's content (symlinks followed) to the same path under root.
void CopyInto(const std::string& root, const std::vector<std::string>& files) {
  for (const auto& file : files) {
    const fs::path target = fs::path(root) / fs::path(file).relative_path();
    fs::create_directories(target.parent_path());
    fs::copy_file(fs::canonical(file), target, fs::copy_options::overwrite_existing);
  }
}

// Runs argv inside root (chroot), with no library path from the environment
// and with root/proc holding a proc filesystem, as on any Linux machine: the
// loader finds the executable's $ORIGIN through /proc/self/exe. The mount
// lives in a private mount namespace and goes away with the command.
CommandResult InRoot(const std::string& root, std::vector<std::string> argv,
                     std::vector<std::string> env = {}) {
  argv.insert(argv.begin(), {"unshare", "--mount", "--pid", "--fork",
                             "--mount-proc=" + root + "/proc", "chroot", root});
  env.push_back("LD_LIBRARY_PATH");
  env.push_back("LD_PRELOAD");
  return RunCommand(argv, env);
}

class ReleasePackage : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "this test runs the package in a chroot, as CI runs it";
    const auto made =
        RunCommand({"bash", SourceDir() + "/scripts/package-release.sh", "--binary", SignetBinary(),
                    "--out", work_.File("out"), "--max-glibc", "2.39"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    tarball_ = made.out.substr(0, made.out.find('\n'));
    ASSERT_TRUE(fs::is_regular_file(tarball_)) << made.out;
    name_ = fs::path(tarball_).filename().string();
    name_ = name_.substr(0, name_.size() - std::string(".tar.gz").size());
    ASSERT_TRUE(std::regex_match(name_, std::regex(R"(signet-[0-9][^/]*-linux-(amd64|arm64))")))
        << name_;
    report_ = made.err;
  }

  TempDir work_;
  std::string tarball_;
  std::string name_;
  std::string report_;
};

TEST_F(ReleasePackage, BundlesEverythingButGlibcWithARelativeRunpath) {
  const std::string package = work_.File("out/" + name_);
  std::set<std::string> libs;
  for (const auto& entry : fs::directory_iterator(package + "/lib")) {
    libs.insert(entry.path().filename().string());
  }
  // What ubuntu-latest lacks (Debian 12's spdlog and yaml-cpp sonames) is
  // inside, or linked statically and not needed at all; libcurl is always
  // shared; the C library is not inside.
  const auto needed = RunCommand({"objdump", "-p", package + "/bin/signet"});
  ASSERT_EQ(needed.exit_code, 0) << needed.err;
  ASSERT_NE(needed.out.find("NEEDED"), std::string::npos) << needed.out;
  for (const std::string soname : {"libspdlog.so.1.10", "libyaml-cpp.so.0.7", "libcurl.so.4"}) {
    if (needed.out.find(soname) != std::string::npos) {
      EXPECT_TRUE(libs.count(soname)) << soname;
    }
  }
  EXPECT_TRUE(libs.count("libcurl.so.4"));
  for (const auto& lib : libs) {
    EXPECT_FALSE(std::regex_match(lib, std::regex(R"((ld-linux|libc|libm|libpthread|libdl|librt|)"
                                                  R"(libresolv|libnss_\w+)[.-].*)")))
        << lib;
  }
  const auto rpath = RunCommand({"patchelf", "--print-rpath", package + "/bin/signet"});
  EXPECT_EQ(rpath.out, "$ORIGIN/../lib\n") << rpath.err;
  const auto lib_rpath =
      RunCommand({"patchelf", "--print-rpath", package + "/lib/libcurl.so.4"});
  EXPECT_EQ(lib_rpath.out, "$ORIGIN\n") << lib_rpath.err;

  // The checksum file matches the tarball (sha256sum -c reads names relative
  // to the working directory).
  const auto in_dir = RunCommand({"bash", "-c", "cd \"$1\" && sha256sum -c \"$2\"", "sh",
                                  work_.File("out"), name_ + ".tar.gz.sha256"});
  EXPECT_EQ(in_dir.exit_code, 0) << in_dir.out << in_dir.err;

  // Every GLIBC symbol version any packaged file needs is at most 2.39
  // (Ubuntu 24.04), and none needs glibc's private interface.
  std::string newest = "0";
  int versions = 0;
  for (const auto& entry : fs::recursive_directory_iterator(package)) {
    if (!entry.is_regular_file() || entry.path().filename() == "README") continue;
    const auto dump = RunCommand({"objdump", "-T", entry.path().string()});
    ASSERT_EQ(dump.exit_code, 0) << entry.path() << dump.err;
    EXPECT_EQ(dump.out.find("GLIBC_PRIVATE"), std::string::npos) << entry.path();
    const std::regex version(R"(GLIBC_(\d+)\.(\d+))");
    for (std::sregex_iterator it(dump.out.begin(), dump.out.end(), version), end; it != end; ++it) {
      ++versions;
      const int major = std::stoi((*it)[1]);
      const int minor = std::stoi((*it)[2]);
      EXPECT_TRUE(major < 2 || (major == 2 && minor <= 39)) << entry.path() << ": " << it->str();
    }
  }
  EXPECT_GT(versions, 0) << "no GLIBC versions found: objdump output not understood";
  EXPECT_NE(report_.find("needs glibc >= 2."), std::string::npos) << report_;
}

TEST_F(ReleasePackage, RunsInARootWithOnlyTheHostGlibc) {
  const std::string root = work_.File("root");
  CopyInto(root, HostGlibcFiles(SignetBinary()));
  fs::create_directories(root + "/opt");
  const auto untar = RunCommand({"tar", "-xzf", tarball_, "-C", root + "/opt"});
  ASSERT_EQ(untar.exit_code, 0) << untar.err;
  fs::create_directories(root + "/opt/plain");
  fs::copy_file(SignetBinary(), root + "/opt/plain/signet");
  fs::create_directories(root + "/work");
  fs::create_directories(root + "/proc");

  // The root holds the C library, the package, the plain binary and nothing
  // else (proc is mounted only while a command runs).
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    const std::string rel = fs::relative(entry.path(), root).string();
    const bool glibc = std::regex_search(
        rel, std::regex(R"((^|/)(ld-linux[^/]*|lib(c|m|pthread|dl|rt|resolv)\.so\.\d+)$)"));
    EXPECT_TRUE(glibc || rel.rfind("opt/", 0) == 0) << rel;
  }
  const std::string signet = "/opt/" + name_ + "/bin/signet";

  // Negative control: the build's own binary cannot start here.
  const auto plain = InRoot(root, {"/opt/plain/signet", "--version"});
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_NE(plain.err.find("error while loading shared libraries"), std::string::npos) << plain.err;

  const auto version = InRoot(root, {signet, "--version"});
  ASSERT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(version.out.rfind("signet ", 0), 0u) << version.out;
  const auto help = InRoot(root, {signet, "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_NE(help.out.find("sign-blob"), std::string::npos) << help.out;

  // A real round trip inside the root.
  const std::vector<std::string> password = {std::string("COSIGN_PASSWORD=") + kPassword};
  const auto keys =
      InRoot(root, {signet, "generate-key-pair", "--output-key-prefix", "/work/cosign"}, password);
  ASSERT_EQ(keys.exit_code, 0) << keys.err;
  WriteFile(root + "/work/blob.txt", "release package blob\n");
  const auto sign = InRoot(root,
                           {signet, "sign-blob", "--key", "/work/cosign.key", "--output-signature",
                            "/work/blob.sig", "/work/blob.txt"},
                           password);
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  const auto verify = InRoot(root, {signet, "verify-blob", "--key", "/work/cosign.pub",
                                    "--signature", "/work/blob.sig", "/work/blob.txt"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.err.find("Verified OK"), std::string::npos) << verify.err;

  // The signature is real: the host's signet accepts it, and a changed blob
  // is refused inside the root and outside.
  const auto outside =
      RunCommand({SignetBinary(), "verify-blob", "--key", root + "/work/cosign.pub", "--signature",
                  root + "/work/blob.sig", root + "/work/blob.txt"});
  EXPECT_EQ(outside.exit_code, 0) << outside.err;
  WriteFile(root + "/work/blob.txt", "release package blob, changed\n");
  EXPECT_NE(InRoot(root, {signet, "verify-blob", "--key", "/work/cosign.pub", "--signature",
                          "/work/blob.sig", "/work/blob.txt"})
                .exit_code,
            0);
  EXPECT_NE(RunCommand({SignetBinary(), "verify-blob", "--key", root + "/work/cosign.pub",
                        "--signature", root + "/work/blob.sig", root + "/work/blob.txt"})
                .exit_code,
            0);
}

TEST(ReleasePackageScript, RefusesAPackageNeedingANewerGlibcThanAllowed) {
  TempDir work_;
  const auto strict =
      RunCommand({"bash", SourceDir() + "/scripts/package-release.sh", "--binary", SignetBinary(),
                  "--out", work_.File("strict"), "--max-glibc", "2.0"});
  EXPECT_NE(strict.exit_code, 0);
  EXPECT_NE(strict.err.find("newer than --max-glibc 2.0"), std::string::npos) << strict.err;
}

}  // namespace
}  // namespace signet::deploytest
