// sign-blob and verify-blob: cosign's key-based blob mode, with a base64
// signature (the legacy form) or a Sigstore bundle (cosign v3's --bundle).
// Flag parsing and output only; signing and verification live in
// signet::crypto and signet::cosign.
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
#include "signet/cosign/blob_bundle.h"
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
  std::string bundle;
  bool new_bundle_format = true;
  bool new_bundle_format_given = false;
  bool tlog_upload = false;
  bool use_signing_config = false;
  std::string blob;
};

// cosign v3's rules for the output form: --new-bundle-format (default true)
// needs --bundle, except that signet keeps its legacy base64 output when
// neither flag is given.
Status CheckSignForm(const SignFlags& flags) {
  if (flags.bundle.empty()) {
    if (flags.new_bundle_format_given && flags.new_bundle_format) {
      return Error(ErrorCode::kInvalidArgument, "must specify --bundle with --new-bundle-format");
    }
    return OkStatus();
  }
  if (!flags.new_bundle_format) {
    return Error(ErrorCode::kUnsupported,
                 "--new-bundle-format=false with --bundle asks for cosign's legacy bundle file, "
                 "which signet does not write; drop --new-bundle-format=false for a Sigstore "
                 "bundle, or --bundle for a plain base64 signature");
  }
  if (!flags.output_signature.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "--output-signature cannot be combined with --bundle: as cosign v3, signet "
                 "writes only the bundle, which holds the signature");
  }
  return OkStatus();
}

int RunSignBundle(const SignFlags& flags, const crypto::Signer& signer, std::string_view blob) {
  auto bundle = cosign::SignBlobBundle(signer, blob);
  if (!bundle.ok()) return ReportError(bundle.error().WithContext("signing " + flags.blob));
  if (auto status = cosign::WriteBundleFile(flags.bundle, *bundle); !status.ok()) {
    return ReportError(status.error().WithContext("create bundle file"));
  }
  std::cerr << "Wrote bundle to file " << flags.bundle << "\n";
  return kExitOk;
}

int RunSign(const SignFlags& flags) {
  if (auto status = CheckSignForm(flags); !status.ok()) return ReportError(status.error());
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
  if (!flags.bundle.empty()) return RunSignBundle(flags, **signer, *blob);
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
  std::string bundle;
  bool new_bundle_format = true;
  std::string blob;
  bool ignore_tlog = false;
};

int RunVerifyBundle(const VerifyFlags& flags, const crypto::Verifier& verifier) {
  auto bundle = cosign::LoadBundleFile(flags.bundle);
  if (!bundle.ok()) return ReportError(bundle.error());
  auto blob = ReadBlob(flags.blob);
  if (!blob.ok()) return ReportError(blob.error());
  const auto policy =
      flags.ignore_tlog ? cosign::TlogPolicy::kInsecureIgnore : cosign::TlogPolicy::kRequire;
  if (auto status = cosign::VerifyBlobBundle(*bundle, verifier, *blob, policy); !status.ok()) {
    return ReportError(status.error().WithContext("verifying " + flags.blob + " with bundle " +
                                                  flags.bundle + " and key " + flags.key));
  }
  std::cerr << "Verified OK\n";
  return kExitOk;
}

