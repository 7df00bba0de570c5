package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.ByteString;
import dev.bpfagent.agent.bpf.Host;
import dev.bpfagent.agent.bpf.KernelObjects;
import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.client.Applications;
import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.proto.v1.*;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Applications across agent restarts, against the real kernel: what an application holds is pinned
 * under the agent's bpffs directory, so a stopped or SIGKILLed agent's successor holds the same program,
 * map and link ids again (the XDP program never left its interface); pins removed while the agent is
 * stopped (as after a reboot) make it rebuild from the spec; the agent killed at random points of
 * applies and deletes comes back with every application at its last accepted generation, nothing held
 * twice, nothing orphaned.
 */
class ApplicationsRestartTest {
    static final String IP = NetworkHooksTest.IP;
    static final String TAG = UUID.randomUUID().toString().substring(0, 5);
    static final int IFACES = 3;
    static boolean made;

    static String iface(int i) {
        return "bpfar" + TAG + i;
    }

    @BeforeAll
    static void network() throws Exception {
        Kernel.assumeRoot();
        Assumptions.assumeTrue(Files.isExecutable(Path.of(IP)), "needs iproute2's ip");
        made = true;
        for (int i = 0; i < IFACES; i++) {
            NetworkHooksTest.sh(IP, "link", "add", iface(i), "type", "veth", "peer", "name", iface(i) + "p");
            NetworkHooksTest.sh(IP, "link", "set", iface(i), "up");
            NetworkHooksTest.sh(IP, "link", "set", iface(i) + "p", "up");
        }
    }

    @AfterAll
    static void removeNetwork() throws Exception {
        if (made) {
            for (int i = 0; i < IFACES; i++) {
                Processes.run(30, List.of(IP, "link", "del", iface(i)));
            }
        }
    }

    static int ifindex(String name) throws Exception {
        return Integer.parseInt(Files.readString(Path.of("/sys/class/net", name, "ifindex")).trim());
    }

    static ApplicationSpec spec(String ifname, long version) throws Exception {
        return ApplicationSpec.newBuilder().addObjects(ApplicationObject.newBuilder()
                .setName("fw").setSource(Applications.elf(ObjectsOverAgentTest.object("firewall")))
                .putRodata("version", ByteString.copyFrom(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                        .putLong(version).array()))
                .addPrograms(ApplicationProgram.newBuilder().setName("firewall").addAttach(AttachRule.newBuilder()
                        .setHook(Hook.newBuilder().setXdp(XdpHook.getDefaultInstance()))
                        .addInterfaces(ifname)))).build();
    }

    static String[] dirs(Path state, Path bpffs) {
        return new String[] {"--state-dir", state.toString(), "--bpffs-dir", bpffs.toString()};
    }

    static boolean ready(Application a) {
        return a.getStatus().getConditionsList().stream().anyMatch(c -> c.getType().equals("Ready") && c.getStatus());
    }

