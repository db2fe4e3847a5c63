#include "signet/cosign/signature_manifest.h"

#include <nlohmann/json.hpp>

#include "signet/bounded_json.h"
#include "signet/cosign/go_json.h"
#include "signet/crypto/encoding.h"

namespace signet::cosign {
namespace {

using nlohmann::json;

constexpr std::string_view kZeroTime = "0001-01-01T00:00:00Z";

std::string MarshalDescriptor(const SignatureLayer& layer) {
  std::string out = "{\"mediaType\":" + GoJsonQuote(layer.media_type) +
                    ",\"size\":" + std::to_string(layer.size) +
                    ",\"digest\":" + GoJsonQuote(layer.digest);
  if (!layer.annotations.empty())
    out += ",\"annotations\":" + GoMarshalStringMap(layer.annotations);
  out += '}';
  return out;
}

Result<std::string> RequiredString(const json& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return Error(ErrorCode::kParse, where + "." + key + " is not a string");
  }
  return it->get<std::string>();
}

// Parses one descriptor and re-serialises it in go-containerregistry's
// field order (v1.Descriptor), dropping fields that Go would drop.
Result<SignatureLayer> ParseDescriptor(const json& object, const std::string& where) {
  if (!object.is_object()) return Error(ErrorCode::kParse, where + " is not an object");
  SignatureLayer layer;
  auto media_type = RequiredString(object, "mediaType", where);
  if (!media_type) return media_type.error();
  layer.media_type = std::move(*media_type);
  auto digest = RequiredString(object, "digest", where);
  if (!digest) return digest.error();
  layer.digest = std::move(*digest);
  if (auto size = object.find("size"); size != object.end() && !size->is_null()) {
    if (!size->is_number_unsigned() &&
        !(size->is_number_integer() && size->get<std::int64_t>() >= 0)) {
      return Error(ErrorCode::kParse, where + ".size is not a non-negative integer");
    }
    layer.size = size->get<std::uint64_t>();
  }
  std::string out = "{\"mediaType\":" + GoJsonQuote(layer.media_type) +
                    ",\"size\":" + std::to_string(layer.size) +
                    ",\"digest\":" + GoJsonQuote(layer.digest);
  if (auto data = object.find("data"); data != object.end() && !data->is_null()) {
    if (!data->is_string()) return Error(ErrorCode::kParse, where + ".data is not a string");
    if (!data->get_ref<const std::string&>().empty()) {
      out += ",\"data\":" + GoJsonQuote(data->get_ref<const std::string&>());
    }
  }
  if (auto urls = object.find("urls"); urls != object.end() && !urls->is_null()) {
    if (!urls->is_array()) return Error(ErrorCode::kParse, where + ".urls is not an array");
    if (!urls->empty()) {
      auto marshalled = GoMarshal(*urls);
      if (!marshalled) return marshalled.error().WithContext(where + ".urls");
      out += ",\"urls\":" + *marshalled;
    }
  }
  if (auto annotations = object.find("annotations");
      annotations != object.end() && !annotations->is_null()) {
    if (!annotations->is_object()) {
      return Error(ErrorCode::kParse, where + ".annotations is not an object");
    }
    for (auto it = annotations->begin(); it != annotations->end(); ++it) {
      if (!it->is_string()) {
        return Error(ErrorCode::kParse, where + ".annotations[" + it.key() + "] is not a string");
      }
      layer.annotations.emplace(it.key(), it->get<std::string>());
    }
    if (!layer.annotations.empty())
      out += ",\"annotations\":" + GoMarshalStringMap(layer.annotations);
  }
  if (auto platform = object.find("platform"); platform != object.end() && !platform->is_null()) {
    auto marshalled = GoMarshal(*platform);
    if (!marshalled) return marshalled.error().WithContext(where + ".platform");
    out += ",\"platform\":" + *marshalled;
  }
  if (auto artifact = object.find("artifactType");
      artifact != object.end() && !artifact->is_null()) {
    if (!artifact->is_string()) {
      return Error(ErrorCode::kParse, where + ".artifactType is not a string");
    }
    if (!artifact->get_ref<const std::string&>().empty()) {
      out += ",\"artifactType\":" + GoJsonQuote(artifact->get_ref<const std::string&>());
    }
  }
  out += '}';
  layer.descriptor_json = std::move(out);
  return layer;
}

}  // namespace

const std::string* SignatureLayer::signature() const {
  auto it = annotations.find(std::string(kSignatureAnnotation));
  return it == annotations.end() ? nullptr : &it->second;
}

