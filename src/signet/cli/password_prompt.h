// How the CLI obtains the password of a cosign private key, exactly as cosign
// does (so scripts written for cosign work unchanged):
//   1. COSIGN_PASSWORD is set (even to "")  -> its bytes, verbatim;
//   2. stdin is a terminal                  -> prompt on stderr without echo
//      ("Enter password for private key: "), and with `confirm` a second
//      time; different answers are an error;
//   3. otherwise                            -> all of stdin, verbatim (a
//      trailing newline is part of the password).
// The returned Password wipes its bytes when destroyed. Never log it.
#pragma once

#include <string>
#include <string_view>

#include "signet/result.h"

namespace signet::cli {

// Owned password bytes, zeroed on destruction. Move-only.
class Password {
 public:
  Password() = default;
  explicit Password(std::string bytes) : bytes_(std::move(bytes)) {}
  ~Password();
  Password(Password&& other) noexcept;
  Password& operator=(Password&& other) noexcept;
  Password(const Password&) = delete;
  Password& operator=(const Password&) = delete;

  std::string_view view() const { return bytes_; }

 private:
  void Wipe();
  std::string bytes_;
};

enum class PasswordConfirmation { kOnce, kTwice };

Result<Password> ReadKeyPassword(PasswordConfirmation confirmation);

}  // namespace signet::cli
