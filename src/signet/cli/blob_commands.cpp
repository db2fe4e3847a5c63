// sign-blob and verify-blob: cosign's key-based blob mode. Flag parsing and
// output only; signing and verification live in signet::crypto.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "signet/cli/command.h"
#include "signet/cli/password_prompt.h"
#include "signet/crypto/blob_signature.h"
#include "signet/crypto/key_files.h"
#include "signet/crypto/keys.h"

namespace signet::cli {
namespace {

// The blob named on the command line: a file, or stdin for "-".
Result<std::string> ReadBlob(const std::string& path) {
  if (path == "-") {
    std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (std::cin.bad()) return Error(ErrorCode::kIo, "reading the blob from stdin failed");
    return data;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(ErrorCode::kNotFound, path + ": cannot open blob: " + std::strerror(errno));
  }
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Error(ErrorCode::kIo, path + ": error reading blob");
  return data;
}

struct SignFlags {
  std::string key;
  std::string output_signature;
  std::string blob;
};

int RunSign(const SignFlags& flags) {
  // stdin cannot carry both the blob and the password: with a "-" blob the
  // password must come from COSIGN_PASSWORD or the terminal.
  if (flags.blob == "-" && std::getenv("COSIGN_PASSWORD") == nullptr && !isatty(STDIN_FILENO)) {
    return ReportError(Error(ErrorCode::kInvalidArgument,
                             "the blob is read from stdin, so the key password must be given in "
                             "COSIGN_PASSWORD"));
  }
  auto blob = ReadBlob(flags.blob);
  if (!blob.ok()) return ReportError(blob.error());
  std::cerr << "Using payload from: " << flags.blob << "\n";
  auto password = ReadKeyPassword(PasswordConfirmation::kOnce);
  if (!password.ok()) return ReportError(password.error());
  auto signer = crypto::LoadPrivateKeyFile(flags.key, password->view());
  if (!signer.ok()) return ReportError(signer.error());
  auto signature = crypto::SignBlob(**signer, *blob);
  if (!signature.ok()) return ReportError(signature.error().WithContext("signing " + flags.blob));
  if (flags.output_signature.empty()) {
    std::cout << *signature << "\n" << std::flush;
    return kExitOk;
  }
  if (auto status = crypto::WriteFileAtomically(flags.output_signature, *signature, 0644, true);
      !status.ok()) {
    return ReportError(status.error());
  }
  std::cerr << "Wrote signature to file " << flags.output_signature << "\n";
  return kExitOk;
}

struct VerifyFlags {
  std::string key;
  std::string signature;
  std::string blob;
  bool ignore_tlog = false;
};

int RunVerify(const VerifyFlags& flags) {
  auto verifier = crypto::LoadPublicKeyFile(flags.key);
  if (!verifier.ok()) return ReportError(verifier.error());
  std::ifstream in(flags.signature, std::ios::binary);
  if (!in) {
    return ReportError(
        Error(ErrorCode::kNotFound,
              flags.signature + ": cannot open signature file: " + std::strerror(errno)));
  }
  const std::string signature((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
  auto blob = ReadBlob(flags.blob);
  if (!blob.ok()) return ReportError(blob.error());
  if (auto status = crypto::VerifyBlob(**verifier, signature, *blob); !status.ok()) {
    return ReportError(status.error().WithContext("verifying " + flags.blob + " with signature " +
                                                  flags.signature + " and key " + flags.key));
  }
  std::cerr << "Verified OK\n";
  return kExitOk;
}

}  // namespace

void RegisterBlobCommands(CLI::App& app, Action& action) {
  auto sign = std::make_shared<SignFlags>();
  CLI::App* s = app.add_subcommand(
      "sign-blob",
      "Sign a file (or stdin with \"-\") with an encrypted cosign private key, like "
      "`cosign sign-blob --key`. Prints the standard base64 signature (DER for ECDSA, with "
      "SHA-256/384/512 for P-256/384/521; RSA PKCS#1 v1.5 SHA-256; Ed25519) or writes it to "
      "--output-signature. The key password comes from COSIGN_PASSWORD, the terminal, or stdin. "
      "Nothing is uploaded to a transparency log.");
  s->add_option("--key", sign->key, "The encrypted private key file")->required();
  s->add_option("--output-signature", sign->output_signature,
                "Write the base64 signature to this file instead of stdout");
  s->add_option("blob", sign->blob, "The file to sign, or - for stdin")->required();
  s->callback([sign, &action] { action = [sign] { return RunSign(*sign); }; });

  auto verify = std::make_shared<VerifyFlags>();
  CLI::App* v = app.add_subcommand(
      "verify-blob",
      "Verify a blob signature with a public key, like `cosign verify-blob --key`. The signature "
      "file holds standard base64 of an ASN.1 DER or raw r||s ECDSA signature, an RSA PKCS#1 v1.5 "
      "SHA-256 signature or an Ed25519 signature (surrounding whitespace is ignored). Prints "
      "\"Verified OK\" and exits 0, or prints the reason and exits non-zero.");
  v->add_option("--key", verify->key, "The public key (PEM PUBLIC KEY or RSA PUBLIC KEY)")
      ->required();
  v->add_option("--signature", verify->signature, "File holding the base64 signature")->required();
  AddInsecureIgnoreTlogFlag(*v, verify->ignore_tlog);
  v->add_option("blob", verify->blob, "The signed file, or - for stdin")->required();
  v->callback([verify, &action] { action = [verify] { return RunVerify(*verify); }; });
}

}  // namespace signet::cli
