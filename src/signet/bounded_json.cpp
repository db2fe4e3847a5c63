#include "signet/bounded_json.h"

#include <map>
#include <vector>

namespace signet {
namespace {

using nlohmann::json;

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

Error ParseError(std::string_view what, const std::string& why) {
  return Error(ErrorCode::kParse, std::string(what) + ": " + why);
}

Error LimitError(std::string_view what, const std::string& why) {
  return Error(ErrorCode::kTooLarge, std::string(what) + ": " + why);
}

// Thrown from the parser callback to stop at the first duplicate key; caught
// in ParseBoundedJson, never let out.
struct DuplicateKey {
  std::string first;
  std::string second;
};

}  // namespace

Status CheckJsonBounds(std::string_view text, std::string_view what, const JsonLimits& limits) {
  std::size_t depth = 0;
  std::size_t tokens = 0;
  bool in_string = false;
  bool escaped = false;
  bool in_scalar = false;  // inside a number or literal: counted once
  auto count = [&] {
    if (++tokens > limits.max_tokens) {
      return false;
    }
    return true;
  };
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        in_scalar = false;
        if (!count()) break;
        continue;
      case '[':
      case '{':
        in_scalar = false;
        if (++depth > limits.max_depth) {
          return LimitError(what, "exceeds max nesting depth " + std::to_string(limits.max_depth));
        }
        if (!count()) break;
        continue;
      case ']':
      case '}':
        in_scalar = false;
        // Unbalanced closers are left for the parser to report.
        if (depth > 0) --depth;
        continue;
      case ',':
      case ':':
        in_scalar = false;
        continue;
      default:
        if (IsJsonSpace(c)) {
          in_scalar = false;
        } else if (!in_scalar) {
          in_scalar = true;
          if (!count()) break;
        }
        continue;
    }
    return LimitError(what, "has more than " + std::to_string(limits.max_tokens) + " JSON tokens");
  }
  return OkStatus();
}

std::string GoFoldKey(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (std::size_t i = 0; i < key.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(key[i]);
    if (c >= 'A' && c <= 'Z') {
      out += static_cast<char>(c - 'A' + 'a');
    } else if (c == 0xC5 && i + 1 < key.size() && static_cast<unsigned char>(key[i + 1]) == 0xBF) {
      out += 's';  // U+017F LATIN SMALL LETTER LONG S
      i += 1;
    } else if (c == 0xE2 && i + 2 < key.size() && static_cast<unsigned char>(key[i + 1]) == 0x84 &&
               static_cast<unsigned char>(key[i + 2]) == 0xAA) {
      out += 'k';  // U+212A KELVIN SIGN
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

Result<json> ParseBoundedJson(std::string_view text, std::string_view what,
                              const JsonParseOptions& options) {
  if (Status bounds = CheckJsonBounds(text, what, options.limits); !bounds.ok()) {
    return bounds.error();
  }
  try {
    if (options.duplicate_keys == DuplicateKeys::kAllow) {
      return json::parse(text.begin(), text.end());
    }
    // One map per open object, innermost last: folded key => key as written.
    std::vector<std::map<std::string, std::string>> open_objects;
    json::parser_callback_t check = [&](int, json::parse_event_t event, json& parsed) {
      switch (event) {
        case json::parse_event_t::object_start:
          open_objects.emplace_back();
          break;
        case json::parse_event_t::object_end:
          if (!open_objects.empty()) open_objects.pop_back();
          break;
        case json::parse_event_t::key: {
          const std::string& key = parsed.get_ref<const std::string&>();
          if (open_objects.empty()) break;
          auto [it, inserted] = open_objects.back().emplace(GoFoldKey(key), key);
          if (!inserted) throw DuplicateKey{it->second, key};
          break;
        }
        default:
          break;
      }
      return true;
    };
    return json::parse(text.begin(), text.end(), check);
  } catch (const DuplicateKey& duplicate) {
    return ParseError(what, "duplicate key \"" + duplicate.second + "\" (same field as \"" +
                                duplicate.first + "\")");
  } catch (const json::exception& e) {
    return ParseError(what, std::string("invalid JSON: ") + e.what());
  }
}

}  // namespace signet
