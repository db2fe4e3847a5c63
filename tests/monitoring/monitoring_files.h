// Shared by the monitoring suite: the chart's PrometheusRule and
// ServiceMonitor rendered with the real helm, and the Prometheus tools from
// Debian's prometheus and prometheus-alertmanager packages
// (scripts/install-deps.sh unpacks them into BUILD/tools/prometheus).
// Header-only; every function is pure apart from running helm and file I/O.
#pragma once

#include <yaml-cpp/yaml.h>

#include <set>
#include <string>
#include <vector>

#include "deploy/deploy_files.h"
#include "support/paths.h"
#include "support/process.h"

namespace signet::monitoringtest {

inline std::string MonitoringDir() { return signet::testing::SourceDir() + "/deploy/monitoring"; }

// The chart rendered with the PrometheusRule and ServiceMonitor on, plus
// `extra` helm arguments.
inline std::vector<YAML::Node> RenderMonitoring(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"--set", "prometheusRule.enabled=true", "--set",
                                   "serviceMonitor.enabled=true"};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto result = deploytest::HelmTemplate(args);
  if (result.exit_code != 0) return {};
  return deploytest::Documents(result.out);
}

// The rule groups of the rendered PrometheusRule as a Prometheus rules file
// ("groups:" at the top), "" when there is no PrometheusRule.
inline std::string RulesFile(const std::vector<YAML::Node>& docs) {
  const YAML::Node rule = deploytest::FindObject(docs, "PrometheusRule");
  if (!rule.IsDefined() || !rule["spec"]["groups"]) return "";
  YAML::Node file;
  file["groups"] = rule["spec"]["groups"];
  YAML::Emitter out;
  out << file;
  return std::string(out.c_str()) + "\n";
}

// The names of the alerts in a rules file's text.
inline std::set<std::string> AlertNames(const std::string& rules_file) {
  std::set<std::string> names;
  const YAML::Node file = YAML::Load(rules_file);
  for (const auto& group : file["groups"]) {
    for (const auto& rule : group["rules"]) {
      if (rule["alert"]) names.insert(rule["alert"].as<std::string>());
    }
  }
  return names;
}

// The expression of alert `name` in a rules file's text ("" when absent).
inline std::string AlertExpr(const std::string& rules_file, const std::string& name) {
  const YAML::Node file = YAML::Load(rules_file);
  for (const auto& group : file["groups"]) {
    for (const auto& rule : group["rules"]) {
      if (rule["alert"] && rule["alert"].as<std::string>() == name) {
        return rule["expr"].as<std::string>();
      }
    }
  }
  return "";
}

// The rules file with alert `name`'s expression replaced by `expr`.
inline std::string WithAlertExpr(const std::string& rules_file, const std::string& name,
                                 const std::string& expr) {
  YAML::Node file = YAML::Load(rules_file);
  for (auto group : file["groups"]) {
    for (auto rule : group["rules"]) {
      if (rule["alert"] && rule["alert"].as<std::string>() == name) rule["expr"] = expr;
    }
  }
  YAML::Emitter out;
  out << file;
  return std::string(out.c_str()) + "\n";
}

}  // namespace signet::monitoringtest
