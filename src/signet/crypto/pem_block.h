// PEM armour as Go's encoding/pem reads and writes it, for cosign key files.
// Internal to src/signet/crypto.
//
// DecodeFirstPemBlock finds the first "-----BEGIN <type>-----" block (text
// before it is skipped, like pem.Decode), requires the matching END line and
// strictly base64-decodes the body (line breaks removed). Header lines
// ("Key: value") are rejected: cosign never writes them.
#pragma once

#include <string>
#include <string_view>

#include "signet/result.h"

namespace signet::crypto {

struct PemBlock {
  std::string type;
  std::string der;
};

// `source_name` prefixes every error message.
Result<PemBlock> DecodeFirstPemBlock(std::string_view text, std::string_view source_name);

// "-----BEGIN <type>-----\n", base64 in 64-column lines, "-----END <type>-----\n".
std::string EncodePemBlock(std::string_view type, std::string_view der);

}  // namespace signet::crypto
