#include "signet/policy/image_pattern.h"

#include "signet/oci/host.h"

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

Error Refused(std::string_view glob, std::string_view why) {
  return Error(ErrorCode::kInvalidArgument,
               "image pattern \"" + std::string(glob) + "\": " + std::string(why));
}

bool LooksLikeRegistry(std::string_view segment) {
  if (segment.find('.') != std::string_view::npos || segment.find(':') != std::string_view::npos) {
    return true;
  }
  return oci::AsciiLower(segment) == "localhost";
}

// The pattern with its registry canonicalised (see the header).
Result<std::string> CanonicalPattern(std::string_view glob) {
  if (glob.find('@') != std::string_view::npos) {
    return Refused(glob,
                   "names a digest; patterns match \"registry/repository\" only, so it would "
                   "never match (drop \"@...\")");
  }
  const std::size_t first_slash = glob.find('/');
  const std::size_t last_slash = glob.rfind('/');
  const std::string_view last_segment =
      last_slash == std::string_view::npos ? glob : glob.substr(last_slash + 1);
  if (last_segment.find(':') != std::string_view::npos) {
    return Refused(glob,
                   "names a tag; patterns match \"registry/repository\" only, so it would "
                   "never match (drop \":<tag>\")");
  }
  if (first_slash == std::string_view::npos) return std::string(glob);
  const std::string_view registry = glob.substr(0, first_slash);
  std::string path(glob.substr(first_slash + 1));
  if (!LooksLikeRegistry(registry)) return std::string(glob);
  if (registry.find('*') != std::string_view::npos) {
    std::string host = oci::AsciiLower(registry);
    for (std::string_view port : {":443", ":80"}) {
      if (host.size() > port.size() && host.ends_with(port)) host.resize(host.size() - port.size());
    }
    return host + "/" + path;
  }
  auto host = oci::CanonicalRegistry(registry);
  if (!host.ok()) return Refused(glob, host.error().message());
  // A wildcard path ("nginx*") stays as written: it is no one-component name.
  if (path.find('*') == std::string::npos) path = oci::DockerHubPath(*host, path);
  return *host + "/" + path;
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
  // A bracketed IPv6 registry ("[::1]:5000/...") is a host, not a wildcard.
  const std::size_t ipv6_end = glob.starts_with('[') ? glob.find(']') : std::string_view::npos;
  const std::string_view rest =
      ipv6_end == std::string_view::npos ? glob : glob.substr(ipv6_end + 1);
  for (char c : rest) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '?' || c == '[') {
      return Error(ErrorCode::kInvalidArgument,
                   "image pattern \"" + std::string(glob) + "\": only '*' and '**' are wildcards");
    }
  }
  auto text = CanonicalPattern(glob);
  if (!text.ok()) return text.error();
  return ImagePattern(std::move(text).value());
}

bool ImagePattern::Matches(std::string_view canonical_repository) const {
  return GlobMatch(text_, canonical_repository);
}

}  // namespace signet::policy
