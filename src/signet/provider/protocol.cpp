#include "signet/provider/protocol.h"

#include <nlohmann/json.hpp>

#include "signet/bounded_json.h"
#include "signet/json_writer.h"

namespace signet::provider {

using nlohmann::json;

namespace {

// What the body says, read event by event (no DOM): each member the
// request's shape depends on, as the last of its name in its object left it
// (a JSON DOM keeps the last of duplicate names; so does this), and the key
// strings themselves. Shape errors are judged at the end, in the order the
// checks in ParseProviderRequest state them, so that a syntax error anywhere
// wins over every shape error, as when a DOM is built first.
class RequestReader {
 public:
  using string_t = json::string_t;
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using binary_t = json::binary_t;

  enum class Kind { kAbsent, kNull, kString, kObject, kArray, kOther };

  explicit RequestReader(std::size_t max_keys) : max_keys_(max_keys) {}

  bool null() { return Value(Kind::kNull); }
  bool boolean(bool) { return Value(Kind::kOther); }
  bool number_integer(number_integer_t) { return Value(Kind::kOther); }
  bool number_unsigned(number_unsigned_t) { return Value(Kind::kOther); }
  bool number_float(number_float_t, const string_t&) { return Value(Kind::kOther); }
  bool binary(binary_t&) { return Value(Kind::kOther); }
  bool string(string_t& text) {
    switch (Place()) {
      case Slot::kApiVersion:
        api_version_ = text;
        break;
      case Slot::kKey:
        if (keys_.size() < max_keys_) keys_.push_back(text);
        break;
      default:
        break;
    }
    return Value(Kind::kString);
  }
  bool start_object(std::size_t) {
    const Slot slot = Place();
    Value(Kind::kObject);
    ++depth_;
    if (slot == Slot::kDocument) top_is_object_ = true;
    if (slot == Slot::kRequest) request_open_ = true;
    return true;
  }
  bool start_array(std::size_t) {
    const Slot slot = Place();
    Value(Kind::kArray);
    ++depth_;
    if (slot == Slot::kKeys) keys_open_ = true;
    return true;
  }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool key(string_t& name) {
    if (depth_ == 1 && top_is_object_) {
      top_member_ = name == "apiVersion" ? Slot::kApiVersion
                    : name == "kind"     ? Slot::kKind
                    : name == "request"  ? Slot::kRequest
                                         : Slot::kNone;
    } else if (depth_ == 2 && request_open_) {
      request_member_ = name == "keys" ? Slot::kKeys : Slot::kNone;
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

  Result<ProviderRequest> Finish() && {
    const auto shape = [](const std::string& why) {
      return Error(ErrorCode::kParse, "unable to unmarshal request body: " + why);
    };
    if (!top_is_object_) return shape("expected a JSON object");
    if (api_version_kind_ != Kind::kAbsent && api_version_kind_ != Kind::kString) {
      return shape("apiVersion must be a string");
    }
    if (kind_kind_ != Kind::kAbsent && kind_kind_ != Kind::kString) {
      return shape("kind must be a string");
    }
    if (request_kind_ == Kind::kAbsent || request_kind_ == Kind::kNull) {
      return Error(ErrorCode::kInvalidArgument, "request has no keys");
    }
    if (request_kind_ != Kind::kObject) return shape("request must be an object");
    if (keys_kind_ == Kind::kAbsent || keys_kind_ == Kind::kNull) {
      return Error(ErrorCode::kInvalidArgument, "request has no keys");
    }
    if (keys_kind_ != Kind::kArray) return shape("request.keys must be an array of strings");
    if (key_count_ == 0) return Error(ErrorCode::kInvalidArgument, "request has no keys");
    if (key_count_ > max_keys_) {
      return Error(ErrorCode::kTooLarge, "too many keys: " + std::to_string(key_count_) +
                                             " (the limit is " + std::to_string(max_keys_) + ")");
    }
    if (first_non_string_) {
      return shape("request.keys[" + std::to_string(*first_non_string_) + "] is not a string");
    }
    ProviderRequest request;
    if (api_version_kind_ == Kind::kString) request.api_version = std::move(api_version_);
    request.keys = std::move(keys_);
    return request;
  }

 private:
  // Where the next value goes.
  enum class Slot { kNone, kDocument, kApiVersion, kKind, kRequest, kKeys, kKey };

  Slot Place() const {
    if (depth_ == 0) return Slot::kDocument;
    if (depth_ == 1 && top_is_object_) return top_member_;
    if (depth_ == 2 && request_open_) return request_member_;
    if (depth_ == 3 && keys_open_) return Slot::kKey;
    return Slot::kNone;
  }

  // Records a value (a container at its start) in its place; a later member
  // of the same name replaces what an earlier one left.
  bool Value(Kind kind) {
    switch (Place()) {
      case Slot::kApiVersion:
        api_version_kind_ = kind;
        break;
      case Slot::kKind:
        kind_kind_ = kind;
        break;
      case Slot::kRequest:
        request_kind_ = kind;
        keys_kind_ = Kind::kAbsent;
        ResetKeys();
        break;
      case Slot::kKeys:
        keys_kind_ = kind;
        ResetKeys();
        break;
      case Slot::kKey:
        if (kind != Kind::kString && !first_non_string_) first_non_string_ = key_count_;
        ++key_count_;
        break;
      default:
        break;
    }
    return true;
  }

  void ResetKeys() {
    keys_.clear();
    key_count_ = 0;
    first_non_string_.reset();
  }

  bool Close() {
    --depth_;
    if (depth_ < 3) keys_open_ = false;
    if (depth_ < 2) request_open_ = false;
    return true;
  }

  std::size_t max_keys_;
  std::size_t depth_ = 0;
  bool top_is_object_ = false;
  bool request_open_ = false;  // the container at depth 2 is the request object
  bool keys_open_ = false;     // the container at depth 3 is request.keys
  Slot top_member_ = Slot::kNone;
  Slot request_member_ = Slot::kNone;
  Kind api_version_kind_ = Kind::kAbsent;
  Kind kind_kind_ = Kind::kAbsent;
  Kind request_kind_ = Kind::kAbsent;
  Kind keys_kind_ = Kind::kAbsent;
  std::string api_version_;
  std::vector<std::string> keys_;  // at most max_keys_ of them
  std::size_t key_count_ = 0;
  std::optional<std::size_t> first_non_string_;
};

}  // namespace

Result<ProviderRequest> ParseProviderRequest(std::string_view body, std::size_t max_keys) {
  // Depth and size are checked first, by a scan that allocates nothing; the
  // body is then read without building a DOM: only the key strings (at most
  // max_keys of them) and apiVersion are kept.
  if (Status bounds = CheckJsonBounds(body, "unable to unmarshal request body", JsonLimits{});
      !bounds.ok()) {
    return bounds.error();
  }
  RequestReader reader(max_keys);
  if (!json::sax_parse(body.begin(), body.end(), &reader)) {
    return Error(ErrorCode::kParse, "unable to unmarshal request body: not valid JSON");
  }
  return std::move(reader).Finish();
}

std::string SerializeProviderResponse(const ProviderResponse& response) {
  // Written directly, in the bytes (and the member order, sorted by key) that
  // dumping the equivalent nlohmann::json gives. Invalid UTF-8 in keys is
  // replaced rather than aborting serialisation (AppendJsonString).
  std::string out;
  std::size_t estimate = 128 + response.system_error.size();
  for (const auto& item : response.items) {
    estimate += 32 + item.key.size() + item.error.size() + (item.value ? item.value->size() : 0);
  }
  out.reserve(estimate);
  out += "{\"apiVersion\":";
  AppendJsonString(out, kResponseApiVersion);
  out += ",\"kind\":";
  AppendJsonString(out, kResponseKind);
  out += ",\"response\":{";
  bool first = true;
  auto member = [&](std::string_view name) {
    if (!first) out.push_back(',');
    first = false;
    out.push_back('"');
    out.append(name);
    out += "\":";
  };
  if (response.idempotent) {
    member("idempotent");
    out += "true";
  }
  if (!response.items.empty()) {
    member("items");
    out.push_back('[');
    for (std::size_t i = 0; i < response.items.size(); ++i) {
      const ResponseItem& item = response.items[i];
      if (i > 0) out.push_back(',');
      out.push_back('{');
      if (!item.error.empty()) {
        out += "\"error\":";
        AppendJsonString(out, item.error);
        out += ",\"key\":";
        AppendJsonString(out, item.key);
      } else {
        out += "\"key\":";
        AppendJsonString(out, item.key);
        if (item.value) {
          out += ",\"value\":";
          AppendJsonString(out, *item.value);
        }
      }
      out.push_back('}');
    }
    out.push_back(']');
  }
  if (!response.system_error.empty()) {
    member("systemError");
    AppendJsonString(out, response.system_error);
  }
  out += "}}";
  return out;
}

ProviderResponse SystemErrorResponse(std::string message, bool idempotent) {
  ProviderResponse response;
  response.idempotent = idempotent;
  response.system_error = std::move(message);
  return response;
}

}  // namespace signet::provider