int RunVerify(const VerifyFlags& flags) {
  if (flags.signature.empty() == flags.bundle.empty()) {
    return ReportError(Error(ErrorCode::kInvalidArgument,
                             "pass exactly one of --signature (a base64 signature) and --bundle "
                             "(a Sigstore bundle)"));
  }
  if (!flags.bundle.empty() && !flags.new_bundle_format) {
    return ReportError(Error(ErrorCode::kUnsupported,
                             "--new-bundle-format=false with --bundle asks for cosign's legacy "
                             "bundle file, which signet does not read"));
  }
  // As cosign: the warning whenever the user asked to skip the log.
  if (flags.ignore_tlog) {
    std::cerr << "WARNING: Skipping tlog verification is an insecure practice that lacks "
                 "transparency and auditability verification for the blob.\n";
  }
  auto verifier = crypto::LoadPublicKeyFile(flags.key);
  if (!verifier.ok()) return ReportError(verifier.error());
  if (!flags.bundle.empty()) return RunVerifyBundle(flags, **verifier);
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
      "`cosign sign-blob --key`. With --bundle FILE, writes the Sigstore bundle v0.3 that cosign "
      "v3 writes (a message signature, no transparency log entry; mode 0600). Without it, "
      "prints the standard base64 signature (DER for ECDSA, with SHA-256/384/512 for "
      "P-256/384/521; RSA PKCS#1 v1.5 SHA-256; Ed25519) or writes it to --output-signature. "
      "The key password comes from COSIGN_PASSWORD, the terminal, or stdin. Nothing is "
      "uploaded to a transparency log: --tlog-upload=false and --use-signing-config=false are "
      "accepted for cosign command lines, true values are refused.");
  s->add_option("--key", sign->key, "The encrypted private key file")->required();
  s->add_option("--output-signature", sign->output_signature,
                "Write the base64 signature to this file instead of stdout");
  s->add_option("--bundle", sign->bundle,
                "Write a Sigstore bundle v0.3 (cosign v3's format) to this file");
  CLI::Option* new_format = s->add_flag(
      "--new-bundle-format", sign->new_bundle_format,
      "With --bundle, write the Sigstore bundle format (the default and the only bundle "
      "format signet writes); given as true without --bundle it is an error, as in cosign v3");
  s->add_flag("--tlog-upload", sign->tlog_upload,
              "Only false is accepted: signet never uploads to a transparency log")
      ->check(OnlyFalse("signet never uploads to a transparency log, so it cannot honour "
                        "--tlog-upload=true; pass --tlog-upload=false (the bundle then has no "
                        "tlogEntries and verifiers need --insecure-ignore-tlog=true)"));
  s->add_flag("--use-signing-config", sign->use_signing_config,
              "Only false is accepted: signet signs offline with --key")
      ->check(OnlyFalse("signet never fetches a signing config (it signs offline with --key and "
                        "no transparency log); pass --use-signing-config=false or omit it"));
  s->add_option("blob", sign->blob, "The file to sign, or - for stdin")->required();
  s->callback([sign, new_format, &action] {
    sign->new_bundle_format_given = new_format->count() > 0;
    action = [sign] { return RunSign(*sign); };
  });

  auto verify = std::make_shared<VerifyFlags>();
  CLI::App* v = app.add_subcommand(
      "verify-blob",
      "Verify a blob signature with a public key, like `cosign verify-blob --key`. The signature "
      "is either --signature FILE, standard base64 of an ASN.1 DER or raw r||s ECDSA signature, "
      "an RSA PKCS#1 v1.5 SHA-256 signature or an Ed25519 signature (surrounding whitespace is "
      "ignored), or --bundle FILE, a Sigstore bundle v0.3 as cosign v3 writes it (a message "
      "signature, or a DSSE in-toto statement naming the blob's digest). A bundle without "
      "transparency log entries needs --insecure-ignore-tlog=true, as in cosign; signet never "
      "verifies log entries. Prints \"Verified OK\" and exits 0, or prints the reason and exits "
      "non-zero.");
  v->add_option("--key", verify->key, "The public key (PEM PUBLIC KEY or RSA PUBLIC KEY)")
      ->required();
  v->add_option("--signature", verify->signature, "File holding the base64 signature");
  v->add_option("--bundle", verify->bundle, "File holding a Sigstore bundle v0.3");
  v->add_flag("--new-bundle-format", verify->new_bundle_format,
              "Read --bundle as a Sigstore bundle (the default; false is refused with --bundle)");
  AddInsecureIgnoreTlogFlag(*v, verify->ignore_tlog);
  v->add_option("blob", verify->blob, "The signed file, or - for stdin")->required();
  v->callback([verify, &action] { action = [verify] { return RunVerify(*verify); }; });
}

}  // namespace signet::cli