    @Test
    void aRestartHoldsTheSameObjectsAndPinsRemovedWhileStoppedAreRebuilt() throws Exception {
        Path state = Files.createTempDirectory("bpf-agent-apps-restart");
        Path bpffs = Path.of("/sys/fs/bpf/bpf-agent-it-apps-" + TAG);
        String ifname = iface(0);
        int ifindex = ifindex(ifname);
        try {
            int prog;
            int link;
            int blocked;
            try (AgentProcess a = AgentProcess.start(dirs(state, bpffs));
                 BpfClient c = BpfClient.connect(a.unixTarget())) {
                Application app = c.applications().apply("kept", spec(ifname, 1)).getApplication();
                prog = app.getStatus().getPrograms(0).getProgramId();
                link = app.getStatus().getAttachments(0).getLinkId();
                blocked = ApplicationsTest.mapId(app, "blocked");
                ApplicationsTest.block(c, blocked, 4242);
                assertTrue(Files.exists(bpffs.resolve("_apps/kept/prog_" + prog)), "the program is pinned");
                assertTrue(Files.exists(bpffs.resolve("_apps/kept/link_" + link)), "the link is pinned");
                assertEquals(143, a.stop());
            }
            assertEquals(prog, Host.xdpProgramId(ifindex), "a graceful stop leaves the application running");

            for (String how : List.of("stopped", "killed")) {
                try (AgentProcess a = AgentProcess.start(dirs(state, bpffs));
                     BpfClient c = BpfClient.connect(a.unixTarget())) {
                    Application back = c.applications().get("kept");
                    assertEquals(prog, back.getStatus().getPrograms(0).getProgramId(), how + ": the same program");
                    assertEquals(link, back.getStatus().getAttachments(0).getLinkId(), how + ": the same link");
                    assertEquals(blocked, ApplicationsTest.mapId(back, "blocked"), how + ": the same map");
                    assertTrue(ready(back), back.getStatus().toString());
                    assertTrue(back.getStatus().getEventsList().stream().anyMatch(e -> e.getReason().equals("Held")));
                    assertTrue(c.programExists(prog), "held again, so listed and closable");
                    assertEquals(1, c.lookupMapElem(LookupMapElemRequest.newBuilder().setMap(ObjectRef.newBuilder()
                            .setId(blocked).setKind(ObjectKind.OBJECT_KIND_MAP)).setKey(ByteString.copyFrom(
                            new byte[] {(byte) 4242, (byte) (4242 >> 8)})).build()).getValue().byteAt(0),
                            "the map's entries are the same");
                    var again = c.applications().apply("kept", spec(ifname, 1));
                    assertTrue(again.getPlanList().stream().allMatch(s -> s.getAction() == PlanStep.Action.ACTION_KEEP
                            || s.getAction() == PlanStep.Action.ACTION_KEEP_MAP), again.getPlanList().toString());
                    if (how.equals("stopped")) {
                        a.stop();
                    } else {
                        a.process.destroyForcibly().waitFor();
                    }
                }
                assertEquals(prog, Host.xdpProgramId(ifindex), how + ": the program never left its interface");
            }

            // as after a reboot: bpffs lost the pins while no agent ran
            Processes.run(30, List.of("rm", "-rf", bpffs.resolve("_apps").toString()));
            assertTrue(Kernel.eventually(() -> !Program.existsInKernel(prog)), "the kernel freed it with its pins");
            try (AgentProcess a = AgentProcess.start(dirs(state, bpffs));
                 BpfClient c = BpfClient.connect(a.unixTarget())) {
                Application back = c.applications().get("kept");
                int rebuilt = back.getStatus().getPrograms(0).getProgramId();
                assertNotEquals(prog, rebuilt);
                assertEquals(1, back.getGeneration());
                assertTrue(ready(back), back.getStatus().toString());
                assertTrue(back.getStatus().getEventsList().stream().anyMatch(e -> e.getReason().equals("Rebuilt")));
                assertEquals(rebuilt, Host.xdpProgramId(ifindex));
                assertTrue(Files.exists(bpffs.resolve("_apps/kept/prog_" + rebuilt)), "pinned again");
                c.applications().delete("kept");
                assertTrue(Kernel.eventually(() -> !Program.existsInKernel(rebuilt)));
                assertEquals(0, Host.xdpProgramId(ifindex), "detached");
                assertFalse(Files.exists(bpffs.resolve("_apps")), "no pin left");
                try (var files = Files.list(state.resolve("applications"))) {
                    assertEquals(0, files.count(), "no record left");
                }
            }
        } finally {
            AgentProcess.deleteTree(bpffs);
            AgentProcess.deleteTree(state);
        }
    }

    /** What the client was told last about one application, and whether a call on it was cut short. */
    static final class Told {
        long generation; // 0: deleted or never applied
        boolean inFlight;
    }

    @Test
    void killedAnywhereInAppliesAndDeletesEveryApplicationComesBackAtItsLastAcceptedGeneration() throws Exception {
        int rounds = Integer.getInteger("bpfagent.appCrashRounds", 4);
        Path state = Files.createTempDirectory("bpf-agent-apps-crash");
        Path bpffs = Path.of("/sys/fs/bpf/bpf-agent-it-appcrash-" + TAG);
        Random random = new Random(7);
        Map<String, Told> told = new HashMap<>();
        for (int i = 0; i < IFACES; i++) {
            told.put("crash" + i, new Told());
        }
        int calls = 0;
        try {
            for (int round = 0; round <= rounds; round++) {
                try (AgentProcess a = AgentProcess.start(dirs(state, bpffs))) {
                    check(a, bpffs, told, round);
                    if (round == rounds) {
                        try (BpfClient c = BpfClient.connect(a.unixTarget())) {
                            for (Application app : c.applications().list()) {
                                c.applications().delete(app.getName());
                            }
                        }
                        assertFalse(Files.exists(bpffs.resolve("_apps")), "every pin gone with the applications");
                        break;
                    }
                    calls += workloadThenKill(a, random, told);
                }
            }
            for (int i = 0; i < IFACES; i++) {
                int ifindex = ifindex(iface(i));
                assertTrue(Kernel.eventually(() -> Host.xdpProgramId(ifindex) == 0), "detached from " + iface(i));
            }
            System.out.println("ApplicationsRestartTest: " + calls + " applies and deletes answered in " + rounds
                    + " rounds killed");
            assertTrue(calls >= rounds, "the workload ran: " + calls + " calls answered");
        } finally {
            AgentProcess.deleteTree(bpffs);
            AgentProcess.deleteTree(state);
        }
    }

