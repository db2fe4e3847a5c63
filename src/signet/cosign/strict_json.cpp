#include "signet/cosign/strict_json.h"

#include "signet/crypto/encoding.h"

namespace signet::cosign::strict_json {

Status RequireObject(const nlohmann::json& value, std::string_view what,
                     std::initializer_list<std::string_view> known) {
  if (!value.is_object()) {
    return Error(ErrorCode::kParse, std::string(what) + ": not a JSON object");
  }
  for (auto it = value.begin(); it != value.end(); ++it) {
    bool listed = false;
    for (std::string_view name : known) listed = listed || it.key() == name;
    if (!listed) {
      return Error(ErrorCode::kParse, std::string(what) + ": unknown field \"" + it.key() + "\"");
    }
  }
  return OkStatus();
}

Result<std::string> OptionalString(const nlohmann::json& object, std::string_view key,
                                   std::string_view what) {
  const auto it = object.find(key);
  if (it == object.end()) return std::string();
  if (!it->is_string()) {
    return Error(ErrorCode::kParse,
                 std::string(what) + ": field \"" + std::string(key) + "\" is not a string");
  }
  return it->get<std::string>();
}

Result<std::string> RequiredString(const nlohmann::json& object, std::string_view key,
                                   std::string_view what) {
  if (object.find(key) == object.end()) {
    return Error(ErrorCode::kParse,
                 std::string(what) + ": missing field \"" + std::string(key) + "\"");
  }
  return OptionalString(object, key, what);
}

Result<std::string> RequiredBytes(const nlohmann::json& object, std::string_view key,
                                  std::string_view what) {
  auto text = RequiredString(object, key, what);
  if (!text.ok()) return text.error();
  auto bytes = crypto::Base64Decode(*text);
  if (!bytes.ok()) {
    return Error(ErrorCode::kParse,
                 std::string(what) + ": field \"" + std::string(key) + "\" is not standard base64");
  }
  return std::move(*bytes);
}

}  // namespace signet::cosign::strict_json
