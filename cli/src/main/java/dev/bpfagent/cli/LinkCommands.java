package dev.bpfagent.cli;

import dev.bpfagent.client.BpfClient;
import dev.bpfagent.proto.v1.Link;
import dev.bpfagent.proto.v1.ListLinksRequest;
import dev.bpfagent.proto.v1.ListLinksResponse;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** link list|show|detach: bpftool link's verbs (attach is its own command: {@link AttachCommand}). */
@Command(name = "link", description = "Where programs run: the agent's links (bpftool link).",
        mixinStandardHelpOptions = true,
        subcommands = {LinkCommands.ListCmd.class, LinkCommands.Show.class, LinkCommands.Detach.class})
final class LinkCommands {
    private LinkCommands() {
    }

    static Table table() {
        return new Table("ID", "PROGRAM", "TYPE", "MECHANISM", "TARGET", "PINNED");
    }

    static void row(Table t, Link l) {
        t.row(Integer.toUnsignedString(l.getId()), l.getProgramId(), l.getType(),
                AgentCommand.lower(l.getMechanism(), "ATTACH_MECHANISM_"), l.getTarget(),
                String.join(",", l.getAgent().getPinnedPathsList()));
    }

    @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, description = "The agent's links.",
            footer = {"", "Example:", "  bpf-agent-cli link list --program 42"})
    static final class ListCmd extends AgentCommand {
        @Option(names = {"-p", "--program"}, paramLabel = "ID", description = "Only this program's links.")
        int programId;

        @Option(names = {"-l", "--label"}, paramLabel = "KEY=VALUE")
        Map<String, String> labels = new LinkedHashMap<>();

        @Override
        int run(BpfClient c, Output o) {
            var req = ListLinksRequest.newBuilder().setProgramId(programId).putAllLabels(labels).setPageSize(1000);
            var all = ListLinksResponse.newBuilder();
            pages(t -> c.listLinks(req.setPageToken(t).build()), ListLinksResponse::getNextPageToken,
                    p -> all.addAllLinks(p.getLinksList()));
            if (!o.structured(all)) {
                Table t = table();
                all.getLinksList().forEach(l -> row(t, l));
                o.print(t);
            }
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "One link.",
            footer = {"", "Example:", "  bpf-agent-cli link show 12"})
    static final class Show extends AgentCommand {
        @Parameters(paramLabel = "ID")
        int id;

        @Override
        int run(BpfClient c, Output o) {
            Link l = c.link(id);
            if (!o.structured(l)) {
                o.print(Table.fields().row("id", Integer.toUnsignedString(l.getId())).row("program", l.getProgramId())
                        .row("type", l.getType()).row("mechanism", lower(l.getMechanism(), "ATTACH_MECHANISM_"))
                        .row("target", l.getTarget()).row("ifindex", l.getIfindex())
                        .row("pinned", String.join(",", l.getAgent().getPinnedPathsList()))
                        .row("labels", new TreeMap<>(l.getAgent().getLabelsMap())));
            }
            return 0;
        }
    }

    @Command(name = "detach", mixinStandardHelpOptions = true, description = "Detaches a link (and removes its pins).",
            footer = {"", "Example:", "  bpf-agent-cli link detach 12"})
    static final class Detach extends AgentCommand {
        @Parameters(paramLabel = "ID")
        int id;

        @Override
        int run(BpfClient c, Output o) {
            var r = c.detach(id);
            if (!o.structured(r)) {
                o.out().println("link " + Integer.toUnsignedString(id) + " detached" + (r.getUnpinnedPathsCount() > 0
                        ? ", unpinned " + String.join(",", r.getUnpinnedPathsList()) : ""));
            }
            return 0;
        }
    }
}
