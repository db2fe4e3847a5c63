// Writing cosign key files to disk: atomically (a temporary file in the same
// directory, fsync'd, then renamed or hard-linked into place), with exact
// permissions (private key 0600, public key 0644, whatever the umask), and
// never replacing an existing file unless asked to.
//
// Stateless functions; concurrent writers to the same path race only at the
// final rename/link, where exactly one wins without partial files.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "signet/crypto/keys.h"
#include "signet/result.h"

namespace signet::crypto {

// Writes `contents` to `path` with mode `mode`. Without `overwrite` an
// existing `path` is kAlreadyExists and is left untouched.
Status WriteFileAtomically(const std::string& path, std::string_view contents, mode_t mode,
                           bool overwrite);

struct KeyPairPaths {
  std::string private_key;  // "<prefix>.key"
  std::string public_key;   // "<prefix>.pub"
};

// Writes "<prefix>.key" (0600) and "<prefix>.pub" (0644). Without `force`,
// nothing is written when either file already exists.
Result<KeyPairPaths> WriteKeyPairFiles(const KeyPairPem& pair, const std::string& prefix,
                                       bool force);

}  // namespace signet::crypto
