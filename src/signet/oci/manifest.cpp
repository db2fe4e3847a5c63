#include "signet/oci/manifest.h"

#include <nlohmann/json.hpp>

#include "signet/bounded_json.h"
#include "signet/oci/reference.h"

namespace signet::oci {
namespace {

using nlohmann::json;

Error ParseError(std::string_view what, std::string_view why) {
  return Error(ErrorCode::kParse, std::string(what) + ": " + std::string(why));
}

Result<json> ParseJsonObject(std::string_view bytes, std::string_view what,
                             const ManifestLimits& limits) {
  if (bytes.size() > limits.max_bytes) {
    return Error(ErrorCode::kTooLarge, std::string(what) + " is " + std::to_string(bytes.size()) +
                                           " bytes, over the cap of " +
                                           std::to_string(limits.max_bytes));
  }
  auto doc = ParseBoundedJson(bytes, what);
  if (!doc.ok()) return doc.error();
  if (!doc->is_object()) return ParseError(what, "not a JSON object");
  return doc;
}

// Reads an optional string member; an error when present but not a string.
Result<std::string> OptionalString(const json& object, const char* key, std::string_view where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return ParseError(where, std::string("\"") + key + "\" must be a string");
  }
  return it->get<std::string>();
}

Result<std::map<std::string, std::string>> ParseAnnotations(const json& object,
                                                            std::string_view where) {
  std::map<std::string, std::string> out;
  auto it = object.find("annotations");
  if (it == object.end() || it->is_null()) return out;
  if (!it->is_object()) return ParseError(where, "\"annotations\" must be an object");
  for (const auto& [key, value] : it->items()) {
    if (!value.is_string()) {
      return ParseError(where, "annotation \"" + key + "\" must have a string value");
    }
    out.emplace(key, value.get<std::string>());
  }
  return out;
}

Result<Platform> ParsePlatform(const json& value, std::string_view where) {
  if (!value.is_object()) return ParseError(where, "\"platform\" must be an object");
  Platform platform;
  std::string at = std::string(where) + " platform";
  auto architecture = OptionalString(value, "architecture", at);
  if (!architecture.ok()) return architecture.error();
  auto os = OptionalString(value, "os", at);
  if (!os.ok()) return os.error();
  auto variant = OptionalString(value, "variant", at);
  if (!variant.ok()) return variant.error();
  auto os_version = OptionalString(value, "os.version", at);
  if (!os_version.ok()) return os_version.error();
  if (architecture->empty() || os->empty()) {
    return ParseError(at, "\"architecture\" and \"os\" are required");
  }
  platform.architecture = *architecture;
  platform.os = *os;
  platform.variant = *variant;
  platform.os_version = *os_version;
  return platform;
}

Result<Descriptor> ParseDescriptor(const json& value, const std::string& where) {
  if (!value.is_object()) return ParseError(where, "descriptor must be an object");
  Descriptor d;
  auto media_type = OptionalString(value, "mediaType", where);
  if (!media_type.ok()) return media_type.error();
  if (media_type->empty()) return ParseError(where, "\"mediaType\" is required");
  d.media_type = *media_type;

  auto digest = OptionalString(value, "digest", where);
  if (!digest.ok()) return digest.error();
  if (digest->empty()) return ParseError(where, "\"digest\" is required");
  if (!IsValidSha256Digest(*digest)) {
    return ParseError(where, "\"digest\" \"" + *digest +
                                 "\" is not sha256: followed by 64 lowercase hex characters");
  }
  d.digest = *digest;

  auto size = value.find("size");
  if (size == value.end()) return ParseError(where, "\"size\" is required");
  if (size->is_number_unsigned()) {
    std::uint64_t n = size->get<std::uint64_t>();
    if (n > static_cast<std::uint64_t>(INT64_MAX)) return ParseError(where, "\"size\" is too big");
    d.size = static_cast<std::int64_t>(n);
  } else if (size->is_number_integer()) {
    return ParseError(where, "\"size\" must not be negative");
  } else {
    return ParseError(where, "\"size\" must be an integer");
  }

  auto annotations = ParseAnnotations(value, where);
  if (!annotations.ok()) return annotations.error();
  d.annotations = std::move(annotations).value();

  auto artifact_type = OptionalString(value, "artifactType", where);
  if (!artifact_type.ok()) return artifact_type.error();
  d.artifact_type = *artifact_type;

  if (auto platform = value.find("platform"); platform != value.end() && !platform->is_null()) {
    auto parsed = ParsePlatform(*platform, where);
    if (!parsed.ok()) return parsed.error();
    d.platform = std::move(parsed).value();
  }
  return d;
}

Result<std::vector<Descriptor>> ParseDescriptorList(const json& doc, const char* key,
                                                    std::string_view what,
                                                    const ManifestLimits& limits) {
  auto it = doc.find(key);
  if (it == doc.end()) return ParseError(what, std::string("\"") + key + "\" is required");
  if (!it->is_array()) return ParseError(what, std::string("\"") + key + "\" must be an array");
  if (it->size() > limits.max_descriptors) {
    return Error(ErrorCode::kTooLarge, std::string(what) + " has " + std::to_string(it->size()) +
                                           " entries in \"" + key + "\", over the cap of " +
                                           std::to_string(limits.max_descriptors));
  }
  std::vector<Descriptor> out;
  out.reserve(it->size());
  for (std::size_t i = 0; i < it->size(); ++i) {
    auto d =
        ParseDescriptor((*it)[i], std::string(what) + " " + key + "[" + std::to_string(i) + "]");
    if (!d.ok()) return d.error();
    out.push_back(std::move(d).value());
  }
  return out;
}

struct DocumentHeader {
  std::string media_type;  // "" when absent
};

// Checks schemaVersion (must be 2) and the optional mediaType against `accepts`.
Result<DocumentHeader> ParseHeader(const json& doc, std::string_view what,
                                   bool (*accepts)(std::string_view), std::string_view wanted) {
  auto it = doc.find("schemaVersion");
  if (it == doc.end()) return ParseError(what, "\"schemaVersion\" is required");
  if (!it->is_number_integer() || it->get<std::int64_t>() != 2) {
    // Only a scalar is quoted back: a container could be arbitrarily large.
    return ParseError(what, "\"schemaVersion\" must be 2, got " +
                                (it->is_primitive() ? it->dump() : std::string(it->type_name())));
  }
  auto media_type = OptionalString(doc, "mediaType", what);
  if (!media_type.ok()) return media_type.error();
  if (!media_type->empty() && !accepts(*media_type)) {
    return ParseError(what, "unexpected \"mediaType\" \"" + *media_type + "\" (want " +
                                std::string(wanted) + ")");
  }
  return DocumentHeader{*media_type};
}

}  // namespace

