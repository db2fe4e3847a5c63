// in-toto Statements as cosign writes and reads them inside DSSE envelopes.
//
// cosign v3 `sign` writes Statement v1 with predicateType
// kCosignSignPredicateType, one subject {digest:{sha256}, annotations:{-a}}
// (no name) and "predicate":{}; `attest` writes Statement v0.1 with the
// subject's name. MarshalStatement prints the compact protojson form in field
// declaration order (_type, subject, predicateType, predicate; per subject
// name, digest, annotations; map keys sorted; empty name omitted). Real
// cosign output may carry protojson's randomised spaces after commas, so a
// verifier must check signatures over the received bytes and only parse them:
// never re-marshal and compare.
//
// ParseStatement reads a payload as hostile input: bounded JSON, unknown
// fields refused (sigstore-go parses strictly), _type v1 or v0.1 only, at
// most kMaxStatementSubjects subjects and kMaxSubjectDigests digests each.
//
// Pure functions over values; thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "signet/result.h"

namespace signet::cosign {

inline constexpr std::string_view kStatementTypeV1 = "https://in-toto.io/Statement/v1";
inline constexpr std::string_view kStatementTypeV01 = "https://in-toto.io/Statement/v0.1";
inline constexpr std::string_view kCosignSignPredicateType = "https://sigstore.dev/cosign/sign/v1";

// sigstore-go's limits (pkg/verify/signature.go limitSubjects).
inline constexpr std::size_t kMaxStatementSubjects = 1024;
inline constexpr std::size_t kMaxSubjectDigests = 32;

struct StatementSubject {
  std::string name;                           // empty: omitted
  std::map<std::string, std::string> digest;  // algorithm -> lowercase hex
  // The subject's annotations object; nullopt when absent. Values may be any
  // JSON (google.protobuf.Struct); cosign's `-a` writes strings.
  std::optional<nlohmann::json> annotations;
};

struct Statement {
  std::string type = std::string(kStatementTypeV1);
  std::vector<StatementSubject> subjects;
  std::string predicate_type;
  // null: omitted. A string only from ParseStatement with
  // PredicateForm::kObjectOrString; MarshalStatement writes objects only.
  nlohmann::json predicate = nlohmann::json::object();
};

// The Statement cosign v3.1.2 `sign --key` signs for an image digest
// ("sha256:<hex>") with `-a` annotations: Statement v1, one subject without
// name whose annotations object is always present, predicateType
// kCosignSignPredicateType, predicate {}.
Statement MakeCosignSignStatement(std::string_view digest,
                                  const std::map<std::string, std::string>& annotations);

// Compact protojson bytes. kInvalidArgument when the statement cannot be
// printed (no subject, a subject without digest, an empty predicateType, a
// predicate or annotations that are not JSON objects, invalid UTF-8, or
// nesting deeper than kMaxJsonDepth).
Result<std::string> MarshalStatement(const Statement& statement);

// What ParseStatement takes as the predicate.
enum class PredicateForm {
  // A JSON object, or none (sigstore-go, and so cosign v3, parse statements
  // with protojson and refuse anything else).
  kObject,
  // Also a JSON string: cosign 2.x's `attest --type spdx` signs its predicate
  // file as one, and cosign 2.x reads such statements back from the legacy
  // ".att" tag (its Statement.UnmarshalJSON keeps the string aside). For that
  // tag only.
  kObjectOrString,
};

// Errors are kParse "in-toto statement: <reason>" (kTooLarge for depth and
// token limits).
Result<Statement> ParseStatement(std::string_view payload,
                                 PredicateForm predicate_form = PredicateForm::kObject);

// True when some subject has digest[algorithm] == hex (compared
// case-insensitively, as sigstore-go compares decoded bytes). When
// `annotations` is not empty that same subject must also carry each of them
// as a JSON string of the same value (cosign's -a check).
bool StatementHasSubject(const Statement& statement, std::string_view algorithm,
                         std::string_view hex,
                         const std::map<std::string, std::string>& annotations = {});

}  // namespace signet::cosign
