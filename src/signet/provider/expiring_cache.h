// A bounded key/value cache whose entries expire: each Put gives the entry
// its own time to live, and when the cache is full the least recently used
// entry is evicted. Expired entries are dropped on lookup. Find() also tells
// when the entry expires (for refresh-ahead); Erase() forgets one entry;
// lookups() counts the lookups.
//
// The clock is injectable so tests can move time. Thread-safety: all methods
// may be called concurrently (one internal mutex).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace signet::provider {

using Clock = std::function<std::chrono::steady_clock::time_point()>;

inline Clock SteadyClock() {
  return [] { return std::chrono::steady_clock::now(); };
}

template <typename Value>
class ExpiringCache {
 public:
  ExpiringCache(std::size_t max_entries, Clock clock)
      : max_entries_(max_entries == 0 ? 1 : max_entries), clock_(std::move(clock)) {}

  struct Found {
    Value value;
    std::chrono::steady_clock::time_point expires;
  };

  std::optional<Found> Find(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    ++lookups_;
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    if (clock_() >= it->second->expires) {
      lru_.erase(it->second);
      index_.erase(it);
      return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    return Found{it->second->value, it->second->expires};
  }

  std::optional<Value> Get(const std::string& key) {
    auto found = Find(key);
    if (!found) return std::nullopt;
    return std::move(found->value);
  }

  void Erase(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return;
    lru_.erase(it->second);
    index_.erase(it);
  }

  // Stores `value` for `ttl`; a non-positive ttl stores nothing.
  void Put(const std::string& key, Value value, std::chrono::milliseconds ttl) {
    if (ttl.count() <= 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    const auto expires = clock_() + ttl;
    if (auto it = index_.find(key); it != index_.end()) {
      it->second->value = std::move(value);
      it->second->expires = expires;
      lru_.splice(lru_.begin(), lru_, it->second);
      return;
    }
    while (index_.size() >= max_entries_) {
      index_.erase(lru_.back().key);
      lru_.pop_back();
    }
    lru_.push_front(Entry{key, std::move(value), expires});
    index_.emplace(key, lru_.begin());
  }

  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return index_.size();
  }

  // Lookups so far (Find and Get), hit or miss.
  std::uint64_t lookups() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lookups_;
  }

 private:
  struct Entry {
    std::string key;
    Value value;
    std::chrono::steady_clock::time_point expires;
  };
  const std::size_t max_entries_;
  Clock clock_;
  mutable std::mutex mu_;
  std::uint64_t lookups_ = 0;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, typename std::list<Entry>::iterator> index_;
};

}  // namespace signet::provider
