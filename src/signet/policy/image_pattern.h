// Glob patterns over canonical image repositories ("registry/path", as
// oci::Repository::CanonicalName() spells them). '*' matches within one path
// segment (no '/'), '**' matches any run of characters including '/', every
// other character matches itself.
//
// Parse() canonicalises the pattern's registry like references are
// canonicalised (oci/host.h), so one host matches however it is spelled:
// - a registry without wildcards goes through oci::CanonicalRegistry():
//   lowercase, default ports dropped, Docker Hub aliases to
//   "index.docker.io" (and "library/" added to a one-component Docker Hub
//   path); a non-canonical numeric host ("127.1") is refused;
// - a registry with wildcards ("*.example.com") is lowercased and loses a
//   ":443"/":80" suffix.
// A pattern naming a tag ("registry/repo:1.0") or a digest ("repo@sha256:...")
// is refused: patterns match repositories, never tags or digests, so such a
// pattern would silently match nothing.
//
// Immutable after Parse(); safe to share between threads.
#pragma once

#include <string>
#include <string_view>

#include "signet/result.h"

namespace signet::policy {

class ImagePattern {
 public:
  static Result<ImagePattern> Parse(std::string_view glob);

  // `canonical_repository` as oci::Repository::CanonicalName() returns it.
  bool Matches(std::string_view canonical_repository) const;
  // The canonicalised pattern.
  const std::string& text() const { return text_; }

 private:
  explicit ImagePattern(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

}  // namespace signet::policy
