package dev.bpfagent.cli;

import com.google.protobuf.ByteString;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.proto.v1.DeleteMapElemRequest;
import dev.bpfagent.proto.v1.DumpMapRequest;
import dev.bpfagent.proto.v1.DumpMapResponse;
import dev.bpfagent.proto.v1.ListMapsRequest;
import dev.bpfagent.proto.v1.ListMapsResponse;
import dev.bpfagent.proto.v1.LookupMapElemRequest;
import dev.bpfagent.proto.v1.LookupMapElemResponse;
import dev.bpfagent.proto.v1.MapEntry;
import dev.bpfagent.proto.v1.MapType;
import dev.bpfagent.proto.v1.ObjectKind;
import dev.bpfagent.proto.v1.ObjectRef;
import dev.bpfagent.proto.v1.UpdateMapElemRequest;
import dev.bpfagent.proto.v1.UpdateMode;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** map list|show|dump|lookup|update|delete|close: bpftool map's verbs; keys and values are hex bytes. */
@Command(name = "map", description = "Maps in the kernel (bpftool map). Keys and values are hex bytes, as"
        + " 0a000001 or \"0a 00 00 01\".", mixinStandardHelpOptions = true,
        subcommands = {MapCommands.ListCmd.class, MapCommands.Show.class, MapCommands.Dump.class,
                MapCommands.Lookup.class, MapCommands.Update.class, MapCommands.Delete.class, MapCommands.Close.class})
final class MapCommands {
    private MapCommands() {
    }

    static final HexFormat HEX = HexFormat.of();

    /** Bytes from hex, spaces and an 0x prefix allowed; a usage error naming the option otherwise. */
    static byte[] hex(String what, String s) {
        String h = s.replace(" ", "").replace(":", "");
        if (h.startsWith("0x")) {
            h = h.substring(2);
        }
        try {
            return HEX.parseHex(h);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(what + " is hex bytes (e.g. 0a000001), not " + s);
        }
    }

