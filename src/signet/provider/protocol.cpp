#include "signet/provider/protocol.h"

#include <nlohmann/json.hpp>

#include "signet/bounded_json.h"
#include "signet/json_writer.h"

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
  // Written directly, in the bytes (and the member order, sorted by key) that
  // dumping the equivalent nlohmann::json gives. Invalid UTF-8 in keys is
  // replaced rather than aborting serialisation (AppendJsonString).
  std::string out;
  std::size_t estimate = 128 + response.system_error.size();
  for (const auto& item : response.items) {
    estimate += 32 + item.key.size() + item.error.size() + (item.value ? item.value->size() : 0);
  }
  out.reserve(estimate);
  out += "{\"apiVersion\":";
  AppendJsonString(out, kResponseApiVersion);
  out += ",\"kind\":";
  AppendJsonString(out, kResponseKind);
  out += ",\"response\":{";
  bool first = true;
  auto member = [&](std::string_view name) {
    if (!first) out.push_back(',');
    first = false;
    out.push_back('"');
    out.append(name);
    out += "\":";
  };
  if (response.idempotent) {
    member("idempotent");
    out += "true";
  }
  if (!response.items.empty()) {
    member("items");
    out.push_back('[');
    for (std::size_t i = 0; i < response.items.size(); ++i) {
      const ResponseItem& item = response.items[i];
      if (i > 0) out.push_back(',');
      out.push_back('{');
      if (!item.error.empty()) {
        out += "\"error\":";
        AppendJsonString(out, item.error);
        out += ",\"key\":";
        AppendJsonString(out, item.key);
      } else {
        out += "\"key\":";
        AppendJsonString(out, item.key);
        if (item.value) {
          out += ",\"value\":";
          AppendJsonString(out, *item.value);
        }
      }
      out.push_back('}');
    }
    out.push_back(']');
  }
  if (!response.system_error.empty()) {
    member("systemError");
    AppendJsonString(out, response.system_error);
  }
  out += "}}";
  return out;
}

ProviderResponse SystemErrorResponse(std::string message, bool idempotent) {
  ProviderResponse response;
  response.idempotent = idempotent;
  response.system_error = std::move(message);
  return response;
}

}  // namespace signet::provider
