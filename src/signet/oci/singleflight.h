// Singleflight: identical calls that overlap in time share one execution.
// The first caller of a key runs the function; callers of the same key that
// arrive while it runs wait for its result (success or error alike) instead
// of running it again. Nothing is kept once the call ends: a call that
// starts after it runs afresh (no caching beyond the flight).
//
// A waiting caller waits at most until its own deadline, then fails with
// kTimeout; the running call is not affected and still serves the others.
//
// Thread-safety: Do may be called concurrently.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "signet/oci/deadline.h"
#include "signet/result.h"

namespace signet::oci {

template <typename T>
class Singleflight {
 public:
  // Runs `fn`, or joins the call of `key` in flight; `joined` (if not null)
  // tells which happened, and `on_join` (if set) is called on joining,
  // before the wait.
  Result<T> Do(const std::string& key, Deadline deadline, const std::function<Result<T>()>& fn,
               bool* joined = nullptr, const std::function<void()>& on_join = {}) {
    std::shared_ptr<Call> call;
    bool leader = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto [it, inserted] = calls_.try_emplace(key);
      if (inserted) it->second = std::make_shared<Call>();
      call = it->second;
      leader = inserted;
    }
    if (joined) *joined = !leader;
    if (leader) {
      Result<T> result = fn();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        calls_.erase(key);
      }
      {
        std::lock_guard<std::mutex> lock(call->mutex);
        call->result.emplace(result);
      }
      call->done.notify_all();
      return result;
    }
    if (on_join) on_join();
    std::unique_lock<std::mutex> lock(call->mutex);
    auto ready = [&] { return call->result.has_value(); };
    ++call->waiters;
    bool done = true;
    if (deadline) {
      done = call->done.wait_until(lock, *deadline, ready);
    } else {
      call->done.wait(lock, ready);
    }
    --call->waiters;
    if (!done) {
      return Error(ErrorCode::kTimeout,
                   "the deadline passed while waiting for an identical request in flight");
    }
    return *call->result;
  }

  // Callers waiting for the call of `key` in flight now (tests, diagnostics).
  int Waiters(const std::string& key) {
    std::shared_ptr<Call> call;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = calls_.find(key);
      if (it == calls_.end()) return 0;
      call = it->second;
    }
    std::lock_guard<std::mutex> lock(call->mutex);
    return call->waiters;
  }

 private:
  struct Call {
    std::mutex mutex;
    std::condition_variable done;
    std::optional<Result<T>> result;
    int waiters = 0;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<Call>> calls_;
};

}  // namespace signet::oci
