package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.bpfagent.agent.bpf.Host;
import dev.bpfagent.cli.Main;
import dev.bpfagent.client.MapHandle;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.proto.v1.ApplyApplicationResponse;
import dev.bpfagent.proto.v1.Chain;
import dev.bpfagent.proto.v1.CloseChainResponse;
import dev.bpfagent.proto.v1.CloseCollectionResponse;
import dev.bpfagent.proto.v1.CloseProgramResponse;
import dev.bpfagent.proto.v1.Collection;
import dev.bpfagent.proto.v1.DeleteApplicationResponse;
import dev.bpfagent.proto.v1.DeleteMapElemResponse;
import dev.bpfagent.proto.v1.DetachLinkResponse;
import dev.bpfagent.proto.v1.DumpMapResponse;
import dev.bpfagent.proto.v1.GetAgentInfoResponse;
import dev.bpfagent.proto.v1.GetKernelFeaturesResponse;
import dev.bpfagent.proto.v1.InspectObjectResponse;
import dev.bpfagent.proto.v1.Link;
import dev.bpfagent.proto.v1.ListApplicationsResponse;
import dev.bpfagent.proto.v1.ListChainsResponse;
import dev.bpfagent.proto.v1.ListCollectionsResponse;
import dev.bpfagent.proto.v1.ListInterfaceHooksResponse;
import dev.bpfagent.proto.v1.ListLinksResponse;
import dev.bpfagent.proto.v1.ListMapsResponse;
import dev.bpfagent.proto.v1.ListProgramsResponse;
import dev.bpfagent.proto.v1.LookupMapElemResponse;
import dev.bpfagent.proto.v1.MapType;
import dev.bpfagent.proto.v1.PinResponse;
import dev.bpfagent.proto.v1.Program;
import dev.bpfagent.proto.v1.TestRunProgramResponse;
import dev.bpfagent.proto.v1.UnpinResponse;
import dev.bpfagent.proto.v1.UpdateMapElemResponse;
import dev.bpfagent.proto.v1.WatchApplicationsResponse;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI as a user runs it: deploy/bpf-agent-cli, a process of its own on the default java (JDK 17 here),
 * its stdout, stderr and exit status. Every command runs in table form and in JSON form, and the JSON
 * is parsed back as the proto message it claims to be; what it changed is checked in the kernel.
 */
class CliProcessTest extends OneAgentPerClass {
    static final Path LAUNCHER = Path.of("../deploy/bpf-agent-cli");
    static final String IF = "bpfcli" + UUID.randomUUID().toString().substring(0, 5);
    static final java.util.Set<String> RAN = new TreeSet<>();
    static boolean made;

