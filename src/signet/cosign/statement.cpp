#include "signet/cosign/statement.h"

#include "signet/bounded_json.h"
#include "signet/cosign/go_json.h"
#include "signet/cosign/strict_json.h"

namespace signet::cosign {
namespace {

constexpr std::string_view kWhat = "in-toto statement";

bool IsHexDigest(std::string_view hex) {
  if (hex.empty()) return false;
  for (char c : hex) {
    const bool digit = c >= '0' && c <= '9';
    const bool lower = c >= 'a' && c <= 'f';
    const bool upper = c >= 'A' && c <= 'F';
    if (!digit && !lower && !upper) return false;
  }
  return true;
}

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualHex(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

Error Invalid(const std::string& reason) {
  return Error(ErrorCode::kInvalidArgument, "cannot marshal in-toto statement: " + reason);
}

Result<StatementSubject> ParseSubject(const nlohmann::json& value) {
  const std::string what = std::string(kWhat) + ": subject";
  // ResourceDescriptor's fields (in-toto attestation v1); cosign uses
  // name, digest and annotations, the others are accepted and ignored.
  if (auto status = strict_json::RequireObject(
          value, what,
          {"name", "uri", "digest", "content", "downloadLocation", "mediaType", "annotations"});
      !status.ok()) {
    return status.error();
  }
  StatementSubject subject;
  auto name = strict_json::OptionalString(value, "name", what);
  if (!name.ok()) return name.error();
  subject.name = std::move(*name);
  for (std::string_view key : {"uri", "downloadLocation", "mediaType", "content"}) {
    if (auto text = strict_json::OptionalString(value, key, what); !text.ok()) return text.error();
  }
  if (const auto digest = value.find("digest"); digest != value.end()) {
    if (!digest->is_object()) {
      return Error(ErrorCode::kParse, what + ": field \"digest\" is not an object");
    }
    if (digest->size() > kMaxSubjectDigests) {
      return Error(ErrorCode::kParse,
                   what + ": more than " + std::to_string(kMaxSubjectDigests) + " digests");
    }
    for (auto it = digest->begin(); it != digest->end(); ++it) {
      if (!it->is_string()) {
        return Error(ErrorCode::kParse, what + ": digest \"" + it.key() + "\" is not a string");
      }
      subject.digest.emplace(it.key(), it->get<std::string>());
    }
  }
  if (const auto annotations = value.find("annotations"); annotations != value.end()) {
    if (!annotations->is_object()) {
      return Error(ErrorCode::kParse, what + ": field \"annotations\" is not an object");
    }
    subject.annotations = *annotations;
  }
  return subject;
}

}  // namespace

Statement MakeCosignSignStatement(std::string_view digest,
                                  const std::map<std::string, std::string>& annotations) {
  Statement statement;
  statement.type = std::string(kStatementTypeV1);
  StatementSubject subject;
  const auto colon = digest.find(':');
  const std::string_view algorithm =
      colon == std::string_view::npos ? "sha256" : digest.substr(0, colon);
  const std::string_view hex = colon == std::string_view::npos ? digest : digest.substr(colon + 1);
  subject.digest.emplace(std::string(algorithm), std::string(hex));
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [key, value] : annotations) object[key] = value;
  subject.annotations = std::move(object);
  statement.subjects.push_back(std::move(subject));
  statement.predicate_type = std::string(kCosignSignPredicateType);
  statement.predicate = nlohmann::json::object();
  return statement;
}

Result<std::string> MarshalStatement(const Statement& statement) {
  if (statement.subjects.empty()) return Invalid("no subject");
  if (statement.predicate_type.empty()) return Invalid("empty predicateType");
  if (!statement.predicate.is_null() && !statement.predicate.is_object()) {
    return Invalid("the predicate is not a JSON object");
  }
  auto quote = [](std::string_view text) { return ProtoJsonQuote(text); };
  std::string out = "{\"_type\":";
  auto type = quote(statement.type);
  if (!type.ok()) return Invalid("_type: " + type.error().message());
  out += *type + ",\"subject\":[";
  for (std::size_t i = 0; i < statement.subjects.size(); ++i) {
    const StatementSubject& subject = statement.subjects[i];
    if (subject.digest.empty()) return Invalid("a subject has no digest");
    if (i > 0) out += ',';
    out += '{';
    if (!subject.name.empty()) {
      auto name = quote(subject.name);
      if (!name.ok()) return Invalid("subject name: " + name.error().message());
      out += "\"name\":" + *name + ",";
    }
    out += "\"digest\":{";
    bool first = true;
    for (const auto& [algorithm, hex] : subject.digest) {
      auto key = quote(algorithm);
      auto value = quote(hex);
      if (!key.ok() || !value.ok()) return Invalid("subject digest is not valid UTF-8");
      if (!first) out += ',';
      first = false;
      out += *key + ":" + *value;
    }
    out += '}';
    if (subject.annotations) {
      if (!subject.annotations->is_object())
        return Invalid("subject annotations are not an object");
      auto annotations = ProtoJsonMarshalValue(*subject.annotations);
      if (!annotations.ok()) return Invalid("subject annotations " + annotations.error().message());
      out += ",\"annotations\":" + *annotations;
    }
    out += '}';
  }
  auto predicate_type = quote(statement.predicate_type);
  if (!predicate_type.ok()) return Invalid("predicateType: " + predicate_type.error().message());
  out += "],\"predicateType\":" + *predicate_type;
  if (!statement.predicate.is_null()) {
    auto predicate = ProtoJsonMarshalValue(statement.predicate);
    if (!predicate.ok()) return Invalid("predicate " + predicate.error().message());
    out += ",\"predicate\":" + *predicate;
  }
  out += '}';
  return out;
}

Result<Statement> ParseStatement(std::string_view payload, PredicateForm predicate_form) {
  JsonParseOptions options;
  options.duplicate_keys = DuplicateKeys::kRejectGoFolded;
  auto document = ParseBoundedJson(payload, kWhat, options);
  if (!document.ok()) return document.error();
  if (auto status = strict_json::RequireObject(*document, kWhat,
                                               {"_type", "subject", "predicateType", "predicate"});
      !status.ok()) {
    return status.error();
  }
  Statement statement;
  auto type = strict_json::RequiredString(*document, "_type", kWhat);
  if (!type.ok()) return type.error();
  if (*type != kStatementTypeV1 && *type != kStatementTypeV01) {
    return Error(ErrorCode::kParse, std::string(kWhat) + ": unsupported _type \"" + *type +
                                        "\" (expected " + std::string(kStatementTypeV1) + " or " +
                                        std::string(kStatementTypeV01) + ")");
  }
  statement.type = std::move(*type);
  auto predicate_type = strict_json::OptionalString(*document, "predicateType", kWhat);
  if (!predicate_type.ok()) return predicate_type.error();
  statement.predicate_type = std::move(*predicate_type);
  statement.predicate = nlohmann::json();
  if (const auto predicate = document->find("predicate"); predicate != document->end()) {
    const bool string_allowed = predicate_form == PredicateForm::kObjectOrString;
    if (!predicate->is_object() && !(string_allowed && predicate->is_string())) {
      return Error(ErrorCode::kParse,
                   std::string(kWhat) + (string_allowed
                                             ? ": predicate is neither a JSON object nor a string"
                                             : ": predicate is not a JSON object"));
    }
    statement.predicate = *predicate;
  }
  const auto subjects = document->find("subject");
  if (subjects == document->end() || !subjects->is_array() || subjects->empty()) {
    return Error(ErrorCode::kParse, std::string(kWhat) + ": no subject list");
  }
  if (subjects->size() > kMaxStatementSubjects) {
    return Error(ErrorCode::kParse, std::string(kWhat) + ": more than " +
                                        std::to_string(kMaxStatementSubjects) + " subjects");
  }
  for (const nlohmann::json& entry : *subjects) {
    auto subject = ParseSubject(entry);
    if (!subject.ok()) return subject.error();
    statement.subjects.push_back(std::move(*subject));
  }
  return statement;
}

bool StatementHasSubject(const Statement& statement, std::string_view algorithm,
                         std::string_view hex,
                         const std::map<std::string, std::string>& annotations) {
  if (!IsHexDigest(hex)) return false;
  for (const StatementSubject& subject : statement.subjects) {
    const auto digest = subject.digest.find(std::string(algorithm));
    if (digest == subject.digest.end() || !EqualHex(digest->second, hex)) continue;
    bool all = true;
    for (const auto& [key, value] : annotations) {
      const nlohmann::json* have = nullptr;
      if (subject.annotations) {
        const auto it = subject.annotations->find(key);
        if (it != subject.annotations->end()) have = &*it;
      }
      all = all && have != nullptr && have->is_string() && have->get<std::string>() == value;
    }
    if (all) return true;
  }
  return false;
}

}  // namespace signet::cosign