SignatureLayer MakeSignatureLayer(std::string_view payload, std::string_view signature_base64) {
  SignatureLayer layer;
  layer.media_type = std::string(kSimpleSigningMediaType);
  layer.size = payload.size();
  layer.digest = crypto::Sha256Digest(payload);
  layer.annotations.emplace(std::string(kSignatureAnnotation), std::string(signature_base64));
  return layer;
}

Result<SignatureManifest> ParseSignatureManifest(std::string_view bytes, std::size_t max_layers) {
  auto parsed = ParseBoundedJson(bytes, "signature manifest");
  if (!parsed) return parsed.error();
  const json& document = *parsed;
  if (!document.is_object()) {
    return Error(ErrorCode::kParse, "signature manifest is not a JSON object");
  }
  SignatureManifest manifest;
  auto layers = document.find("layers");
  if (layers != document.end() && !layers->is_null()) {
    if (!layers->is_array()) {
      return Error(ErrorCode::kParse, "signature manifest: layers is not an array");
    }
    if (layers->size() > max_layers) {
      return Error(ErrorCode::kTooLarge,
                   "signature manifest has " + std::to_string(layers->size()) +
                       " layers, more than the limit of " + std::to_string(max_layers));
    }
    manifest.layers.reserve(layers->size());
    for (std::size_t i = 0; i < layers->size(); ++i) {
      auto layer =
          ParseDescriptor((*layers)[i], "signature manifest: layers[" + std::to_string(i) + "]");
      if (!layer) return layer.error();
      manifest.layers.push_back(std::move(*layer));
    }
  }
  if (auto annotations = document.find("annotations");
      annotations != document.end() && !annotations->is_null()) {
    if (!annotations->is_object()) {
      return Error(ErrorCode::kParse, "signature manifest: annotations is not an object");
    }
    if (!annotations->empty()) {
      auto marshalled = GoMarshal(*annotations);
      if (!marshalled) {
        return marshalled.error().WithContext("signature manifest: annotations");
      }
      manifest.annotations_json = std::move(*marshalled);
    }
  }
  return manifest;
}

std::string MarshalSignatureConfig(const std::vector<SignatureLayer>& layers) {
  std::string history;
  std::string diff_ids;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (i > 0) {
      history += ',';
      diff_ids += ',';
    }
    history += "{\"created\":\"" + std::string(kZeroTime) + "\"}";
    // Signature layers are uncompressed: the diff ID is the blob digest.
    diff_ids += GoJsonQuote(layers[i].digest);
  }
  std::string out = "{\"architecture\":\"\",\"created\":\"" + std::string(kZeroTime) + "\"";
  if (!layers.empty()) out += ",\"history\":[" + history + "]";
  out += ",\"os\":\"\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[" + diff_ids +
         "]},\"config\":{}}";
  return out;
}

std::string MarshalSignatureManifest(const SignatureManifest& manifest,
                                     std::string_view config_digest, std::uint64_t config_size) {
  std::string out =
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
      "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":" +
      std::to_string(config_size) + ",\"digest\":" + GoJsonQuote(config_digest) + "},\"layers\":[";
  for (std::size_t i = 0; i < manifest.layers.size(); ++i) {
    if (i > 0) out += ',';
    const SignatureLayer& layer = manifest.layers[i];
    out += layer.descriptor_json.empty() ? MarshalDescriptor(layer) : layer.descriptor_json;
  }
  out += ']';
  if (!manifest.annotations_json.empty()) out += ",\"annotations\":" + manifest.annotations_json;
  out += '}';
  return out;
}

Result<bool> AppendSignatureLayer(SignatureManifest& manifest, SignatureLayer layer,
                                  std::string_view payload, const crypto::Verifier& key,
                                  std::size_t max_layers) {
  for (const SignatureLayer& existing : manifest.layers) {
    if (existing.digest != layer.digest || existing.media_type != layer.media_type) continue;
    bool same_annotations = true;
    for (const auto& [name, value] : layer.annotations) {
      if (name == kSignatureAnnotation) continue;
      auto it = existing.annotations.find(name);
      if (it == existing.annotations.end() || it->second != value) same_annotations = false;
    }
    const std::string* signature = existing.signature();
    if (!same_annotations || signature == nullptr) continue;
    auto raw = crypto::Base64Decode(*signature);
    if (raw && !raw->empty() && key.Verify(*raw, payload)) return false;
  }
  if (manifest.layers.size() + 1 > max_layers) {
    return Error(ErrorCode::kTooLarge, "signature manifest already has " +
                                           std::to_string(manifest.layers.size()) +
                                           " layers; the limit is " + std::to_string(max_layers));
  }
  manifest.layers.push_back(std::move(layer));
  return true;
}

}  // namespace signet::cosign
