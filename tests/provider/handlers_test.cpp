#include "signet/provider/handlers.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>
#include <spdlog/sinks/ostream_sink.h>

#include "fake_image_verifier.h"
#include "server/server_test_support.h"
#include "signet/json_writer.h"
#include "signet/log/json_log.h"
#include "signet/server/https_server.h"
#include "signet/server/metrics.h"

namespace signet::provider {
namespace {

using nlohmann::json;
using testing::FakeDigest;
using testing::FakeImageVerifier;

constexpr char kRepo[] = "registry.test:5000/team/app";

class HandlersTest : public ::testing::Test {
 protected:
  HandlersTest() {
    fake_->Add(kRepo, "signed", {FakeDigest('a'), ErrorCode::kInternal, true, {}});
    fake_->Add(kRepo, "unsigned", {FakeDigest('b'), ErrorCode::kNoSignatures, false, {}});
    HandlerOptions options;
    options.max_keys = 5;
    options.max_body_bytes = 4096;
    handlers_ = std::make_unique<ProviderHandlers>(service_, &metrics_, options);
  }

  static server::HttpRequest Post(const std::string& path, const std::string& body) {
    server::HttpRequest request;
    request.method = "POST";
    request.path = path;
    request.target = path;
    request.body = body;
    request.request_id = "test-request";
    return request;
  }

  static std::string Keys(const std::vector<std::string>& keys) {
    return json{{"apiVersion", "externaldata.gatekeeper.sh/v1beta1"},
                {"kind", "ProviderRequest"},
                {"request", {{"keys", keys}}}}
        .dump();
  }

  std::shared_ptr<FakeImageVerifier> fake_ = std::make_shared<FakeImageVerifier>();
  server::MetricsRegistry registry_;
  ProviderMetrics metrics_{registry_};
  VerificationService service_{
      VerificationServiceOptions{}, fake_,
      *policy::PolicySet::Create({{"default", {"**"}, {}, {}}}, policy::UnmatchedImages::kDeny),
      &metrics_};
  std::unique_ptr<ProviderHandlers> handlers_;
};

TEST_F(HandlersTest, ValidateAnswersEachKeyInOrder) {
  const std::string signed_ref = std::string(kRepo) + ":signed";
  const std::string unsigned_ref = std::string(kRepo) + ":unsigned";
  auto response =
      handlers_->Validate(Post("/validate", Keys({unsigned_ref, signed_ref, unsigned_ref})));
  EXPECT_EQ(response.status, 200);
  const json body = json::parse(response.body);
  EXPECT_EQ(body["apiVersion"], "externaldata.gatekeeper.sh/v1beta1");
  EXPECT_EQ(body["kind"], "ProviderResponse");
  const json& items = body["response"]["items"];
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0]["key"], unsigned_ref);
  EXPECT_EQ(items[0]["error"], unsigned_ref + "_invalid: no signatures found");
  EXPECT_EQ(items[1]["key"], signed_ref);
  EXPECT_EQ(items[1]["value"], std::string(kRepo) + "@" + FakeDigest('a'));
  EXPECT_EQ(items[2]["error"], unsigned_ref + "_invalid: no signatures found");
  EXPECT_FALSE(body["response"].contains("systemError"));
  EXPECT_FALSE(body["response"].contains("idempotent"));
}

TEST_F(HandlersTest, MutateResolvesTagsAndKeepsDigestKeys) {
  const std::string by_tag = std::string(kRepo) + ":signed";
  const std::string by_digest = std::string(kRepo) + "@" + FakeDigest('a');
  const std::string bad = std::string(kRepo) + ":unsigned";
  auto response = handlers_->Mutate(Post("/mutate", Keys({by_tag, by_digest, bad})));
  EXPECT_EQ(response.status, 200);
  const json body = json::parse(response.body);
  EXPECT_EQ(body["response"]["idempotent"], true);
  const json& items = body["response"]["items"];
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0]["value"], by_digest);
  EXPECT_EQ(items[1]["value"], by_digest);
  EXPECT_FALSE(items[2].contains("value"));
  EXPECT_EQ(items[2]["error"], bad + "_invalid: no signatures found");
}

