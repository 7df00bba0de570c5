package dev.bpfagent.cli;

import com.google.protobuf.ByteString;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.TestRunOptions;
import dev.bpfagent.client.TestRunResult;
import dev.bpfagent.proto.v1.ObjectKind;
import dev.bpfagent.proto.v1.ObjectRef;
import dev.bpfagent.proto.v1.TestRunProgramResponse;
import dev.bpfagent.proto.v1.AttachType;
import dev.bpfagent.proto.v1.CloseProgramResponse;
import dev.bpfagent.proto.v1.ListProgramsRequest;
import dev.bpfagent.proto.v1.ListProgramsResponse;
import dev.bpfagent.proto.v1.LoadProgramRequest;
import dev.bpfagent.proto.v1.PinResponse;
import dev.bpfagent.proto.v1.Program;
import dev.bpfagent.proto.v1.ProgramType;
import dev.bpfagent.proto.v1.UnpinResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** program list|show|load|close|pin|unpin|run: bpftool prog's verbs. */
@Command(name = "program", aliases = "prog", description = "Programs in the kernel (bpftool prog).",
        mixinStandardHelpOptions = true,
        subcommands = {ProgramCommands.ListCmd.class, ProgramCommands.Show.class, ProgramCommands.Load.class,
                ProgramCommands.Close.class, ProgramCommands.Pin.class, ProgramCommands.Unpin.class,
                ProgramCommands.Run.class})
final class ProgramCommands {
    private ProgramCommands() {
    }

