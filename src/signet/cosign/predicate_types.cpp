#include "signet/cosign/predicate_types.h"

#include <array>

namespace signet::cosign {
namespace {

// URIs: cosign pkg/cosign/attestation (custom, vuln, openvex), in-toto-golang
// slsa_provenance v0.2 and v1, in_toto/attestations.go (SPDX, CycloneDX, link).
constexpr std::array<PredicateTypeShorthand, 10> kShorthands = {{
    {"custom", "https://cosign.sigstore.dev/attestation/v1"},
    {"slsaprovenance", "https://slsa.dev/provenance/v0.2"},
    {"slsaprovenance02", "https://slsa.dev/provenance/v0.2"},
    {"slsaprovenance1", "https://slsa.dev/provenance/v1"},
    {"spdx", "https://spdx.dev/Document"},
    {"spdxjson", "https://spdx.dev/Document"},
    {"cyclonedx", "https://cyclonedx.org/bom"},
    {"link", "https://in-toto.io/Link/v1"},
    {"vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"},
    {"openvex", "https://openvex.dev/ns"},
}};

bool HasScheme(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == 0 || colon == std::string_view::npos || colon + 1 == text.size()) return false;
  const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(text[0])) return false;
  for (char c : text.substr(0, colon)) {
    const bool ok = alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool HasControlOrSpace(std::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) return true;
  }
  return false;
}

}  // namespace

std::span<const PredicateTypeShorthand> PredicateTypeShorthands() { return kShorthands; }

Result<std::string> ResolvePredicateType(std::string_view type) {
  for (const PredicateTypeShorthand& entry : kShorthands) {
    if (entry.name == type) return std::string(entry.uri);
  }
  const bool absolute_path = !type.empty() && type.front() == '/';
  if ((absolute_path || HasScheme(type)) && !HasControlOrSpace(type)) return std::string(type);
  return Error(ErrorCode::kInvalidArgument, "invalid predicate type: " + std::string(type));
}

}  // namespace signet::cosign
