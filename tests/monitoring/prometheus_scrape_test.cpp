// A real Prometheus server scrapes a real `signet serve` the way the chart's
// ServiceMonitor tells the Prometheus Operator to: plain HTTP on the health
// port (the Service's "metrics" port), the same path, scheme and interval,
// the job named after the Service and the release namespace as a label, while
// the main port requires client certificates (mTLS on). Prometheus's HTTP API
// must then report the target up, with signet's metrics, and the chart's
// rendered rules loaded and evaluating; a target on a closed port is the
// control and must be down.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "monitoring/monitoring_files.h"
#include "server/server_test_support.h"
#include "signet/crypto/keys.h"
#include "support/pki.h"

namespace signet::monitoringtest {
namespace {

using nlohmann::json;
using signet::testing::ChildProcess;
using signet::testing::FreePort;
using signet::testing::HttpClient;
using signet::testing::ReadFile;
using signet::testing::TempDir;
using signet::testing::WriteFile;

// GET a Prometheus API path; the parsed body, or null when it fails.
json PrometheusApi(int port, const std::string& path) {
  HttpClient client;
  const auto response = client.Request("GET", "http://127.0.0.1:" + std::to_string(port) + path);
  if (!response.transport_ok || response.status != 200) return nullptr;
  json parsed = json::parse(response.body, nullptr, false);
  if (parsed.is_discarded() || parsed.value("status", "") != "success") return nullptr;
  return parsed;
}

// The samples of an instant query, by job label: value as Prometheus prints it.
std::map<std::string, std::string> QueryByJob(int port, const std::string& query) {
  std::map<std::string, std::string> by_job;
  const json answer = PrometheusApi(port, "/api/v1/query?query=" + query);
  if (answer.is_null()) return by_job;
  for (const auto& sample : answer["data"]["result"]) {
    by_job[sample["metric"].value("job", "")] = sample["value"][1].get<std::string>();
  }
  return by_job;
}

TEST(PrometheusScrape, ScrapesSignetServeLikeTheServiceMonitorWithMtlsOn) {
  // What the chart renders: the ServiceMonitor's endpoint and the Service it
  // selects (the job label the Operator gives the target).
  const auto docs = RenderMonitoring({"--set", "serviceMonitor.interval=1s"});
  const YAML::Node monitor = deploytest::FindObject(docs, "ServiceMonitor");
  ASSERT_TRUE(monitor.IsDefined());
  const YAML::Node endpoint = monitor["spec"]["endpoints"][0];
  ASSERT_EQ(endpoint["port"].as<std::string>(""), "metrics");
  const std::string scheme = endpoint["scheme"].as<std::string>("");
  const std::string path = endpoint["path"].as<std::string>("");
  const std::string interval = endpoint["interval"].as<std::string>("");
  EXPECT_EQ(scheme, "http");
  EXPECT_EQ(interval, "1s");
  EXPECT_FALSE(endpoint["tlsConfig"].IsDefined());
  const YAML::Node service = deploytest::FindObject(docs, "Service", "signet");
  ASSERT_TRUE(service.IsDefined());
  const std::string job = service["metadata"]["name"].as<std::string>();
  const std::string namespace_name = service["metadata"]["namespace"].as<std::string>();
  // The Service's "metrics" port leads to the container's health port.
  bool metrics_is_health = false;
  for (const auto& port : service["spec"]["ports"]) {
    if (port["name"].as<std::string>("") == "metrics") {
      metrics_is_health = port["targetPort"].as<std::string>("") == "health";
    }
  }
  EXPECT_TRUE(metrics_is_health);
  const std::string rules = RulesFile(docs);
  ASSERT_NE(rules, "");

  // signet serve with mTLS on its main port and the health listener on a
  // known port.
  TempDir dir;
  signet::testing::TestPki pki(dir.path());
  const auto ca = pki.CreateCa("ca", "monitoring test CA");
  const auto server_cert = pki.IssueLoopbackServer(ca, "server");
  auto pair = crypto::GenerateKeyPair("monitoring-password");
  ASSERT_TRUE(pair.ok()) << pair.error().message();
  WriteFile(dir.File("cosign.pub"), pair->public_pem);
  const int main_port = FreePort();
  const int health_port = FreePort();
  ChildProcess signet(
      {signet::testing::SignetBinary(), "serve", "--address", "127.0.0.1", "--port",
       std::to_string(main_port), "--health-addr", "127.0.0.1:" + std::to_string(health_port),
       "--tls-cert-file", server_cert.cert_file, "--tls-key-file", server_cert.key_file,
       "--client-ca-file", ca.cert_file, "--key", dir.File("cosign.pub")},
      {}, dir.File("signet.log"));
  // Ready on the health port means the main port serves too. No connection
  // is made to the main port, so its handshake-failure counter stays 0.
  HttpClient probe;
  const std::string readyz = "http://127.0.0.1:" + std::to_string(health_port) + "/readyz";
  ASSERT_TRUE(signet::testing::Eventually(
      [&] { return probe.Request("GET", readyz).status == 200; }, std::chrono::seconds(30)))
      << ReadFile(dir.File("signet.log"));

  // Prometheus with the ServiceMonitor's scrape settings, a control target
  // on a port where nothing listens, and the rendered rules.
  const int closed_port = FreePort();
  WriteFile(dir.File("signet-rules.yaml"), rules);
  WriteFile(dir.File("prometheus.yml"),
            "global:\n"
            "  scrape_interval: " +
                interval +
                "\n"
                "  scrape_timeout: " +
                interval +
                "\n"
                "  evaluation_interval: 1s\n"
                "rule_files: [" +
                dir.File("signet-rules.yaml") +
                "]\n"
                "scrape_configs:\n"
                "  - job_name: " +
                job +
                "\n"
                "    scheme: " +
                scheme +
                "\n"
                "    metrics_path: " +
                path +
                "\n"
                "    static_configs:\n"
                "      - targets: ['127.0.0.1:" +
                std::to_string(health_port) +
                "']\n"
                "        labels: {namespace: " +
                namespace_name +
                "}\n"
                "  - job_name: closed-port\n"
                "    static_configs:\n"
                "      - targets: ['127.0.0.1:" +
                std::to_string(closed_port) + "']\n");
  const int prometheus_port = FreePort();
  ChildProcess prometheus(
      {signet::testing::PrometheusBinary(), "--config.file=" + dir.File("prometheus.yml"),
       "--storage.tsdb.path=" + dir.File("data"),
       "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)},
      {}, dir.File("prometheus.log"));
  ASSERT_TRUE(signet::testing::WaitForPort(prometheus_port, std::chrono::seconds(60)))
      << ReadFile(dir.File("prometheus.log"));

  std::map<std::string, std::string> up;
  EXPECT_TRUE(signet::testing::Eventually(
      [&] {
        up = QueryByJob(prometheus_port, "up");
        return up.count(job) && up.count("closed-port");
      },
      std::chrono::seconds(60)))
      << ReadFile(dir.File("prometheus.log"));
  EXPECT_EQ(up[job], "1");
  EXPECT_EQ(up["closed-port"], "0");

  // signet's own metrics arrived, and scraping the plain-HTTP health port
  // costs the mTLS port no failed handshakes.
  const auto accepted = QueryByJob(prometheus_port, "signet_http_connections_accepted_total");
  EXPECT_EQ(accepted.size(), 1u);
  EXPECT_TRUE(accepted.count(job));
  const auto failures = QueryByJob(prometheus_port, "signet_tls_handshake_failures_total");
  ASSERT_TRUE(failures.count(job));
  EXPECT_EQ(failures.at(job), "0");

  // The rendered rules load and evaluate, and SignetProviderDown, which
  // selects the target by the labels the ServiceMonitor gives it, turns
  // quiet once the target is scraped (it is pending from evaluations before
  // the first scrape, when up was absent).
  std::map<std::string, json> alerts;
  EXPECT_TRUE(signet::testing::Eventually(
      [&] {
        alerts.clear();
        const json rules_answer = PrometheusApi(prometheus_port, "/api/v1/rules");
        if (rules_answer.is_null()) return false;
        for (const auto& group : rules_answer["data"]["groups"]) {
          for (const auto& rule : group["rules"]) {
            if (rule.value("health", "") != "ok") return false;
            alerts[rule.value("name", "")] = rule;
          }
        }
        return alerts.count("SignetProviderDown") &&
               alerts["SignetProviderDown"].value("state", "") == "inactive";
      },
      std::chrono::seconds(30)))
      << ReadFile(dir.File("prometheus.log"));
  EXPECT_EQ(alerts.size(), AlertNames(rules).size());
  ASSERT_TRUE(alerts.count("SignetProviderDown"));
  EXPECT_EQ(alerts["SignetProviderDown"].value("state", ""), "inactive")
      << alerts["SignetProviderDown"].dump();

  prometheus.Stop();
  signet.Stop();
}

}  // namespace
}  // namespace signet::monitoringtest