TEST_F(HandlersTest, WholeRequestFailuresAreSystemErrorsWithStatus200) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "unable to unmarshal request body: not valid JSON"},
      {Keys({}), "request has no keys"},
      {Keys({"a", "b", "c", "d", "e", "f"}), "too many keys: 6 (the limit is 5)"},
  };
  for (const auto& [request_body, message] : cases) {
    auto response = handlers_->Validate(Post("/validate", request_body));
    EXPECT_EQ(response.status, 200);
    const json body = json::parse(response.body);
    EXPECT_EQ(body["response"]["systemError"], message);
    EXPECT_FALSE(body["response"].contains("items"));
  }
  EXPECT_EQ(fake_->verify_calls.load(), 0);
}

TEST_F(HandlersTest, RejectedRequestsOnProviderPathsGetSystemErrors) {
  server::HttpRequest get = Post("/validate", "");
  get.method = "GET";
  auto wrong_method = handlers_->Rejected(server::RejectionKind::kMethodNotAllowed, get);
  EXPECT_EQ(wrong_method.status, 200);
  EXPECT_EQ(json::parse(wrong_method.body)["response"]["systemError"], "only POST is allowed");

  auto too_large = handlers_->Rejected(server::RejectionKind::kBodyTooLarge, Post("/validate", ""));
  EXPECT_EQ(too_large.status, 200);
  EXPECT_EQ(json::parse(too_large.body)["response"]["systemError"],
            "request body exceeds the limit of 4096 bytes");

  auto unknown = handlers_->Rejected(server::RejectionKind::kNotFound, Post("/nope", ""));
  EXPECT_EQ(unknown.status, 404);
}

