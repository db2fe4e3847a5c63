#include "signet/json_writer.h"

#include <cstdint>
#include <cstring>

namespace signet {

namespace {

bool NeedsEscapingByte(unsigned char byte) {
  return byte < 0x20 || byte >= 0x7f || byte == '"' || byte == '\\';
}

// Whether any byte of `text` is a control character, '"', '\\', DEL or not
// ASCII; eight bytes at a time (each test below is exact about "any byte").
bool NeedsEscaping(std::string_view text) {
  constexpr std::uint64_t kOnes = 0x0101010101010101u;
  constexpr std::uint64_t kHigh = 0x8080808080808080u;
  auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  std::size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t x;
    std::memcpy(&x, text.data() + i, sizeof(x));
    const std::uint64_t found = ((x - kOnes * 0x20) & ~x & kHigh) |  // a byte below 0x20
                                has_zero(x ^ (kOnes * '"')) | has_zero(x ^ (kOnes * '\\')) |
                                has_zero(x ^ (kOnes * 0x7f)) | (x & kHigh);
    if (found != 0) return true;
  }
  for (; i < text.size(); ++i) {
    if (NeedsEscapingByte(static_cast<unsigned char>(text[i]))) return true;
  }
  return false;
}

std::string NlohmannDump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view text) {
  if (NeedsEscaping(text)) {
    out += NlohmannDump(nlohmann::json(std::string(text)));
    return;
  }
  out.reserve(out.size() + text.size() + 2);
  out.push_back('"');
  out.append(text);
  out.push_back('"');
}

void AppendJson(std::string& out, const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(out, it.key());
        out.push_back(':');
        AppendJson(out, it.value());
      }
      out.push_back('}');
      return;
    }
    case nlohmann::json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& element : value) {
        if (!first) out.push_back(',');
        first = false;
        AppendJson(out, element);
      }
      out.push_back(']');
      return;
    }
    case nlohmann::json::value_t::string:
      AppendJsonString(out, value.get_ref<const std::string&>());
      return;
    case nlohmann::json::value_t::boolean:
      out += value.get<bool>() ? "true" : "false";
      return;
    case nlohmann::json::value_t::null:
      out += "null";
      return;
    case nlohmann::json::value_t::number_integer:
      out += std::to_string(value.get<nlohmann::json::number_integer_t>());
      return;
    case nlohmann::json::value_t::number_unsigned:
      out += std::to_string(value.get<nlohmann::json::number_unsigned_t>());
      return;
    default:  // floating-point numbers, binary, discarded
      out += NlohmannDump(value);
      return;
  }
}

std::string DumpJson(const nlohmann::json& value) {
  std::string out;
  AppendJson(out, value);
  return out;
}

}  // namespace signet
