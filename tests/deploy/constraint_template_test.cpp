// Structural checks of the K8sSignedImages Rego (tests/gatekeeper evaluates it
// with Gatekeeper's own engine; these run without Go). The checker reads the
// policy rule by rule and asserts that every container field of every
// workload kind reaches the provider, that exemptImages keeps
// gatekeeper-library's exact/prefix meaning, and that every kind of failure
// becomes a violation. The checker itself is tested against weakened copies of
// the policy, so it can fail.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>

#include "deploy/deploy_files.h"

namespace signet::deploytest {
namespace {

// One top-level Rego statement: `head { body }` or a one-line definition.
struct RegoRule {
  std::string head;
  std::string body;
  std::string Text() const { return head + "\n" + body; }
};

std::vector<RegoRule> SplitRules(const std::string& rego) {
  std::vector<RegoRule> rules;
  std::istringstream in(rego);
  std::string line;
  int depth = 0;
  RegoRule current;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t");
    if (depth == 0 && (first == std::string::npos || line[first] == '#')) continue;
    if (depth == 0 && line.compare(first, 8, "package ") == 0) continue;
    const int before = depth;
    for (char c : line) depth += (c == '{') - (c == '}');
    if (before == 0) {
      // The head without its opening brace; a one-line rule keeps its braces.
      std::string head = line.substr(first);
      if (depth > 0 && head.back() == '{') head.pop_back();
      while (!head.empty() && head.back() == ' ') head.pop_back();
      current = RegoRule{head, ""};
    } else {
      current.body += line + "\n";
    }
    if (depth == 0) rules.push_back(current);
  }
  return rules;
}

std::string NameOf(const RegoRule& rule) {
  static const std::regex name(R"(^([A-Za-z_][A-Za-z0-9_]*))");
  std::smatch m;
  return std::regex_search(rule.head, m, name) ? m[1].str() : "";
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Every problem found in the policy; empty when it is complete.
std::vector<std::string> PolicyProblems(const std::string& rego) {
  std::vector<std::string> problems;
  const auto rules = SplitRules(rego);
  auto rules_named = [&](const std::string& name) {
    std::vector<RegoRule> found;
    for (const auto& r : rules) {
      if (NameOf(r) == name) found.push_back(r);
    }
    return found;
  };

  if (Contains(rego, "status_code")) {
    problems.push_back("status_code must not be tested (it is 0 for cached answers)");
  }

  // Where the pod spec is, per kind.
  struct KindPath {
    std::string path;
    std::vector<std::string> kinds;
  };
  const std::vector<KindPath> paths = {
      {"input.review.object.spec", {"Pod"}},
      {"input.review.object.spec.template.spec",
       {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController"}},
      {"input.review.object.spec.jobTemplate.spec.template.spec", {"CronJob"}},
  };
  const auto pod_specs = rules_named("pod_spec");
  for (const auto& kind_path : paths) {
    const RegoRule* rule = nullptr;
    for (const auto& r : pod_specs) {
      if (r.head == "pod_spec := " + kind_path.path) rule = &r;
    }
    if (rule == nullptr) {
      problems.push_back("no pod_spec rule for " + kind_path.path);
      continue;
    }
    for (const auto& kind : kind_path.kinds) {
      bool covered = Contains(rule->body, "input.review.kind.kind == \"" + kind + "\"");
      static const std::regex set_lookup(R"(([A-Za-z_]+)\[input\.review\.kind\.kind\])");
      std::smatch m;
      if (!covered && std::regex_search(rule->body, m, set_lookup)) {
        for (const auto& set_rule : rules_named(m[1].str())) {
          covered = covered || Contains(set_rule.Text(), "\"" + kind + "\"");
        }
      }
      if (!covered) problems.push_back(kind + " is not mapped to " + kind_path.path);
    }
  }

  // Each container field feeds a rule, and every such rule feeds the keys.
  std::string images_text;
  for (const auto& r : rules_named("images")) images_text += r.Text();
  for (const std::string field : {"containers", "initContainers", "ephemeralContainers"}) {
    bool reaches_keys = false;
    for (const auto& r : rules) {
      if (!Contains(r.Text(), "pod_spec." + field + "[_].image")) continue;
      const std::string name = NameOf(r);
      reaches_keys = reaches_keys || name == "images" ||
                     std::regex_search(images_text, std::regex("\\b" + name + "\\b"));
    }
    if (!reaches_keys) problems.push_back(field + " images never reach the provider");
  }
  bool keys_from_images = false;
  for (const auto& r : rules_named("keys")) keys_from_images |= Contains(r.Text(), "images[_]");
  if (!keys_from_images) problems.push_back("keys are not built from images");
  bool calls_provider = false;
  for (const auto& r : rules_named("response")) {
    calls_provider |= Contains(r.Text(), "external_data(") && Contains(r.Text(), "\"keys\": keys");
  }
  if (!calls_provider) problems.push_back("response does not call external_data with the keys");

  // exemptImages (gatekeeper-library's convention): an entry ending in "*" is
  // a prefix, any other entry must equal the image.
  bool exact = false, prefix = false;
  for (const auto& r : rules_named("exempt")) {
    const std::string text = r.Text();
    exact |= Contains(text, "not endswith(entry, \"*\")") && Contains(text, "img == entry") &&
             !Contains(text, "startswith(");
    prefix |= Contains(text, "\n  endswith(entry, \"*\")") &&
              Contains(text, "startswith(img, trim_suffix(entry, \"*\"))");
  }
  if (!exact) problems.push_back("an exemption without \"*\" does not require an exact match");
  if (!prefix) problems.push_back("an exemption ending in \"*\" is not a prefix match");

  // Failures that must deny.
  bool item_errors = false, system_error = false, unanswered = false;
  for (const auto& r : rules_named("violation")) {
    const std::string text = r.Text();
    static const std::regex err_var(R"(([A-Za-z_]+) := response\.errors\[_\])");
    std::smatch m;
    if (std::regex_search(text, m, err_var)) {
      const std::string var = m[1].str();
      item_errors |= Contains(text, var + "[0]") && Contains(text, var + "[1]") &&
                     Contains(text, "msg := sprintf(");
    }
    system_error |= Contains(text, "response.system_error != \"\"") && Contains(text, "msg :=");
    unanswered |= Contains(text, "not answered[");
  }
  if (!item_errors) problems.push_back("item errors do not deny with image and reason");
  if (!system_error) problems.push_back("system_error does not deny");
  if (!unanswered) problems.push_back("images without an answer do not deny");
  return problems;
}

std::string TemplateRego() {
  const auto docs = DocumentsOf(DeployDir() + "/gatekeeper/constrainttemplate.yaml");
  EXPECT_EQ(docs.size(), 1u);
  return docs.at(0)["spec"]["targets"][0]["rego"].as<std::string>("");
}

std::string Without(std::string text, const std::string& part) {
  const auto at = text.find(part);
  EXPECT_NE(at, std::string::npos) << part;
  if (at != std::string::npos) text.erase(at, part.size());
  return text;
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(ConstraintTemplate, IsK8sSignedImagesCallingSignet) {
  const auto docs = DocumentsOf(DeployDir() + "/gatekeeper/constrainttemplate.yaml");
  ASSERT_EQ(docs.size(), 1u);
  const auto& t = docs[0];
  EXPECT_EQ(t["apiVersion"].as<std::string>(), "templates.gatekeeper.sh/v1");
  EXPECT_EQ(t["kind"].as<std::string>(), "ConstraintTemplate");
  EXPECT_EQ(t["metadata"]["name"].as<std::string>(), "k8ssignedimages");
  EXPECT_EQ(t["spec"]["crd"]["spec"]["names"]["kind"].as<std::string>(), "K8sSignedImages");
  EXPECT_EQ(t["spec"]["targets"][0]["target"].as<std::string>(), "admission.k8s.gatekeeper.sh");
  const std::string rego = TemplateRego();
  EXPECT_NE(rego.find("package k8ssignedimages"), std::string::npos);
  // The default provider name is the chart's Provider.
  EXPECT_NE(rego.find("provider := \"signet\""), std::string::npos);
  const auto rendered = DocumentsOf(DeployDir() + "/manifests/signet.yaml");
  EXPECT_TRUE(FindObject(rendered, "Provider", "signet").IsDefined());
}

TEST(ConstraintTemplate, CoversEveryContainerFieldKindAndFailure) {
  const auto problems = PolicyProblems(TemplateRego());
  for (const auto& p : problems) ADD_FAILURE() << p;
}

TEST(ConstraintTemplate, CheckerCatchesWeakenedPolicies) {
  const std::string rego = TemplateRego();
  const std::vector<std::pair<std::string, std::string>> weakened = {
      {"no init containers",
       Without(rego, "init_container_images := {img | img := pod_spec.initContainers[_].image}\n")},
      {"ephemeral containers dropped from keys",
       Replace(rego, " | ephemeral_container_images", "")},
      {"no CronJob path", Replace(rego, "\"CronJob\"", "\"CronJobs\"")},
      {"no Job kind", Replace(rego, "\"Job\", ", "")},
      {"no Pod path", Replace(rego, "input.review.kind.kind == \"Pod\"", "false")},
      {"system_error ignored", Replace(rego, "response.system_error != \"\"", "false")},
      {"item errors ignored", Replace(rego, "err := response.errors[_]", "err := []")},
      {"status_code tested",
       Replace(rego, "response.system_error != \"\"", "response.status_code != 200")},
      {"exact exemptions matched as prefixes",
       Replace(rego, "img == entry", "startswith(img, entry)")},
      {"prefix exemptions keep the \"*\"",
       Replace(rego, "startswith(img, trim_suffix(entry, \"*\"))", "startswith(img, entry)")},
  };
  for (const auto& [what, text] : weakened) {
    EXPECT_FALSE(PolicyProblems(text).empty()) << "checker missed: " << what;
  }
}

TEST(ConstraintTemplate, ExemptImagesIsAListOfNamesEmptyInTheShippedConstraints) {
  const auto docs = DocumentsOf(DeployDir() + "/gatekeeper/constrainttemplate.yaml");
  ASSERT_EQ(docs.size(), 1u);
  const auto properties =
      docs[0]["spec"]["crd"]["spec"]["validation"]["openAPIV3Schema"]["properties"];
  EXPECT_EQ(properties["provider"]["type"].as<std::string>(""), "string");
  EXPECT_EQ(properties["exemptImages"]["type"].as<std::string>(""), "array");
  EXPECT_EQ(properties["exemptImages"]["items"]["type"].as<std::string>(""), "string");
  EXPECT_NE(TemplateRego().find("object.get(input, [\"parameters\", \"exemptImages\"], [])"),
            std::string::npos);
  // Nothing is exempt unless an operator says so.
  const auto files = FilesUnder(DeployDir() + "/gatekeeper/constraints", {".yaml"});
  EXPECT_EQ(files.size(), 3u);
  for (const auto& file : files) {
    for (const auto& doc : DocumentsOf(file)) {
      const auto exempt = doc["spec"]["parameters"]["exemptImages"];
      EXPECT_TRUE(exempt.IsSequence()) << file;
      EXPECT_EQ(exempt.size(), 0u) << file;
    }
  }
}

TEST(ConstraintTemplate, ConstraintsOnlyMatchKindsTheTemplateHandles) {
  const std::set<std::string> handled = {"Pod",
                                         "Deployment",
                                         "ReplicaSet",
                                         "StatefulSet",
                                         "DaemonSet",
                                         "Job",
                                         "ReplicationController",
                                         "CronJob"};
  const std::string rego = TemplateRego();
  for (const auto& kind : handled) {
    EXPECT_NE(rego.find("\"" + kind + "\""), std::string::npos) << kind;
  }
  for (const auto& file : FilesUnder(DeployDir() + "/gatekeeper/constraints", {".yaml"})) {
    for (const auto& doc : DocumentsOf(file)) {
      for (const auto& group : doc["spec"]["match"]["kinds"]) {
        for (const auto& kind : group["kinds"]) {
          EXPECT_TRUE(handled.count(kind.as<std::string>())) << file << ": " << kind;
        }
      }
    }
  }
}

TEST(AssignMutators, PinEveryContainerFieldOfEveryKindThroughMutate) {
  struct Expected {
    std::string prefix;
    std::set<std::string> kinds;
  };
  const std::vector<Expected> expected = {
      {"spec.", {"Pod"}},
      {"spec.template.spec.",
       {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController"}},
      {"spec.jobTemplate.spec.template.spec.", {"CronJob"}},
  };
  std::set<std::string> locations;
  // The chart renders them by default (mutation.enabled).
  const auto rendered = HelmTemplate();
  ASSERT_EQ(rendered.exit_code, 0) << rendered.err;
  const auto docs = Documents(rendered.out);
  for (const auto& doc : docs) {
    if (doc["kind"].as<std::string>("") != "Assign") continue;
    const std::string location = doc["spec"]["location"].as<std::string>();
    locations.insert(location);
    const auto external = doc["spec"]["parameters"]["assign"]["externalData"];
    EXPECT_EQ(external["provider"].as<std::string>(), "signet-mutate") << location;
    EXPECT_EQ(external["failurePolicy"].as<std::string>(), "Fail") << location;
    std::set<std::string> kinds;
    for (const auto& group : doc["spec"]["applyTo"]) {
      for (const auto& kind : group["kinds"]) kinds.insert(kind.as<std::string>());
    }
    // The location's prefix must fit exactly the kinds it applies to.
    bool matched = false;
    for (const auto& e : expected) {
      const std::string rest = location.substr(std::min(location.size(), e.prefix.size()));
      if (location.rfind(e.prefix, 0) == 0 && rest.find("spec.") == std::string::npos) {
        EXPECT_EQ(kinds, e.kinds) << location;
        matched = true;
      }
    }
    EXPECT_TRUE(matched) << location;
  }
  for (const auto& e : expected) {
    for (const std::string field : {"containers", "initContainers", "ephemeralContainers"}) {
      EXPECT_TRUE(locations.count(e.prefix + field + "[name:*].image")) << e.prefix << field;
    }
  }
  EXPECT_TRUE(FindObject(docs, "Provider", "signet-mutate").IsDefined());
  // The committed plain manifests carry them too.
  const auto manifests = DocumentsOf(DeployDir() + "/manifests/signet.yaml");
  EXPECT_TRUE(FindObject(manifests, "Provider", "signet-mutate").IsDefined());
  EXPECT_TRUE(FindObject(manifests, "Assign", "signet-pin-digest-pod-containers").IsDefined());
}

}  // namespace
}  // namespace signet::deploytest
