#include "signet/executor.h"

#include <atomic>
#include <utility>

namespace signet {

ThreadPool::ThreadPool(std::size_t threads) {
  if (threads == 0) threads = 1;
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    tasks_.clear();
  }
  cv_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void ThreadPool::Submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

std::size_t ThreadPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tasks_.size();
}

void ThreadPool::Run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (stopping_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

// One task of a group; whoever sets `claimed` first runs it.
struct GroupTask {
  std::function<void()> fn;
  std::atomic<bool> claimed{false};
};

struct TaskGroup::State {
  std::mutex mu;
  std::condition_variable cv;
  std::size_t unfinished = 0;  // tasks added and not yet finished
  std::exception_ptr error;    // the first task's exception
  std::vector<std::shared_ptr<GroupTask>> tasks;

  // Runs a task this thread claimed and records its end.
  void Execute(GroupTask& task) {
    std::exception_ptr thrown;
    try {
      task.fn();
    } catch (...) {
      thrown = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      if (thrown && !error) error = thrown;
      --unfinished;
    }
    cv.notify_all();
  }
};

TaskGroup::TaskGroup(Executor* executor) : executor_(executor), state_(std::make_shared<State>()) {}

TaskGroup::~TaskGroup() {
  try {
    Wait();
  } catch (...) {  // NOLINT(bugprone-empty-catch): the owner chose not to Wait
  }
}

void TaskGroup::Run(std::function<void()> task) {
  auto entry = std::make_shared<GroupTask>();
  entry->fn = std::move(task);
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    ++state_->unfinished;
    state_->tasks.push_back(entry);
  }
  if (executor_ == nullptr) return;
  // The closure keeps the state alive; once Wait has claimed the task (or
  // the group is gone) it does nothing.
  executor_->Submit([state = state_, entry] {
    if (entry->claimed.exchange(true)) return;
    state->Execute(*entry);
  });
}

void TaskGroup::Wait() {
  std::vector<std::shared_ptr<GroupTask>> tasks;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    tasks.swap(state_->tasks);
  }
  for (const auto& task : tasks) {
    if (!task->claimed.exchange(true)) state_->Execute(*task);
  }
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->cv.wait(lock, [this] { return state_->unfinished == 0; });
    std::swap(error, state_->error);
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace signet
