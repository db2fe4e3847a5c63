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

#include "signet/crypto/secret_bytes.h"
#include "signet/result.h"

namespace signet::cli {

// Owned password bytes, wiped when destroyed and whenever they are moved or
// outgrow their buffer (crypto::SecretBytes). Move-only.
using Password = crypto::SecretBytes;

enum class PasswordConfirmation { kOnce, kTwice };

Result<Password> ReadKeyPassword(PasswordConfirmation confirmation);

}  // namespace signet::cli
