#include "support/curl_registry.h"

#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/paths.h"
#include "support/process.h"
#include "support/registry_server.h"
#include "support/test_images.h"

namespace signet::testing {
namespace {

std::string Lower(const std::string& s) {
  std::string out;
  for (char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Error ReplyError(const HttpReply& r, const std::string& what) {
  const std::string msg = what + ": HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 300);
  if (r.status == 0) return Error(ErrorCode::kNetwork, what + ": no HTTP answer");
  if (r.status == 404) return Error(ErrorCode::kNotFound, msg);
  if (r.status == 401 || r.status == 403) return Error(ErrorCode::kAuth, msg);
  return Error(ErrorCode::kRegistry, msg);
}

std::string ManifestPath(const oci::Repository& repo, const std::string& ref) {
  return "/v2/" + repo.path + "/manifests/" + ref;
}

const std::vector<std::string> kAcceptManifests = {
    "-H", "Accept: " + std::string(oci::kOciManifestMediaType),
    "-H", "Accept: " + std::string(oci::kOciIndexMediaType),
    "-H", "Accept: " + std::string(oci::kDockerManifestMediaType),
    "-H", "Accept: " + std::string(oci::kDockerManifestListMediaType)};

bool IsDigest(const std::string& ref) { return ref.rfind("sha256:", 0) == 0; }

// curl's `--data-binary @FILE` argument. Built by appending, not as
// `"@" + std::string&&`: GCC 12 inlines that operator+ into insert(0, "@") and
// at -O3 raises a false -Wrestrict on it, which -Werror makes fatal.
std::string DataFromFile(const std::string& path) {
  std::string arg = "@";
  arg += path;
  return arg;
}

}  // namespace

std::string HttpReply::Header(const std::string& name) const {
  std::istringstream in(raw_headers);
  std::string line;
  const std::string want = Lower(name) + ":";
  while (std::getline(in, line)) {
    if (Lower(line.substr(0, want.size())) != want) continue;
    std::string value = line.substr(want.size());
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) value.pop_back();
    return value;
  }
  return "";
}

HttpReply CurlRegistry::Raw(const std::string& method, const std::string& path,
                            const std::vector<std::string>& extra) const {
  TempDir tmp;
  std::vector<std::string> argv = {
      "curl",           "-s", "-D",           tmp.File("headers"), "-o",
      tmp.File("body"), "-w", "%{http_code}", "--max-time",        "30"};
  if (method == "HEAD") {
    argv.push_back("--head");
  } else {
    argv.push_back("-X");
    argv.push_back(method);
  }
  if (!server_.ca_file().empty()) {
    argv.push_back("--cacert");
    argv.push_back(server_.ca_file());
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(path.rfind("http", 0) == 0 ? path : server_.url() + path);
  const CommandResult r = RunCommand(argv, {}, "", std::chrono::seconds(60));
  HttpReply reply;
  reply.status = std::atoi(r.out.c_str());
  reply.raw_headers = ReadFile(tmp.File("headers"));
  reply.headers = Lower(reply.raw_headers);
  reply.body = ReadFile(tmp.File("body"));
  return reply;
}

std::string CurlRegistry::FetchToken(const std::string& scope, bool with_credentials) const {
  std::vector<std::string> argv = {"curl",
                                   "-s",
                                   "--max-time",
                                   "30",
                                   "--cacert",
                                   server_.ca_file(),
                                   "-G",
                                   server_.token_realm(),
                                   "--data-urlencode",
                                   "service=signet-test-registry",
                                   "--data-urlencode",
                                   "scope=" + scope};
  if (with_credentials) {
    argv.push_back("-u");
    argv.push_back(server_.username() + ":" + server_.password());
  }
  const CommandResult r = RunCommand(argv);
  const auto doc = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("token") || !doc["token"].is_string()) return "";
  return doc["token"].get<std::string>();
}

HttpReply CurlRegistry::Authed(const oci::Repository& repo, const std::string& method,
                               const std::string& path, std::vector<std::string> extra) {
  switch (server_.mode()) {
    case RegistryServer::Mode::kPlainHttp:
      break;
    case RegistryServer::Mode::kTlsBasicAuth:
      extra.push_back("-u");
      extra.push_back(server_.username() + ":" + server_.password());
      break;
    case RegistryServer::Mode::kTokenAuth: {
      std::string& token = tokens_[repo.path];
      if (token.empty()) token = FetchToken("repository:" + repo.path + ":pull,push", true);
      extra.push_back("-H");
      extra.push_back("Authorization: Bearer " + token);
      break;
    }
  }
  return Raw(method, path, extra);
}

Result<oci::ManifestHead> CurlRegistry::HeadManifest(const oci::Repository& repo,
                                                     const std::string& tag_or_digest,
                                                     oci::Deadline /*deadline*/) {
  const HttpReply r = Authed(repo, "HEAD", ManifestPath(repo, tag_or_digest), kAcceptManifests);
  if (r.status != 200) return ReplyError(r, "HEAD manifest " + tag_or_digest);
  oci::ManifestHead head;
  head.media_type = r.Header("Content-Type");
  head.digest = r.Header("Docker-Content-Digest");
  head.size = std::strtoull(r.Header("Content-Length").c_str(), nullptr, 10);
  return head;
}

Result<oci::Manifest> CurlRegistry::GetManifest(const oci::Repository& repo,
                                                const std::string& tag_or_digest,
                                                std::uint64_t max_bytes,
                                                oci::Deadline /*deadline*/) {
  const HttpReply r = Authed(repo, "GET", ManifestPath(repo, tag_or_digest), kAcceptManifests);
  if (r.status != 200) return ReplyError(r, "GET manifest " + tag_or_digest);
  if (r.body.size() > max_bytes) return Error(ErrorCode::kTooLarge, "manifest over the cap");
  oci::Manifest m;
  m.bytes = r.body;
  m.digest = DigestOf(m.bytes);
  m.media_type = r.Header("Content-Type");
  if (IsDigest(tag_or_digest) && m.digest != tag_or_digest) {
    return Error(ErrorCode::kDigestMismatch,
                 "manifest " + tag_or_digest + " hashes to " + m.digest);
  }
  return m;
}

Result<std::string> CurlRegistry::GetBlob(const oci::Repository& repo, const std::string& digest,
                                          std::uint64_t max_bytes, oci::Deadline /*deadline*/) {
  const HttpReply r = Authed(repo, "GET", "/v2/" + repo.path + "/blobs/" + digest, {"-L"});
  if (r.status != 200) return ReplyError(r, "GET blob " + digest);
  if (r.body.size() > max_bytes) return Error(ErrorCode::kTooLarge, "blob over the cap");
  if (DigestOf(r.body) != digest) {
    return Error(ErrorCode::kDigestMismatch, "blob " + digest + " hashes to " + DigestOf(r.body));
  }
  return r.body;
}

Status CurlRegistry::PutBlob(const oci::Repository& repo, const std::string& digest,
                             const std::string& bytes, oci::Deadline /*deadline*/) {
  const std::string blobs = "/v2/" + repo.path + "/blobs/";
  if (Authed(repo, "HEAD", blobs + digest, {}).status == 200) return OkStatus();
  const HttpReply post = Authed(repo, "POST", blobs + "uploads/", {});
  if (post.status != 202) return ReplyError(post, "POST blob upload");
  std::string location = post.Header("Location");
  location += (location.find('?') == std::string::npos ? "?" : "&");
  location += "digest=" + digest;
  TempDir tmp;
  WriteFile(tmp.File("blob"), bytes);
  const HttpReply put = Authed(repo, "PUT", location,
                               {"-H", "Content-Type: application/octet-stream", "--data-binary",
                                DataFromFile(tmp.File("blob"))});
  if (put.status != 201) return ReplyError(put, "PUT blob " + digest);
  return OkStatus();
}

Result<std::string> CurlRegistry::PutManifest(const oci::Repository& repo,
                                              const std::string& tag_or_digest,
                                              const std::string& media_type,
                                              const std::string& bytes,
                                              oci::Deadline /*deadline*/) {
  TempDir tmp;
  WriteFile(tmp.File("manifest"), bytes);
  const HttpReply r = Authed(
      repo, "PUT", ManifestPath(repo, tag_or_digest),
      {"-H", "Content-Type: " + media_type, "--data-binary", DataFromFile(tmp.File("manifest"))});
  if (r.status != 201) return ReplyError(r, "PUT manifest " + tag_or_digest);
  const std::string digest = r.Header("Docker-Content-Digest");
  return digest.empty() ? DigestOf(bytes) : digest;
}

Result<std::vector<std::string>> CurlRegistry::ListTags(const oci::Repository& repo,
                                                        oci::Deadline /*deadline*/) {
  const HttpReply r = Authed(repo, "GET", "/v2/" + repo.path + "/tags/list", {});
  if (r.status != 200) return ReplyError(r, "GET tags");
  const auto doc = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  std::vector<std::string> tags;
  if (doc.is_object() && doc.contains("tags") && doc["tags"].is_array()) {
    for (const auto& t : doc["tags"]) {
      if (t.is_string()) tags.push_back(t.get<std::string>());
    }
  }
  return tags;
}

}  // namespace signet::testing
