#include "support/test_images.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>

#include "support/registry_server.h"

namespace signet::testing {
namespace {

std::string RandomBytes(size_t n) {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(gen() & 0xff);
  return out;
}

// A ustar archive holding one regular file.
std::string TarWithOneFile(const std::string& name, const std::string& content) {
  std::string header(512, '\0');
  auto put = [&header](size_t offset, const std::string& value) {
    std::memcpy(header.data() + offset, value.data(), value.size());
  };
  auto octal = [](std::uint64_t value, int width) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%0*llo", width - 1, static_cast<unsigned long long>(value));
    return std::string(buf);
  };
  put(0, name);
  put(100, octal(0644, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, octal(content.size(), 12));
  put(136, octal(1700000000, 12));
  put(148, std::string(8, ' '));
  header[156] = '0';
  put(257, std::string("ustar\0", 6));
  put(263, "00");
  unsigned sum = 0;
  for (unsigned char c : header) sum += c;
  char chk[8];
  std::snprintf(chk, sizeof(chk), "%06o", sum);
  std::memcpy(header.data() + 148, chk, 7);  // six digits and a NUL; the space stays
  std::string tar = header + content;
  tar.append((512 - content.size() % 512) % 512, '\0');
  tar.append(1024, '\0');
  return tar;
}

void Check(const Status& status, const std::string& step) {
  if (!status.ok()) throw std::runtime_error(step + ": " + status.error().message());
}

std::string PushedDigest(const Result<std::string>& r, const std::string& step) {
  if (!r.ok()) throw std::runtime_error(step + ": " + r.error().message());
  return r.value();
}

}  // namespace

std::string DigestOf(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(sha256) failed");
  }
  static const char* kHex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

PushedImage PushRandomImage(oci::Registry& registry, const oci::Repository& repo,
                            const std::string& tag, const std::string& architecture) {
  PushedImage image;
  image.repository = repo;
  image.tag = tag;
  image.architecture = architecture;
  image.media_type = std::string(oci::kOciManifestMediaType);

  const std::string layer = TarWithOneFile("random.bin", RandomBytes(64));
  image.layer_digest = DigestOf(layer);
  const nlohmann::json config = {
      {"architecture", architecture},
      {"os", image.os},
      {"created", "2024-01-01T00:00:00Z"},
      {"config", nlohmann::json::object()},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {image.layer_digest}}}},
  };
  const std::string config_bytes = config.dump();
  image.config_digest = DigestOf(config_bytes);
  const nlohmann::json manifest = {
      {"schemaVersion", 2},
      {"mediaType", image.media_type},
      {"config",
       {{"mediaType", std::string(oci::kOciConfigMediaType)},
        {"digest", image.config_digest},
        {"size", config_bytes.size()}}},
      {"layers",
       {{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
         {"digest", image.layer_digest},
         {"size", layer.size()}}}},
  };
  image.manifest = manifest.dump();
  image.digest = DigestOf(image.manifest);

  const std::string where = " to " + repo.Name();
  Check(registry.PutBlob(repo, image.layer_digest, layer), "push layer" + where);
  Check(registry.PutBlob(repo, image.config_digest, config_bytes), "push config" + where);
  const std::string ref = tag.empty() ? image.digest : tag;
  const std::string pushed = PushedDigest(
      registry.PutManifest(repo, ref, image.media_type, image.manifest), "push manifest" + where);
  if (pushed != image.digest) {
    throw std::runtime_error("registry reported digest " + pushed + " for manifest " +
                             image.digest);
  }
  return image;
}

PushedIndex PushTwoPlatformIndex(oci::Registry& registry, const oci::Repository& repo,
                                 const std::string& tag) {
  PushedIndex index;
  index.repository = repo;
  index.tag = tag;
  index.media_type = std::string(oci::kOciIndexMediaType);
  nlohmann::json manifests = nlohmann::json::array();
  for (const std::string arch : {"amd64", "arm64"}) {
    PushedImage child = PushRandomImage(registry, repo, "", arch);
    nlohmann::json platform = {{"architecture", arch}, {"os", child.os}};
    if (arch == "arm64") platform["variant"] = "v8";
    manifests.push_back({{"mediaType", child.media_type},
                         {"digest", child.digest},
                         {"size", child.manifest.size()},
                         {"platform", platform}});
    index.children.push_back(std::move(child));
  }
  const nlohmann::json doc = {
      {"schemaVersion", 2}, {"mediaType", index.media_type}, {"manifests", manifests}};
  index.manifest = doc.dump();
  index.digest = DigestOf(index.manifest);
  const std::string pushed =
      PushedDigest(registry.PutManifest(repo, tag, index.media_type, index.manifest),
                   "push index to " + repo.Name());
  if (pushed != index.digest) {
    throw std::runtime_error("registry reported digest " + pushed + " for index " + index.digest);
  }
  return index;
}

oci::Repository RepositoryOn(const RegistryServer& server, const std::string& path) {
  return oci::Repository{server.host(), path};
}

}  // namespace signet::testing
