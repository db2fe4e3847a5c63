// ThreadPool and TaskGroup (src/signet/executor.h): tasks run exactly once,
// on a pool thread when one is free, else on the thread that waits; waiting
// inside a saturated pool completes; exceptions reach Wait.
#include "signet/executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace signet {
namespace {

constexpr auto kGenerous = std::chrono::seconds(30);

// A one-shot gate tests open by hand.
class Gate {
 public:
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  bool WaitOpen(std::chrono::seconds timeout = kGenerous) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

TEST(TaskGroupTest, WithoutExecutorRunsEveryTaskInWaitInOrderOnTheCallingThread) {
  std::vector<int> order;
  std::set<std::thread::id> threads;
  TaskGroup group(nullptr);
  for (int i = 0; i < 5; ++i) {
    group.Run([&order, &threads, i] {
      order.push_back(i);
      threads.insert(std::this_thread::get_id());
    });
  }
  EXPECT_TRUE(order.empty());  // nothing runs before Wait
  group.Wait();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(threads, (std::set<std::thread::id>{std::this_thread::get_id()}));
}

TEST(TaskGroupTest, APoolThreadRunsATaskBeforeWaitIsCalled) {
  ThreadPool pool(2);
  Gate ran;
  std::thread::id where;
  TaskGroup group(&pool);
  group.Run([&] {
    where = std::this_thread::get_id();
    ran.Open();
  });
  // Only a pool thread can open the gate: this thread has not waited yet.
  ASSERT_TRUE(ran.WaitOpen());
  group.Wait();
  EXPECT_NE(where, std::this_thread::get_id());
}

TEST(TaskGroupTest, WaitingInsideTheOnlyWorkerOfAPoolRunsTheGroupInline) {
  ThreadPool pool(1);
  std::promise<std::vector<std::thread::id>> result;
  auto done = result.get_future();
  pool.Submit([&pool, &result] {
    std::vector<std::thread::id> where(3);
    TaskGroup group(&pool);
    for (std::size_t i = 0; i < where.size(); ++i) {
      group.Run([&where, i] { where[i] = std::this_thread::get_id(); });
    }
    // The pool's only thread is this one: nobody else can take the tasks.
    group.Wait();
    where.push_back(std::this_thread::get_id());
    result.set_value(where);
  });
  ASSERT_EQ(done.wait_for(kGenerous), std::future_status::ready) << "the group deadlocked";
  const std::vector<std::thread::id> where = done.get();
  ASSERT_EQ(where.size(), 4u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(where[i], where[3]) << "task " << i;
}

TEST(TaskGroupTest, EveryWorkerWaitingOnItsOwnGroupStillCompletes) {
  constexpr int kWorkers = 3;
  constexpr int kTasksEach = 4;
  ThreadPool pool(kWorkers);
  std::atomic<int> arrived{0};
  Gate all_busy;
  std::atomic<int> ran{0};
  std::vector<std::promise<void>> finished(kWorkers);
  for (int w = 0; w < kWorkers; ++w) {
    pool.Submit([&, w] {
      // Hold every worker before any group forms, so that no thread is free
      // to take the queued tasks.
      if (++arrived == kWorkers) all_busy.Open();
      all_busy.WaitOpen();
      TaskGroup group(&pool);
      for (int t = 0; t < kTasksEach; ++t) group.Run([&ran] { ++ran; });
      group.Wait();
      finished[w].set_value();
    });
  }
  for (auto& each : finished) {
    ASSERT_EQ(each.get_future().wait_for(kGenerous), std::future_status::ready)
        << "a worker waiting on its group never finished";
  }
  EXPECT_EQ(ran.load(), kWorkers * kTasksEach);
}

TEST(TaskGroupTest, EachTaskRunsExactlyOnceWhenPoolAndWaiterRace) {
  ThreadPool pool(4);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::atomic<int>> runs(16);
    TaskGroup group(&pool);
    for (auto& count : runs) group.Run([&count] { ++count; });
    group.Wait();
    for (std::size_t i = 0; i < runs.size(); ++i) {
      ASSERT_EQ(runs[i].load(), 1) << "round " << round << ", task " << i;
    }
  }
}

TEST(TaskGroupTest, WaitRethrowsATasksExceptionAfterTheOthersRan) {
  for (const bool with_pool : {false, true}) {
    std::unique_ptr<ThreadPool> owned = with_pool ? std::make_unique<ThreadPool>(2) : nullptr;
    ThreadPool* pool = owned.get();
    std::atomic<int> ran{0};
    TaskGroup group(pool);
    group.Run([&ran] { ++ran; });
    group.Run([] { throw std::runtime_error("task failed"); });
    group.Run([&ran] { ++ran; });
    try {
      group.Wait();
      ADD_FAILURE() << "Wait did not rethrow (pool: " << (pool != nullptr) << ")";
    } catch (const std::runtime_error& error) {
      EXPECT_STREQ(error.what(), "task failed");
    }
    EXPECT_EQ(ran.load(), 2);
    // Control: the group is reusable, and a group without a throwing task
    // returns normally.
    group.Run([&ran] { ++ran; });
    EXPECT_NO_THROW(group.Wait());
    EXPECT_EQ(ran.load(), 3);
  }
}

TEST(TaskGroupTest, ResultsWrittenByTasksAreVisibleAfterWait) {
  ThreadPool pool(3);
  std::vector<int> squares(64, -1);
  TaskGroup group(&pool);
  for (std::size_t i = 0; i < squares.size(); ++i) {
    group.Run([&squares, i] { squares[i] = static_cast<int>(i * i); });
  }
  group.Wait();
  for (std::size_t i = 0; i < squares.size(); ++i) EXPECT_EQ(squares[i], static_cast<int>(i * i));
}

TEST(TaskGroupTest, DestructorWaitsForTasksAPoolThreadStarted) {
  ThreadPool pool(1);
  Gate started;
  Gate release;
  std::atomic<bool> finished{false};
  std::thread opener;
  {
    TaskGroup group(&pool);
    group.Run([&] {
      started.Open();
      release.WaitOpen();
      finished = true;
    });
    ASSERT_TRUE(started.WaitOpen());
    opener = std::thread([&release] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      release.Open();
    });
  }  // ~TaskGroup
  EXPECT_TRUE(finished.load());
  opener.join();
}

TEST(ThreadPoolTest, DroppedTasksOfAStoppedPoolRunInTheWaitingThread) {
  std::atomic<int> ran{0};
  auto pool = std::make_unique<ThreadPool>(1);
  Gate blocked;
  Gate release;
  pool->Submit([&] {
    blocked.Open();
    release.WaitOpen();
  });
  ASSERT_TRUE(blocked.WaitOpen());
  TaskGroup group(pool.get());
  group.Run([&ran] { ++ran; });  // queued behind the blocked task
  release.Open();
  pool.reset();  // may drop the queued closure; the group still owns its task
  group.Wait();
  EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace signet
