// The Gatekeeper External Data wire format as the provider speaks it.
//
// ParseProviderRequest accepts a ProviderRequest of any apiVersion (Gatekeeper
// sent externaldata.gatekeeper.sh/v1alpha1 before v3.11 and v1beta1 since;
// the provider never rejects on apiVersion) and returns its keys in order,
// duplicates kept. Every whole-request failure is an Error whose message is
// meant for the response's systemError.
//
// SerializeProviderResponse writes apiVersion externaldata.gatekeeper.sh/
// v1beta1, kind ProviderResponse, the items in the given order, and
// systemError when set. Items carry either a string value or an error.
//
// Pure functions over values; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "signet/result.h"

namespace signet::provider {

inline constexpr std::string_view kResponseApiVersion = "externaldata.gatekeeper.sh/v1beta1";
inline constexpr std::string_view kResponseKind = "ProviderResponse";
inline constexpr std::string_view kRequestKind = "ProviderRequest";

struct ProviderRequest {
  std::string api_version;  // as sent (informational only)
  std::vector<std::string> keys;
};

// Parses the body. Errors (ErrorCode::kParse / kInvalidArgument):
//   "unable to unmarshal request body: <why>"   (not JSON, wrong shape)
//   "request has no keys"                        (missing or empty key list)
//   "too many keys: N (the limit is M)"          (more than max_keys)
Result<ProviderRequest> ParseProviderRequest(std::string_view body, std::size_t max_keys);

struct ResponseItem {
  std::string key;
  std::optional<std::string> value;  // set for a valid item
  std::string error;                 // non-empty for an invalid item
};

struct ProviderResponse {
  bool idempotent = false;
  std::vector<ResponseItem> items;
  std::string system_error;  // non-empty for whole-request failures
};

std::string SerializeProviderResponse(const ProviderResponse& response);

// A response that carries only a systemError.
ProviderResponse SystemErrorResponse(std::string message, bool idempotent = false);

}  // namespace signet::provider
