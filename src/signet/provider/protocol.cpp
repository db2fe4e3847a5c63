#include "signet/provider/protocol.h"

#include <nlohmann/json.hpp>

#include "signet/bounded_json.h"

namespace signet::provider {

using nlohmann::json;

Result<ProviderRequest> ParseProviderRequest(std::string_view body, std::size_t max_keys) {
  // Depth and size are checked before any DOM is built: a body of nested
  // brackets costs one linear scan, not memory.
  auto parsed = ParseBoundedJson(body, "unable to unmarshal request body");
  if (!parsed.ok()) {
    if (parsed.error().code() == ErrorCode::kTooLarge) return parsed.error();
    return Error(ErrorCode::kParse, "unable to unmarshal request body: not valid JSON");
  }
  const json& document = *parsed;
  if (!document.is_object()) {
    return Error(ErrorCode::kParse, "unable to unmarshal request body: expected a JSON object");
  }
  ProviderRequest request;
  if (auto it = document.find("apiVersion"); it != document.end()) {
    if (!it->is_string()) {
      return Error(ErrorCode::kParse,
                   "unable to unmarshal request body: apiVersion must be a string");
    }
    request.api_version = it->get<std::string>();
  }
  if (auto it = document.find("kind"); it != document.end() && !it->is_string()) {
    return Error(ErrorCode::kParse, "unable to unmarshal request body: kind must be a string");
  }
  auto inner = document.find("request");
  if (inner == document.end() || inner->is_null()) {
    return Error(ErrorCode::kInvalidArgument, "request has no keys");
  }
  if (!inner->is_object()) {
    return Error(ErrorCode::kParse, "unable to unmarshal request body: request must be an object");
  }
  auto keys = inner->find("keys");
  if (keys == inner->end() || keys->is_null()) {
    return Error(ErrorCode::kInvalidArgument, "request has no keys");
  }
  if (!keys->is_array()) {
    return Error(ErrorCode::kParse,
                 "unable to unmarshal request body: request.keys must be an array of strings");
  }
  if (keys->empty()) return Error(ErrorCode::kInvalidArgument, "request has no keys");
  if (keys->size() > max_keys) {
    return Error(ErrorCode::kTooLarge, "too many keys: " + std::to_string(keys->size()) +
                                           " (the limit is " + std::to_string(max_keys) + ")");
  }
  request.keys.reserve(keys->size());
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const json& key = (*keys)[i];
    if (!key.is_string()) {
      return Error(ErrorCode::kParse, "unable to unmarshal request body: request.keys[" +
                                          std::to_string(i) + "] is not a string");
    }
    request.keys.push_back(key.get<std::string>());
  }
  return request;
}

std::string SerializeProviderResponse(const ProviderResponse& response) {
  json inner = json::object();
  if (response.idempotent) inner["idempotent"] = true;
  json items = json::array();
  for (const auto& item : response.items) {
    json entry = {{"key", item.key}};
    if (!item.error.empty()) {
      entry["error"] = item.error;
    } else if (item.value) {
      entry["value"] = *item.value;
    }
    items.push_back(std::move(entry));
  }
  if (!response.items.empty()) inner["items"] = std::move(items);
  if (!response.system_error.empty()) inner["systemError"] = response.system_error;
  json document = {
      {"apiVersion", kResponseApiVersion}, {"kind", kResponseKind}, {"response", std::move(inner)}};
  // Invalid UTF-8 in keys is replaced rather than aborting serialisation.
  return document.dump(-1, ' ', false, json::error_handler_t::replace);
}

ProviderResponse SystemErrorResponse(std::string message, bool idempotent) {
  ProviderResponse response;
  response.idempotent = idempotent;
  response.system_error = std::move(message);
  return response;
}

}  // namespace signet::provider