TEST_F(HandlersTest, MetricsCountRequestsByOutcome) {
  handlers_->Validate(Post("/validate", Keys({std::string(kRepo) + ":signed"})));
  handlers_->Validate(Post("/validate", Keys({std::string(kRepo) + ":unsigned"})));
  handlers_->Validate(Post("/validate", "{"));
  const std::string text = registry_.Render();
  EXPECT_NE(
      text.find("signet_provider_requests_total{endpoint=\"validate\",outcome=\"allowed\"} 1"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("signet_provider_requests_total{endpoint=\"validate\",outcome=\"denied\"} 1"),
            std::string::npos);
  EXPECT_NE(
      text.find("signet_provider_requests_total{endpoint=\"validate\",outcome=\"system_error\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("signet_provider_verifications_total{result=\"valid\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("signet_provider_verifications_total{result=\"no_signatures\"} 1"),
            std::string::npos);
}

// mutation.exemptImages: /mutate answers an exempt key with itself and never
// verifies it; /validate ignores the list (positive control: the same unsigned
// image is refused there, and on /mutate when the list does not cover it).
TEST_F(HandlersTest, MutateAnswersExemptKeysUnchangedAndValidateIgnoresTheList) {
  const std::string exempt_unsigned = std::string(kRepo) + ":unsigned";
  const std::string near_miss = std::string(kRepo) + "-evil:unsigned";
  fake_->Add(std::string(kRepo) + "-evil", "unsigned",
             {FakeDigest('c'), ErrorCode::kNoSignatures, false, {}});
  const std::string signed_ref = std::string(kRepo) + ":signed";
  HandlerOptions options;
  options.mutate_exempt_images = *policy::ExemptImages::Create({std::string(kRepo) + ":uns*"});
  ProviderHandlers handlers(service_, &metrics_, options);

  auto response = handlers.Mutate(Post("/mutate", Keys({exempt_unsigned, signed_ref, near_miss})));
  const json body = json::parse(response.body);
  const json& items = body["response"]["items"];
  ASSERT_EQ(items.size(), 3u) << response.body;
  EXPECT_EQ(items[0]["key"], exempt_unsigned);
  EXPECT_EQ(items[0]["value"], exempt_unsigned);
  EXPECT_FALSE(items[0].contains("error"));
  EXPECT_EQ(items[1]["value"], std::string(kRepo) + "@" + FakeDigest('a'));
  EXPECT_EQ(items[2]["error"], near_miss + "_invalid: no signatures found");
  // Only the two non-exempt keys reached the verifier.
  EXPECT_EQ(fake_->resolve_calls.load(), 2);

  // An object of exempt keys only: nothing is verified at all.
  const int before = fake_->resolve_calls.load() + fake_->verify_calls.load();
  auto only_exempt = handlers.Mutate(Post("/mutate", Keys({exempt_unsigned, exempt_unsigned})));
  const json only = json::parse(only_exempt.body);
  ASSERT_EQ(only["response"]["items"].size(), 2u) << only_exempt.body;
  EXPECT_EQ(only["response"]["items"][1]["value"], exempt_unsigned);
  EXPECT_EQ(fake_->resolve_calls.load() + fake_->verify_calls.load(), before);

  // /validate never reads the list: the exempt unsigned image is invalid there.
  auto validate = handlers.Validate(Post("/validate", Keys({exempt_unsigned})));
  const json validated = json::parse(validate.body);
  EXPECT_EQ(validated["response"]["items"][0]["error"],
            exempt_unsigned + "_invalid: no signatures found")
      << validate.body;
  EXPECT_FALSE(validated["response"]["items"][0].contains("value"));

  // Without the list, /mutate refuses it too.
  auto refused = handlers_->Mutate(Post("/mutate", Keys({exempt_unsigned})));
  EXPECT_EQ(json::parse(refused.body)["response"]["items"][0]["error"],
            exempt_unsigned + "_invalid: no signatures found");

  const std::string text = registry_.Render();
  EXPECT_NE(text.find("signet_provider_items_total{decision=\"exempt\",endpoint=\"mutate\"} 3"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("decision=\"exempt\",endpoint=\"validate\""), std::string::npos) << text;
  EXPECT_NE(text.find("signet_provider_requests_total{endpoint=\"mutate\",outcome=\"allowed\"} 1"),
            std::string::npos)
      << text;
}

// The cached-only pass (the server's inline handler) answers exactly what the
// handler answers when the caches hold every key, and otherwise declines
// without a trace: no log line, no metric, no verification.
TEST_F(HandlersTest, CachedPassAnswersLikeTheHandlerOrDeclinesWithoutATrace) {
  const std::string signed_ref = std::string(kRepo) + ":signed";
  const std::string by_digest = std::string(kRepo) + "@" + FakeDigest('a');
  const std::string unsigned_ref = std::string(kRepo) + ":unsigned";

  // Nothing cached yet: declined, nothing counted or verified.
  const std::string empty_metrics = registry_.Render();
  EXPECT_FALSE(handlers_->ValidateCached(Post("/validate", Keys({signed_ref}))).has_value());
  EXPECT_FALSE(handlers_->MutateCached(Post("/mutate", Keys({by_digest}))).has_value());
  EXPECT_EQ(registry_.Render(), empty_metrics);
  EXPECT_EQ(fake_->resolve_calls.load() + fake_->verify_calls.load(), 0);

  // Positive control: the handler verifies and fills the caches.
  const auto first = handlers_->Validate(Post("/validate", Keys({signed_ref, unsigned_ref})));
  const int calls = fake_->resolve_calls.load() + fake_->verify_calls.load();
  EXPECT_GT(calls, 0);

  // Now every key is cached: the same bytes as the handler, no verifier call.
  const auto cached =
      handlers_->ValidateCached(Post("/validate", Keys({signed_ref, unsigned_ref, signed_ref})));
  ASSERT_TRUE(cached.has_value());
  const auto handled =
      handlers_->Validate(Post("/validate", Keys({signed_ref, unsigned_ref, signed_ref})));
  EXPECT_EQ(cached->status, handled.status);
  EXPECT_EQ(cached->content_type, handled.content_type);
  EXPECT_EQ(cached->body, handled.body);
  const json items = json::parse(cached->body)["response"]["items"];
  ASSERT_EQ(items.size(), 3u) << cached->body;
  EXPECT_EQ(items[0]["value"], by_digest);
  EXPECT_EQ(items[1]["error"], unsigned_ref + "_invalid: no signatures found");
  const auto mutate_cached = handlers_->MutateCached(Post("/mutate", Keys({signed_ref})));
  ASSERT_TRUE(mutate_cached.has_value());
  EXPECT_EQ(mutate_cached->body, handlers_->Mutate(Post("/mutate", Keys({signed_ref}))).body);
  EXPECT_EQ(fake_->resolve_calls.load() + fake_->verify_calls.load(), calls);

  // One uncached key among cached ones: declined, nothing counted.
  fake_->Add(kRepo, "other", {FakeDigest('d'), ErrorCode::kInternal, true, {}});
  const std::string before_mixed = registry_.Render();
  EXPECT_FALSE(
      handlers_
          ->ValidateCached(Post("/validate", Keys({signed_ref, std::string(kRepo) + ":other"})))
          .has_value());
  EXPECT_EQ(registry_.Render(), before_mixed);
  EXPECT_EQ(fake_->resolve_calls.load() + fake_->verify_calls.load(), calls);

  // A malformed request needs no verification: answered as the handler does.
  const auto malformed = handlers_->ValidateCached(Post("/validate", "{"));
  ASSERT_TRUE(malformed.has_value());
  EXPECT_EQ(malformed->body, handlers_->Validate(Post("/validate", "{")).body);

  // A body over the inline cap is left to the pool unparsed, even when every
  // key is cached (the control above answered the same key under the cap).
  std::vector<std::string> many(4096 / signed_ref.size() + 1, signed_ref);
  const std::string large = Keys(many);
  ASSERT_GT(large.size(), HandlerOptions().inline_max_body_bytes);
  const std::string before_large = registry_.Render();
  EXPECT_FALSE(handlers_->ValidateCached(Post("/validate", large)).has_value());
  EXPECT_FALSE(handlers_->MutateCached(Post("/mutate", large)).has_value());
  EXPECT_EQ(registry_.Render(), before_large);

  // Counted like the handler's requests: one tag lookup per distinct tag key
  // of every request that reached the caches (the first request's two were
  // misses) and one verification-cache hit per distinct key answered from
  // it; the declined passes counted nothing.
  const std::string text = registry_.Render();
  EXPECT_NE(text.find("signet_provider_cache_misses_total{cache=\"tag\"} 2"), std::string::npos)
      << text;
  EXPECT_NE(text.find("signet_provider_cache_hits_total{cache=\"tag\"} 6"), std::string::npos)
      << text;
  EXPECT_NE(text.find("signet_provider_cache_hits_total{cache=\"verification\"} 6"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("signet_provider_requests_total{endpoint=\"validate\",outcome=\"denied\"} 3"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("signet_provider_requests_total{endpoint=\"mutate\",outcome=\"allowed\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("signet_provider_requests_in_flight 0"), std::string::npos) << text;
}

// Through a real server: a request the caches answer whole is answered on the
// I/O thread while every handler-pool thread is busy; a request with an
// uncached key (positive control) waits for a pool thread, and is then
// verified and answered.
TEST_F(HandlersTest, CachedRequestIsAnsweredWhileEveryPoolThreadIsBusy) {
  constexpr int kPoolThreads = 2;
  server::ServerOptions options;
  options.insecure_http = true;  // the dispatch under test is the same as with TLS
  options.io_threads = 1;
  options.handler_threads = kPoolThreads;
  std::atomic<int> blocked{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  server::Router router;
  handlers_->Register(router);
  router.Handle("GET", "/block", [&blocked, released](const server::HttpRequest&) {
    ++blocked;
    released.wait();
    return server::HttpResponse{200, "text/plain", "released"};
  });
  auto srv = signet::testing::StartServer(options, std::move(router), nullptr);
  ASSERT_NE(srv, nullptr);
  const std::string base = "http://127.0.0.1:" + std::to_string(srv->port());
  const std::string signed_ref = std::string(kRepo) + ":signed";
  const std::string other_ref = std::string(kRepo) + ":other";
  fake_->Add(kRepo, "other", {FakeDigest('d'), ErrorCode::kInternal, true, {}});

  // Prime the caches while the pool is free.
  {
    signet::testing::HttpClient client;
    const auto primed = client.Request("POST", base + "/validate", Keys({signed_ref}));
    ASSERT_TRUE(primed.transport_ok) << primed.error;
    ASSERT_EQ(json::parse(primed.body)["response"]["items"][0]["value"],
              std::string(kRepo) + "@" + FakeDigest('a'));
  }
  const int calls = fake_->resolve_calls.load() + fake_->verify_calls.load();

  // Occupy every pool thread.
  std::vector<std::future<signet::testing::ClientResponse>> blockers;
  for (int i = 0; i < kPoolThreads; ++i) {
    blockers.push_back(std::async(std::launch::async, [&base] {
      signet::testing::HttpClient client;
      return client.Request("GET", base + "/block");
    }));
  }
  struct ReleaseOnExit {
    std::promise<void>& promise;
    ~ReleaseOnExit() {
      try {
        promise.set_value();
      } catch (const std::future_error&) {
      }
    }
  } release_on_exit{release};
  ASSERT_TRUE(signet::testing::Eventually([&] { return blocked.load() == kPoolThreads; }));

  // Cached: answered now, by no pool thread (they are all blocked).
  signet::testing::HttpClient cached_client;
  const auto cached = cached_client.Request("POST", base + "/validate", Keys({signed_ref}));
  ASSERT_TRUE(cached.transport_ok) << cached.error;
  EXPECT_EQ(cached.status, 200);
  EXPECT_EQ(json::parse(cached.body)["response"]["items"][0]["value"],
            std::string(kRepo) + "@" + FakeDigest('a'))
      << cached.body;
  EXPECT_EQ(blocked.load(), kPoolThreads);

  // Uncached key (with a cached one): it waits for the pool, so it has not
  // reached the verifier while every pool thread is blocked.
  auto uncached = std::async(std::launch::async, [&] {
    signet::testing::HttpClient client;
    return client.Request("POST", base + "/validate", Keys({signed_ref, other_ref}));
  });
  EXPECT_EQ(uncached.wait_for(std::chrono::milliseconds(500)), std::future_status::timeout);
  EXPECT_EQ(fake_->resolve_calls.load() + fake_->verify_calls.load(), calls);

  release.set_value();
  for (auto& blocker : blockers) EXPECT_EQ(blocker.get().body, "released");
  const auto answered = uncached.get();
  ASSERT_TRUE(answered.transport_ok) << answered.error;
  const json items = json::parse(answered.body)["response"]["items"];
  ASSERT_EQ(items.size(), 2u) << answered.body;
  EXPECT_EQ(items[1]["value"], std::string(kRepo) + "@" + FakeDigest('d'));
  EXPECT_GT(fake_->resolve_calls.load() + fake_->verify_calls.load(), calls);
  srv->Shutdown(std::chrono::milliseconds(0));
  srv->Wait();
}

// The oracle for AppendImageLog: the entry as a nlohmann::json object.
json ImageLogObject(const KeyDecision& decision) {
  json image = {{"key", decision.key},
                {"decision", decision.valid ? "valid" : "invalid"},
                {"policy", decision.policy},
                {"cached", decision.cached}};
  if (decision.valid) {
    image["digest_reference"] = decision.digest_reference;
    if (decision.graced) {
      image["graced"] = true;
      image["detail"] = decision.detail;
    }
  } else {
    image["reason"] = decision.reason;
    if (!decision.detail.empty() && decision.detail != decision.reason) {
      image["detail"] = decision.detail;
    }
  }
  return image;
}

TEST(ImageLogTest, EntriesAreTheBytesOfTheSameObjectDumped) {
  const std::string ref = std::string(kRepo) + ":signed";
  const std::string pinned = std::string(kRepo) + "@" + FakeDigest('a');
  std::vector<KeyDecision> cases = {
      {ref, true, false, pinned, "", "", "default", false, false},
      {ref, true, false, pinned, "", "stale detail", "default", true, false},  // detail unused
      {ref, true, false, pinned, "", "registry down; verified before", "default", true, true},
      {ref, false, false, "", "no signatures found", "", "default", false, false},
      {ref, false, false, "", "no signatures found", "no signatures found", "", true, false},
      {ref, false, true, "", "timeout", "GET https://r/v2/: 503 \"busy\"\n", "p", false, false},
      // Escaping: quotes, a backslash, control characters, non-ASCII and
      // invalid UTF-8 come out as nlohmann writes them.
      {"reg/\"q\"\\x:\x01\t", false, false, "", "caf\xc3\xa9 \xc3\x28", "d\x7f", "\xe2\x82", false,
       false},
  };
  for (const KeyDecision& decision : cases) {
    std::string text;
    AppendImageLog(text, decision);
    EXPECT_EQ(text, DumpJson(ImageLogObject(decision))) << decision.key;
  }
  std::string exempt;
  AppendExemptImageLog(exempt, ref, std::string(kRepo) + ":*");
  EXPECT_EQ(exempt, DumpJson(json{{"key", ref},
                                  {"decision", "exempt"},
                                  {"exempt_by", std::string(kRepo) + ":*"}}));
  // Control: the oracle tells the forms apart.
  EXPECT_NE(DumpJson(ImageLogObject(cases[0])), DumpJson(ImageLogObject(cases[2])));
}

// The provider_request line names every image, exempt ones included, and is
// not built or written when info lines are off (warn and error lines are).
TEST_F(HandlersTest, TheRequestLineListsEveryImageAndIsLeftOutBelowInfo) {
  std::ostringstream out;
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "handlers-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out)));
  log::InstallJsonLogFormat();
  const std::string exempt_unsigned = std::string(kRepo) + ":unsigned";
  const std::string signed_ref = std::string(kRepo) + ":signed";
  HandlerOptions options;
  options.mutate_exempt_images = *policy::ExemptImages::Create({exempt_unsigned});
  ProviderHandlers handlers(service_, &metrics_, options);

  spdlog::set_level(spdlog::level::info);
  handlers.Mutate(Post("/mutate", Keys({exempt_unsigned, signed_ref, std::string(kRepo) + ":x"})));
  const std::string info_text = out.str();
  out.str("");
  spdlog::set_level(spdlog::level::warn);
  handlers.Mutate(Post("/mutate", Keys({exempt_unsigned, signed_ref})));
  const std::string warn_allowed = out.str();
  handlers.Mutate(Post("/mutate", "{"));  // a system_error line is warn
  const std::string warn_error = out.str();
  spdlog::set_default_logger(previous);

  const json line = json::parse(info_text, nullptr, false);
  ASSERT_TRUE(line.is_object()) << info_text;
  EXPECT_EQ(line.value("event", ""), "provider_request");
  EXPECT_EQ(line.value("endpoint", ""), "mutate");
  EXPECT_EQ(line.value("outcome", ""), "denied");
  EXPECT_EQ(line.value("request_id", ""), "test-request");
  EXPECT_EQ(line.value("api_version", ""), "externaldata.gatekeeper.sh/v1beta1");
  EXPECT_EQ(line.value("level", ""), "info");
  EXPECT_TRUE(line.at("duration_ms").is_number());
  const json& images = line.at("images");
  ASSERT_EQ(images.size(), 3u) << info_text;
  EXPECT_EQ(images[0], json({{"key", exempt_unsigned},
                             {"decision", "exempt"},
                             {"exempt_by", exempt_unsigned}}));
  EXPECT_EQ(images[1].value("decision", ""), "valid");
  EXPECT_EQ(images[1].value("digest_reference", ""), std::string(kRepo) + "@" + FakeDigest('a'));
  EXPECT_EQ(images[2].value("decision", ""), "invalid");
  EXPECT_FALSE(images[2].value("reason", "").empty()) << info_text;
  EXPECT_EQ(warn_allowed, "");
  const json error_line = json::parse(warn_error, nullptr, false);
  ASSERT_TRUE(error_line.is_object()) << warn_error;
  EXPECT_EQ(error_line.value("outcome", ""), "system_error");
}

}  // namespace
}  // namespace signet::provider
