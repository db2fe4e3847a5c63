// Errors as values for the whole library.
//
// An Error carries an ErrorCode (a small, stable classification that maps to a
// CLI exit code and to a provider reason) and a human-readable message that
// says what failed and why, and, when the failure was an HTTP answer from a
// registry (or its token server), that answer's status: callers classify by
// code and status, never by message text. Result<T> holds either a T or an
// Error. Nothing in signet throws across a module boundary: functions return
// Result instead.
//
// Thread-safety: Error and Result are plain values; const methods may be called
// concurrently without synchronisation.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace signet {

enum class ErrorCode {
  kInvalidArgument,       // malformed input supplied by the caller (reference, key, flag)
  kNotFound,              // a file or object that must exist does not
  kAlreadyExists,         // refusing to overwrite
  kPermissionDenied,      // filesystem permissions
  kIo,                    // local I/O failure
  kParse,                 // malformed document (JSON, PEM, manifest, config)
  kUnsupported,           // well-formed but not supported (key type, media type, scrypt set)
  kCrypto,                // a cryptographic operation failed (not a bad signature)
  kDecryptionFailed,      // wrong password or tampered encrypted key
  kVerificationFailed,    // a signature did not verify
  kAuth,                  // registry refused credentials
  kNetwork,               // connection refused, reset, DNS, TLS
  kTimeout,               // a deadline passed
  kTooLarge,              // a size cap was exceeded
  kDigestMismatch,        // content does not hash to its claimed digest
  kRegistry,              // registry answered with an unexpected status or protocol error
  kImageNotFound,         // cosign exit 11
  kNoSignatures,          // cosign exit 10
  kNoMatchingSignatures,  // cosign exit 12
  kInternal,              // a bug in signet
};

// What a code means to those who see it, in one table (result.cpp): its
// name in logs and metrics, the CLI's exit status, and the provider's short
// reason for a key it denies.
struct ErrorCodeInfo {
  enum class Reason {
    kAsIs,         // the reason alone
    kWithMessage,  // "<reason>: <the error's message>"
  };
  ErrorCode code;
  std::string_view name;  // stable lowercase name, for logs and metrics labels
  int exit_code;          // `signet` exit status: cosign's 10, 11 and 12, else 1
  std::string_view reason;
  Reason reason_form;
};

const ErrorCodeInfo& InfoOf(ErrorCode code);

// InfoOf(code).name.
std::string_view ErrorCodeName(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  // An error caused by an HTTP answer with `http_status`.
  Error(ErrorCode code, std::string message, int http_status)
      : code_(code), message_(std::move(message)), http_status_(http_status) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The HTTP status of the registry answer behind this error; 0 when there
  // was none (a transport failure, a timeout, or anything not HTTP).
  int http_status() const { return http_status_; }

  // Returns a copy whose message is "context: message"; the code and the
  // HTTP status are kept.
  Error WithContext(std::string_view context) const {
    return Error(code_, std::string(context) + ": " + message_, http_status_);
  }

 private:
  ErrorCode code_;
  std::string message_;
  int http_status_ = 0;
};

// The provider's reason for a key denied with `error` (InfoOf's reason,
// followed by the message where the table says so).
std::string DenialReason(const Error& error);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::in_place_index<0>, std::move(value)) {}      // NOLINT(implicit)
  Result(Error error) : data_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(implicit)

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const T& value() const& {
    assert(ok());
    return std::get<0>(data_);
  }
  T& value() & {
    assert(ok());
    return std::get<0>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(data_));
  }
  const Error& error() const {
    assert(!ok());
    return std::get<1>(data_);
  }

  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<T, Error> data_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), has_error_(true) {}  // NOLINT(implicit)

  bool ok() const { return !has_error_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(has_error_);
    return error_;
  }

 private:
  Error error_{ErrorCode::kInternal, ""};
  bool has_error_ = false;
};

using Status = Result<void>;

inline Status OkStatus() { return Status(); }

}  // namespace signet
