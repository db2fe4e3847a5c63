#include "signet/cosign/payload.h"

#include <nlohmann/json.hpp>

#include "signet/bounded_json.h"
#include "signet/cosign/go_json.h"

namespace signet::cosign {
namespace {

using nlohmann::json;

// Go's encoding/json matches struct fields by their folded names (GoFoldKey).
// ParsePayload has refused objects with two keys that fold alike, so at most
// one key matches.
const json* FindField(const json& object, std::string_view name) {
  if (!object.is_object()) return nullptr;
  const std::string wanted = GoFoldKey(name);
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (GoFoldKey(it.key()) == wanted) return &*it;
  }
  return nullptr;
}

// A Go struct field: absent or null leaves the zero value; any other
// non-object is a type error.
Result<const json*> StructField(const json& object, std::string_view name, std::string_view where) {
  const json* field = FindField(object, name);
  if (field == nullptr || field->is_null()) return static_cast<const json*>(nullptr);
  if (!field->is_object()) {
    return Error(ErrorCode::kParse, "payload field " + std::string(where) + " is not an object");
  }
  return field;
}

Status StringField(const json* object, std::string_view name, std::string_view where,
                   std::string& out) {
  if (object == nullptr) return OkStatus();
  const json* field = FindField(*object, name);
  if (field == nullptr || field->is_null()) return OkStatus();
  if (!field->is_string()) {
    return Error(ErrorCode::kParse, "payload field " + std::string(where) + " is not a string");
  }
  out = field->get<std::string>();
  return OkStatus();
}

}  // namespace

std::string MarshalPayload(std::string_view docker_reference, std::string_view digest,
                           const std::map<std::string, std::string>& annotations) {
  SimpleSigningPayload payload;
  payload.docker_reference = std::string(docker_reference);
  payload.docker_manifest_digest = std::string(digest);
  if (!annotations.empty()) payload.optional = annotations;
  return MarshalPayload(payload);
}

std::string MarshalPayload(const SimpleSigningPayload& payload) {
  std::string out = R"({"critical":{"identity":{"docker-reference":)";
  out += GoJsonQuote(payload.docker_reference);
  out += R"(},"image":{"docker-manifest-digest":)";
  out += GoJsonQuote(payload.docker_manifest_digest);
  out += R"(},"type":)";
  out += GoJsonQuote(payload.type);
  out += R"(},"optional":)";
  if (!payload.optional_json.empty()) {
    out += payload.optional_json;
  } else {
    out += payload.optional ? GoMarshalStringMap(*payload.optional) : std::string("null");
  }
  out += '}';
  return out;
}

Result<SimpleSigningPayload> ParsePayload(std::string_view bytes) {
  // Go's encoding/json takes the last of several keys that fold to one field
  // (and merges duplicate objects); refusing them leaves one reading only.
  auto parsed = ParseBoundedJson(bytes, "payload",
                                 {.limits = {}, .duplicate_keys = DuplicateKeys::kRejectGoFolded});
  if (!parsed) return parsed.error();
  const json& document = *parsed;
  if (!document.is_object()) return Error(ErrorCode::kParse, "payload is not a JSON object");

  SimpleSigningPayload payload;
  payload.type.clear();
  auto critical = StructField(document, "critical", "critical");
  if (!critical) return critical.error();
  if (*critical != nullptr) {
    auto identity = StructField(**critical, "identity", "critical.identity");
    if (!identity) return identity.error();
    auto image = StructField(**critical, "image", "critical.image");
    if (!image) return image.error();
    if (auto s = StringField(*identity, "docker-reference", "critical.identity.docker-reference",
                             payload.docker_reference);
        !s) {
      return s.error();
    }
    if (auto s =
            StringField(*image, "docker-manifest-digest", "critical.image.docker-manifest-digest",
                        payload.docker_manifest_digest);
        !s) {
      return s.error();
    }
    if (auto s = StringField(*critical, "type", "critical.type", payload.type); !s) {
      return s.error();
    }
  }
  if (payload.type != kSimpleSigningType) {
    return Error(ErrorCode::kParse, "payload critical.type is " + GoJsonQuote(payload.type) +
                                        ", not \"" + std::string(kSimpleSigningType) + "\"");
  }

  const json* optional = FindField(document, "optional");
  if (optional != nullptr && !optional->is_null()) {
    if (!optional->is_object()) {
      return Error(ErrorCode::kParse, "payload field optional is not an object");
    }
    std::map<std::string, std::string> strings;
    for (auto it = optional->begin(); it != optional->end(); ++it) {
      if (it->is_string()) strings.emplace(it.key(), it->get<std::string>());
    }
    payload.optional = std::move(strings);
    auto marshalled = GoMarshal(*optional);
    if (!marshalled) return marshalled.error().WithContext("payload field optional");
    payload.optional_json = std::move(*marshalled);
  }
  return payload;
}

}  // namespace signet::cosign
