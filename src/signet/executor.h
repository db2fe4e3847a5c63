// The one way signet runs work concurrently: an Executor that owns threads,
// and a TaskGroup that forks tasks onto it and joins them.
//
// Library code never starts threads of its own. A caller that may fan work
// out (cosign verifying signature layers, discovering bundle referrers beside
// the legacy signature) takes an `Executor*` from its caller: the provider
// lends its verification pool, the CLI a small pool per command, and null
// means "run everything on the calling thread, one task after the other".
//
// TaskGroup::Wait runs every task of its group that no thread has started yet
// on the waiting thread, then waits for the started ones. A task therefore
// never waits for a pool thread to become free, so code running inside a
// fixed pool can wait on a group even when every pool thread is waiting:
// there is no deadlock, only less parallelism while the pool is busy.
//
// Thread-safety: Executor::Submit may be called from any thread, including
// from a task. A TaskGroup belongs to the thread that created it: Run and
// Wait are called from that thread only (its tasks run anywhere).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace signet {

// Runs submitted tasks on threads it owns, in some order. A task must not
// throw (TaskGroup catches for the tasks it submits). An executor that is
// shutting down may drop tasks it has not started.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void Submit(std::function<void()> task) = 0;
};

// A fixed number of threads running queued tasks in FIFO order. The
// destructor stops taking tasks, drops the ones not started and joins the
// threads (tasks already running finish first).
class ThreadPool : public Executor {
 public:
  explicit ThreadPool(std::size_t threads);  // 0 counts as 1
  ~ThreadPool() override;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Submit(std::function<void()> task) override;
  std::size_t queued() const;
  std::size_t size() const { return threads_.size(); }

 private:
  void Run();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Fork-join over an Executor (or none). Each task runs exactly once: on an
// executor thread if one takes it first, else on the thread in Wait. Tasks
// may reference the caller's stack: none runs after Wait returns. The
// destructor waits too (and swallows a task's exception, which Wait would
// have rethrown).
class TaskGroup {
 public:
  // `executor` may be null: the tasks then run in Wait, in order.
  explicit TaskGroup(Executor* executor);
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  void Run(std::function<void()> task);
  // Runs the tasks no thread started, waits for the others, then rethrows
  // the first exception a task threw, if any. The group may be reused.
  void Wait();

 private:
  struct State;
  Executor* executor_;
  std::shared_ptr<State> state_;
};

}  // namespace signet
