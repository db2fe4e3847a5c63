// tree: what is attached to an image (legacy .sig/.att/.sbom tags and OCI
// referrers), printed in cosign tree's shape. The listing is done by
// signet::cosign::ListTree; this file parses flags and prints.
#include <iostream>
#include <memory>
#include <optional>

#include "signet/cli/command.h"
#include "signet/cli/registry_flags.h"
#include "signet/cosign/tree.h"

namespace signet::cli {
namespace {

struct TreeFlags {
  RegistryFlags registry;
  std::string image;
};

void PrintLayers(const std::vector<oci::Descriptor>& layers) {
  for (std::size_t i = 0; i < layers.size(); ++i) {
    std::cout << (i + 1 == layers.size() ? "   └── 🍒 " : "   ├── 🍒 ") << layers[i].digest << "\n";
  }
}

const char* LegacyHeading(cosign::ArtifactType type) {
  switch (type) {
    case cosign::ArtifactType::kSignature:
      return "🔐 Signatures for an image tag: ";
    case cosign::ArtifactType::kAttestation:
      return "💾 Attestations for an image tag: ";
    case cosign::ArtifactType::kSbom:
      return "📦 SBOMs for an image tag: ";
  }
  return "";
}

int RunTree(const TreeFlags& flags) {
  auto reference = oci::ImageReference::Parse(flags.image);
  if (!reference) return ReportError(reference.error());
  cosign::TreeOptions options;
  auto override_repo = SignatureRepositoryFromEnv();
  if (!override_repo) return ReportError(override_repo.error());
  options.override_repo = std::move(*override_repo);
  auto deadline = flags.registry.Deadline();
  if (!deadline) return ReportError(deadline.error());
  const auto client = flags.registry.MakeClient({*reference});

  auto tree = cosign::ListTree(*client, *reference, options, *deadline);
  if (!tree) return ReportError(tree.error());

  const std::string name = reference->Name();
  std::cout << "📦 Supply Chain Security Related artifacts for an image: " << name << "\n";
  if (tree->empty()) {
    std::cout << "No Supply Chain Security Related Artifacts found for image " << name
              << ",\n start creating one with simply running$ signet sign <img>\n";
    return kExitOk;
  }
  for (const cosign::TreeLegacyTag& tag : tree->legacy) {
    std::cout << "└── " << LegacyHeading(tag.type) << tag.reference << "\n";
    PrintLayers(tag.layers);
  }
  for (const cosign::TreeReferrer& referrer : tree->referrers) {
    if (!referrer.error.empty()) continue;
    std::cout << "└── 🔗 " << referrer.DisplayType()
              << " artifacts via OCI referrer: " << referrer.reference << "\n";
    PrintLayers(referrer.layers);
  }
  std::cout.flush();
  if (const std::size_t errors = tree->ReferrerErrors(); errors != 0) {
    for (const cosign::TreeReferrer& referrer : tree->referrers) {
      if (referrer.error.empty()) continue;
      std::cerr << "Error fetching artifact " << referrer.reference << ": " << referrer.error
                << "\n";
    }
    return ReportError(Error(ErrorCode::kRegistry, std::to_string(errors) + " of the " +
                                                       std::to_string(tree->referrers.size()) +
                                                       " referrers of " +
                                                       tree->artifact_repository.Name() + "@" +
                                                       tree->digest + " could not be listed"));
  }
  return kExitOk;
}

}  // namespace

void RegisterTreeCommand(CLI::App& app, Action& action) {
  auto flags = std::make_shared<TreeFlags>();
  CLI::App* tree = app.add_subcommand(
      "tree",
      "List the signatures, attestations, SBOMs and other artifacts attached to an image, as "
      "cosign tree does.\n"
      "Both formats are listed: the legacy tags sha256-<hex>.sig, .att and .sbom (cosign v2, "
      "and cosign v3 with --new-bundle-format=false) with their layers, and the image's OCI "
      "1.1 referrers (cosign v3's Sigstore bundles), read from the registry's referrers API "
      "or, when it has none, from the fallback tag sha256-<hex>. A referrer is shown with the "
      "predicate type of its Sigstore bundle (https://sigstore.dev/cosign/sign/v1 for a "
      "signature) or else its artifact type, and its layers.\n"
      "Nothing is verified: use signet verify for that.\n"
      "With COSIGN_REPOSITORY set, the tags and referrers are read from that repository.\n"
      "Exit status: 0 when the listing is complete (also when nothing is attached); 11 when "
      "the image does not exist; 1 on any other error (registry failure, a list or manifest "
      "the registry serves that is malformed or over its caps, a listed referrer that cannot "
      "be read or refers to another image: the rest is printed, the failures go to stderr).");
  flags->registry.Add(*tree);
  tree->add_option("IMAGE", flags->image, "image reference (tag or digest)")->required();
  tree->callback([flags, &action] { action = [flags] { return RunTree(*flags); }; });
}

}  // namespace signet::cli
