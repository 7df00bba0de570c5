package dev.bpfagent.agent.service.metrics;

import com.google.rpc.ErrorInfo;
import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.agent.bpf.ProgramInfo;
import dev.bpfagent.agent.service.ApplicationStats;
import dev.bpfagent.agent.service.events.EventCounters;
import dev.bpfagent.agent.service.events.EventHub;
import dev.bpfagent.agent.service.state.Registry;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * The agent's Prometheus metrics (--metrics), named as cloudflare's ebpf_exporter and grpc's own server
 * metrics name theirs: counters end in _total, sizes are gauges, times are seconds.
 * <ul>
 *   <li>bpf_agent_grpc_server_calls_total{service,method,code} and
 *       bpf_agent_grpc_server_call_duration_seconds{service,method}: every call, as it closes;</li>
 *   <li>bpf_agent_call_errors_total{method,reason}: refusals by the ErrorInfo reason the agent sent, and
 *       bpf_agent_verifier_rejections_total;</li>
 *   <li>bpf_agent_objects_held{kind}, bpf_agent_objects_unheld;</li>
 *   <li>bpf_agent_event_subscribers, bpf_agent_event_records_delivered_total,
 *       bpf_agent_event_records_dropped_total (by the agent), bpf_agent_event_records_lost_total (in the kernel);</li>
 *   <li>bpf_agent_applications, bpf_agent_application_conditions{condition,status},
 *       bpf_agent_application_reconcile_passes_total, bpf_agent_application_repairs_total;</li>
 *   <li>per program the agent holds: bpf_agent_program_info{id,name,tag,type} 1,
 *       bpf_agent_program_run_count_total and bpf_agent_program_run_time_seconds_total{id,name} (the kernel's
 *       run_cnt and run_time_ns; they only move while run stats are on).</li>
 * </ul>
 * Values read at scrape time come from the registry and the kernel then; nothing is polled between scrapes.
 */
public final class AgentMetrics implements AutoCloseable {
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Counter calls;
    private final Histogram latency;
    private final Counter errors;
    private final Counter verifierRejections;
    private HTTPServer server;

    public AgentMetrics(Registry objects, EventHub events, Supplier<ApplicationStats> applications) {
        calls = Counter.builder().name("bpf_agent_grpc_server_calls_total")
                .help("gRPC calls the agent finished, by service, method and status code")
                .labelNames("service", "method", "code").register(registry);
        latency = Histogram.builder().name("bpf_agent_grpc_server_call_duration_seconds")
                .help("Time from a call's start to its status, by service and method").classicOnly()
                .classicUpperBounds(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                        0.25, 0.5, 1, 2.5, 5, 10, 30)
                .labelNames("service", "method").register(registry);
        errors = Counter.builder().name("bpf_agent_call_errors_total")
                .help("Calls the agent refused, by method and the reason in its google.rpc.ErrorInfo")
                .labelNames("method", "reason").register(registry);
        verifierRejections = Counter.builder().name("bpf_agent_verifier_rejections_total")
                .help("Program loads the kernel's verifier rejected").register(registry);

        GaugeWithCallback.builder().name("bpf_agent_objects_held").help("Kernel objects the agent holds, by kind")
                .labelNames("kind").callback(cb -> {
                    for (Registry.Kind k : Registry.Kind.values()) {
                        cb.call(objects.size(k), k.toString());
                    }
                }).register(registry);
        GaugeWithCallback.builder().name("bpf_agent_objects_unheld")
                .help("Objects the agent keeps that no caller, collection, chain or application holds any more (0 when all is well)")
                .callback(cb -> cb.call(objects.unheld())).register(registry);

        EventCounters ev = events.counters();
        GaugeWithCallback.builder().name("bpf_agent_event_subscribers").help("Event streams open now")
                .callback(cb -> cb.call(events.subscriptions())).register(registry);
        CounterWithCallback.builder().name("bpf_agent_event_records_delivered_total")
                .help("Ring buffer and perf event records sent to subscribers").callback(cb -> cb.call(ev.delivered()))
                .register(registry);
        CounterWithCallback.builder().name("bpf_agent_event_records_dropped_total")
                .help("Records a subscriber lost because its queue or the agent's memory budget was full")
                .callback(cb -> cb.call(ev.droppedByAgent())).register(registry);
        CounterWithCallback.builder().name("bpf_agent_event_records_lost_total")
                .help("Records the kernel reported lost before the agent read them (perf buffers full)")
                .callback(cb -> cb.call(ev.lostInKernel())).register(registry);

        GaugeWithCallback.builder().name("bpf_agent_applications").help("Applications the agent keeps true")
                .callback(cb -> cb.call(applications.get().applications())).register(registry);
        GaugeWithCallback.builder().name("bpf_agent_application_conditions")
                .help("Applications by condition (Ready, Degraded, ...) and its status")
                .labelNames("condition", "status").callback(cb -> applications.get().byCondition().forEach((k, n) -> {
                    String[] cs = k.split("=", 2);
                    cb.call(n, cs[0], cs[1]);
                })).register(registry);
        CounterWithCallback.builder().name("bpf_agent_application_reconcile_passes_total")
                .help("Passes that compared every application with the host")
                .callback(cb -> cb.call(applications.get().reconcilePasses())).register(registry);
        CounterWithCallback.builder().name("bpf_agent_application_repairs_total")
                .help("Changes reconcile passes made to bring an application back (drift repaired, objects rebuilt)")
                .callback(cb -> cb.call(applications.get().repairs())).register(registry);

        GaugeWithCallback.builder().name("bpf_agent_program_info")
                .help("Programs the agent holds: 1, with their id, name, tag and type")
                .labelNames("id", "name", "tag", "type").callback(cb -> {
                    for (ProgramInfo p : programs(objects)) {
                        cb.call(1, Integer.toString(p.id()), p.name(), p.tag(), type(p));
                    }
                }).register(registry);
        CounterWithCallback.builder().name("bpf_agent_program_run_count_total")
                .help("Times each held program ran (the kernel's run_cnt; counted while run stats are on)")
                .labelNames("id", "name").callback(cb -> {
                    for (ProgramInfo p : programs(objects)) {
                        cb.call(p.runCnt(), Integer.toString(p.id()), p.name());
                    }
                }).register(registry);
        CounterWithCallback.builder().name("bpf_agent_program_run_time_seconds_total")
                .help("Time each held program ran (the kernel's run_time_ns; counted while run stats are on)")
                .labelNames("id", "name").callback(cb -> {
                    for (ProgramInfo p : programs(objects)) {
                        cb.call(p.runTimeNs() / 1e9, Integer.toString(p.id()), p.name());
                    }
                }).register(registry);
    }

