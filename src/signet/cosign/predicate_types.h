// cosign's `--type` shorthands for attestation predicate types, as cosign
// v3.1.2 maps them (cmd/cosign/cli/options/predicate.go PredicateTypeMap),
// for `attest` and `verify-attestation`.
//
// Pure functions over a constant table; thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "signet/result.h"

namespace signet::cosign {

struct PredicateTypeShorthand {
  std::string_view name;  // the --type value
  std::string_view uri;   // the predicateType written into the Statement
};

// The table, in cosign's order: custom, slsaprovenance, slsaprovenance02,
// slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln, openvex.
std::span<const PredicateTypeShorthand> PredicateTypeShorthands();

// The predicateType URI for a --type value: a shorthand from the table, or
// the value itself when it reads as an absolute URI ("<scheme>:<rest>") or an
// absolute path, as Go's url.ParseRequestURI accepts for cosign.
// kInvalidArgument "invalid predicate type: <t>" otherwise.
Result<std::string> ResolvePredicateType(std::string_view type);

}  // namespace signet::cosign
