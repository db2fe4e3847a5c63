#include "signet/crypto/pem_block.h"

#include "signet/crypto/encoding.h"

namespace signet::crypto {
namespace {

constexpr std::string_view kBegin = "-----BEGIN ";
constexpr std::string_view kDashes = "-----";

Error PemError(std::string_view source_name, const std::string& why) {
  return Error(ErrorCode::kParse, std::string(source_name) + ": " + why);
}

}  // namespace

Result<PemBlock> DecodeFirstPemBlock(std::string_view text, std::string_view source_name) {
  size_t begin = text.find(kBegin);
  // A BEGIN marker only counts at the start of a line.
  while (begin != std::string_view::npos && begin != 0 && text[begin - 1] != '\n') {
    begin = text.find(kBegin, begin + 1);
  }
  if (begin == std::string_view::npos) {
    return PemError(source_name, "no PEM block found (the file is empty, truncated or not PEM)");
  }
  const size_t type_start = begin + kBegin.size();
  const size_t type_end = text.find(kDashes, type_start);
  const size_t line_end = text.find('\n', type_start);
  if (type_end == std::string_view::npos || line_end == std::string_view::npos ||
      type_end > line_end) {
    return PemError(source_name, "malformed PEM BEGIN line");
  }
  PemBlock block;
  block.type = std::string(text.substr(type_start, type_end - type_start));
  const std::string end_marker = "-----END " + block.type + "-----";
  const size_t end = text.find(end_marker, line_end);
  if (end == std::string_view::npos) {
    return PemError(source_name,
                    "PEM block \"" + block.type + "\" has no END line (the file is truncated)");
  }
  std::string body;
  for (const char c : text.substr(line_end + 1, end - line_end - 1)) {
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    if (c == ':') return PemError(source_name, "PEM headers are not supported");
    body.push_back(c);
  }
  auto der = Base64Decode(body);
  if (!der.ok()) {
    return PemError(source_name, "PEM block \"" + block.type +
                                     "\" has a corrupt body: " + der.error().message());
  }
  if (der->empty()) {
    return PemError(source_name, "PEM block \"" + block.type + "\" is empty");
  }
  block.der = std::move(der).value();
  return block;
}

std::string EncodePemBlock(std::string_view type, std::string_view der) {
  const std::string b64 = Base64Encode(der);
  std::string out = "-----BEGIN " + std::string(type) + "-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) {
    out.append(b64, i, 64);
    out.push_back('\n');
  }
  out += "-----END " + std::string(type) + "-----\n";
  return out;
}

}  // namespace signet::crypto