    static ObjectRef ref(int id) {
        return ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_MAP).setId(id).build();
    }

    @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true,
            description = "The maps the agent holds, or with --all every map in the kernel.",
            footer = {"", "Example:", "  bpf-agent-cli map list --all"})
    static final class ListCmd extends AgentCommand {
        @Option(names = {"-a", "--all"}, description = "Every map in the kernel, not only the agent's.")
        boolean all;

        @Option(names = "--type", paramLabel = "TYPE", description = "Only this map type, e.g. hash.")
        String type;

        @Option(names = {"-l", "--label"}, paramLabel = "KEY=VALUE")
        Map<String, String> labels = new LinkedHashMap<>();

        @Override
        int run(BpfClient c, Output o) {
            var req = ListMapsRequest.newBuilder().setIncludeKernel(all).putAllLabels(labels).setPageSize(1000);
            if (type != null) {
                req.setType(parse(MapType.class, "MAP_TYPE_", "map type", type));
            }
            var all = ListMapsResponse.newBuilder();
            pages(t -> c.listMaps(req.setPageToken(t).build()), ListMapsResponse::getNextPageToken,
                    p -> all.addAllMaps(p.getMapsList()));
            if (o.structured(all)) {
                return 0;
            }
            Table t = new Table("ID", "TYPE", "NAME", "KEY", "VALUE", "MAX_ENTRIES", "FLAGS", "HELD", "PINNED");
            for (var m : all.getMapsList()) {
                var k = m.getKernel();
                t.row(m.getId(), lower(k.getType(), "MAP_TYPE_"), k.getName(), k.getKeySize() + "B",
                        k.getValueSize() + "B", k.getMaxEntries(), "0x" + Integer.toHexString(k.getMapFlags()),
                        m.getAgent().getHeld() ? "yes" : "no", String.join(",", m.getAgent().getPinnedPathsList()));
            }
            o.print(t);
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "One map: bpf_map_info and the agent's view.",
            footer = {"", "Example:", "  bpf-agent-cli map show 7"})
    static final class Show extends AgentCommand {
        @Parameters(paramLabel = "ID")
        int id;

        @Override
        int run(BpfClient c, Output o) {
            var m = c.map(id);
            if (o.structured(m)) {
                return 0;
            }
            var k = m.getKernel();
            o.print(Table.fields().row("id", m.getId()).row("type", lower(k.getType(), "MAP_TYPE_"))
                    .row("name", k.getName()).row("key_size", k.getKeySize()).row("value_size", k.getValueSize())
                    .row("max_entries", k.getMaxEntries()).row("flags", "0x" + Integer.toHexString(k.getMapFlags()))
                    .row("btf_id", k.getBtfId()).row("values_per_key", k.getValuesPerKey())
                    .row("held", m.getAgent().getHeld())
                    .row("pinned", String.join(",", m.getAgent().getPinnedPathsList()))
                    .row("labels", new TreeMap<>(m.getAgent().getLabelsMap())));
            return 0;
        }
    }

    /** One entry's value: the value, or each CPU's value for per-CPU maps. */
    static String value(ByteString value, List<ByteString> perCpu) {
        if (perCpu.isEmpty()) {
            return HEX.formatHex(value.toByteArray());
        }
        List<String> cpus = new ArrayList<>();
        for (int i = 0; i < perCpu.size(); i++) {
            cpus.add("cpu" + i + "=" + HEX.formatHex(perCpu.get(i).toByteArray()));
        }
        return String.join(" ", cpus);
    }

    @Command(name = "dump", mixinStandardHelpOptions = true, description = "Every entry of a map, page by page.",
            footer = {"", "Example:", "  bpf-agent-cli map dump 7 -o json"})
    static final class Dump extends AgentCommand {
        @Parameters(paramLabel = "ID")
        int id;

        @Override
        int run(BpfClient c, Output o) {
            var all = DumpMapResponse.newBuilder();
            ByteString token = ByteString.EMPTY;
            do {
                var page = c.dumpMap(DumpMapRequest.newBuilder().setMap(ref(id)).setPageSize(4096)
                        .setPageToken(token).build());
                all.addAllEntries(page.getEntriesList());
                token = page.getNextPageToken();
            } while (!token.isEmpty());
            all.setCount(all.getEntriesCount());
            if (o.structured(all)) {
                return 0;
            }
            Table t = new Table("KEY", "VALUE");
            for (MapEntry e : all.getEntriesList()) {
                t.row(HEX.formatHex(e.getKey().toByteArray()), value(e.getValue(), e.getPerCpuValuesList()));
            }
            o.print(t);
            if (t.size() == 0) {
                o.out().println("(no entries)");
            }
            return 0;
        }
    }

    @Command(name = "lookup", mixinStandardHelpOptions = true, description = "One key's value; exit 1 (NOT_FOUND)"
            + " when the map has no such key.", footer = {"", "Example:", "  bpf-agent-cli map lookup 7 00000000"})
    static final class Lookup extends AgentCommand {
        @Parameters(index = "0", paramLabel = "ID")
        int id;

        @Parameters(index = "1", paramLabel = "KEY", description = "Hex bytes.")
        String key;

        @Override
        int run(BpfClient c, Output o) {
            LookupMapElemResponse r = c.lookupMapElem(LookupMapElemRequest.newBuilder().setMap(ref(id))
                    .setKey(ByteString.copyFrom(hex("KEY", key))).build());
            if (!r.getFound()) {
                spec.commandLine().getErr().println("error: NOT_FOUND: map " + id + " has no key " + key);
                return ExitCodes.REFUSED;
            }
            if (!o.structured(r)) {
                o.out().println(value(r.getValue(), r.getPerCpuValuesList()));
            }
            return 0;
        }
    }

    @Command(name = "update", mixinStandardHelpOptions = true, description = "Sets one key's value.",
            footer = {"", "Example:", "  bpf-agent-cli map update 7 00000000 0100000000000000 --mode noexist"})
    static final class Update extends AgentCommand {
        @Parameters(index = "0", paramLabel = "ID")
        int id;

        @Parameters(index = "1", paramLabel = "KEY", description = "Hex bytes.")
        String key;

        @Parameters(index = "2", paramLabel = "VALUE", description = "Hex bytes (for per-CPU maps: every CPU's"
                + " value, or one value given to every CPU).")
        String value;

        @Option(names = "--mode", paramLabel = "any|noexist|exist", defaultValue = "any",
                description = "BPF_ANY (default), BPF_NOEXIST or BPF_EXIST.")
        String mode;

        @Override
        int run(BpfClient c, Output o) {
            var r = c.updateMapElem(UpdateMapElemRequest.newBuilder().setMap(ref(id))
                    .setKey(ByteString.copyFrom(hex("KEY", key))).setValue(ByteString.copyFrom(hex("VALUE", value)))
                    .setMode(parse(UpdateMode.class, "UPDATE_MODE_", "update mode", mode)).build());
            if (!o.structured(r)) {
                o.out().println("updated");
            }
            return 0;
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Deletes one key.",
            footer = {"", "Example:", "  bpf-agent-cli map delete 7 00000000"})
    static final class Delete extends AgentCommand {
        @Parameters(index = "0", paramLabel = "ID")
        int id;

        @Parameters(index = "1", paramLabel = "KEY", description = "Hex bytes.")
        String key;

        @Override
        int run(BpfClient c, Output o) {
            var r = c.deleteMapElem(DeleteMapElemRequest.newBuilder().setMap(ref(id))
                    .setKey(ByteString.copyFrom(hex("KEY", key))).build());
            if (!r.getDeleted()) {
                spec.commandLine().getErr().println("error: NOT_FOUND: map " + id + " has no key " + key);
                return ExitCodes.REFUSED;
            }
            if (!o.structured(r)) {
                o.out().println("deleted");
            }
            return 0;
        }
    }

    @Command(name = "close", mixinStandardHelpOptions = true, description = "Closes the agent's hold on a map (the"
            + " kernel frees it when no program uses it).", footer = {"", "Example:", "  bpf-agent-cli map close 7 --cascade"})
    static final class Close extends AgentCommand {
        @Parameters(paramLabel = "ID")
        int id;

        @Option(names = "--keep-pins", description = "Leave its pins in bpffs (the kernel then keeps the map).")
        boolean keepPins;

        @Option(names = "--cascade", description = "Close the programs loaded with it first (else refused while"
                + " they are held).")
        boolean cascade;

        @Override
        int run(BpfClient c, Output o) {
            var r = c.closeMap(dev.bpfagent.proto.v1.CloseMapRequest.newBuilder().setMap(ref(id)).setKeepPins(keepPins)
                    .setCascade(cascade).build());
            if (!o.structured(r)) {
                o.out().println("map " + id + " closed (" + r.getClosedCount() + " objects)"
                        + (r.getUnpinnedPathsCount() > 0 ? ", unpinned " + String.join(",", r.getUnpinnedPathsList()) : ""));
            }
            return 0;
        }
    }
}
