// generate-key-pair, import-key-pair and public-key: flag parsing and output
// only; key handling lives in signet::crypto.
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "signet/cli/command.h"
#include "signet/cli/password_prompt.h"
#include "signet/crypto/key_files.h"
#include "signet/crypto/keys.h"

namespace signet::cli {
namespace {

constexpr char kPasswordHelp[] =
    "The password is taken from the COSIGN_PASSWORD environment variable when it is set (an "
    "empty value is a valid password); otherwise, on a terminal, it is prompted for without echo; "
    "otherwise all of stdin is read as the password, verbatim.";

int ReportWritten(const crypto::KeyPairPaths& paths) {
  std::cerr << "Private key written to " << paths.private_key << "\n";
  std::cerr << "Public key written to " << paths.public_key << "\n";
  return kExitOk;
}

struct GenerateFlags {
  std::string prefix = "cosign";
  bool force = false;
};

int RunGenerate(const GenerateFlags& flags) {
  auto password = ReadKeyPassword(PasswordConfirmation::kTwice);
  if (!password.ok()) return ReportError(password.error());
  auto pair = crypto::GenerateKeyPair(password->view());
  if (!pair.ok()) return ReportError(pair.error());
  auto paths = crypto::WriteKeyPairFiles(*pair, flags.prefix, flags.force);
  if (!paths.ok()) return ReportError(paths.error());
  return ReportWritten(*paths);
}

struct ImportFlags {
  std::string key;
  std::string prefix = "import-cosign";
  bool force = false;
};

int RunImport(const ImportFlags& flags) {
  std::ifstream in(flags.key, std::ios::binary);
  if (!in) {
    return ReportError(
        Error(ErrorCode::kNotFound, flags.key + ": cannot open key file (missing or unreadable)"));
  }
  const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto password = ReadKeyPassword(PasswordConfirmation::kTwice);
  if (!password.ok()) return ReportError(password.error());
  auto pair = crypto::ImportKeyPair(pem, password->view(), flags.key);
  if (!pair.ok()) return ReportError(pair.error());
  auto paths = crypto::WriteKeyPairFiles(*pair, flags.prefix, flags.force);
  if (!paths.ok()) return ReportError(paths.error());
  return ReportWritten(*paths);
}

struct PublicKeyFlags {
  std::string key;
  std::string outfile;
};

int RunPublicKey(const PublicKeyFlags& flags) {
  auto password = ReadKeyPassword(PasswordConfirmation::kOnce);
  if (!password.ok()) return ReportError(password.error());
  auto signer = crypto::LoadPrivateKeyFile(flags.key, password->view());
  if (!signer.ok()) return ReportError(signer.error());
  const std::string pem = (*signer)->PublicKeyPem();
  if (flags.outfile.empty()) {
    std::cout << pem << std::flush;
    return kExitOk;
  }
  if (auto status = crypto::WriteFileAtomically(flags.outfile, pem, 0644, true); !status.ok()) {
    return ReportError(status.error());
  }
  std::cerr << "Public key written to " << flags.outfile << "\n";
  return kExitOk;
}

}  // namespace

void RegisterKeyCommands(CLI::App& app, Action& action) {
  auto generate = std::make_shared<GenerateFlags>();
  CLI::App* gen = app.add_subcommand(
      "generate-key-pair",
      std::string("Generate an ECDSA P-256 key pair for signing, as cosign does.\n"
                  "Writes PREFIX.key (an ENCRYPTED SIGSTORE PRIVATE KEY: scrypt N=65536,r=8,p=1 "
                  "and nacl/secretbox around PKCS#8, mode 0600) and PREFIX.pub (a PKIX PUBLIC KEY, "
                  "mode 0644). Existing files are never replaced without --force.\n") +
          kPasswordHelp);
  gen->add_option("--output-key-prefix", generate->prefix,
                  "Write PREFIX.key and PREFIX.pub (default: cosign)");
  gen->add_flag("--force", generate->force, "Replace existing PREFIX.key / PREFIX.pub files");
  gen->callback([generate, &action] { action = [generate] { return RunGenerate(*generate); }; });

  auto import = std::make_shared<ImportFlags>();
  CLI::App* imp = app.add_subcommand(
      "import-key-pair",
      std::string("Encrypt an existing unencrypted private key as a cosign key pair.\n"
                  "Accepts PEM PKCS#1 RSA (RSA PRIVATE KEY), SEC1 EC (EC PRIVATE KEY) and PKCS#8 "
                  "(PRIVATE KEY: RSA, ECDSA or Ed25519). Only RSA 2048/3072/4096, ECDSA "
                  "P-256/P-384/P-521 and Ed25519 keys are accepted. Writes PREFIX.key (0600) and "
                  "PREFIX.pub (0644); existing files are never replaced without --force.\n") +
          kPasswordHelp);
  imp->add_option("-k,--key", import->key, "The unencrypted PEM private key to import")->required();
  imp->add_option("-o,--output-key-prefix", import->prefix,
                  "Write PREFIX.key and PREFIX.pub (default: import-cosign)");
  imp->add_flag("--force", import->force, "Replace existing PREFIX.key / PREFIX.pub files");
  imp->callback([import, &action] { action = [import] { return RunImport(*import); }; });

  auto pub = std::make_shared<PublicKeyFlags>();
  CLI::App* pk = app.add_subcommand(
      "public-key",
      std::string("Print (or write) the PUBLIC KEY PEM of an encrypted cosign private key.\n") +
          kPasswordHelp);
  pk->add_option("--key", pub->key,
                 "The encrypted private key (ENCRYPTED SIGSTORE/COSIGN PRIVATE KEY)")
      ->required();
  pk->add_option("--outfile", pub->outfile,
                 "Write the public key to this file (mode 0644) instead of stdout");
  pk->callback([pub, &action] { action = [pub] { return RunPublicKey(*pub); }; });
}

}  // namespace signet::cli
