package dev.bpfagent.cli;

import dev.bpfagent.client.BpfClient;
import dev.bpfagent.proto.v1.CloseCollectionRequest;
import dev.bpfagent.proto.v1.Collection;
import dev.bpfagent.proto.v1.ListCollectionsRequest;
import dev.bpfagent.proto.v1.ListCollectionsResponse;
import dev.bpfagent.proto.v1.ObjectKind;
import dev.bpfagent.proto.v1.ObjectRef;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** collection list|show|attach|close: what object load made (programs, maps and links of one ELF object). */
@Command(name = "collection", description = "Collections: the programs, maps and links one ELF object load made.",
        mixinStandardHelpOptions = true,
        subcommands = {CollectionCommands.ListCmd.class, CollectionCommands.Show.class,
                CollectionCommands.Attach.class, CollectionCommands.Close.class})
final class CollectionCommands {
    private CollectionCommands() {
    }

    static void print(Output o, Collection col) {
        if (o.structured(col)) {
            return;
        }
        o.out().println("collection " + col.getId() + " " + col.getName() + (col.getBtfLoaded() ? ", BTF loaded" : "")
                + (col.getBtfError().isEmpty() ? "" : ", BTF: " + col.getBtfError()));
        Table p = new Table("PROGRAM", "SECTION", "ID", "INSNS");
        col.getProgramsList().forEach(x -> p.row(x.getName(), x.getSection(), x.getProgramId(), x.getLoadedInsnCnt()));
        o.print(p);
        Table m = new Table("MAP", "ID", "BORROWED");
        col.getMapsList().forEach(x -> m.row(x.getName(), x.getMapId(), x.getBorrowed() ? "yes" : "no"));
        o.print(m);
        if (col.getLinksCount() > 0) {
            Table l = new Table("LINK", "PROGRAM", "HOOK");
            col.getLinksList().forEach(x -> l.row(Integer.toUnsignedString(x.getLinkId()), x.getProgram(), x.getHook()));
            o.print(l);
        }
    }

    static ObjectRef ref(int id) {
        return ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_COLLECTION).setId(id).build();
    }

    @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, description = "The agent's collections.",
            footer = {"", "Example:", "  bpf-agent-cli collection list -o yaml"})
    static final class ListCmd extends AgentCommand {
        @Option(names = {"-l", "--label"}, paramLabel = "KEY=VALUE")
        Map<String, String> labels = new LinkedHashMap<>();

        @Override
        int run(BpfClient c, Output o) {
            var all = ListCollectionsResponse.newBuilder();
            pages(t -> c.listCollections(ListCollectionsRequest.newBuilder().putAllLabels(labels).setPageSize(1000)
                    .setPageToken(t).build()), ListCollectionsResponse::getNextPageToken,
                    p -> all.addAllCollections(p.getCollectionsList()));
            if (!o.structured(all)) {
                Table t = new Table("ID", "NAME", "PROGRAMS", "MAPS", "LINKS", "BTF");
                all.getCollectionsList().forEach(x -> t.row(x.getId(), x.getName(), x.getProgramsCount(),
                        x.getMapsCount(), x.getLinksCount(), x.getBtfLoaded() ? "yes" : "no"));
                o.print(t);
            }
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "One collection: its programs, maps, links.",
            footer = {"", "Example:", "  bpf-agent-cli collection show 5"})
    static final class Show extends AgentCommand {
        @Parameters(paramLabel = "ID")
        int id;

        @Override
        int run(BpfClient c, Output o) {
            print(o, c.collection(id));
            return 0;
        }
    }

    @Command(name = "attach", mixinStandardHelpOptions = true, description = "Attaches every program whose section"
            + " names its hook (SEC(\"xdp\"), SEC(\"tp/...\")...), as libbpf's auto-attach does.",
            footer = {"", "Example:", "  bpf-agent-cli collection attach 5"})
    static final class Attach extends AgentCommand {
        @Parameters(paramLabel = "ID")
        int id;

        @Override
        int run(BpfClient c, Output o) {
            print(o, c.attachCollection(id));
            return 0;
        }
    }

    @Command(name = "close", mixinStandardHelpOptions = true, description = "Closes a collection and, unless"
            + " --keep-members, its programs, maps and links.", footer = {"", "Example:", "  bpf-agent-cli collection close 5"})
    static final class Close extends AgentCommand {
        @Parameters(paramLabel = "ID")
        int id;

        @Option(names = "--keep-members", description = "Leave its programs and maps held.")
        boolean keepMembers;

        @Override
        int run(BpfClient c, Output o) {
            var r = c.closeCollection(CloseCollectionRequest.newBuilder().setCollection(ref(id))
                    .setKeepMembers(keepMembers).build());
            if (!o.structured(r)) {
                o.out().println("collection " + id + " closed (" + r.getClosedCount() + " objects)");
            }
            return 0;
        }
    }
}
