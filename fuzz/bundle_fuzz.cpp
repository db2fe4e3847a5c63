// libFuzzer target: Sigstore bundle parsing (the bytes `verify-blob --bundle`
// reads) and the in-toto statement inside a DSSE bundle.
// Properties: a parsed bundle re-marshals to bytes that parse to the same
// content; a statement that re-marshals parses again to the same subjects and
// predicate type.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "signet/cosign/bundle.h"
#include "signet/cosign/statement.h"

namespace {

void CheckStatement(std::string_view payload) {
  auto statement = signet::cosign::ParseStatement(payload);
  if (!statement) return;
  auto bytes = signet::cosign::MarshalStatement(*statement);
  if (!bytes) return;  // e.g. a subject without digest: parsed, never written
  auto again = signet::cosign::ParseStatement(*bytes);
  if (!again) std::abort();
  if (again->predicate_type != statement->predicate_type ||
      again->subjects.size() != statement->subjects.size()) {
    std::abort();
  }
  for (std::size_t i = 0; i < again->subjects.size(); ++i) {
    if (again->subjects[i].digest != statement->subjects[i].digest) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckStatement(input);
  auto parsed = signet::cosign::ParseBundle(input);
  if (!parsed) return 0;
  auto again = signet::cosign::ParseBundle(signet::cosign::MarshalBundle(*parsed));
  if (!again) std::abort();
  if (again->media_type != parsed->media_type ||
      again->public_key_hint != parsed->public_key_hint ||
      again->content.index() != parsed->content.index()) {
    std::abort();
  }
  if (const auto* envelope = std::get_if<signet::cosign::DsseEnvelope>(&parsed->content)) {
    const auto& other = std::get<signet::cosign::DsseEnvelope>(again->content);
    if (other.payload != envelope->payload || other.signatures.size() != 1 ||
        other.signatures[0].sig != envelope->signatures[0].sig) {
      std::abort();
    }
    CheckStatement(envelope->payload);
  } else {
    const auto& message = std::get<signet::cosign::MessageSignature>(parsed->content);
    const auto& other = std::get<signet::cosign::MessageSignature>(again->content);
    if (other.digest != message.digest || other.signature != message.signature ||
        other.digest_algorithm != message.digest_algorithm) {
      std::abort();
    }
  }
  return 0;
}
