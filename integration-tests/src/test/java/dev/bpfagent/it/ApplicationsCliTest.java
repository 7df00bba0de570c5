package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.agent.bpf.Host;
import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.cli.Main;
import dev.bpfagent.proto.v1.Application;
import dev.bpfagent.proto.v1.WatchApplicationsResponse;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Applications from a spec file, as an operator meets them: the CLI's apply -f (YAML, its object a file
 * beside it, uploaded), get, describe, watch and delete against a real agent, the XDP program on a real
 * interface; and the client's Flow.Publisher of changes, with back pressure and cancel.
 */
class ApplicationsCliTest extends OneAgentPerClass {
    static final String IP = NetworkHooksTest.IP;
    static final String IF = "bpfac" + UUID.randomUUID().toString().substring(0, 5);
    static boolean made;

    @BeforeAll
    static void network() throws Exception {
        Kernel.assumeRoot();
        Assumptions.assumeTrue(Files.isExecutable(Path.of(IP)), "needs iproute2's ip");
        made = true;
        NetworkHooksTest.sh(IP, "link", "add", IF, "type", "veth", "peer", "name", IF + "p");
        NetworkHooksTest.sh(IP, "link", "set", IF, "up");
    }

    @AfterAll
    static void removeNetwork() throws Exception {
        if (made) {
            Processes.run(30, List.of(IP, "link", "del", IF));
        }
    }

    record Run(int exit, String out, String err) {
    }

    static Run cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        List<String> all = new ArrayList<>(List.of("--target", agent.unixTarget()));
        all.addAll(List.of(args));
        int exit = Main.run(all.toArray(String[]::new), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static String yaml(long version) {
        String rodata = java.util.Base64.getEncoder().encodeToString(java.nio.ByteBuffer.allocate(8)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(version).array());
        return """
                name: edge
                spec:
                  labels: {team: net}
                  objects:
                  - name: fw
                    source: {file: firewall.o}
                    rodata: {version: %s}
                    programs:
                    - name: firewall
                      attach:
                      - hook: {xdp: {}}
                        interfaces: [%s]
                """.formatted(rodata, IF);
    }

    @Test
    void applyGetDescribeWatchDeleteFromASpecFile(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("firewall.o"), ObjectsOverAgentTest.object("firewall"));
        Path spec = dir.resolve("edge.yaml");
        Files.writeString(spec, yaml(1));
        int ifindex = Integer.parseInt(Files.readString(Path.of("/sys/class/net", IF, "ifindex")).trim());

        Run dry = cli("apply", "-f", spec.toString(), "--dry-run");
        assertEquals(0, dry.exit(), dry.err());
        assertTrue(dry.out().contains("application edge (dry run): would change"), dry.out());
        assertTrue(dry.out().contains("load object fw"), dry.out());
        assertEquals(0, Host.xdpProgramId(ifindex), "a dry run attaches nothing");

        Run applied = cli("apply", "-f", spec.toString());
        assertEquals(0, applied.exit(), applied.err());
        assertTrue(applied.out().startsWith("application edge applied, generation 1"), applied.out());
        assertTrue(applied.out().contains("attach attachment fw/firewall"), applied.out());
        Application a = c.applications().get("edge");
        int prog = a.getStatus().getPrograms(0).getProgramId();
        assertEquals(prog, Host.xdpProgramId(ifindex), "the program from the file runs on " + IF);

        Run again = cli("apply", "-f", spec.toString());
        assertEquals("application edge unchanged, generation 1\n", again.out());

        Run table = cli("get", "applications", "-l", "team=net");
        assertEquals(0, table.exit(), table.err());
        String[] lines = table.out().split("\n");
        assertTrue(lines[0].matches("NAME +GEN +READY +REASON +ATTACHED"), lines[0]);
        assertTrue(lines[1].matches("edge +1 +True +Applied +1/1"), table.out());
        assertEquals(1, cli("get", "applications", "-l", "team=other").out().split("\n").length, "the header only");

        Run described = cli("describe", "application", "edge");
        assertTrue(described.out().contains("fw/firewall  id " + prog), described.out());
        assertTrue(described.out().contains("Ready=True"), described.out());
        assertTrue(described.out().matches("(?s).*fw/firewall rule 0  attached  .*" + IF + ".*  link \\d+\n.*"),
                described.out());

        Files.writeString(spec, yaml(2));
        Run v2 = cli("apply", "-f", spec.toString());
        assertTrue(v2.out().startsWith("application edge applied, generation 2"), v2.out());
        assertTrue(v2.out().contains("replace attachment"), "the link updated in place: " + v2.out());

        Run watched = cli("watch", "applications", "--count", "2");
        assertEquals(0, watched.exit(), watched.err());
        assertTrue(watched.out().matches("(?s)ADDED  edge  gen 2  rv \\d+  Ready=true\nSYNCED  rv \\d+\n"), watched.out());

        Run deleted = cli("delete", "application", "edge");
        assertEquals(0, deleted.exit(), deleted.err());
        assertTrue(deleted.out().startsWith("application edge deleted"), deleted.out());
        assertTrue(c.applications().list().stream().noneMatch(x -> x.getName().equals("edge")));
        assertTrue(Kernel.eventually(() -> Host.xdpProgramId(ifindex) == 0));
        assertTrue(Kernel.eventually(() -> !Program.existsInKernel(prog)));

        Run missing = cli("describe", "application", "edge");
        assertEquals(1, missing.exit());
        assertTrue(missing.err().contains("APPLICATION_NOT_FOUND") || missing.err().contains("no application 'edge'"),
                missing.err());
        Run badFile = cli("apply", "-f", dir.resolve("nope.yaml").toString());
        assertEquals(2, badFile.exit());
        assertTrue(badFile.err().startsWith("error: cannot read " + dir.resolve("nope.yaml") + ": no such file"), badFile.err());
        Files.writeString(spec, yaml(1).replace("programs:", "programz:"));
        Run badField = cli("apply", "-f", spec.toString());
        assertEquals(2, badField.exit());
        assertTrue(badField.err().contains("programz"), badField.err());
    }