    private static String type(ProgramInfo p) {
        return p.type().map(t -> t.name().toLowerCase(Locale.ROOT)).orElse(Integer.toString(p.typeNumber()));
    }

    /** The held programs' kernel info, read now (a program closed meanwhile is left out). */
    private static List<ProgramInfo> programs(Registry objects) {
        List<ProgramInfo> out = new ArrayList<>();
        int after = 0;
        while (true) {
            List<Registry.Entry> page = objects.page(Registry.Kind.PROGRAM, after, 1000, e -> true);
            for (Registry.Entry e : page) {
                try {
                    out.add(e.object(Program.class).info());
                } catch (RuntimeException closed) {
                    // closed between the page and the read: not held any more
                }
                after = e.key().id();
            }
            if (page.size() < 1000) {
                return out;
            }
        }
    }

    /** Counts every call as it closes; outermost, so it sees the status a client sees. */
    public ServerInterceptor interceptor() {
        return new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                             ServerCallHandler<Q, R> next) {
                long start = System.nanoTime();
                String service = call.getMethodDescriptor().getServiceName();
                String method = call.getMethodDescriptor().getBareMethodName();
                return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
                    @Override
                    public void close(Status status, Metadata trailers) {
                        record(service, method, status, trailers, System.nanoTime() - start);
                        super.close(status, trailers);
                    }
                }, headers);
            }
        };
    }

    private void record(String service, String method, Status status, Metadata trailers, long nanos) {
        calls.labelValues(service, method, status.getCode().name()).inc();
        latency.labelValues(service, method).observe(nanos / 1e9);
        if (status.isOk()) {
            return;
        }
        String reason = status.getCode().name();
        var details = StatusProto.fromStatusAndTrailers(status, trailers);
        for (var any : details.getDetailsList()) {
            if (any.is(ErrorInfo.class)) {
                try {
                    reason = any.unpack(ErrorInfo.class).getReason();
                } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                    // keep the status code as the reason
                }
            }
        }
        errors.labelValues(method, reason).inc();
        if (reason.equals("VERIFIER_REJECTED")) {
            verifierRejections.inc();
        }
    }

    /** Serves /metrics on host:port (0: a free port); the port bound. */
    public int serve(String host, int port) throws IOException {
        server = HTTPServer.builder().hostname(host).port(port).registry(registry).buildAndStart();
        return server.getPort();
    }

    public PrometheusRegistry registry() {
        return registry;
    }

    @Override
    public void close() {
        if (server != null) {
            server.close();
        }
    }
}