bool IsImageManifestMediaType(std::string_view media_type) {
  return media_type == kOciManifestMediaType || media_type == kDockerManifestMediaType;
}

bool IsIndexMediaType(std::string_view media_type) {
  return media_type == kOciIndexMediaType || media_type == kDockerManifestListMediaType;
}

Result<bool> IsIndexDocument(std::string_view content_type, std::string_view bytes) {
  // Content-Type may carry parameters ("; charset=utf-8").
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  if (IsIndexMediaType(type)) return true;
  if (IsImageManifestMediaType(type)) return false;
  auto doc = ParseJsonObject(bytes, "manifest", ManifestLimits{});
  if (!doc.ok()) return doc.error();
  auto media_type = OptionalString(*doc, "mediaType", "manifest");
  if (!media_type.ok()) return media_type.error();
  if (IsIndexMediaType(*media_type)) return true;
  if (IsImageManifestMediaType(*media_type)) return false;
  if (!media_type->empty()) {
    return Error(ErrorCode::kUnsupported,
                 "manifest: unsupported mediaType \"" + *media_type + "\"");
  }
  return doc->contains("manifests");
}

Result<ImageManifest> ParseImageManifest(std::string_view bytes, const ManifestLimits& limits) {
  constexpr std::string_view kWhat = "image manifest";
  auto doc = ParseJsonObject(bytes, kWhat, limits);
  if (!doc.ok()) return doc.error();
  ImageManifest m;
  auto header =
      ParseHeader(*doc, kWhat, IsImageManifestMediaType, "an OCI or Docker v2 image manifest");
  if (!header.ok()) return header.error();
  if (doc->contains("manifests")) {
    return ParseError(kWhat, "document has \"manifests\": it is an index, not an image manifest");
  }
  m.media_type = header->media_type;

  auto artifact_type = OptionalString(*doc, "artifactType", kWhat);
  if (!artifact_type.ok()) return artifact_type.error();
  m.artifact_type = *artifact_type;

  auto config = doc->find("config");
  if (config == doc->end()) return ParseError(kWhat, "\"config\" is required");
  auto parsed_config = ParseDescriptor(*config, std::string(kWhat) + " config");
  if (!parsed_config.ok()) return parsed_config.error();
  m.config = std::move(parsed_config).value();

  auto layers = ParseDescriptorList(*doc, "layers", kWhat, limits);
  if (!layers.ok()) return layers.error();
  m.layers = std::move(layers).value();

  auto annotations = ParseAnnotations(*doc, kWhat);
  if (!annotations.ok()) return annotations.error();
  m.annotations = std::move(annotations).value();

  if (auto subject = doc->find("subject"); subject != doc->end() && !subject->is_null()) {
    auto parsed = ParseDescriptor(*subject, std::string(kWhat) + " subject");
    if (!parsed.ok()) return parsed.error();
    m.subject = std::move(parsed).value();
  }
  return m;
}

Result<ImageIndex> ParseImageIndex(std::string_view bytes, const ManifestLimits& limits) {
  constexpr std::string_view kWhat = "image index";
  auto doc = ParseJsonObject(bytes, kWhat, limits);
  if (!doc.ok()) return doc.error();
  ImageIndex index;
  auto header =
      ParseHeader(*doc, kWhat, IsIndexMediaType, "an OCI image index or Docker manifest list");
  if (!header.ok()) return header.error();
  index.media_type = header->media_type;

  auto manifests = ParseDescriptorList(*doc, "manifests", kWhat, limits);
  if (!manifests.ok()) return manifests.error();
  index.manifests = std::move(manifests).value();

  auto annotations = ParseAnnotations(*doc, kWhat);
  if (!annotations.ok()) return annotations.error();
  index.annotations = std::move(annotations).value();
  return index;
}

}  // namespace signet::oci
