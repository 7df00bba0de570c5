package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.client.TestRunOptions;
import dev.bpfagent.proto.v1.ProgramType;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * --metrics: the agent's Prometheus exposition, scraped by a real Prometheus server (Debian's), whose
 * query API then shows the series; promtool accepts the exposition. The values are the kernel's and
 * the agent's: a program's run_cnt after test runs with run stats on, a verifier rejection, the calls.
 */
class MetricsTest {
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    static String get(String url) throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), url + ": " + r.body());
        return r.body();
    }

    /** The body of a 200 answer, else null (a server still starting answers 503, or not at all). */
    static String tryGet(String url) {
        try {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10))
                    .build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? r.body() : null;
        } catch (java.io.IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** The value of a series in the exposition text, or -1 when it is not there. */
    static double value(String exposition, String series) {
        return exposition.lines().filter(l -> l.startsWith(series + " ")).mapToDouble(l -> Double.parseDouble(
                l.substring(series.length() + 1).trim().split(" ")[0])).findFirst().orElse(-1);
    }

    @Test
    void aRealPrometheusScrapesTheAgentsSeries(@TempDir Path dir) throws Exception {
        Kernel.assumeRoot();
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/prometheus")), "needs Debian's prometheus");
        try (AgentProcess agent = AgentProcess.start("--metrics", "127.0.0.1:0");
             BpfClient c = BpfClient.connect(agent.unixTarget())) {
            assertNotNull(agent.metricsAddress, "the ready line names the metrics address");
            String url = "http://" + agent.metricsAddress + "/metrics";
            c.setRunStats(true);
            int id;
            try (ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(1))
                    .name("metered").label("team", "net").build())) {
                id = p.id();
                p.testRun(TestRunOptions.ofData(TestPackets.udp().build()).withRepeat(25));
                assertThrows(BpfAgentException.VerifierRejected.class, () -> c.load(LoadOptions.builder(
                        ProgramType.PROGRAM_TYPE_XDP, new byte[] {(byte) 0x95, 0, 0, 0, 0, 0, 0, 0}).build()));
                long runCnt = c.program(id).getKernel().getRunCnt();
                assertTrue(runCnt >= 25, "the kernel counted the test runs: " + runCnt);

                String text = get(url);
                assertEquals(1, value(text, "bpf_agent_program_info{id=\"" + id + "\",name=\"metered\",tag=\""
                        + p.tag() + "\",type=\"xdp\"}"), text);
                assertEquals(runCnt, value(text, "bpf_agent_program_run_count_total{id=\"" + id + "\",name=\"metered\"}"),
                        text);
                assertTrue(value(text, "bpf_agent_program_run_time_seconds_total{id=\"" + id + "\",name=\"metered\"}") > 0);
                assertEquals(1, value(text, "bpf_agent_verifier_rejections_total"), text);
                assertEquals(1, value(text, "bpf_agent_call_errors_total{method=\"LoadProgram\",reason=\"VERIFIER_REJECTED\"}"));
                assertEquals(1, value(text, "bpf_agent_grpc_server_calls_total{code=\"OK\",method=\"LoadProgram\","
                        + "service=\"bpfagent.v1.BpfService\"}"), text);
                assertEquals(1, value(text, "bpf_agent_objects_held{kind=\"program\"}"), text);
                assertEquals(0, value(text, "bpf_agent_objects_unheld"));
                assertTrue(text.contains("bpf_agent_grpc_server_call_duration_seconds_bucket{method=\"TestRunProgram\""),
                        "latency histograms");
                for (String series : List.of("bpf_agent_event_subscribers", "bpf_agent_event_records_delivered_total",
                        "bpf_agent_event_records_dropped_total", "bpf_agent_event_records_lost_total",
                        "bpf_agent_applications", "bpf_agent_application_reconcile_passes_total",
                        "bpf_agent_application_repairs_total")) {
                    assertTrue(value(text, series) >= 0, series + " is exposed");
                }

                // promtool, the Prometheus project's own linter, accepts the exposition
                Path scraped = dir.resolve("metrics.txt");
                Files.writeString(scraped, text);
                var lint = Processes.run(60, new ProcessBuilder("sh", "-c", "promtool check metrics < " + scraped));
                assertEquals(0, lint.exit(), lint.toString());

                // a real Prometheus server scrapes it; its query API shows the series
                int port;
                try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                    port = s.getLocalPort();
                }
                Path config = dir.resolve("prometheus.yml");
                Files.writeString(config, """
                        global: {scrape_interval: 1s, scrape_timeout: 1s}
                        scrape_configs:
                        - job_name: bpf-agent
                          static_configs: [{targets: ['%s']}]
                        """.formatted(agent.metricsAddress));
                Process prom = new ProcessBuilder("/usr/bin/prometheus", "--config.file=" + config,
                        "--storage.tsdb.path=" + dir.resolve("tsdb"), "--web.listen-address=127.0.0.1:" + port)
                        .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
                try {
                    String api = "http://127.0.0.1:" + port + "/api/v1/query?query=";
                    ObjectMapper json = new ObjectMapper();
                    JsonNode[] found = new JsonNode[1];
                    String query = "bpf_agent_program_run_count_total{id=\"" + id + "\"}";
                    assertTrue(Kernel.eventually(() -> {
                        String body = tryGet(api + URLEncoder.encode(query, StandardCharsets.UTF_8));
                        if (body == null) {
                            return false; // Prometheus is still starting
                        }
                        try {
                            found[0] = json.readTree(body);
                        } catch (java.io.IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                        return found[0].path("data").path("result").size() == 1;
                    }, 60), () -> "Prometheus shows the series: " + found[0] + "\n" + read(dir.resolve("prometheus.log")));
                    JsonNode sample = found[0].path("data").path("result").get(0);
                    assertEquals("bpf-agent", sample.path("metric").path("job").asText());
                    assertEquals("metered", sample.path("metric").path("name").asText());
                    assertEquals(runCnt, Double.parseDouble(sample.path("value").get(1).asText()), 0.0);
                    JsonNode up = json.readTree(get(api + URLEncoder.encode("up{job=\"bpf-agent\"}", StandardCharsets.UTF_8)));
                    assertEquals("1", up.path("data").path("result").get(0).path("value").get(1).asText(), "the scrape succeeded");
                } finally {
                    prom.destroy();
                    if (!prom.waitFor(20, TimeUnit.SECONDS)) {
                        prom.destroyForcibly();
                    }
                }
            }
            assertTrue(Kernel.eventually(() -> {
                String body = tryGet(url);
                return body != null && value(body, "bpf_agent_objects_held{kind=\"program\"}") == 0;
            }), "closed: no longer held, no longer listed");
        }
    }

    @Test
    void optionsFromAConfigFileAndLogsAsJsonLines(@TempDir Path dir) throws Exception {
        Kernel.assumeRoot();
        Path config = dir.resolve("agent.yaml");
        Files.writeString(config, "metrics: 127.0.0.1:0\nlog-format: json\n");
        try (AgentProcess agent = AgentProcess.start("--config", config.toString())) {
            assertNotNull(agent.metricsAddress, "metrics on, from the file");
            assertTrue(get("http://" + agent.metricsAddress + "/metrics").contains("bpf_agent_objects_held"));
            // --insecure-loopback (AgentProcess's TCP) is logged as a warning: a JSON line
            String err = agent.agentStderr();
            ObjectMapper json = new ObjectMapper();
            List<String> lines = err.lines().filter(l -> !l.isBlank() && !l.startsWith("WARNING: ")).toList();
            assertFalse(lines.isEmpty(), "the agent logged: " + err);
            for (String l : lines) {
                JsonNode n = json.readTree(l);
                assertTrue(n.has("time") && n.has("level") && n.has("logger") && n.has("message"), l);
            }
            assertTrue(lines.stream().anyMatch(l -> l.contains("\"level\":\"WARNING\"") && l.contains("insecure-loopback")), err);
        }
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (java.io.IOException e) {
            return "";
        }
    }
}