    /** One client per application applies versions and deletes it until the agent is SIGKILLed. */
    static int workloadThenKill(AgentProcess agent, Random random, Map<String, Told> told) throws Exception {
        AtomicBoolean dead = new AtomicBoolean();
        java.util.concurrent.atomic.AtomicInteger done = new java.util.concurrent.atomic.AtomicInteger();
        List<Thread> clients = new ArrayList<>();
        for (int i = 0; i < IFACES; i++) {
            String name = "crash" + i;
            String ifname = iface(i);
            Told t = told.get(name);
            long seed = random.nextLong();
            Thread th = new Thread(() -> {
                Random r = new Random(seed);
                try (BpfClient c = BpfClient.connect(agent.unixTarget())) {
                    while (!dead.get()) {
                        boolean delete = t.generation > 0 && r.nextInt(4) == 0;
                        t.inFlight = true;
                        if (delete) {
                            c.applications().delete(name);
                            t.generation = 0;
                        } else {
                            t.generation = c.applications().apply(name, spec(ifname, 1 + r.nextInt(3)))
                                    .getApplication().getGeneration();
                        }
                        t.inFlight = false;
                        done.incrementAndGet();
                    }
                } catch (BpfAgentException e) {
                    // the agent was killed under the call: inFlight stays set
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            th.start();
            clients.add(th);
        }
        // the kill falls at a random point once the workload runs (its first call can take seconds under TCG)
        for (int i = 0; i < 1200 && done.get() == 0; i++) {
            Thread.sleep(100);
        }
        Thread.sleep(random.nextInt(1500));
        agent.process.destroyForcibly().waitFor();
        dead.set(true);
        for (Thread th : clients) {
            th.join(30_000);
        }
        return done.get();
    }

    static void check(AgentProcess agent, Path bpffs, Map<String, Told> told, int round) throws Exception {
        try (BpfClient c = BpfClient.connect(agent.unixTarget())) {
            Map<String, Application> now = new HashMap<>();
            for (Application a : c.applications().list()) {
                now.put(a.getName(), a);
            }
            Set<Integer> ids = new HashSet<>();
            for (var e : told.entrySet()) {
                String name = e.getKey();
                Told t = e.getValue();
                Application a = now.get(name);
                if (!t.inFlight) {
                    assertEquals(t.generation > 0, a != null, "round " + round + ": " + name + " is as last told");
                    if (a != null) {
                        assertEquals(t.generation, a.getGeneration(), "round " + round + ": " + name);
                    }
                }
                int ifindex = ifindex(iface(Integer.parseInt(name.substring(5))));
                if (a == null) {
                    t.generation = 0;
                    assertTrue(Kernel.eventually(() -> Host.xdpProgramId(ifindex) == 0), "round " + round + ": "
                            + name + " is gone, and so is its program from " + iface(0));
                    continue;
                }
                t.generation = a.getGeneration();
                t.inFlight = false;
                Application settled = eventuallyReady(c, name);
                int prog = settled.getStatus().getPrograms(0).getProgramId();
                assertEquals(prog, Host.xdpProgramId(ifindex), "round " + round + ": " + name + " runs its program");
                assertTrue(Files.exists(bpffs.resolve("_apps/" + name + "/prog_" + prog)), "round " + round);
                ids.add(prog);
            }
            Map<Integer, Boolean> held = new HashMap<>();
            for (var p : c.listPrograms(false)) {
                assertNull(held.put(p.getId(), true), "round " + round + ": held once: " + p.getId());
            }
            // nothing orphaned: every firewall program in the kernel is an application's
            assertTrue(Kernel.eventually(() -> {
                for (int id : KernelObjects.programIds()) {
                    var info = Program.infoById(id);
                    if (info.isPresent() && info.get().name().equals("firewall") && !ids.contains(id)) {
                        return false;
                    }
                }
                return true;
            }), "round " + round + ": a firewall program outlived its application");
        }
    }

    static Application eventuallyReady(BpfClient c, String name) throws Exception {
        Application[] last = new Application[1];
        boolean ok = Kernel.eventually(() -> {
            last[0] = c.applications().get(name);
            return ready(last[0]) && last[0].getStatus().getAttachmentsCount() == 1
                    && last[0].getStatus().getAttachments(0).getState() == AttachmentStatus.State.STATE_ATTACHED;
        });
        assertTrue(ok, "not ready: " + last[0]);
        return last[0];
    }
}
