package dev.bpfagent.cli;

import dev.bpfagent.client.BpfClient;
import dev.bpfagent.proto.v1.Chain;
import dev.bpfagent.proto.v1.ChainEntry;
import dev.bpfagent.proto.v1.ClearChainEntryRequest;
import dev.bpfagent.proto.v1.CloseChainRequest;
import dev.bpfagent.proto.v1.CreateChainRequest;
import dev.bpfagent.proto.v1.ListChainsRequest;
import dev.bpfagent.proto.v1.ListChainsResponse;
import dev.bpfagent.proto.v1.ObjectKind;
import dev.bpfagent.proto.v1.ObjectRef;
import dev.bpfagent.proto.v1.SetChainEntryRequest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** chain list|show|create|set|clear|close: tail-call chains (a program array and its slots). */
@Command(name = "chain", description = "Tail-call chains: a program array the agent keeps, and its slots.",
        mixinStandardHelpOptions = true,
        subcommands = {ChainCommands.ListCmd.class, ChainCommands.Show.class, ChainCommands.Create.class,
                ChainCommands.Set.class, ChainCommands.Clear.class, ChainCommands.Close.class})
final class ChainCommands {
    private ChainCommands() {
    }

    static ObjectRef ref(int id) {
        return ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_CHAIN).setId(id).build();
    }

    static ObjectRef program(int id) {
        return ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_PROGRAM).setId(id).build();
    }

    static String slots(Chain ch) {
        return ch.getSlotsList().stream().map(s -> s.getIndex() + "=" + s.getProgramId())
                .collect(Collectors.joining(","));
    }

    static void print(Output o, Chain ch) {
        if (!o.structured(ch)) {
            Table t = new Table("ID", "NAME", "PROG_ARRAY", "MAX_ENTRIES", "SLOTS");
            t.row(ch.getId(), ch.getName(), ch.getProgArrayId(), ch.getMaxEntries(), slots(ch));
            o.print(t);
        }
    }

    @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, description = "The agent's chains.",
            footer = {"", "Example:", "  bpf-agent-cli chain list -l team=net"})
    static final class ListCmd extends AgentCommand {
        @Option(names = {"-l", "--label"}, paramLabel = "KEY=VALUE")
        Map<String, String> labels = new LinkedHashMap<>();

        @Override
        int run(BpfClient c, Output o) {
            var all = ListChainsResponse.newBuilder();
            pages(t -> c.listChains(ListChainsRequest.newBuilder().putAllLabels(labels).setPageSize(1000)
                    .setPageToken(t).build()), ListChainsResponse::getNextPageToken, p -> all.addAllChains(p.getChainsList()));
            if (!o.structured(all)) {
                Table t = new Table("ID", "NAME", "PROG_ARRAY", "MAX_ENTRIES", "SLOTS");
                all.getChainsList().forEach(ch -> t.row(ch.getId(), ch.getName(), ch.getProgArrayId(),
                        ch.getMaxEntries(), slots(ch)));
                o.print(t);
            }
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "One chain and its slots.",
            footer = {"", "Example:", "  bpf-agent-cli chain show 3"})
    static final class Show extends AgentCommand {
        @Parameters(paramLabel = "ID")
        int id;

        @Override
        int run(BpfClient c, Output o) {
            print(o, c.chain(id));
            return 0;
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Makes a chain: a program array with"
            + " MAX_ENTRIES slots, filled with INDEX=PROGRAM_ID entries.",
            footer = {"", "Example:", "  bpf-agent-cli chain create parser --max-entries 8 0=41 1=42"})
    static final class Create extends AgentCommand {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Option(names = "--max-entries", required = true, paramLabel = "N")
        int maxEntries;

        @Parameters(index = "1..*", paramLabel = "INDEX=PROGRAM_ID", description = "Slots to fill.")
        List<String> entries = new ArrayList<>();

        @Option(names = {"-l", "--label"}, paramLabel = "KEY=VALUE")
        Map<String, String> labels = new LinkedHashMap<>();

        @Override
        int run(BpfClient c, Output o) {
            var req = CreateChainRequest.newBuilder().setName(name).setMaxEntries(maxEntries).putAllLabels(labels);
            for (String e : entries) {
                String[] kv = e.split("=", 2);
                try {
                    req.addEntries(ChainEntry.newBuilder().setIndex(Integer.parseUnsignedInt(kv[0]))
                            .setProgram(program(Integer.parseUnsignedInt(kv[1]))));
                } catch (NumberFormatException | ArrayIndexOutOfBoundsException x) {
                    throw new IllegalArgumentException("a chain entry is INDEX=PROGRAM_ID, e.g. 0=42, not " + e);
                }
            }
            print(o, c.createChain(req.build()).chain()); // kept by the agent until closed
            return 0;
        }
    }

    @Command(name = "set", mixinStandardHelpOptions = true, description = "Puts a program in a slot.",
            footer = {"", "Example:", "  bpf-agent-cli chain set 3 1 42"})
    static final class Set extends AgentCommand {
        @Parameters(index = "0", paramLabel = "CHAIN_ID")
        int id;

        @Parameters(index = "1", paramLabel = "INDEX")
        int index;

        @Parameters(index = "2", paramLabel = "PROGRAM_ID")
        int programId;

        @Override
        int run(BpfClient c, Output o) {
            print(o, c.setChainEntry(SetChainEntryRequest.newBuilder().setChain(ref(id)).setIndex(index)
                    .setProgram(program(programId)).build()));
            return 0;
        }
    }

    @Command(name = "clear", mixinStandardHelpOptions = true, description = "Empties a slot.",
            footer = {"", "Example:", "  bpf-agent-cli chain clear 3 1"})
    static final class Clear extends AgentCommand {
        @Parameters(index = "0", paramLabel = "CHAIN_ID")
        int id;

        @Parameters(index = "1", paramLabel = "INDEX")
        int index;

        @Override
        int run(BpfClient c, Output o) {
            print(o, c.clearChainEntry(ClearChainEntryRequest.newBuilder().setChain(ref(id)).setIndex(index).build()));
            return 0;
        }
    }

    @Command(name = "close", mixinStandardHelpOptions = true, description = "Closes a chain and, unless"
            + " --keep-programs, the programs in its slots.", footer = {"", "Example:", "  bpf-agent-cli chain close 3"})
    static final class Close extends AgentCommand {
        @Parameters(paramLabel = "ID")
        int id;

        @Option(names = "--keep-programs", description = "Leave the programs and the prog array held (map close"
                + " PROG_ARRAY_ID releases the array).")
        boolean keepPrograms;

        @Override
        int run(BpfClient c, Output o) {
            var r = c.closeChain(CloseChainRequest.newBuilder().setChain(ref(id)).setKeepPrograms(keepPrograms).build());
            if (!o.structured(r)) {
                o.out().println("chain " + id + " closed (" + r.getClosedCount() + " objects)");
            }
            return 0;
        }
    }
}