    @Test
    void thePublisherSendsWhatIsRequestedAndEndsOnCancel(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("firewall.o"), ObjectsOverAgentTest.object("firewall"));
        Path spec = dir.resolve("edge.yaml");
        Files.writeString(spec, yaml(1).replace("name: edge", "name: pub").replace("interfaces: [" + IF + "]",
                "interfaces: [nomatch" + IF + "]"));
        assertEquals(0, cli("apply", "-f", spec.toString()).exit());
        LinkedBlockingQueue<Object> got = new LinkedBlockingQueue<>();
        Flow.Subscription[] sub = new Flow.Subscription[1];
        c.applications().changes(0).subscribe(new Flow.Subscriber<>() {
            @Override
            public void onSubscribe(Flow.Subscription s) {
                sub[0] = s;
                s.request(1);
            }

            @Override
            public void onNext(WatchApplicationsResponse item) {
                got.add(item);
            }

            @Override
            public void onError(Throwable t) {
                got.add(t);
            }

            @Override
            public void onComplete() {
                got.add("complete");
            }
        });
        Object first = got.poll(10, TimeUnit.SECONDS);
        assertTrue(first instanceof WatchApplicationsResponse r && r.getType() == WatchApplicationsResponse.Type.TYPE_ADDED
                && r.getApplication().getName().equals("pub"), String.valueOf(first));
        assertNull(got.poll(500, TimeUnit.MILLISECONDS), "nothing more than requested (SYNCED waits)");
        sub[0].request(1);
        Object synced = got.poll(10, TimeUnit.SECONDS);
        assertTrue(synced instanceof WatchApplicationsResponse r && r.getType() == WatchApplicationsResponse.Type.TYPE_SYNCED,
                String.valueOf(synced));
        sub[0].request(10);
        c.applications().delete("pub");
        Object deleted = got.poll(10, TimeUnit.SECONDS);
        assertTrue(deleted instanceof WatchApplicationsResponse r && r.getType() == WatchApplicationsResponse.Type.TYPE_DELETED,
                String.valueOf(deleted));
        sub[0].cancel();
        assertNull(got.poll(500, TimeUnit.MILLISECONDS), "nothing after cancel");
    }
}
