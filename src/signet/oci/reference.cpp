#include "signet/oci/reference.h"

#include <cctype>
#include <string>
#include <vector>

#include "signet/oci/host.h"

namespace signet::oci {
namespace {

constexpr std::string_view kDefaultTag = "latest";
constexpr std::size_t kMaxNameLength = 255;  // Docker's limit on registry + path
constexpr std::size_t kMaxTagLength = 128;

Error Invalid(std::string_view input, std::string_view why) {
  return Error(ErrorCode::kInvalidArgument,
               "invalid reference \"" + std::string(input) + "\": " + std::string(why));
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); }
bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '_';
}

// One path component: [a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*
bool IsValidPathComponent(std::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) return false;
  std::size_t i = 0;
  while (i < c.size()) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    // A separator run: ".", "_", "__" or any number of "-".
    std::size_t start = i;
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      ++i;
      if (i < c.size() && c[i] == '_') ++i;
    } else if (c[i] == '-') {
      while (i < c.size() && c[i] == '-') ++i;
    } else {
      return false;
    }
    if (i == start || i >= c.size() || !IsLowerAlnum(c[i])) return false;
  }
  return true;
}

bool IsValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagLength || !IsWordChar(tag.front())) return false;
  for (char c : tag) {
    if (!IsWordChar(c) && c != '.' && c != '-') return false;
  }
  return true;
}

bool IsValidPort(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  for (char c : port) {
    if (!IsDigit(c)) return false;
  }
  return std::stoi(std::string(port)) <= 65535;
}

