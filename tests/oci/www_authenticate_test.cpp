#include "signet/oci/www_authenticate.h"

#include <gtest/gtest.h>

namespace signet::oci {
namespace {

TEST(WwwAuthenticateTest, DockerHubBearer) {
  auto parsed = ParseWwwAuthenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",)"
      R"(scope="repository:library/nginx:pull")");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  ASSERT_EQ(parsed->size(), 1u);
  const AuthChallenge& c = (*parsed)[0];
  EXPECT_EQ(c.scheme, "bearer");
  EXPECT_EQ(c.Param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(c.Param("service"), "registry.docker.io");
  EXPECT_EQ(c.Param("scope"), "repository:library/nginx:pull");
  EXPECT_EQ(c.Param("error"), "");
}

TEST(WwwAuthenticateTest, BasicWithRealm) {
  auto parsed = ParseWwwAuthenticate(R"(Basic realm="Registry Realm")");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ((*parsed)[0].scheme, "basic");
  EXPECT_EQ((*parsed)[0].Param("realm"), "Registry Realm");
}

TEST(WwwAuthenticateTest, CommasAndEscapesInsideQuotes) {
  auto parsed =
      ParseWwwAuthenticate(R"(Bearer realm="http://127.0.0.1:1/t",scope="repository:a:pull,push", )"
                           R"(error="insufficient_scope",note="say \"hi\", \\ ok")");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ((*parsed)[0].Param("scope"), "repository:a:pull,push");
  EXPECT_EQ((*parsed)[0].Param("error"), "insufficient_scope");
  EXPECT_EQ((*parsed)[0].Param("note"), R"(say "hi", \ ok)");
}

TEST(WwwAuthenticateTest, MultipleChallengesAndCaseInsensitiveNames) {
  auto parsed = ParseWwwAuthenticate(
      R"(Basic realm="r1", BEARER Realm="https://h/token" , Service=svc, Negotiate)");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  ASSERT_EQ(parsed->size(), 3u);
  EXPECT_EQ((*parsed)[0].scheme, "basic");
  EXPECT_EQ((*parsed)[0].Param("realm"), "r1");
  EXPECT_EQ((*parsed)[1].scheme, "bearer");
  EXPECT_EQ((*parsed)[1].Param("realm"), "https://h/token");
  EXPECT_EQ((*parsed)[1].Param("service"), "svc");
  EXPECT_EQ((*parsed)[2].scheme, "negotiate");
  EXPECT_TRUE((*parsed)[2].params.empty());
}

TEST(WwwAuthenticateTest, Token68) {
  auto parsed = ParseWwwAuthenticate("Negotiate abc/+def==, Basic realm=x");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].token68, "abc/+def==");
  EXPECT_EQ((*parsed)[1].Param("realm"), "x");
}

TEST(WwwAuthenticateTest, RejectsMalformed) {
  for (const char* bad :
       {"", "   ", R"(Bearer realm="unterminated)", R"(Bearer realm="a" x)",
        R"(Bearer realm="a" service="b")", R"(Bearer realm=a, realm=b)", R"(="x")"}) {
    auto parsed = ParseWwwAuthenticate(bad);
    EXPECT_FALSE(parsed.ok()) << "accepted: " << bad;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.error().code(), ErrorCode::kParse);
    }
  }
}

}  // namespace
}  // namespace signet::oci
