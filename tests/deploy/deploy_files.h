// Shared by the deploy suite: where the deployment kit lives and how to read
// its YAML. Header-only; every function is pure apart from file reads.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "support/paths.h"
#include "support/process.h"

namespace signet::deploytest {

inline std::string DeployDir() { return signet::testing::SourceDir() + "/deploy"; }
inline std::string ChartDir() { return DeployDir() + "/helm/signet"; }

// Files under `dir` whose names end in one of `suffixes`, sorted, skipping the
// Helm chart's templates/ (Go templates, not YAML).
inline std::vector<std::string> FilesUnder(const std::string& dir,
                                           const std::vector<std::string>& suffixes) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string path = entry.path().string();
    if (path.find("/helm/signet/templates/") != std::string::npos) continue;
    for (const auto& suffix : suffixes) {
      if (path.size() >= suffix.size() &&
          path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
        files.push_back(path);
        break;
      }
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Every non-empty document of a multi-document YAML text (throws on bad YAML).
inline std::vector<YAML::Node> Documents(const std::string& text) {
  std::vector<YAML::Node> docs;
  for (const auto& doc : YAML::LoadAll(text)) {
    if (doc.IsDefined() && !doc.IsNull()) docs.push_back(doc);
  }
  return docs;
}

inline std::vector<YAML::Node> DocumentsOf(const std::string& path) {
  return Documents(signet::testing::ReadFile(path));
}

// The first document with this kind (and name, when given); an undefined node
// when there is none.
inline YAML::Node FindObject(const std::vector<YAML::Node>& docs, const std::string& kind,
                             const std::string& name = "") {
  for (const auto& doc : docs) {
    if (!doc.IsMap() || !doc["kind"] || doc["kind"].as<std::string>() != kind) continue;
    if (!name.empty() && doc["metadata"]["name"].as<std::string>("") != name) continue;
    return doc;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

// `helm template signet <chart> -n signet-system <extra...>`.
inline signet::testing::CommandResult HelmTemplate(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {signet::testing::HelmBinary(),
                                   "template",
                                   "signet",
                                   ChartDir(),
                                   "--namespace",
                                   "signet-system"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return signet::testing::RunCommand(argv);
}

}  // namespace signet::deploytest
