// SecretBytes: an owned byte buffer for passwords, derived keys and private
// key plaintext. Every copy of the bytes it ever held is wiped with
// sodium_memzero: on destruction, on Clear(), when a move empties it, and
// when Append() outgrows the buffer (the old buffer is wiped before it is
// freed). The bytes live in a heap buffer only, never inline in the object,
// so a moved-from SecretBytes holds nothing.
//
// Used by the crypto area and by the CLI for passwords. Move-only; not
// thread-safe for concurrent mutation.
#pragma once

#include <sodium.h>

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

namespace signet::crypto {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size) : bytes_(size, '\0') {}
  explicit SecretBytes(std::string_view bytes) : bytes_(bytes.begin(), bytes.end()) {}
  ~SecretBytes() { Clear(); }
  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) { other.Clear(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      Clear();
      bytes_ = std::move(other.bytes_);
      other.Clear();
    }
    return *this;
  }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  // Never null, even when empty (C APIs such as scrypt's reject null).
  unsigned char* data() {
    return bytes_.empty() ? &empty_ : reinterpret_cast<unsigned char*>(bytes_.data());
  }
  const unsigned char* data() const {
    return bytes_.empty() ? &empty_ : reinterpret_cast<const unsigned char*>(bytes_.data());
  }
  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  std::string_view view() const {
    return std::string_view(reinterpret_cast<const char*>(data()), size());
  }

  // Appends bytes; a buffer that must grow is copied and the old one wiped.
  void Append(std::string_view more) {
    if (bytes_.size() + more.size() > bytes_.capacity()) {
      std::vector<char> grown;
      grown.reserve(std::max<std::size_t>(64, 2 * (bytes_.size() + more.size())));
      grown.assign(bytes_.begin(), bytes_.end());
      Clear();
      bytes_.swap(grown);
    }
    bytes_.insert(bytes_.end(), more.begin(), more.end());
  }
  void PopBack() {
    if (bytes_.empty()) return;
    sodium_memzero(&bytes_.back(), 1);
    bytes_.pop_back();
  }
  // Wipes and empties (the capacity is kept).
  void Clear() {
    if (!bytes_.empty()) sodium_memzero(bytes_.data(), bytes_.size());
    bytes_.clear();
  }

 private:
  std::vector<char> bytes_;
  inline static unsigned char empty_ = 0;
};

}  // namespace signet::crypto
