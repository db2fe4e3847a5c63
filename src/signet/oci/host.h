// Registry hosts, compared the way they are reached rather than the way they
// are spelled.
//
// CanonicalRegistry() turns a registry authority ("host[:port]") into the one
// spelling used wherever hosts are compared (policy matching):
// - the host is lowercased;
// - a port of 443 or 80 (the HTTPS and HTTP defaults) is dropped, and other
//   ports lose leading zeros ("localhost:05000" -> "localhost:5000");
// - the Docker Hub aliases (docker.io, index.docker.io, registry-1.docker.io,
//   registry.hub.docker.com, in any case) become "index.docker.io";
// - an IPv6 literal is written in its RFC 5952 form ("[0:0::1]" -> "[::1]");
//   IPv4-mapped and IPv4-compatible IPv6 literals are refused;
// - an IPv4 address must be written as four decimal numbers without leading
//   zeros ("127.0.0.1"). Every other numeric spelling the resolver accepts
//   ("127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1", "127.000.000.001"),
//   and any host whose last label is numeric but is not such an address, is
//   refused (kInvalidArgument), never rewritten.
// It does not validate DNS names beyond that; oci::ImageReference does.
//
// IsLoopbackHost() is true only for "localhost" (any case), a canonical
// dotted-quad address in 127.0.0.0/8 and the IPv6 loopback "[::1]", each with
// or without a ":port". "127.evil.example" is a DNS name, not loopback.
//
// Pure functions without state; safe to call from any thread.
#pragma once

#include <string>
#include <string_view>

#include "signet/result.h"

namespace signet::oci {

// Docker Hub's registry as references normalise it.
inline constexpr std::string_view kDockerHubRegistry = "index.docker.io";

Result<std::string> CanonicalRegistry(std::string_view authority);

// A repository path as Docker Hub names it: "library/<path>" when `registry`
// is kDockerHubRegistry and `path` has one component ("nginx"), else `path`.
std::string DockerHubPath(std::string_view registry, std::string_view path);

// `text` with ASCII letters lowercased (host names compare without case).
std::string AsciiLower(std::string_view text);

bool IsLoopbackHost(std::string_view authority);

}  // namespace signet::oci
