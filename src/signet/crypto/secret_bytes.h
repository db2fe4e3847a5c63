// SecretBytes: an owned byte buffer for passwords, derived keys and private
// key plaintext, wiped with sodium_memzero when destroyed. Internal to
// src/signet/crypto. Move-only; not thread-safe for concurrent mutation.
#pragma once

#include <sodium.h>

#include <string>
#include <string_view>
#include <utility>

namespace signet::crypto {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t size) : bytes_(size, '\0') {}
  explicit SecretBytes(std::string_view bytes) : bytes_(bytes) {}
  ~SecretBytes() { Wipe(); }
  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) { other.Wipe(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      Wipe();
      bytes_ = std::move(other.bytes_);
      other.Wipe();
    }
    return *this;
  }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  unsigned char* data() { return reinterpret_cast<unsigned char*>(bytes_.data()); }
  const unsigned char* data() const {
    return reinterpret_cast<const unsigned char*>(bytes_.data());
  }
  size_t size() const { return bytes_.size(); }
  std::string_view view() const { return bytes_; }

 private:
  void Wipe() {
    if (!bytes_.empty()) sodium_memzero(bytes_.data(), bytes_.size());
    bytes_.clear();
  }
  std::string bytes_;
};

}  // namespace signet::crypto
