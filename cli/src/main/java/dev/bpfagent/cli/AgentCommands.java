package dev.bpfagent.cli;

import dev.bpfagent.client.AgentChannels;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.Health;
import dev.bpfagent.proto.v1.GetAgentInfoResponse;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The agent itself: health, info, the kernel's features, and reading an iterator link. */
final class AgentCommands {
    private AgentCommands() {
    }

    @Command(name = "health", mixinStandardHelpOptions = true, description = "grpc.health.v1: SERVING, or exit 1.",
            footer = {"", "Example (a probe):", "  bpf-agent-cli health >/dev/null || echo not serving"})
    static final class HealthCheck extends AgentCommand {
        @Override
        int run(BpfClient c, Output o) {
            Health.Status s = c.health();
            if (o.isTable()) {
                o.out().println(s);
            } else {
                o.out().println(o.text(com.google.protobuf.Struct.newBuilder().putFields("status",
                        com.google.protobuf.Value.newBuilder().setStringValue(s.name()).build())));
            }
            return s == Health.Status.SERVING ? 0 : ExitCodes.REFUSED;
        }
    }

    @Command(name = "info", mixinStandardHelpOptions = true, description = "The agent's version, kernel, bpffs"
            + " directory and what it holds.", footer = {"", "Example:", "  bpf-agent-cli info -o json"})
    static final class Info extends AgentCommand {
        @Override
        int run(BpfClient c, Output o) {
            GetAgentInfoResponse i = c.agentInfo();
            if (o.structured(i)) {
                return 0;
            }
            Table t = Table.fields();
            for (var f : GetAgentInfoResponse.getDescriptor().getFields()) {
                Object v = i.getField(f);
                t.row(f.getName(), v instanceof com.google.protobuf.MessageOrBuilder m ? o.textLine(m)
                        : f.isRepeated() ? String.join(",", ((List<?>) v).stream().map(String::valueOf).toList()) : v);
            }
            t.row("client_transport", AgentChannels.nativeTransport() ? "epoll" : "nio");
            o.print(t);
            return 0;
        }
    }

    @Command(name = "features", mixinStandardHelpOptions = true, description = "What this kernel has: program and map"
            + " types, attach kinds, helpers (probed by the agent, as bpftool feature probe).",
            footer = {"", "Example:", "  bpf-agent-cli features --refresh"})
    static final class Features extends AgentCommand {
        @Option(names = "--refresh", description = "Probe again instead of the agent's cached answer.")
        boolean refresh;

        @Override
        int run(BpfClient c, Output o) {
            var f = c.kernelFeatures(refresh);
            if (o.structured(f)) {
                return 0;
            }
            o.out().println("kernel " + f.getKernelRelease());
            Table t = new Table("GROUP", "FEATURE", "STATE", "DETAIL");
            for (var group : List.of(Map.entry("program_type", f.getProgramTypesList()),
                    Map.entry("map_type", f.getMapTypesList()), Map.entry("attach", f.getAttachList()),
                    Map.entry("other", f.getOtherList()))) {
                for (var k : group.getValue()) {
                    t.row(group.getKey(), k.getName(), lower(k.getState(), "FEATURE_STATE_"), k.getDetail());
                }
            }
            o.print(t);
            return 0;
        }
    }

    @Command(name = "read-iter", mixinStandardHelpOptions = true, description = "Reads an iterator link once (as"
            + " cat on its pin): the program's output bytes on stdout.",
            footer = {"", "Example:", "  bpf-agent-cli read-iter 12 | hexdump -C"})
    static final class Iter extends AgentCommand {
        @Parameters(paramLabel = "LINK_ID")
        int linkId;

        @Override
        int run(BpfClient c, Output o) {
            o.out().writeBytes(c.readIterator(linkId));
            o.out().flush();
            return 0;
        }
    }
}