    @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true,
            description = "The programs the agent holds, or with --all every program in the kernel.",
            footer = {"", "Example:", "  bpf-agent-cli program list --all --type xdp -o json"})
    static final class ListCmd extends AgentCommand {
        @Option(names = {"-a", "--all"}, description = "Every program in the kernel, not only the agent's.")
        boolean all;

        @Option(names = "--type", paramLabel = "TYPE", description = "Only this program type, e.g. xdp.")
        String type;

        @Option(names = {"-l", "--label"}, paramLabel = "KEY=VALUE", description = "Only programs with this label.")
        Map<String, String> labels = new LinkedHashMap<>();

        @Option(names = "--links", description = "Also where each program runs (walks the kernel's links).")
        boolean links;

        @Override
        int run(BpfClient c, Output o) {
            var req = ListProgramsRequest.newBuilder().setIncludeKernel(all).putAllLabels(labels).setWithLinks(links);
            if (type != null) {
                req.setType(parse(ProgramType.class, "PROGRAM_TYPE_", "program type", type));
            }
            List<Program> all = c.listAll(req.build());
            if (o.structured(ListProgramsResponse.newBuilder().addAllPrograms(all))) {
                return 0;
            }
            Table t = new Table("ID", "TYPE", "NAME", "TAG", "GPL", "XLATED", "JITED", "MAP_IDS", "HELD", "PINNED");
            for (Program p : all) {
                var k = p.getKernel();
                t.row(p.getId(), lower(k.getType(), "PROGRAM_TYPE_"), k.getName(), k.getTag(),
                        k.getGplCompatible() ? "yes" : "no", k.getXlatedProgLen() + "B", k.getJitedProgLen() + "B",
                        ids(k.getMapIdsList()), p.getAgent().getHeld() ? "yes" : "no",
                        String.join(",", p.getAgent().getPinnedPathsList()));
            }
            o.print(t);
            return 0;
        }
    }

    static String ids(List<Integer> ids) {
        return ids.stream().map(Integer::toUnsignedString).collect(Collectors.joining(","));
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "One program: the kernel's bpf_prog_info"
            + " and the agent's view, with where it runs.",
            footer = {"", "Example:", "  bpf-agent-cli program show 42"})
    static final class Show extends AgentCommand {
        @Parameters(paramLabel = "ID", description = "The program's id.")
        int id;

        @Override
        int run(BpfClient c, Output o) {
            Program p = c.program(id, true);
            if (o.structured(p)) {
                return 0;
            }
            var k = p.getKernel();
            var a = p.getAgent();
            var l = p.getLinks();
            Table t = Table.fields().row("id", p.getId()).row("type", lower(k.getType(), "PROGRAM_TYPE_"))
                    .row("name", k.getName()).row("tag", k.getTag()).row("gpl", k.getGplCompatible())
                    .row("loaded_at_ns", Long.toUnsignedString(k.getLoadTimeNs()))
                    .row("uid", Integer.toUnsignedString(k.getCreatedByUid()))
                    .row("xlated", k.getXlatedProgLen() + "B").row("jited", k.getJitedProgLen() + "B")
                    .row("verified_insns", k.getVerifiedInsns()).row("map_ids", ids(k.getMapIdsList()))
                    .row("btf_id", k.getBtfId())
                    .row("run_cnt", Long.toUnsignedString(k.getRunCnt()))
                    .row("run_time_ns", Long.toUnsignedString(k.getRunTimeNs()))
                    .row("held", a.getHeld()).row("pinned", String.join(",", a.getPinnedPathsList()))
                    .row("labels", new TreeMap<>(a.getLabelsMap())).row("link_ids", ids(l.getLinkIdsList()))
                    .row("xdp_interfaces", String.join(",", l.getXdpInterfacesList()))
                    .row("cgroups", String.join(",", l.getCgroupsList()))
                    .row("tc_filters", String.join(",", l.getTcFiltersList()))
                    .row("attached", l.getAttached());
            o.print(t);
            return 0;
        }
    }

    @Command(name = "load", mixinStandardHelpOptions = true,
            description = "Loads raw instructions (struct bpf_insn, 8 bytes each, host byte order) from FILE or stdin (-).",
            footer = {"", "Example (r0 = 2; exit: XDP_PASS):",
                    "  printf '\\xb7\\x00\\x00\\x00\\x02\\x00\\x00\\x00\\x95\\x00\\x00\\x00\\x00\\x00\\x00\\x00' \\",
                    "    | bpf-agent-cli program load --type xdp --name pass -",
                    "A whole ELF object: bpf-agent-cli object load FILE.o"})
    static final class Load extends AgentCommand {
        @Option(names = "--type", required = true, paramLabel = "TYPE", description = "The program type, e.g. xdp,"
                + " sched_cls, tracepoint, cgroup_skb.")
        String type;

        @Option(names = "--name", paramLabel = "NAME", description = "Its name in the kernel (at most 15 bytes).")
        String name = "";

        @Option(names = "--license", paramLabel = "LICENSE", defaultValue = "GPL", description = "Default: ${DEFAULT-VALUE}.")
        String license;

        @Option(names = "--expected-attach-type", paramLabel = "ATTACH_TYPE", description = "e.g. cgroup_inet_ingress.")
        String attachType;

        @Option(names = {"-l", "--label"}, paramLabel = "KEY=VALUE", description = "Labels the agent keeps with it.")
        Map<String, String> labels = new LinkedHashMap<>();

        @Parameters(paramLabel = "FILE", description = "The instructions, or - for stdin.")
        String file;

        @Override
        int run(BpfClient c, Output o) throws Exception {
            byte[] insns = file.equals("-") ? System.in.readAllBytes() : Files.readAllBytes(Path.of(file));
            if (insns.length == 0 || insns.length % 8 != 0) {
                throw new IllegalArgumentException(file + ": " + insns.length + " bytes is not a whole number of"
                        + " 8-byte instructions");
            }
            var req = LoadProgramRequest.newBuilder().setType(parse(ProgramType.class, "PROGRAM_TYPE_", "program type",
                    type)).setInstructions(ByteString.copyFrom(insns)).setLicense(license).setName(name)
                    .putAllLabels(labels);
            if (attachType != null) {
                req.setExpectedAttachType(parse(AttachType.class, "ATTACH_TYPE_", "attach type", attachType));
            }
            Program p = c.load(LoadOptions.of(req.build())).program(); // held by the agent until closed
            if (!o.structured(p)) {
                o.out().println(p.getId());
            }
            return 0;
        }
    }

    @Command(name = "close", aliases = "unload", mixinStandardHelpOptions = true,
            description = "Closes the agent's hold on a program, with its links; the kernel unloads it when nothing"
                    + " else holds it.", footer = {"", "Example:", "  bpf-agent-cli program close 42"})
    static final class Close extends AgentCommand {
        @Parameters(paramLabel = "ID")
        int id;

        @Option(names = "--keep-pins", description = "Leave its pins in bpffs.")
        boolean keepPins;

        @Override
        int run(BpfClient c, Output o) {
            CloseProgramResponse r = c.closeProgram(id, keepPins);
            if (!o.structured(r)) {
                o.out().println("program " + id + " closed" + (r.getUnloaded() ? ", unloaded"
                        : ", still loaded (held elsewhere)") + (r.getUnpinnedPathsCount() > 0 ? ", unpinned "
                        + String.join(",", r.getUnpinnedPathsList()) : ""));
            }
            return 0;
        }
    }

    @Command(name = "pin", mixinStandardHelpOptions = true, description = "Pins a program in bpffs (under the agent's"
            + " directory when PATH is relative).", footer = {"", "Example:", "  bpf-agent-cli program pin 42 my/prog"})
    static final class Pin extends AgentCommand {
        @Parameters(index = "0", paramLabel = "ID")
        int id;

        @Parameters(index = "1", paramLabel = "PATH")
        String path;

        @Override
        int run(BpfClient c, Output o) {
            PinResponse r = c.pin(ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_PROGRAM).setId(id).build(), path);
            if (!o.structured(r)) {
                o.out().println(r.getPath());
            }
            return 0;
        }
    }

    @Command(name = "unpin", mixinStandardHelpOptions = true, description = "Removes a pin the agent made.",
            footer = {"", "Example:", "  bpf-agent-cli program unpin my/prog"})
    static final class Unpin extends AgentCommand {
        @Parameters(paramLabel = "PATH")
        String path;

        @Override
        int run(BpfClient c, Output o) {
            String removed = c.unpin(path);
            if (!o.structured(UnpinResponse.newBuilder().setPath(removed))) {
                o.out().println("unpinned " + removed);
            }
            return 0;
        }
    }

    @Command(name = "run", aliases = "test-run", mixinStandardHelpOptions = true,
            description = "BPF_PROG_TEST_RUN: runs the program on a packet or context and prints what it returned.",
            footer = {"", "Example:", "  bpf-agent-cli program run 42 --data 00112233445566778899aabb0800 --repeat 1000"})
    static final class Run extends AgentCommand {
        @Parameters(paramLabel = "ID")
        int id;

        @Option(names = "--data", paramLabel = "HEX", description = "The packet (data_in), hex.")
        String data = "";

        @Option(names = "--repeat", paramLabel = "N", defaultValue = "1", description = "Runs (default 1).")
        int repeat;

        @Override
        int run(BpfClient c, Output o) {
            TestRunResult r = c.testRun(id, TestRunOptions.ofData(MapCommands.hex("--data", data)).withRepeat(repeat));
            var answer = TestRunProgramResponse.newBuilder().setRetval(r.retval()).setDurationNs(r.durationNs())
                    .setDataSizeOut(r.dataSizeOut()).setDataOut(ByteString.copyFrom(r.dataOut()))
                    .setCtxOut(ByteString.copyFrom(r.ctxOut()));
            if (!o.structured(answer)) {
                o.print(Table.fields().row("retval", Integer.toUnsignedString(r.retval()))
                        .row("duration_ns", Integer.toUnsignedString(r.durationNs()))
                        .row("data_out", HexFormat.of().formatHex(r.dataOut())));
            }
            return 0;
        }
    }
}
