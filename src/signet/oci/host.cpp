#include "signet/oci/host.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <optional>

namespace signet::oci {
namespace {

constexpr std::array<std::string_view, 4> kDockerHubAliases = {
    "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

struct Authority {
  std::string_view host;  // without brackets for IPv6
  std::string_view port;  // "" when absent
  bool bracketed = false;
};

// Splits "host[:port]" or "[v6][:port]"; nullopt when malformed.
std::optional<Authority> SplitAuthority(std::string_view authority) {
  Authority out;
  std::string_view rest;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = authority.substr(1, close - 1);
    out.bracketed = true;
    rest = authority.substr(close + 1);
  } else {
    const std::size_t colon = authority.find(':');
    out.host = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
  }
  if (out.host.empty()) return std::nullopt;
  if (!rest.empty()) {
    if (rest.front() != ':') return std::nullopt;
    out.port = rest.substr(1);
    if (out.port.empty() || out.port.size() > 5) return std::nullopt;
    for (char c : out.port) {
      if (!IsDigit(c)) return std::nullopt;
    }
  }
  return out;
}

// The value of a canonical dotted-quad IPv4 address: exactly four decimal
// numbers of 0-255 without leading zeros.
std::optional<std::array<unsigned, 4>> CanonicalIPv4(std::string_view host) {
  std::array<unsigned, 4> parts{};
  std::size_t part = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= host.size(); ++i) {
    if (i < host.size() && host[i] != '.') {
      if (!IsDigit(host[i])) return std::nullopt;
      continue;
    }
    const std::string_view number = host.substr(start, i - start);
    if (part == 4 || number.empty() || number.size() > 3) return std::nullopt;
    if (number.size() > 1 && number.front() == '0') return std::nullopt;
    unsigned value = 0;
    for (char c : number) value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > 255) return std::nullopt;
    parts[part++] = value;
    start = i + 1;
  }
  if (part != 4) return std::nullopt;
  return parts;
}

// True when `host` is something the resolver may read as an IPv4 number:
// inet_aton accepts it, or its last label is numeric ("1.2.3.999", "0x7f").
bool LooksNumeric(const std::string& host) {
  in_addr addr{};
  if (::inet_aton(host.c_str(), &addr) != 0) return true;
  const std::size_t dot = host.rfind('.');
  const std::string_view last =
      dot == std::string::npos ? std::string_view(host) : std::string_view(host).substr(dot + 1);
  if (last.empty()) return false;
  if (last.size() > 2 && last[0] == '0' && last[1] == 'x') return true;
  for (char c : last) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

Error Refused(std::string_view authority, std::string_view why) {
  return Error(ErrorCode::kInvalidArgument,
               "registry host \"" + std::string(authority) + "\" " + std::string(why));
}

}  // namespace

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Result<std::string> CanonicalRegistry(std::string_view authority) {
  const auto parts = SplitAuthority(authority);
  if (!parts) return Refused(authority, "is not a valid host[:port]");
  std::string port;
  if (!parts->port.empty()) {
    const unsigned value = static_cast<unsigned>(std::stoul(std::string(parts->port)));
    if (value == 0 || value > 65535) return Refused(authority, "has an invalid port");
    if (value != 443 && value != 80) port.append(":").append(std::to_string(value));
  }
  std::string host = AsciiLower(parts->host);
  if (parts->bracketed) {
    in6_addr addr{};
    if (::inet_pton(AF_INET6, host.c_str(), &addr) != 1) {
      return Refused(authority, "is not a valid IPv6 literal");
    }
    if (IN6_IS_ADDR_V4MAPPED(&addr) || IN6_IS_ADDR_V4COMPAT(&addr)) {
      return Refused(authority, "is an IPv4 address inside IPv6; write the IPv4 address itself");
    }
    char text[INET6_ADDRSTRLEN] = {};
    if (::inet_ntop(AF_INET6, &addr, text, sizeof(text)) == nullptr) {
      return Refused(authority, "is not a valid IPv6 literal");
    }
    return "[" + std::string(text) + "]" + port;
  }
  if (LooksNumeric(host) && !CanonicalIPv4(host)) {
    return Refused(authority,
                   "is a non-canonical numeric address; write IPv4 addresses as four decimal "
                   "numbers without leading zeros (e.g. 127.0.0.1)");
  }
  if (port.empty()) {
    for (std::string_view alias : kDockerHubAliases) {
      if (host == alias) return std::string(kDockerHubRegistry);
    }
  }
  return host + port;
}

bool IsLoopbackHost(std::string_view authority) {
  const auto parts = SplitAuthority(authority);
  if (!parts) return false;
  const std::string host = AsciiLower(parts->host);
  if (parts->bracketed) {
    in6_addr addr{};
    return ::inet_pton(AF_INET6, host.c_str(), &addr) == 1 && IN6_IS_ADDR_LOOPBACK(&addr);
  }
  if (host == "localhost") return true;
  const auto ipv4 = CanonicalIPv4(host);
  return ipv4 && (*ipv4)[0] == 127;
}

std::string DockerHubPath(std::string_view registry, std::string_view path) {
  if (registry == kDockerHubRegistry && path.find('/') == std::string_view::npos) {
    return "library/" + std::string(path);
  }
  return std::string(path);
}

}  // namespace signet::oci
