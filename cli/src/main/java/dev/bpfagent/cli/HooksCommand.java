package dev.bpfagent.cli;

import dev.bpfagent.client.BpfClient;
import dev.bpfagent.proto.v1.ListInterfaceHooksRequest;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** hooks: what runs on interfaces' xdp, tcx and tc hooks, in run order (as xdp-loader status shows it). */
@Command(name = "hooks", mixinStandardHelpOptions = true, description = "What runs on interfaces' xdp, tcx and tc"
        + " hooks, in run order, whoever attached it.",
        footer = {"", "Example:", "  bpf-agent-cli hooks 'veth*' --netns blue"})
final class HooksCommand extends AgentCommand {
    @Parameters(paramLabel = "IFACE_GLOB", arity = "0..*", description = "Interfaces (globs); default: all.")
    List<String> interfaces = new ArrayList<>();

    @Option(names = "--netns", paramLabel = "NAME", description = "A named network namespace (ip netns).")
    String netns = "";

    @Override
    int run(BpfClient c, Output o) {
        var r = c.applications().hooks(ListInterfaceHooksRequest.newBuilder().addAllInterfaces(interfaces)
                .setNetns(netns).build());
        if (o.structured(r)) {
            return 0;
        }
        Table t = new Table("INTERFACE", "HOOK", "POS", "PRIORITY", "PROGRAM", "NAME", "OWNER", "PROCEED_ON");
        for (var h : r.getHooksList()) {
            String hook = h.getHook() + (h.getXdpMode().isEmpty() ? "" : "/" + h.getXdpMode())
                    + (h.getDispatcherProgramId() != 0 ? " (dispatcher " + h.getDispatcherProgramId() + ")" : "");
            int pos = 0;
            for (var p : h.getProgramsList()) {
                String owner = p.getApplication().isEmpty() ? (p.getLinkId() != 0 ? "link "
                        + Integer.toUnsignedString(p.getLinkId()) : "another tool") : "application " + p.getApplication()
                        + " " + p.getObject() + "/" + p.getProgram() + " rule " + p.getRule();
                t.row(h.getInterface(), hook, ++pos, p.getPriority(), p.getProgramId(), p.getName(), owner,
                        String.join(",", p.getProceedOnList().stream().map(x -> lower(x, "XDP_ACTION_")).toList()));
            }
            if (pos == 0) {
                t.row(h.getInterface(), hook, "", "", "", "", "", "");
            }
        }
        o.print(t);
        return 0;
    }
}
