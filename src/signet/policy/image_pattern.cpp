#include "signet/policy/image_pattern.h"

namespace signet::policy {

namespace {

// Iterative glob match with backtracking for '*' (segment) and '**' (any).
bool GlobMatch(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return text.empty();
  if (pattern.substr(0, 2) == "**") {
    const std::string_view rest = pattern.substr(2);
    for (std::size_t i = 0; i <= text.size(); ++i) {
      if (GlobMatch(rest, text.substr(i))) return true;
    }
    return false;
  }
  if (pattern[0] == '*') {
    const std::string_view rest = pattern.substr(1);
    for (std::size_t i = 0; i <= text.size(); ++i) {
      if (GlobMatch(rest, text.substr(i))) return true;
      if (i < text.size() && text[i] == '/') return false;
    }
    return false;
  }
  if (text.empty() || pattern[0] != text[0]) return false;
  return GlobMatch(pattern.substr(1), text.substr(1));
}

}  // namespace

Result<ImagePattern> ImagePattern::Parse(std::string_view glob) {
  if (glob.empty()) {
    return Error(ErrorCode::kInvalidArgument, "empty image pattern");
  }
  if (glob.find("***") != std::string_view::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 "image pattern \"" + std::string(glob) + "\": use '*' or '**', not '***'");
  }
  for (char c : glob) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '?' || c == '[') {
      return Error(ErrorCode::kInvalidArgument,
                   "image pattern \"" + std::string(glob) + "\": only '*' and '**' are wildcards");
    }
  }
  std::string text(glob);
  if (text.rfind("docker.io/", 0) == 0) text = "index." + text;
  return ImagePattern(std::move(text));
}

bool ImagePattern::Matches(std::string_view repository_name) const {
  return GlobMatch(text_, repository_name);
}

}  // namespace signet::policy
