#include "signet/cosign/go_json.h"

#include <charconv>
#include <cmath>

namespace signet::cosign {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Go's json.Marshal and protojson differ only in how they quote strings.
enum class Quoting { kEncodingJson, kProtoJson };

// Appends the ASCII byte `c` as a string character: both escape '"', '\\'
// and control characters (short forms where JSON has them); only
// encoding/json escapes <, > and & (HTML-safe output).
void AppendAscii(unsigned char c, Quoting quoting, std::string& out) {
  switch (c) {
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    default:
      break;
  }
  const bool html = quoting == Quoting::kEncodingJson && (c == '<' || c == '>' || c == '&');
  if (c < 0x20 || html) {
    out += "\\u00";
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
  } else {
    out += static_cast<char>(c);
  }
}

// Decodes one UTF-8 sequence at text[i] as Go's utf8.DecodeRune does: returns
// its length, or 0 when the bytes there are not valid UTF-8 (overlong forms,
// surrogates, code points above U+10FFFF and truncated sequences included).
std::size_t ValidSequenceLength(std::string_view text, std::size_t i, char32_t& rune) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  std::size_t length;
  char32_t min;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2, min = 0x80, rune = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3, min = 0x800, rune = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4, min = 0x10000, rune = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    const unsigned char b = byte(i + k);
    if ((b & 0xC0) != 0x80) return 0;
    rune = (rune << 6) | (b & 0x3F);
  }
  if (rune < min || rune > 0x10FFFF || (rune >= 0xD800 && rune <= 0xDFFF)) return 0;
  return length;
}

std::string GoFloat(double value) {
  if (!std::isfinite(value)) return "null";  // json.Marshal refuses; never parsed from JSON
  char buffer[64];
  const double magnitude = std::fabs(value);
  const bool exponent = magnitude != 0 && (magnitude < 1e-6 || magnitude >= 1e21);
  const auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof(buffer), value,
                    exponent ? std::chars_format::scientific : std::chars_format::fixed);
  std::string out(buffer, ec == std::errc() ? end : buffer);
  // Go's encoding/json shortens a two-digit negative exponent: e-07 => e-7.
  const std::size_t n = out.size();
  if (exponent && n >= 4 && out[n - 4] == 'e' && out[n - 3] == '-' && out[n - 2] == '0') {
    out.erase(n - 2, 1);
  }
  return out;
}

// Appends `text` quoted in `quoting`; false when protojson would refuse it
// (invalid UTF-8).
// Appends `text` as a JSON string quoted as `quoting` says: encoding/json
// replaces invalid UTF-8 with U+FFFD and escapes U+2028/U+2029; protojson
// refuses invalid UTF-8 (false, with `out` partly written) and writes
// U+2028/U+2029 as they are.
bool AppendQuoted(std::string_view text, Quoting quoting, std::string& out) {
  out.reserve(out.size() + text.size() + 2);
  out += '"';
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      AppendAscii(c, quoting, out);
      ++i;
      continue;
    }
    char32_t rune = 0;
    const std::size_t length = ValidSequenceLength(text, i, rune);
    if (length == 0) {
      if (quoting == Quoting::kProtoJson) return false;
      out += "\\ufffd";
      ++i;
    } else if (quoting == Quoting::kEncodingJson && (rune == 0x2028 || rune == 0x2029)) {
      out += rune == 0x2028 ? "\\u2028" : "\\u2029";
      i += length;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  out += '"';
  return true;
}

enum class MarshalFailure { kNone, kDepth, kUtf8 };

// Appends `value`; a failure (with `out` partly written) when containers nest
// deeper than kMaxGoMarshalDepth, so that no document can exhaust the stack,
// or when a string cannot be quoted.
MarshalFailure AppendMarshal(const nlohmann::json& value, Quoting quoting, std::string& out,
                             std::size_t depth) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      out += "null";
      return MarshalFailure::kNone;
    case nlohmann::json::value_t::boolean:
      out += value.get<bool>() ? "true" : "false";
      return MarshalFailure::kNone;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      // interface{} holds every JSON number as float64.
      out += GoFloat(value.get<double>());
      return MarshalFailure::kNone;
    case nlohmann::json::value_t::string:
      return AppendQuoted(value.get_ref<const std::string&>(), quoting, out)
                 ? MarshalFailure::kNone
                 : MarshalFailure::kUtf8;
    case nlohmann::json::value_t::array: {
      if (depth >= kMaxGoMarshalDepth) return MarshalFailure::kDepth;
      out += '[';
      bool first = true;
      for (const auto& element : value) {
        if (!first) out += ',';
        first = false;
        if (auto failure = AppendMarshal(element, quoting, out, depth + 1);
            failure != MarshalFailure::kNone) {
          return failure;
        }
      }
      out += ']';
      return MarshalFailure::kNone;
    }
    case nlohmann::json::value_t::object: {
      if (depth >= kMaxGoMarshalDepth) return MarshalFailure::kDepth;
      out += '{';
      bool first = true;
      for (auto it = value.begin(); it != value.end(); ++it) {  // keys sorted bytewise
        if (!first) out += ',';
        first = false;
        if (!AppendQuoted(it.key(), quoting, out)) return MarshalFailure::kUtf8;
        out += ':';
        if (auto failure = AppendMarshal(*it, quoting, out, depth + 1);
            failure != MarshalFailure::kNone) {
          return failure;
        }
      }
      out += '}';
      return MarshalFailure::kNone;
    }
    case nlohmann::json::value_t::binary:
      out += "null";
      return MarshalFailure::kNone;
  }
  return MarshalFailure::kNone;
}

Result<std::string> Marshal(const nlohmann::json& value, Quoting quoting) {
  std::string out;
  switch (AppendMarshal(value, quoting, out, 0)) {
    case MarshalFailure::kNone:
      return out;
    case MarshalFailure::kDepth:
      return Error(ErrorCode::kParse,
                   "exceeds max nesting depth " + std::to_string(kMaxGoMarshalDepth));
    case MarshalFailure::kUtf8:
      break;
  }
  return Error(ErrorCode::kParse, "holds a string that is not valid UTF-8");
}

}  // namespace

std::string GoJsonQuote(std::string_view text) {
  std::string out;
  AppendQuoted(text, Quoting::kEncodingJson, out);  // never fails for encoding/json
  return out;
}

std::string GoMarshalStringMap(const std::map<std::string, std::string>& map) {
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : map) {
    if (!first) out += ',';
    first = false;
    out += GoJsonQuote(key);
    out += ':';
    out += GoJsonQuote(value);
  }
  out += '}';
  return out;
}

Result<std::string> GoMarshal(const nlohmann::json& value) {
  return Marshal(value, Quoting::kEncodingJson);
}

Result<std::string> ProtoJsonQuote(std::string_view text) {
  std::string out;
  if (!AppendQuoted(text, Quoting::kProtoJson, out)) {
    return Error(ErrorCode::kParse, "string is not valid UTF-8");
  }
  return out;
}

Result<std::string> ProtoJsonMarshalValue(const nlohmann::json& value) {
  return Marshal(value, Quoting::kProtoJson);
}

}  // namespace signet::cosign
