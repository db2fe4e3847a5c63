// Glob patterns over normalised image repositories ("registry/path", as
// oci::Repository::Name() spells them). '*' matches within one path segment
// (no '/'), '**' matches any run of characters including '/', every other
// character matches itself. A pattern beginning with "docker.io/" is
// normalised to "index.docker.io/" like references are.
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

  bool Matches(std::string_view repository_name) const;
  const std::string& text() const { return text_; }

 private:
  explicit ImagePattern(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

}  // namespace signet::policy
