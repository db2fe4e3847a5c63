// scripts/install-deps.sh takes its Debian mirror from the machine's own apt
// sources (scripts/debian-mirror.sh), and no file in the repository names a
// package registry's host.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "deploy/deploy_files.h"

namespace signet::deploytest {
namespace {

using signet::testing::ReadFile;
using signet::testing::RunCommand;
using signet::testing::SourceDir;
using signet::testing::TempDir;
using signet::testing::WriteFile;

// `scripts/debian-mirror.sh <apt_dir> bookworm` with these files under apt_dir.
signet::testing::CommandResult Mirror(
    const std::vector<std::pair<std::string, std::string>>& files) {
  TempDir apt;
  std::filesystem::create_directories(apt.File("sources.list.d"));
  for (const auto& [name, text] : files) WriteFile(apt.File(name), text);
  return RunCommand({"bash", SourceDir() + "/scripts/debian-mirror.sh", apt.path(), "bookworm"});
}

TEST(DebianMirror, TakesTheReleaseArchiveFromDeb822SourcesNotTheSecurityOne) {
  const auto result = Mirror({{"sources.list.d/debian.sources", R"(Types: deb
# http://snapshot.example/archive/debian-security/1
URIs: http://security.mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: http://updates-only.example/debian
Suites: bookworm-updates
Components: main

Enabled: no
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main

Types: deb-src deb
# http://snapshot.example/archive/debian/1
URIs: http://mirror.example/debian/ http://second.example/debian
Suites: bookworm bookworm-updates
Components: contrib main
)"}});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "http://mirror.example/debian\n");
}

TEST(DebianMirror, TakesTheReleaseArchiveFromClassicSourcesList) {
  const auto result = Mirror({{"sources.list",
                               R"(# deb http://commented.example/debian bookworm main
deb-src http://src.example/debian bookworm main
deb [arch=amd64 signed-by=/k.gpg] https://vendor.example/bookworm/linux bookworm stable
deb http://security.example/debian-security bookworm-security main
  deb [ signed-by=/k.gpg ] http://classic.example/debian bookworm main contrib # trailing
)"}});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "http://classic.example/debian\n");

  const auto list =
      Mirror({{"sources.list.d/extra.list", "deb http://list.example/debian bookworm main\n"}});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out, "http://list.example/debian\n");
}

TEST(DebianMirror, FailsWithAClearMessageWhenThereIsNoArchiveForTheRelease) {
  for (const auto& files : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {},
           {{"sources.list",
             "deb http://security.example/debian-security bookworm-security main\n"
             "deb http://old.example/debian bullseye main\n"
             "deb https://vendor.example/linux bookworm stable\n"}},
           {{"sources.list.d/debian.sources",
             "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n"
             "Components: main\n"}}}) {
    const auto result = Mirror(files);
    EXPECT_EQ(result.exit_code, 1) << result.out;
    EXPECT_TRUE(result.out.empty()) << result.out;
    EXPECT_NE(result.err.find("no Debian archive for \"bookworm\""), std::string::npos)
        << result.err;
  }
}

TEST(DebianMirror, InstallDepsUsesItAndNamesNoMirror) {
  const std::string script = ReadFile(SourceDir() + "/scripts/install-deps.sh");
  EXPECT_NE(script.find("scripts/debian-mirror.sh"), std::string::npos);
  EXPECT_NE(script.find("$mirror trixie main"), std::string::npos);
}

// Package registries' hosts, assembled from parts so that this file does not
// name them either.
std::vector<std::string> RegistryHosts() {
  const std::vector<std::vector<std::string>> parts = {{"deb", "debian", "org"},
                                                       {"security", "debian", "org"},
                                                       {"ftp", "debian", "org"},
                                                       {"archive", "ubuntu", "com"},
                                                       {"registry", "npmjs", "org"},
                                                       {"registry", "yarnpkg", "com"},
                                                       {"proxy", "golang", "org"},
                                                       {"sum", "golang", "org"},
                                                       {"pypi", "org"},
                                                       {"files", "pythonhosted", "org"},
                                                       {"crates", "io"},
                                                       {"rubygems", "org"},
                                                       {"repo1", "maven", "org"},
                                                       {"repo", "maven", "apache", "org"},
                                                       {"nuget", "org"},
                                                       {"packagist", "org"},
                                                       {"deb", "nodesource", "com"}};
  std::vector<std::string> hosts;
  for (const auto& host : parts) {
    std::string joined;
    for (const auto& part : host) {
      if (!joined.empty()) joined += '.';
      joined += part;
    }
    hosts.push_back(joined);
  }
  return hosts;
}

struct Scan {
  int files = 0;
  std::vector<std::string> hits;  // "path: host"
};

// Every file under `root`, skipping .git and build trees, searched
// case-insensitively for RegistryHosts().
Scan ScanForRegistryHosts(const std::filesystem::path& root) {
  const auto hosts = RegistryHosts();
  Scan scan;
  for (auto it = std::filesystem::recursive_directory_iterator(root);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && (name == ".git" || name.rfind("build", 0) == 0)) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    std::string lower = text.str();
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    ++scan.files;
    for (const auto& host : hosts) {
      if (lower.find(host) != std::string::npos) {
        scan.hits.push_back(std::filesystem::relative(it->path(), root).string() + ": " + host);
      }
    }
  }
  return scan;
}

TEST(RepositoryFiles, NoFileNamesAPackageRegistryHost) {
  const Scan scan = ScanForRegistryHosts(SourceDir());
  EXPECT_GT(scan.files, 100);  // the walk did reach the sources
  EXPECT_TRUE(scan.hits.empty()) << ::testing::PrintToString(scan.hits);

  // Positive control: the same scan finds a host written into a file.
  TempDir dir;
  WriteFile(dir.File("sources.list"), "deb http://" + RegistryHosts()[0] + "/debian trixie main\n");
  const Scan planted = ScanForRegistryHosts(dir.path());
  EXPECT_EQ(planted.files, 1);
  EXPECT_EQ(planted.hits.size(), 1u);
}

}  // namespace
}  // namespace signet::deploytest
