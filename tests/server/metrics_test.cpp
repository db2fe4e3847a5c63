// MetricsRegistry and Router, without a network.
#include "signet/server/metrics.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "signet/server/router.h"
#include "signet/server/standard_routes.h"

namespace signet::server {
namespace {

// Checks every line against the text format 0.0.4 grammar (HELP/TYPE
// comments and samples) and returns the number of samples.
int CountValidSamples(const std::string& text) {
  static const std::regex kHelp(R"(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*)");
  static const std::regex kType(R"(# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram))");
  static const std::regex kSample(
      R"([a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")"
      R"((,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*\})? [-+0-9.eEInfNa]+)");
  std::istringstream in(text);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP", 0) == 0) {
      EXPECT_TRUE(std::regex_match(line, kHelp)) << line;
    } else if (line.rfind("# TYPE", 0) == 0) {
      EXPECT_TRUE(std::regex_match(line, kType)) << line;
    } else {
      EXPECT_TRUE(std::regex_match(line, kSample)) << line;
      ++samples;
    }
  }
  return samples;
}

TEST(MetricsRegistryTest, RendersCountersAndGaugesWithHelpTypeAndEscapedLabels) {
  MetricsRegistry registry;
  registry.GetCounter("jobs_total", "Jobs done.", {{"result", "ok"}}).Increment(3);
  registry.GetCounter("jobs_total", "Jobs done.", {{"result", "bad \"quoted\"\nline"}}).Increment();
  registry.GetGauge("queue_depth", "Items waiting.").Set(7);
  registry.GetGauge("queue_depth", "Items waiting.").Decrement(2);

  const std::string text = registry.Render();
  EXPECT_NE(text.find("# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("jobs_total{result=\"ok\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("jobs_total{result=\"bad \\\"quoted\\\"\\nline\"} 1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE queue_depth gauge\nqueue_depth 5\n"), std::string::npos) << text;
  EXPECT_EQ(CountValidSamples(text), 3);
}

TEST(MetricsRegistryTest, SameNameAndLabelsIsTheSameInstance) {
  MetricsRegistry registry;
  Counter& a = registry.GetCounter("hits_total", "Hits.", {{"k", "v"}});
  Counter& b = registry.GetCounter("hits_total", "Hits.", {{"k", "v"}});
  Counter& c = registry.GetCounter("hits_total", "Hits.", {{"k", "w"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  a.Increment();
  b.Increment(-5);  // ignored: counters only go up
  EXPECT_EQ(a.Value(), 1.0);
  EXPECT_EQ(c.Value(), 0.0);
}

TEST(MetricsRegistryTest, HistogramHasCumulativeBucketsSumAndCount) {
  MetricsRegistry registry;
  Histogram& h = registry.GetHistogram("latency_seconds", "Latency.", {0.125, 1, 0.5},
                                       {{"path", "/validate"}});
  for (const double v : {0.0625, 0.125, 0.25, 0.75, 2.0}) h.Observe(v);

  const std::string text = registry.Render();
  EXPECT_NE(text.find("# TYPE latency_seconds histogram\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_bucket{path=\"/validate\",le=\"0.125\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("latency_seconds_bucket{path=\"/validate\",le=\"0.5\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("latency_seconds_bucket{path=\"/validate\",le=\"1\"} 4\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("latency_seconds_bucket{path=\"/validate\",le=\"+Inf\"} 5\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("latency_seconds_sum{path=\"/validate\"} 3.1875\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("latency_seconds_count{path=\"/validate\"} 5\n"), std::string::npos) << text;
  EXPECT_EQ(CountValidSamples(text), 6);
}

TEST(MetricsRegistryTest, TypeConflictIsNotRendered) {
  MetricsRegistry registry;
  registry.GetCounter("thing", "A counter.").Increment();
  Gauge& conflicting = registry.GetGauge("thing", "Now a gauge.");
  conflicting.Set(42);  // usable, but not exported
  const std::string text = registry.Render();
  EXPECT_EQ(text.find("42"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE thing counter\nthing 1\n"), std::string::npos) << text;
}

TEST(MetricsRegistryTest, ConcurrentUpdatesAreAllCounted) {
  MetricsRegistry registry;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&registry] {
      for (int i = 0; i < 1000; ++i) {
        registry.GetCounter("ops_total", "Ops.").Increment();
        registry.GetHistogram("op_seconds", "Op time.", {1.0}).Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(registry.GetCounter("ops_total", "Ops.").Value(), 4000.0);
  EXPECT_EQ(registry.GetHistogram("op_seconds", "Op time.", {1.0}).Read().count, 4000u);
}

HttpRequest Req(std::string method, std::string path) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = r.target = std::move(path);
  return r;
}

TEST(RouterTest, DispatchesExactPathAndMethod) {
  Router router;
  router.Handle("POST", "/validate", [](const HttpRequest& r) {
    return HttpResponse{200, "application/json", "validated " + r.body};
  });
  HttpRequest request = Req("POST", "/validate");
  request.body = "x";
  EXPECT_EQ(router.Dispatch(request).body, "validated x");
  EXPECT_EQ(router.Dispatch(Req("POST", "/validate/")).status, 404);
  EXPECT_EQ(router.Dispatch(Req("GET", "/validate")).status, 405);
  EXPECT_TRUE(router.HasPath("/validate"));
  EXPECT_FALSE(router.HasPath("/other"));
}

TEST(RouterTest, RejectionHookAnswersRefusedRequests) {
  Router router;
  router.Handle("POST", "/validate", [](const HttpRequest&) { return HttpResponse{}; });
  router.OnRejected([](RejectionKind kind, const HttpRequest& r) {
    return HttpResponse{200, "application/json",
                        std::string(RejectionKindName(kind)) + " " + r.method};
  });
  const HttpResponse response = router.Dispatch(Req("GET", "/validate"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "method_not_allowed GET");
  EXPECT_EQ(router.Reject(RejectionKind::kBodyTooLarge, Req("POST", "/validate")).body,
            "body_too_large POST");
}

TEST(RouterTest, ThrowingHandlerBecomesInternalError) {
  Router router;
  router.Handle("GET", "/boom",
                [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
  const HttpResponse response = router.Dispatch(Req("GET", "/boom"));
  EXPECT_EQ(response.status, 500);
  EXPECT_NE(response.body.find("internal_error"), std::string::npos);
}

// The inline handler answers or declines; without one, or for unknown paths
// and methods, or when it throws, the request is left to the pool (nullopt).
TEST(RouterTest, InlineHandlerAnswersOrLeavesTheRequestToThePool) {
  Router router;
  router.Handle(
      "POST", "/validate",
      [](const HttpRequest&) {
        return HttpResponse{200, "text/plain", "pool"};
      },
      [](const HttpRequest& r) -> std::optional<HttpResponse> {
        if (r.body == "cached") return HttpResponse{200, "text/plain", "inline"};
        return std::nullopt;
      });
  router.Handle("GET", "/plain", [](const HttpRequest&) {
    return HttpResponse{200, "text/plain", "pool"};
  });
  router.Handle(
      "GET", "/boom",
      [](const HttpRequest&) {
        return HttpResponse{200, "text/plain", "pool"};
      },
      [](const HttpRequest&) -> std::optional<HttpResponse> { throw std::runtime_error("boom"); });
  HttpRequest cached = Req("POST", "/validate");
  cached.body = "cached";
  const auto answered = router.TryDispatchInline(cached);
  ASSERT_TRUE(answered.has_value());
  EXPECT_EQ(answered->body, "inline");
  HttpRequest uncached = Req("POST", "/validate");
  uncached.body = "other";
  EXPECT_FALSE(router.TryDispatchInline(uncached).has_value());
  EXPECT_EQ(router.Dispatch(uncached).body, "pool");  // the pool's handler still answers
  EXPECT_FALSE(router.TryDispatchInline(Req("GET", "/plain")).has_value());
  EXPECT_FALSE(router.TryDispatchInline(Req("GET", "/validate")).has_value());
  EXPECT_FALSE(router.TryDispatchInline(Req("POST", "/nope")).has_value());
  EXPECT_FALSE(router.TryDispatchInline(Req("GET", "/boom")).has_value());
  EXPECT_EQ(router.Dispatch(Req("GET", "/boom")).body, "pool");
}

TEST(StandardRoutesTest, HealthReadinessAndMetrics) {
  MetricsRegistry registry;
  registry.GetCounter("signet_example_total", "Example.").Increment();
  bool ready = false;
  Router router;
  AddStandardRoutes(router, registry, [&ready] { return ready; });
  EXPECT_EQ(router.Dispatch(Req("GET", "/healthz")).status, 200);
  EXPECT_EQ(router.Dispatch(Req("GET", "/readyz")).status, 503);
  ready = true;
  EXPECT_EQ(router.Dispatch(Req("GET", "/readyz")).status, 200);
  const HttpResponse metrics = router.Dispatch(Req("GET", "/metrics"));
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, MetricsRegistry::kContentType);
  EXPECT_NE(metrics.body.find("signet_example_total 1"), std::string::npos);
}

TEST(StandardRoutesTest, ReadyzCarriesTheProbeReason) {
  MetricsRegistry registry;
  Status status = Error(ErrorCode::kVerificationFailed, "no trusted key is loaded: \"a\" gone");
  Router router;
  AddStandardRoutes(router, registry, ReadinessProbe([&status] { return status; }));
  const HttpResponse not_ready = router.Dispatch(Req("GET", "/readyz"));
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(not_ready.body,
            "{\"status\":\"not ready\",\"reason\":\"no trusted key is loaded: \\\"a\\\" gone\"}");
  // A reason holding a control character and bytes that are not UTF-8 (a
  // key file's name, say) still makes a JSON body that says it.
  status = Error(ErrorCode::kVerificationFailed, "key /keys/\xff\xfe.pub\t unreadable");
  const HttpResponse odd = router.Dispatch(Req("GET", "/readyz"));
  EXPECT_EQ(odd.status, 503);
  const auto parsed = nlohmann::json::parse(odd.body, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(parsed.is_object()) << odd.body;
  EXPECT_EQ(parsed.value("status", ""), "not ready");
  EXPECT_EQ(parsed.value("reason", ""), "key /keys/\xef\xbf\xbd\xef\xbf\xbd.pub\t unreadable");
  status = OkStatus();  // positive control
  const HttpResponse ready = router.Dispatch(Req("GET", "/readyz"));
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "{\"status\":\"ready\"}");
}

}  // namespace
}  // namespace signet::server
