#include "signet/oci/registry_client.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "signet/bounded_json.h"
#include "signet/crypto/encoding.h"
#include "signet/oci/manifest.h"

namespace signet::oci {
namespace {

constexpr std::size_t kMaxTagPages = 100;
constexpr std::size_t kMaxTags = 100000;
constexpr std::uint64_t kMaxTagListBytes = 4 * 1024 * 1024;

const std::string kManifestAccept =
    std::string(kOciManifestMediaType) + ", " + std::string(kOciIndexMediaType) + ", " +
    std::string(kDockerManifestMediaType) + ", " + std::string(kDockerManifestListMediaType);

std::string Trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::string MediaTypeOf(const std::string& content_type) {
  return Trimmed(std::string_view(content_type).substr(0, content_type.find(';')));
}

// Maps a non-success status of a registry call to an Error that carries the
// status (Error::http_status).
Error StatusError(const std::string& what, const HttpResponse& response) {
  const int status = static_cast<int>(response.status);
  std::string where = what + ": HTTP " + std::to_string(status);
  std::string snippet = ErrorSnippet(response.body);
  if (!snippet.empty()) where += ": " + snippet;
  switch (status) {
    case 401:
    case 403:
      return Error(ErrorCode::kAuth,
                   what + ": the registry refused access (HTTP " + std::to_string(status) +
                       "); check the registry credentials",
                   status);
    case 404:
      return Error(ErrorCode::kNotFound, where, status);
    case 429:
      where += ": the registry is throttling requests";
      if (!response.not_retried.empty()) where += " (" + response.not_retried + ")";
      return Error(ErrorCode::kRegistry, where, status);
    default:
      return Error(ErrorCode::kRegistry, where, status);
  }
}

std::string RefPath(const Repository& repo, const std::string& kind, const std::string& ref) {
  return "/v2/" + repo.path + "/" + kind + "/" + ref;
}

Status CheckRef(const std::string& ref) {
  if (ref.empty()) return Error(ErrorCode::kInvalidArgument, "empty tag or digest");
  if (ref.find(':') != std::string::npos) {
    if (!IsValidSha256Digest(ref)) {
      return Error(ErrorCode::kInvalidArgument, "invalid digest \"" + ref + "\"");
    }
    return OkStatus();
  }
  auto parsed = ImageReference::Parse("x:" + ref);
  if (!parsed.ok()) return Error(ErrorCode::kInvalidArgument, "invalid tag \"" + ref + "\"");
  return OkStatus();
}

// Whether `body` is a distribution-spec error body whose errors include
// NAME_UNKNOWN: the registry routed the request and does not hold the
// repository, which says nothing about its referrers API.
bool NamesUnknownRepository(const std::string& body) {
  auto parsed = ParseBoundedJson(body, "error body");
  if (!parsed.ok() || !parsed->is_object()) return false;
  const auto errors = parsed->find("errors");
  if (errors == parsed->end() || !errors->is_array()) return false;
  for (const auto& error : *errors) {
    if (!error.is_object()) continue;
    const auto code = error.find("code");
    if (code != error.end() && code->is_string() && code->get<std::string>() == "NAME_UNKNOWN") {
      return true;
    }
  }
  return false;
}

Status CheckSubjectDigest(const std::string& digest) {
  if (IsValidSha256Digest(digest)) return OkStatus();
  return Error(ErrorCode::kInvalidArgument, "invalid subject digest \"" + digest + "\"");
}

// At most this many pages of one referrers list are read (ListReferrers).
constexpr std::size_t kMaxReferrersPages = 16;

// The target of the rel="next" link in an RFC 8288 Link header ("" when it
// has none): `<target>; rel="next"`, links separated by commas, rel values
// separated by spaces, compared case-insensitively.
std::string NextLinkTarget(std::string_view header) {
  while (true) {
    const std::size_t open = header.find('<');
    if (open == std::string_view::npos) return "";
    const std::size_t close = header.find('>', open + 1);
    if (close == std::string_view::npos) return "";
    const std::string_view target = header.substr(open + 1, close - open - 1);
    header.remove_prefix(close + 1);
    // This link's parameters run to the next comma (a comma inside a quoted
    // parameter value would be unusual; it only ends the search early).
    const std::size_t comma = header.find(',');
    std::string params(header.substr(0, comma));
    std::transform(params.begin(), params.end(), params.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::size_t at = 0;
    while ((at = params.find("rel", at)) != std::string::npos) {
      std::size_t i = at + 3;
      at = i;
      while (i < params.size() && params[i] == ' ') ++i;
      if (i >= params.size() || params[i] != '=') continue;
      ++i;
      while (i < params.size() && params[i] == ' ') ++i;
      std::string value;
      if (i < params.size() && params[i] == '"') {
        const std::size_t end = params.find('"', i + 1);
        value = params.substr(i + 1, end == std::string::npos ? std::string::npos : end - i - 1);
      } else {
        const std::size_t end = params.find_first_of(" ;", i);
        value = params.substr(i, end == std::string::npos ? std::string::npos : end - i);
      }
      for (std::size_t word = 0; word < value.size();) {
        std::size_t space = value.find(' ', word);
        if (space == std::string::npos) space = value.size();
        if (value.compare(word, space - word, "next") == 0) return std::string(target);
        word = space + 1;
      }
    }
    if (comma == std::string_view::npos) return "";
    header.remove_prefix(comma + 1);
  }
}

// The path and query of the next page of a referrers list `response` is a
// page of ("" when it is the last). The Link comes from the registry and is
// treated as hostile: it must stay on the scheme and host the page came
// from and name the same list (`list_path`, only the query may differ), so
// that the request (and any credentials) goes nowhere else.
Result<std::string> NextReferrersPage(const std::string& what, const HttpResponse& response,
                                      const Repository& repo, const std::string& list_path) {
  const std::string target = NextLinkTarget(response.Header("link"));
  if (target.empty()) return std::string();
  auto resolved = ResolveUrl(response.url, target);
  if (!resolved.ok()) return resolved.error().WithContext(what + ": pagination link");
  std::string url = resolved->substr(0, resolved->find('#'));
  if (UrlScheme(url) != UrlScheme(response.url) ||
      UrlAuthority(url) != UrlAuthority(response.url)) {
    return Error(ErrorCode::kRegistry,
                 what + ": refused the pagination link to another host or scheme: " + url);
  }
  const std::string base = UrlScheme(url) + "://" + repo.registry;
  if (url.rfind(base, 0) != 0) {
    return Error(ErrorCode::kRegistry, what + ": unusable pagination link " + url);
  }
  std::string path_and_query = url.substr(base.size());
  if (path_and_query.substr(0, path_and_query.find('?')) != list_path) {
    return Error(ErrorCode::kRegistry,
                 what + ": refused the pagination link to another path: " + path_and_query);
  }
  return path_and_query;
}

}  // namespace

RegistryClient::RegistryClient(RegistryClientOptions options)
    : transport_(static_cast<const TransportOptions&>(options)),
      auth_(transport_, static_cast<const AuthOptions&>(options)),
      admission_(options.admission),
      no_referrers_api_(options.no_referrers_api),
      on_referrers_call_skipped_(std::move(options.on_referrers_call_skipped)) {}
RegistryClient::~RegistryClient() = default;

RegistryClientCacheSizes RegistryClient::CacheSizes() const { return auth_.CacheSizes(); }

// Identical manifest requests in flight share one exchange: same method,
// registry, repository (and so credentials scope: one client holds one
// keychain), reference, Accept and size cap.
std::string RegistryClient::FlightKey(const std::string& method, const Repository& repo,
                                      const std::string& ref, std::uint64_t max_bytes) {
  return method + "\n" + repo.registry + "\n" + repo.path + "\n" + ref + "\n" + kManifestAccept +
         "\n" + std::to_string(max_bytes);
}

std::function<void()> RegistryClient::OnJoin(const Repository& repo) {
  if (!admission_) return {};
  return [this, &repo] { admission_->Coalesced(UrlAuthority("https://" + repo.registry + "/")); };
}

Result<Manifest> RegistryClient::GetManifest(const Repository& repo, const std::string& ref,
                                             std::uint64_t max_bytes, Deadline deadline) {
  return manifest_flights_.Do(
      FlightKey("GET", repo, ref, max_bytes), deadline,
      [&] { return FetchManifest(repo, ref, max_bytes, deadline); }, nullptr, OnJoin(repo));
}

Result<ManifestHead> RegistryClient::HeadManifest(const Repository& repo, const std::string& ref,
                                                  Deadline deadline) {
  return head_flights_.Do(
      FlightKey("HEAD", repo, ref, kDefaultMaxManifestBytes), deadline,
      [&] { return FetchManifestHead(repo, ref, deadline); }, nullptr, OnJoin(repo));
}

Result<Manifest> RegistryClient::FetchManifest(const Repository& repo, const std::string& ref,
                                               std::uint64_t max_bytes, Deadline deadline) {
  if (Status s = CheckRef(ref); !s.ok()) return s.error();
  std::string what = "GET manifest " + repo.Name() + (IsValidSha256Digest(ref) ? "@" : ":") + ref;
  RegistryRequest request;
  request.path_and_query = RefPath(repo, "manifests", ref);
  request.headers.push_back("Accept: " + kManifestAccept);
  request.max_body = max_bytes;
  auto response = auth_.Call(repo, request, deadline);
  if (!response.ok()) return response.error().WithContext(what);
  if (response->status != 200) return StatusError(what, *response);
  Manifest manifest;
  manifest.bytes = std::move(response->body);
  manifest.digest = crypto::Sha256Digest(manifest.bytes);
  std::string expected = IsValidSha256Digest(ref) ? ref : response->Header("docker-content-digest");
  if (!expected.empty() && expected != manifest.digest) {
    return Error(ErrorCode::kDigestMismatch, what + ": content has digest " + manifest.digest +
                                                 " but " + expected + " was expected");
  }
  manifest.media_type = MediaTypeOf(response->Header("content-type"));
  if (!IsImageManifestMediaType(manifest.media_type) && !IsIndexMediaType(manifest.media_type)) {
    try {
      auto parsed = ParseBoundedJson(manifest.bytes, what);
      if (!parsed.ok()) return parsed.error();
      auto& doc = *parsed;
      if (doc.is_object() && doc.contains("mediaType") && doc["mediaType"].is_string()) {
        manifest.media_type = doc["mediaType"].get<std::string>();
      }
    } catch (const nlohmann::json::exception&) {
      return Error(ErrorCode::kParse, what + ": the manifest is not JSON");
    }
  }
  return manifest;
}

Result<ManifestHead> RegistryClient::FetchManifestHead(const Repository& repo,
                                                       const std::string& ref, Deadline deadline) {
  if (Status s = CheckRef(ref); !s.ok()) return s.error();
  std::string what = "HEAD manifest " + repo.Name() + (IsValidSha256Digest(ref) ? "@" : ":") + ref;
  RegistryRequest request;
  request.method = "HEAD";
  request.path_and_query = RefPath(repo, "manifests", ref);
  request.headers.push_back("Accept: " + kManifestAccept);
  auto response = auth_.Call(repo, request, deadline);
  if (!response.ok()) return response.error().WithContext(what);
  if (response->status != 200) return StatusError(what, *response);
  ManifestHead head;
  head.digest = response->Header("docker-content-digest");
  head.media_type = MediaTypeOf(response->Header("content-type"));
  std::string length = response->Header("content-length");
  if (head.digest.empty() || length.empty() || !IsValidSha256Digest(head.digest)) {
    // Not every registry sends the digest on HEAD: fall back to GET.
    auto manifest = GetManifest(repo, ref, kDefaultMaxManifestBytes, deadline);
    if (!manifest.ok()) return manifest.error();
    return ManifestHead{manifest->media_type, manifest->digest, manifest->bytes.size()};
  }
  if (IsValidSha256Digest(ref) && head.digest != ref) {
    return Error(ErrorCode::kDigestMismatch,
                 what + ": registry reports digest " + head.digest + " for " + ref);
  }
  head.size = std::strtoull(length.c_str(), nullptr, 10);
  return head;
}

Result<std::string> RegistryClient::GetBlob(const Repository& repo, const std::string& digest,
                                            std::uint64_t max_bytes, Deadline deadline) {
  if (!IsValidSha256Digest(digest)) {
    return Error(ErrorCode::kInvalidArgument, "invalid blob digest \"" + digest + "\"");
  }
  std::string what = "GET blob " + repo.Name() + "@" + digest;
  RegistryRequest request;
  request.path_and_query = RefPath(repo, "blobs", digest);
  request.max_body = max_bytes;
  auto response = auth_.Call(repo, request, deadline);
  if (!response.ok()) return response.error().WithContext(what);
  if (response->status != 200) return StatusError(what, *response);
  std::string actual = crypto::Sha256Digest(response->body);
  if (actual != digest) {
    return Error(ErrorCode::kDigestMismatch,
                 what + ": content has digest " + actual + " but " + digest + " was expected");
  }
  return std::move(response->body);
}

Status RegistryClient::PutBlob(const Repository& repo, const std::string& digest,
                               const std::string& bytes, Deadline deadline) {
  if (!IsValidSha256Digest(digest)) {
    return Error(ErrorCode::kInvalidArgument, "invalid blob digest \"" + digest + "\"");
  }
  if (crypto::Sha256Digest(bytes) != digest) {
    return Error(ErrorCode::kInvalidArgument, "PutBlob: the bytes do not hash to " + digest +
                                                  " (they hash to " + crypto::Sha256Digest(bytes) +
                                                  ")");
  }
  std::string what = "upload blob " + repo.Name() + "@" + digest;
  RegistryRequest head;
  head.method = "HEAD";
  head.path_and_query = RefPath(repo, "blobs", digest);
  head.access = Access::kPush;
  auto exists = auth_.Call(repo, head, deadline);
  if (!exists.ok()) return exists.error().WithContext(what);
  if (exists->status == 200) return OkStatus();
  if (exists->status != 404) return StatusError(what + " (HEAD)", *exists);

  RegistryRequest start;
  start.method = "POST";
  start.path_and_query = "/v2/" + repo.path + "/blobs/uploads/";
  start.retry = Retry::kNever;
  start.access = Access::kPush;
  start.redirects = Redirects::kReturn;
  auto started = auth_.Call(repo, start, deadline);
  if (!started.ok()) return started.error().WithContext(what);
  if (started->status != 202) return StatusError(what + " (POST)", *started);
  std::string location = started->Header("location");
  if (location.empty()) {
    return Error(ErrorCode::kRegistry, what + ": the registry sent no upload Location");
  }
  auto upload_url = ResolveUrl(started->url, location);
  if (!upload_url.ok()) return upload_url.error().WithContext(what);
  std::string registry_base = UrlScheme(started->url) + "://" + repo.registry;
  if (UrlAuthority(*upload_url) != UrlAuthority(started->url)) {
    return Error(ErrorCode::kRegistry,
                 what + ": the registry wants the upload on another host: " + *upload_url);
  }
  if (upload_url->rfind(registry_base, 0) != 0) {
    return Error(ErrorCode::kRegistry, what + ": unusable upload Location " + *upload_url);
  }
  std::string path_and_query = upload_url->substr(registry_base.size());
  RegistryRequest put;
  put.method = "PUT";
  put.path_and_query = path_and_query +
                       (path_and_query.find('?') == std::string::npos ? "?" : "&") +
                       "digest=" + PercentEncode(digest);
  put.body = &bytes;
  put.retry = Retry::kNever;
  put.access = Access::kPush;
  put.redirects = Redirects::kReturn;
  put.headers.push_back("Content-Type: application/octet-stream");
  auto finished = auth_.Call(repo, put, deadline);
  if (!finished.ok()) return finished.error().WithContext(what);
  if (finished->status != 201 && finished->status != 204) {
    return StatusError(what + " (PUT)", *finished);
  }
  return OkStatus();
}

Result<std::string> RegistryClient::PutManifest(const Repository& repo, const std::string& ref,
                                                const std::string& media_type,
                                                const std::string& bytes, Deadline deadline) {
  auto put = PutManifestReporting(repo, ref, media_type, bytes, deadline);
  if (!put.ok()) return put.error();
  return std::move(put->digest);
}

Result<RegistryClient::PutManifestAnswer> RegistryClient::PutManifestReporting(
    const Repository& repo, const std::string& ref, const std::string& media_type,
    const std::string& bytes, Deadline deadline) {
  if (Status s = CheckRef(ref); !s.ok()) return s.error();
  std::string digest = crypto::Sha256Digest(bytes);
  if (IsValidSha256Digest(ref) && ref != digest) {
    return Error(ErrorCode::kInvalidArgument,
                 "PutManifest: the bytes hash to " + digest + ", not " + ref);
  }
  std::string what = "PUT manifest " + repo.Name() + (IsValidSha256Digest(ref) ? "@" : ":") + ref;
  RegistryRequest put;
  put.method = "PUT";
  put.path_and_query = RefPath(repo, "manifests", ref);
  put.body = &bytes;
  put.access = Access::kPush;
  put.redirects = Redirects::kReturn;
  put.headers.push_back("Content-Type: " + media_type);
  auto response = auth_.Call(repo, put, deadline);
  if (!response.ok()) return response.error().WithContext(what);
  if (response->status != 201 && response->status != 200 && response->status != 202) {
    return StatusError(what, *response);
  }
  std::string reported = response->Header("docker-content-digest");
  if (!reported.empty() && reported != digest) {
    return Error(ErrorCode::kDigestMismatch, what + ": registry stored digest " + reported +
                                                 " but the bytes hash to " + digest);
  }
  return PutManifestAnswer{digest, Trimmed(response->Header("oci-subject"))};
}

Result<Referrers> RegistryClient::ListReferrers(const Repository& repo,
                                                const std::string& subject_digest,
                                                Deadline deadline,
                                                const ReferrersOptions& options) {
  if (Status s = CheckSubjectDigest(subject_digest); !s.ok()) return s.error();
  if (no_referrers_api_.Contains(repo.registry)) {
    if (on_referrers_call_skipped_) on_referrers_call_skipped_(repo.registry);
    return Referrers{};  // kNoReferrersApi, as the host said
  }
  const std::string what = "list referrers of " + repo.Name() + "@" + subject_digest;
  const std::string list_path = RefPath(repo, "referrers", subject_digest);
  std::string next = list_path;
  if (!options.artifact_type.empty()) {
    next += "?artifactType=" + PercentEncode(options.artifact_type);
  }
  Referrers referrers;
  std::set<std::string> pages_read;
  std::set<std::string> listed;
  std::uint64_t bytes_read = 0;
  for (std::size_t page = 1; !next.empty(); ++page) {
    const std::string where = page == 1 ? what : what + " (page " + std::to_string(page) + ")";
    if (page > kMaxReferrersPages) {
      return Error(
          ErrorCode::kTooLarge,
          what + ": more than " + std::to_string(kMaxReferrersPages) + " pages of referrers");
    }
    if (!pages_read.insert(next).second) {
      return Error(
          ErrorCode::kRegistry,
          where + ": the pagination link leads back to a page already read (" + next + ")");
    }
    RegistryRequest request;
    request.path_and_query = next;
    request.headers.push_back("Accept: " + std::string(kOciIndexMediaType));
    // The pages together are held to the cap of one list.
    request.max_body = options.limits.max_bytes - bytes_read;
    auto response = auth_.Call(repo, request, deadline);
    if (!response.ok()) return response.error().WithContext(where);
    const bool is_index = Trimmed(response->Header("content-type")) == kOciIndexMediaType;
    if (page == 1) {
      switch (response->status) {
        case 200:
          break;
        case 404:
          // The spec's "no referrers API", unless the registry says that it
          // does not know the repository.
          if (!NamesUnknownRepository(response->body)) no_referrers_api_.Remember(repo.registry);
          return referrers;  // kNoReferrersApi
        case 400:
        case 406:
          return referrers;  // kNoReferrersApi, for this request
        default:
          return StatusError(where, *response);
      }
      // Exactly the index type, as go-containerregistry (and so cosign)
      // requires: a registry that answers 200 with an HTML page or its own
      // JSON has no referrers API.
      if (!is_index) {
        no_referrers_api_.Remember(repo.registry);
        return referrers;
      }
    } else {
      // Past the first page the registry has shown that it has the API:
      // anything but another page of the list is an error, never the end.
      if (response->status != 200) return StatusError(where, *response);
      if (!is_index) {
        return Error(ErrorCode::kParse, where + ": the page has Content-Type \"" +
                                            response->Header("content-type") + "\", not " +
                                            std::string(kOciIndexMediaType));
      }
    }
    bytes_read += response->body.size();
    auto index = ParseReferrersList(where, response->body, options.limits);
    if (!index.ok()) return index.error();
    if (page == 1) {
      // The merged index is the first page's, with every page's entries.
      referrers.index.schema_version = index->schema_version;
      referrers.index.media_type = index->media_type;
      referrers.index.annotations = index->annotations;
    }
    for (Descriptor& entry : index->manifests) {
      if (!listed.insert(entry.digest).second) continue;  // listed already
      if (referrers.index.manifests.size() >= options.limits.max_descriptors) {
        return Error(
            ErrorCode::kTooLarge,
            what + ": more than " + std::to_string(options.limits.max_descriptors) + " referrers");
      }
      referrers.index.manifests.push_back(std::move(entry));
    }
    auto following = NextReferrersPage(where, *response, repo, list_path);
    if (!following.ok()) return following.error();
    next = std::move(following).value();
  }
  referrers.answer = ReferrersAnswer::kListed;
  no_referrers_api_.Forget(repo.registry);
  if (!options.artifact_type.empty()) {
    std::erase_if(referrers.index.manifests,
                  [&](const Descriptor& d) { return d.artifact_type != options.artifact_type; });
  }
  return referrers;
}

Result<ReferrersTagUpdate> RegistryClient::AddToReferrersTag(const Repository& repo,
                                                             const std::string& referrer_manifest,
                                                             Deadline deadline) {
  std::lock_guard<std::mutex> lock(referrers_tag_mutex_);
  return AddToReferrersTagVia(*this, repo, referrer_manifest, deadline);
}

Result<ReferrerPush> RegistryClient::PushReferrer(const Repository& repo,
                                                  const std::string& referrer_manifest,
                                                  Deadline deadline) {
  auto manifest = ParseReferrerManifest(referrer_manifest, "PushReferrer");
  if (!manifest.ok()) return manifest.error();
  const std::string& subject = manifest->subject->digest;
  const std::string digest = crypto::Sha256Digest(referrer_manifest);
  auto put = PutManifestReporting(repo, digest, std::string(kOciManifestMediaType),
                                  referrer_manifest, deadline);
  if (!put.ok()) return put.error();
  ReferrerPush out;
  out.digest = digest;
  out.oci_subject = put->oci_subject;
  if (put->oci_subject == subject) {
    // Some registries send OCI-Subject without a referrers API: ask it.
    return ListPushedReferrer(repo, referrer_manifest, subject, std::move(out), deadline);
  }
  auto added = AddToReferrersTag(repo, referrer_manifest, deadline);
  if (!added.ok()) return added.error();
  out.listed_by = ReferrerListedBy::kFallbackTag;
  return out;
}

Result<std::vector<std::string>> RegistryClient::ListTags(const Repository& repo,
                                                          Deadline deadline) {
  std::string what = "list tags of " + repo.Name();
  std::vector<std::string> tags;
  std::string next = "/v2/" + repo.path + "/tags/list?n=1000";
  for (std::size_t page = 0; !next.empty(); ++page) {
    if (page >= kMaxTagPages) {
      return Error(ErrorCode::kTooLarge,
                   what + ": more than " + std::to_string(kMaxTagPages) + " pages of tags");
    }
    RegistryRequest request;
    request.path_and_query = next;
    request.max_body = kMaxTagListBytes;
    auto response = auth_.Call(repo, request, deadline);
    if (!response.ok()) return response.error().WithContext(what);
    if (response->status != 200) return StatusError(what, *response);
    try {
      auto parsed = ParseBoundedJson(response->body, what);
      if (!parsed.ok()) return parsed.error();
      auto& doc = *parsed;
      if (!doc.is_object()) return Error(ErrorCode::kParse, what + ": not a JSON object");
      if (doc.contains("tags") && !doc["tags"].is_null()) {
        if (!doc["tags"].is_array()) return Error(ErrorCode::kParse, what + ": tags not a list");
        for (const auto& tag : doc["tags"]) {
          if (!tag.is_string()) return Error(ErrorCode::kParse, what + ": a tag is not a string");
          tags.push_back(tag.get<std::string>());
        }
      }
    } catch (const nlohmann::json::exception& e) {
      return Error(ErrorCode::kParse, what + ": invalid JSON: " + e.what());
    }
    if (tags.size() > kMaxTags) {
      return Error(ErrorCode::kTooLarge,
                   what + ": more than " + std::to_string(kMaxTags) + " tags");
    }
    // Link: </v2/<repo>/tags/list?last=x&n=1000>; rel="next"
    next.clear();
    std::string link = response->Header("link");
    std::size_t open = link.find('<');
    std::size_t close = link.find('>');
    if (open != std::string::npos && close != std::string::npos && close > open &&
        link.find("rel=\"next\"") != std::string::npos) {
      auto resolved = ResolveUrl(response->url, link.substr(open + 1, close - open - 1));
      if (!resolved.ok()) return resolved.error().WithContext(what);
      if (UrlAuthority(*resolved) != UrlAuthority(response->url)) {
        return Error(ErrorCode::kRegistry, what + ": pagination link points to another host");
      }
      std::string base = UrlScheme(*resolved) + "://" + repo.registry;
      if (resolved->rfind(base, 0) != 0) {
        return Error(ErrorCode::kRegistry, what + ": unusable pagination link " + *resolved);
      }
      next = resolved->substr(base.size());
    }
  }
  return tags;
}

}  // namespace signet::oci
