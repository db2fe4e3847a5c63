// The OCI manifest and config that cosign pushes to a signature tag
// (<repo>:sha256-<hex>.sig): one layer per signature whose blob is the
// payload and whose annotations carry the base64 signature.
//
// Serialisation follows go-containerregistry as cosign uses it, byte for
// byte: descriptor keys in the order mediaType, size, digest, data, urls,
// annotations, platform, artifactType; annotation keys sorted bytewise; the
// config lists every layer digest as a diff_id with one zero-time history
// entry each. Existing descriptors are re-emitted in that same order, so a
// manifest written by cosign is reproduced exactly when appended to.
//
// Plain values and pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "signet/crypto/signer.h"
#include "signet/result.h"

namespace signet::cosign {

inline constexpr std::string_view kSimpleSigningMediaType =
    "application/vnd.dev.cosign.simplesigning.v1+json";
inline constexpr std::string_view kSignatureAnnotation = "dev.cosignproject.cosign/signature";

// One layer descriptor of a signature manifest.
struct SignatureLayer {
  std::string media_type;
  std::uint64_t size = 0;
  std::string digest;  // "sha256:<hex>" of the layer blob
  std::map<std::string, std::string> annotations;
  // The descriptor in go-containerregistry's serialisation, kept for layers
  // parsed from an existing manifest (it may carry fields signet does not
  // model); empty for new layers, which are serialised from the fields above.
  std::string descriptor_json;

  // The signature annotation, or nullptr when the layer has none.
  const std::string* signature() const;
};

// A parsed signature manifest: its layers and any manifest-level
// annotations (Go-serialised object, empty when absent).
struct SignatureManifest {
  std::vector<SignatureLayer> layers;
  std::string annotations_json;
};

// A new simple-signing layer for `payload` signed with `signature_base64`.
SignatureLayer MakeSignatureLayer(std::string_view payload, std::string_view signature_base64);

// Parses a signature manifest. kParse on malformed JSON or descriptors;
// kTooLarge when it holds more than `max_layers` layers.
Result<SignatureManifest> ParseSignatureManifest(std::string_view bytes, std::size_t max_layers);

// cosign's config blob for these layers (§4.3 of the format).
std::string MarshalSignatureConfig(const std::vector<SignatureLayer>& layers);

// cosign's manifest bytes, referencing a config blob of `config_size` bytes
// with digest `config_digest`.
std::string MarshalSignatureManifest(const SignatureManifest& manifest,
                                     std::string_view config_digest, std::uint64_t config_size);

// Appends `layer` (whose blob is `payload`) unless an existing layer already
// holds the same payload with the same media type and non-signature
// annotations and a signature that `key` verifies over it (cosign's dedupe).
// Returns true when appended, false when it was a duplicate. kTooLarge when
// appending would exceed `max_layers`.
Result<bool> AppendSignatureLayer(SignatureManifest& manifest, SignatureLayer layer,
                                  std::string_view payload, const crypto::Verifier& key,
                                  std::size_t max_layers);

}  // namespace signet::cosign