    record Run(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\nstdout:\n" + out + "\nstderr:\n" + err;
        }
    }

    @BeforeAll
    static void network() throws Exception {
        Kernel.assumeRoot();
        Assumptions.assumeTrue(Files.isExecutable(Path.of(NetworkHooksTest.IP)), "needs iproute2's ip");
        NetworkHooksTest.sh(NetworkHooksTest.IP, "link", "add", IF, "type", "veth", "peer", "name", IF + "p");
        made = true;
        NetworkHooksTest.sh(NetworkHooksTest.IP, "link", "set", IF, "up");
    }

    @AfterAll
    static void removeNetwork() throws Exception {
        if (made) {
            Processes.run(30, List.of(NetworkHooksTest.IP, "link", "del", IF));
        }
    }

    /** Runs the launcher with these words after --target (or with env when given); stdin from input. */
    static Run cli(Map<String, String> env, byte[] input, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(LAUNCHER.toString()));
        if (env.isEmpty()) {
            cmd.addAll(List.of("--target", agent.unixTarget()));
        }
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("BPF_AGENT_TARGET");
        pb.environment().remove("JAVA_HOME"); // any java on PATH: the default one here is JDK 17
        pb.environment().put("BPF_AGENT_CLI_JAR", new File("../cli/target/bpf-agent-cli.jar").getAbsolutePath());
        pb.environment().putAll(env);
        Path out = Files.createTempFile("cli", ".out");
        Path err = Files.createTempFile("cli", ".err");
        Path in = Files.createTempFile("cli", ".in");
        try {
            Files.write(in, input);
            Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).redirectInput(in.toFile()).start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail(cmd + " did not finish in 120 s");
            }
            Run r = new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
            RAN.add(command(args));
            return r;
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
            Files.deleteIfExists(in);
        }
    }

    static Run cli(String... args) throws Exception {
        return cli(Map.of(), new byte[0], args);
    }

    /** The command words of a line: "program list" out of "program list --all -o json". */
    static String command(String... args) {
        for (String c : Main.commands()) {
            String[] words = c.split(" ");
            if (args.length >= words.length && List.of(args).subList(0, words.length).equals(List.of(words))) {
                return c;
            }
        }
        return String.join(" ", args);
    }

    static Run ok(String... args) throws Exception {
        Run r = cli(args);
        assertEquals(0, r.exit(), String.join(" ", args) + ": " + r);
        return r;
    }

    /** Runs it with -o json, checks exit 0, and parses stdout as the message type. */
    static <M extends Message> M json(M prototype, String... args) throws Exception {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("-o", "json"));
        Run r = ok(all.toArray(String[]::new));
        Message.Builder b = prototype.newBuilderForType();
        JsonFormat.parser().merge(r.out(), b); // the proto's JSON mapping, unknown fields refused
        @SuppressWarnings("unchecked")
        M m = (M) b.build();
        return m;
    }

    static Run refused(int exit, String... args) throws Exception {
        Run r = cli(args);
        assertEquals(exit, r.exit(), String.join(" ", args) + ": " + r);
        assertTrue(r.err().startsWith("error: "), r.toString());
        return r;
    }

    static final byte[] XDP_DROP = HexFormat.of().parseHex("b7000000010000009500000000000000"); // r0 = 1; exit

    @Test
    void everyCommandInTableAndJsonFormAsAProcess(@TempDir Path dir) throws Exception {
        // the agent itself
        assertEquals("SERVING\n", ok("health").out());
        assertTrue(ok("health", "-o", "json").out().contains("\"status\": \"SERVING\""));
        assertTrue(ok("info").out().matches("(?s)FIELD +VALUE\nagent_version .*"), "a table");
        assertEquals(agent.process.pid() > 0, json(GetAgentInfoResponse.getDefaultInstance(), "info").getPossibleCpus() > 0);
        assertTrue(ok("features").out().contains("program_type"));
        assertTrue(json(GetKernelFeaturesResponse.getDefaultInstance(), "features").getProgramTypesCount() > 10);
        assertTrue(ok("completion").out().contains("complete -F"), "a bash completion script");
        assertTrue(ok("--version").out().startsWith("bpf-agent-cli "));
        // programs: load from stdin, list, show, test-run, pin, unpin
        Run loaded = cli(Map.of(), XDP_DROP, "program", "load", "--type", "xdp", "--name", "cli_drop", "-");
        assertEquals(0, loaded.exit(), loaded.toString());
        int prog = Integer.parseInt(loaded.out().strip());
        assertTrue(c.programExists(prog), "held by the agent after the CLI exited");
        Run loadJson = cli(Map.of(), XDP_DROP, "program", "load", "--type", "xdp", "--name", "cli_drop2", "-", "-o", "json");
        assertEquals(0, loadJson.exit(), loadJson.toString());
        Program.Builder second = Program.newBuilder();
        JsonFormat.parser().merge(loadJson.out(), second);
        assertEquals("cli_drop2", second.getKernel().getName());
        ok("program", "close", Integer.toString(second.getId()));
        assertTrue(Kernel.eventually(() -> !c.programExists(second.getId())), "closed, so unloaded");

        String list = ok("program", "list").out();
        assertTrue(list.lines().findFirst().orElseThrow().matches("ID +TYPE +NAME +TAG +GPL +XLATED +JITED +MAP_IDS +HELD +PINNED"), list);
        assertTrue(list.lines().anyMatch(l -> l.matches(prog + " +xdp +cli_drop +[0-9a-f]{16} +yes .*")), list);
        assertTrue(json(ListProgramsResponse.getDefaultInstance(), "program", "list", "--all", "--type", "xdp")
                .getProgramsList().stream().anyMatch(p -> p.getId() == prog));
        assertTrue(ok("program", "show", Integer.toString(prog)).out().contains("verified_insns"));
        assertEquals(prog, json(Program.getDefaultInstance(), "program", "show", Integer.toString(prog)).getId());
        String packet = HexFormat.of().formatHex(TestPackets.udp().build());
        assertTrue(ok("program", "run", Integer.toString(prog), "--data", packet).out()
                .matches("(?s)FIELD +VALUE\nretval +1\n.*"), "XDP_DROP");
        assertEquals(1, json(TestRunProgramResponse.getDefaultInstance(), "program", "run", Integer.toString(prog),
                "--data", packet, "--repeat", "10").getRetval());
        String pinName = "cli-test-" + UUID.randomUUID().toString().substring(0, 8);
        String pinned = ok("program", "pin", Integer.toString(prog), pinName).out().strip();
        assertTrue(Files.exists(Path.of(pinned)), "a pin in bpffs: " + pinned);
        assertEquals(pinned, json(UnpinResponse.getDefaultInstance(), "program", "unpin", pinName).getPath());
        assertFalse(Files.exists(Path.of(pinned)));
        assertEquals(pinned, json(PinResponse.getDefaultInstance(), "program", "pin", Integer.toString(prog), pinName).getPath());
        assertTrue(ok("program", "unpin", pinned).out().contains("unpinned " + pinned));

        // attach (every hook form is checked by HookFormsTest), links, hooks, detach: on a veth's XDP hook
        String attached = ok("attach", Integer.toString(prog), "xdp", IF).out();
        int link = Integer.parseInt(attached.lines().skip(1).findFirst().orElseThrow().split(" +")[0]);
        assertEquals(prog, Host.xdpProgramId(ifindex()), "the CLI's attach runs the program on " + IF);
        assertTrue(ok("link", "list", "--program", Integer.toString(prog)).out().contains(IF), "link list");
        assertEquals(1, json(ListLinksResponse.getDefaultInstance(), "link", "list", "--program", Integer.toString(prog))
                .getLinksCount());
        assertTrue(ok("link", "show", Integer.toString(link)).out().contains("bpf_link"));
        assertEquals(prog, json(Link.getDefaultInstance(), "link", "show", Integer.toString(link)).getProgramId());
        assertTrue(ok("hooks", IF).out().lines().anyMatch(l -> l.startsWith(IF) && l.contains(" " + prog + " ")));
        assertEquals(prog, json(ListInterfaceHooksResponse.getDefaultInstance(), "hooks", IF).getHooksList().stream()
                .filter(h -> h.getHook().equals("xdp")).findFirst().orElseThrow().getPrograms(0).getProgramId());
        assertTrue(ok("link", "detach", Integer.toString(link)).out().contains("detached"));
        assertTrue(Kernel.eventually(() -> Host.xdpProgramId(ifindex()) == 0), "detached from " + IF);
        Link again = json(Link.getDefaultInstance(), "attach", Integer.toString(prog), "xdp", IF, "--mechanism", "netlink");
        assertEquals(prog, Host.xdpProgramId(ifindex()));
        json(DetachLinkResponse.getDefaultInstance(), "link", "detach", Integer.toUnsignedString(again.getId()));
        assertTrue(Kernel.eventually(() -> Host.xdpProgramId(ifindex()) == 0));

        // maps: a hash map the test made; update, lookup, dump, delete, as bpftool map does
        try (MapHandle m = c.createMap(MapType.MAP_TYPE_HASH, 4, 8, 16, "cli_map")) {
            String id = Integer.toString(m.id());
            assertTrue(ok("map", "list").out().lines().anyMatch(l -> l.matches(id + " +hash +cli_map +4B +8B +16 .*")));
            assertTrue(json(ListMapsResponse.getDefaultInstance(), "map", "list", "--type", "hash").getMapsList().stream()
                    .anyMatch(x -> x.getId() == m.id()));
            assertTrue(ok("map", "show", id).out().contains("max_entries"));
            assertEquals(8, json(dev.bpfagent.proto.v1.Map.getDefaultInstance(), "map", "show", id).getKernel().getValueSize());
            assertEquals("updated\n", ok("map", "update", id, "01000000", "0200000000000000").out());
            json(UpdateMapElemResponse.getDefaultInstance(), "map", "update", id, "03 00 00 00", "0x0400000000000000");
            refused(1, "map", "update", id, "01000000", "0500000000000000", "--mode", "noexist");
            assertEquals("0200000000000000\n", ok("map", "lookup", id, "01000000").out());
            assertEquals(4, json(LookupMapElemResponse.getDefaultInstance(), "map", "lookup", id, "03000000").getValue().byteAt(0));
            assertTrue(ok("map", "dump", id).out().contains("03000000   0400000000000000"));
            assertEquals(2, json(DumpMapResponse.getDefaultInstance(), "map", "dump", id).getCount());
            assertEquals("deleted\n", ok("map", "delete", id, "01000000").out());
            assertTrue(json(DeleteMapElemResponse.getDefaultInstance(), "map", "delete", id, "03000000").getDeleted());
            assertTrue(refused(1, "map", "lookup", id, "01000000").err().contains("NOT_FOUND"));
            refused(1, "map", "delete", id, "01000000");
            assertTrue(refused(2, "map", "lookup", id, "xyz").err().contains("KEY is hex bytes"));
            assertTrue(ok("map", "dump", id).out().contains("(no entries)"));
        }
        try (MapHandle m = c.createMap(MapType.MAP_TYPE_ARRAY, 4, 4, 1, "cli_map2")) {
            json(dev.bpfagent.proto.v1.CloseMapResponse.getDefaultInstance(), "map", "close", Integer.toString(m.id()));
            assertTrue(refused(1, "map", "show", Integer.toString(m.id())).err().contains("NOT_FOUND"), "closed, so freed");
        }

        // chains of tail calls
        Run chain = ok("chain", "create", "cli_chain", "--max-entries", "4", "0=" + prog);
        String[] chainRow = chain.out().lines().skip(1).findFirst().orElseThrow().split(" +");
        int chainId = Integer.parseInt(chainRow[0]);
        assertTrue(ok("chain", "list").out().contains("cli_chain"));
        assertEquals(1, json(ListChainsResponse.getDefaultInstance(), "chain", "list").getChainsList().stream()
                .filter(x -> x.getId() == chainId).count());
        assertTrue(ok("chain", "set", Integer.toString(chainId), "1", Integer.toString(prog)).out().contains("0=" + prog + ",1=" + prog));
        assertEquals(1, json(Chain.getDefaultInstance(), "chain", "clear", Integer.toString(chainId), "1").getSlotsCount());
        assertTrue(ok("chain", "show", Integer.toString(chainId)).out().contains("cli_chain"));
        json(Chain.getDefaultInstance(), "chain", "show", Integer.toString(chainId));
        json(Chain.getDefaultInstance(), "chain", "set", Integer.toString(chainId), "2", Integer.toString(prog));
        assertTrue(ok("chain", "clear", Integer.toString(chainId), "2").out().contains("cli_chain"));
        assertTrue(ok("chain", "close", Integer.toString(chainId), "--keep-programs").out().contains("closed"));
        assertTrue(c.programExists(prog), "--keep-programs");
        assertTrue(ok("map", "close", chainRow[2]).out().contains("closed"), "the prog array, kept with the programs");

        // objects and collections
        Path sections = dir.resolve("sections.o");
        Files.write(sections, ObjectsOverAgentTest.object("sections"));
        assertTrue(ok("object", "inspect", sections.toString()).out().contains("count_sleeps"));
        assertEquals("tracepoint", json(InspectObjectResponse.getDefaultInstance(), "object", "inspect", sections.toString())
                .getProgramsList().stream().filter(x -> x.getName().equals("count_sleeps")).findFirst().orElseThrow()
                .getProgType());
        assertTrue(ok("object", "load", sections.toString(), "--only", "count_sleeps").out().contains("count_sleeps"));
        Collection col = json(Collection.getDefaultInstance(), "object", "load", sections.toString(), "--only", "count_sleeps",
                "--keep");
        String colId = Integer.toString(col.getId());
        assertTrue(ok("collection", "list").out().lines().anyMatch(l -> l.startsWith(colId + " ")));
        assertTrue(json(ListCollectionsResponse.getDefaultInstance(), "collection", "list").getCollectionsList().stream()
                .anyMatch(x -> x.getId() == col.getId()));
        assertTrue(ok("collection", "show", colId).out().contains("count_sleeps"));
        json(Collection.getDefaultInstance(), "collection", "show", colId);
        Collection withLink = json(Collection.getDefaultInstance(), "collection", "attach", colId);
        assertEquals(1, withLink.getLinksCount(), "the tracepoint attached from its section");
        assertTrue(refused(1, "collection", "attach", colId).err().contains("EEXIST"), "attached already");
        assertFalse(json(CloseCollectionResponse.getDefaultInstance(), "collection", "close", colId).getClosedList().isEmpty());
        Collection col2 = json(Collection.getDefaultInstance(), "object", "load", sections.toString(), "--only", "count_sleeps",
                "--keep");
        assertTrue(ok("collection", "attach", Integer.toString(col2.getId())).out().contains("LINK"));
        assertTrue(ok("collection", "close", Integer.toString(col2.getId())).out().contains("closed"));
        Run failed = refused(1, "object", "load", sections.toString(), "--only", "no_such_program");
        assertTrue(failed.err().contains("no_such_program"), failed.toString());

        // event streams: a ring buffer the XDP program writes to in test runs
        Path events = dir.resolve("events.o");
        Files.write(events, ObjectsOverAgentTest.object("events"));
        Collection ev = json(Collection.getDefaultInstance(), "object", "load", events.toString(), "--only", "bench16", "--keep");
        String bench = Integer.toString(ev.getProgramsList().get(0).getProgramId());
        String ring = Integer.toString(ev.getMapsList().stream().filter(x -> x.getName().equals("bench_ring")).findFirst()
                .orElseThrow().getMapId());
        ok("program", "run", bench, "--data", packet, "--repeat", "3");
        String lines = ok("events", ring, "--count", "3", "-o", "json").out();
        assertEquals(3, lines.lines().count(), lines);
        assertTrue(lines.startsWith("{\"seq\":1,\"data\":\"0000000000000000"), lines);
        ok("program", "run", bench, "--data", packet, "--repeat", "2");
        assertTrue(ok("events", ring, "--count", "2").out().matches("(?s)seq 1 +0300000000000000.*seq 2 +0400000000000000.*"));
        ok("collection", "close", Integer.toString(ev.getId()));

        // applications: apply, get, describe, watch, delete
        Files.write(dir.resolve("firewall.o"), ObjectsOverAgentTest.object("firewall"));
        Path spec = dir.resolve("edge.yaml");
        Files.writeString(spec, ApplicationsCliTest.yaml(1).replace(ApplicationsCliTest.IF, IF).replace("name: edge", "name: cli-edge"));
        assertTrue(ok("apply", "-f", spec.toString(), "--dry-run").out().contains("would change"));
        ApplyApplicationResponse applied = json(ApplyApplicationResponse.getDefaultInstance(), "apply", "-f", spec.toString());
        assertEquals(1, applied.getApplication().getGeneration());
        assertTrue(ok("apply", "-f", spec.toString()).out().contains("unchanged"));
        assertTrue(ok("get", "applications").out().lines().anyMatch(l -> l.matches("cli-edge +1 +True +Applied +1/1")));
        assertEquals(1, json(ListApplicationsResponse.getDefaultInstance(), "get", "apps", "-l", "team=net")
                .getApplicationsCount());
        assertTrue(ok("describe", "application", "cli-edge").out().contains("Ready=True"));
        assertEquals("cli-edge", json(dev.bpfagent.proto.v1.Application.getDefaultInstance(), "describe", "app", "cli-edge")
                .getName());
        assertTrue(ok("watch", "applications", "--count", "1").out().startsWith("ADDED  cli-edge"));
        String watched = ok("watch", "applications", "--count", "2", "-o", "json").out();
        for (String l : watched.strip().split("\n")) {
            WatchApplicationsResponse.Builder w = WatchApplicationsResponse.newBuilder();
            JsonFormat.parser().merge(l, w);
        }
        assertTrue(json(DeleteApplicationResponse.getDefaultInstance(), "delete", "application", "cli-edge").getClosedCount() > 0);
        assertTrue(Kernel.eventually(() -> Host.xdpProgramId(ifindex()) == 0), "the application's XDP program is gone");
        refused(1, "delete", "application", "cli-edge");
        Files.writeString(spec, ApplicationsCliTest.yaml(1).replace(ApplicationsCliTest.IF, IF).replace("name: edge", "name: cli-edge2"));
        ok("apply", "-f", spec.toString());
        assertTrue(ok("delete", "application", "cli-edge2").out().contains("deleted"));

        String closed = ok("program", "close", Integer.toString(prog)).out();
        assertTrue(Kernel.eventually(() -> !c.programExists(prog)), () -> closed + c.program(prog, true));

        // read-iter reads an iterator link's bytes (no table or JSON form): LinksOverAgentTest runs it
        RAN.add("read-iter");
        java.util.Set<String> missing = new TreeSet<>(Main.commands());
        missing.removeAll(RAN);
        assertEquals(java.util.Set.of(), missing, "commands this test never ran");
    }

    @Test
    void everyCommandHasHelpWithAnExample() {
        for (String c : Main.commands()) {
            List<String> words = new ArrayList<>(List.of(c.split(" ")));
            words.add("--help");
            var out = new java.io.ByteArrayOutputStream();
            int exit = Main.run(words.toArray(String[]::new), new java.io.PrintStream(out), System.err);
            assertEquals(0, exit, c);
            assertTrue(out.toString().contains("Usage: bpf-agent-cli " + c) && out.toString().contains("Example"),
                    c + ": " + out);
        }
    }

    static int ifindex() {
        try {
            return Integer.parseInt(Files.readString(Path.of("/sys/class/net", IF, "ifindex")).trim());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void exitCodesTellFailuresApart() throws Exception {
        // 1: the agent refused; its status and reason on stderr
        Run notFound = refused(1, "program", "show", "999999999");
        assertTrue(notFound.err().contains("NOT_FOUND") && notFound.err().contains("reason: PROGRAM_NOT_FOUND"), notFound.toString());
        Run rejected = cli(Map.of(), HexFormat.of().parseHex("9500000000000000"), "program", "load", "--type", "xdp", "-");
        assertEquals(1, rejected.exit(), rejected.toString());
        assertTrue(rejected.err().contains("reason: VERIFIER_REJECTED") && rejected.err().contains("verifier log:")
                && rejected.err().contains("R0 !read_ok"), "the verifier's log is printed: " + rejected);
        Run badType = cli(Map.of(), XDP_DROP, "program", "load", "--type", "warp", "-");
        assertEquals(2, badType.exit(), badType.toString());
        assertTrue(badType.err().contains("no program type warp; one of: "), badType.toString());
        // 2: usage, and nothing was sent
        assertEquals(2, refused(2, "no-such-command").exit());
        assertTrue(refused(2, "program", "show", "abc").err().contains("usage: bpf-agent-cli program show --help"));
        assertTrue(refused(2, "attach", "1", "warp", "x").err().contains("unknown hook warp"));
        assertTrue(refused(2, "get", "programs").err().contains("get takes applications"));
        assertEquals(2, cli("program").exit(), "a resource without a verb");
        // 3: nothing answers at the target; --target goes anywhere, and BPF_AGENT_TARGET is the default
        Run down = cli(Map.of("BPF_AGENT_TARGET", "unix:/nonexistent/agent.sock"), new byte[0], "info");
        assertEquals(3, down.exit(), down.toString());
        assertTrue(down.err().contains("unix:/nonexistent/agent.sock"), down.toString());
        Run env = cli(Map.of("BPF_AGENT_TARGET", agent.unixTarget()), new byte[0], "health");
        assertEquals(0, env.exit(), env.toString());
        Run late = cli(Map.of("BPF_AGENT_TARGET", "unix:/nonexistent/agent.sock"), new byte[0], "program", "list",
                "--target", agent.unixTarget(), "-o", "yaml");
        assertEquals(0, late.exit(), "--target after the command wins over the environment: " + late);
        assertTrue(late.out().startsWith("programs:"), late.toString());
        assertEquals(3, cli(Map.of("BPF_AGENT_TARGET", "127.0.0.1:1"), new byte[0], "health").exit());
        assertEquals(2, cli(Map.of("BPF_AGENT_TARGET", agent.unixTarget()), new byte[0], "info", "--tls-ca", "/x.pem").exit(),
                "TLS flags on a Unix socket target are a usage error");
    }
}
