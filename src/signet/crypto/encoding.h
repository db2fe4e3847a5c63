// Byte encodings and digests used across signet. Pure functions over bytes
// held in std::string; no OpenSSL type appears here.
#pragma once

#include <string>
#include <string_view>

#include "signet/result.h"

namespace signet::crypto {

// Standard base64 (RFC 4648 §4) with padding, no line breaks.
std::string Base64Encode(std::string_view bytes);
// Strict standard base64 decode: rejects invalid characters, bad padding and
// embedded whitespace. An empty input decodes to an empty string.
Result<std::string> Base64Decode(std::string_view text);

std::string HexEncode(std::string_view bytes);  // lowercase

std::string Sha256(std::string_view bytes);        // 32 raw bytes
std::string Sha256Hex(std::string_view bytes);     // 64 lowercase hex chars
std::string Sha256Digest(std::string_view bytes);  // "sha256:<hex>"

}  // namespace signet::crypto
