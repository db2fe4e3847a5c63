// Blob signing and verification with Sigstore bundles, as cosign v3
// `sign-blob --key K --bundle FILE` and `verify-blob --key K --bundle FILE`
// do them without a transparency log.
//
// SignBlobBundle builds the message-signature bundle cosign v3.1.2 writes:
// the key signs the blob itself (ECDSA P-256/SHA-256, P-384/SHA-384,
// P-521/SHA-512, RSA PKCS#1 v1.5/SHA-256, ASN.1 DER for ECDSA), and
// messageSignature.messageDigest holds the blob's digest under the key's hash
// (SHA2_256 / SHA2_384 / SHA2_512). Ed25519 keys are refused (kUnsupported):
// cosign signs those without a digest, a form signet does not write yet.
//
// VerifyBlobBundle checks a parsed bundle over a blob with a public key
// (the bundle's key hint is ignored, as cosign ignores it):
//   - messageSignature: the digest under messageDigest.algorithm equals the
//     blob's, and the signature verifies over the blob;
//   - dsseEnvelope (what `cosign attest-blob` writes): the DSSE signature
//     verifies over the PAE, the payload is an in-toto Statement, and some
//     subject's sha256 / sha384 / sha512 digest equals the blob's;
//   - then CheckTlogPolicy.
// Every failure is an error saying which check failed; nothing passes
// unverified.
//
// LoadBundleFile / WriteBundleFile are the file ends of `--bundle FILE`: the
// file is read up to kMaxBundleBytes (a larger one is kTooLarge before any
// parsing) and written 0600, replacing an existing file, as cosign does.
//
// Stateless; thread-safe when the Signer/Verifier are (signet's are).
#pragma once

#include <string>
#include <string_view>

#include "signet/cosign/bundle.h"
#include "signet/crypto/signer.h"
#include "signet/result.h"

namespace signet::cosign {

// The bundle JSON bytes for `blob`.
Result<std::string> SignBlobBundle(const crypto::Signer& signer, std::string_view blob);

// kVerificationFailed (or kDigestMismatch for a blob that is not the one the
// bundle names) with the reason, or OK.
Status VerifyBlobBundle(const Bundle& bundle, const crypto::Verifier& verifier,
                        std::string_view blob, TlogPolicy tlog_policy);

// Reads and parses a bundle file; errors are prefixed with the path.
Result<Bundle> LoadBundleFile(const std::string& path);

// Writes bundle bytes to `path` with mode 0600.
Status WriteBundleFile(const std::string& path, std::string_view bundle_json);

}  // namespace signet::cosign