// host[:port], where host is a DNS name, an IPv4 address or a bracketed IPv6
// literal.
bool IsValidRegistry(std::string_view registry) {
  std::string_view host = registry;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    std::size_t close = host.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (char c : host.substr(1, close - 1)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    }
    std::string_view rest = host.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    return IsValidPort(rest.substr(1));
  }
  if (std::size_t colon = host.find(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
    if (!IsValidPort(port)) return false;
  }
  if (host.empty()) return false;
  // Labels of letters, digits and inner hyphens, separated by single dots.
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      std::string_view label = host.substr(label_start, i - label_start);
      if (label.empty() || label.front() == '-' || label.back() == '-') return false;
      label_start = i + 1;
      continue;
    }
    char c = host[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

bool LooksLikeRegistry(std::string_view component) {
  return component.find('.') != std::string_view::npos ||
         component.find(':') != std::string_view::npos || component == "localhost";
}

// Why `digest` is not a valid sha256 digest, or "" when it is.
std::string DigestProblem(std::string_view digest) {
  std::size_t colon = digest.find(':');
  if (colon == std::string_view::npos)
    return "digest \"" + std::string(digest) + "\" has no algorithm";
  std::string_view algorithm = digest.substr(0, colon);
  std::string_view hex = digest.substr(colon + 1);
  if (algorithm != "sha256") {
    return "unsupported digest algorithm \"" + std::string(algorithm) + "\" (only sha256)";
  }
  if (hex.size() != 64) {
    return "sha256 digest must have 64 hex characters, got " + std::to_string(hex.size());
  }
  // The usual case first, without a branch per character.
  bool all_hex = true;
  for (char c : hex) all_hex &= IsHex(c);
  if (all_hex) return "";
  for (char c : hex) {
    if (c >= 'A' && c <= 'F') return "sha256 digest must be lowercase hex";
    if (!IsHex(c)) return "sha256 digest contains a non-hex character";
  }
  return "";
}

// Splits `name` (no tag, no digest) into a normalised Repository.
Result<Repository> ParseName(std::string_view input, std::string_view name) {
  if (name.empty()) return Invalid(input, "repository name is missing");
  Repository repo;
  std::string_view path = name;
  std::size_t slash = name.find('/');
  if (slash != std::string_view::npos && LooksLikeRegistry(name.substr(0, slash))) {
    std::string_view registry = name.substr(0, slash);
    if (!IsValidRegistry(registry)) {
      return Invalid(input, "invalid registry \"" + std::string(registry) + "\"");
    }
    repo.registry =
        registry == "docker.io" ? std::string(kDockerHubRegistry) : std::string(registry);
    path = name.substr(slash + 1);
    if (path.empty()) return Invalid(input, "repository name is missing after the registry");
  } else {
    repo.registry = std::string(kDockerHubRegistry);
  }
  if (path.back() == '/') return Invalid(input, "repository name ends with '/'");
  std::vector<std::string_view> components;
  std::size_t start = 0;
  while (true) {
    std::size_t end = path.find('/', start);
    std::string_view component =
        path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (component.empty()) return Invalid(input, "repository name has an empty path component");
    components.push_back(component);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  for (std::string_view component : components) {
    bool has_upper = false;
    for (char c : component) has_upper = has_upper || (c >= 'A' && c <= 'Z');
    if (has_upper) return Invalid(input, "repository name must be lowercase");
    if (!IsValidPathComponent(component)) {
      return Invalid(input, "invalid repository path component \"" + std::string(component) +
                                "\" (allowed: lowercase letters and digits separated by '.', "
                                "'_', '__' or '-')");
    }
  }
  repo.path = DockerHubPath(repo.registry, path);
  if (repo.registry.size() + 1 + repo.path.size() > kMaxNameLength) {
    return Invalid(input, "repository name is longer than 255 characters");
  }
  return repo;
}

Status CheckCharacters(std::string_view input) {
  if (input.empty()) return Invalid(input, "empty reference");
  for (char c : input) {
    unsigned char u = static_cast<unsigned char>(c);
    // std::isspace of the "C" locale (signet never sets another), inline: it
    // runs for every character of every key of every request.
    if (u == ' ' || (u >= '\t' && u <= '\r')) return Invalid(input, "contains whitespace");
    if (u < 0x21 || u >= 0x7f)
      return Invalid(input, "contains a non-printable or non-ASCII character");
  }
  return OkStatus();
}

}  // namespace

bool IsValidSha256Digest(std::string_view digest) { return DigestProblem(digest).empty(); }

Result<Repository> Repository::Parse(std::string_view input) {
  if (Status s = CheckCharacters(input); !s.ok()) return s.error();
  if (input.find('@') != std::string_view::npos) {
    return Invalid(input, "a repository must not carry a digest");
  }
  std::size_t last_slash = input.rfind('/');
  std::size_t colon = input.find(':', last_slash == std::string_view::npos ? 0 : last_slash);
  if (colon != std::string_view::npos) return Invalid(input, "a repository must not carry a tag");
  return ParseName(input, input);
}

Result<ImageReference> ImageReference::Parse(std::string_view input) {
  if (Status s = CheckCharacters(input); !s.ok()) return s.error();
  std::string_view rest = input;
  ImageReference ref;
  if (std::size_t at = rest.find('@'); at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    if (digest.empty()) return Invalid(input, "digest is missing after '@'");
    if (std::string problem = DigestProblem(digest); !problem.empty()) {
      return Invalid(input, problem);
    }
    ref.digest_ = std::string(digest);
    rest = rest.substr(0, at);
  }
  std::size_t last_slash = rest.rfind('/');
  std::size_t colon = rest.find(':', last_slash == std::string_view::npos ? 0 : last_slash);
  if (colon != std::string_view::npos) {
    std::string_view tag = rest.substr(colon + 1);
    if (tag.empty()) return Invalid(input, "tag is missing after ':'");
    if (tag.size() > kMaxTagLength) {
      return Invalid(input, "tag is longer than 128 characters");
    }
    if (!IsValidTag(tag)) {
      return Invalid(input, "invalid tag \"" + std::string(tag) +
                                "\" (allowed: letters, digits, '_', '.', '-'; not starting "
                                "with '.' or '-')");
    }
    ref.tag_ = std::string(tag);
    rest = rest.substr(0, colon);
  }
  Result<Repository> repo = ParseName(input, rest);
  if (!repo.ok()) return repo.error();
  ref.repository_ = std::move(repo).value();
  if (ref.tag_.empty() && ref.digest_.empty()) ref.tag_ = std::string(kDefaultTag);
  return ref;
}

Result<std::string> Repository::CanonicalName() const {
  auto host = CanonicalRegistry(registry);
  if (!host.ok()) return host.error();
  return *host + "/" + DockerHubPath(*host, path);
}

std::string ImageReference::Name() const {
  if (!digest_.empty()) return repository_.Name() + "@" + digest_;
  return repository_.Name() + ":" + tag_;
}

std::string ImageReference::WithDigest(std::string_view digest) const {
  return repository_.Name() + "@" + std::string(digest);
}

Result<ImageReference> ImageReference::Pinned(std::string_view digest) const {
  if (std::string problem = DigestProblem(digest); !problem.empty()) {
    return Invalid(WithDigest(digest), problem);
  }
  ImageReference pinned;
  pinned.repository_ = repository_;
  pinned.digest_ = std::string(digest);
  return pinned;
}

}  // namespace signet::oci
