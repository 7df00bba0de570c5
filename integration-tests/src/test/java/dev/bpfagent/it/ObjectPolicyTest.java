package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.agent.bpf.KernelObjects;
import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.CollectionHandle;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.client.TestRunOptions;
import dev.bpfagent.proto.v1.*;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The policy's program limits hold for every program a LoadObject makes, as the loader will load it:
 * the type an override gives (an unknown section made a KPROBE is refused), the flags a ".s" section
 * sets, the expected attach type an override gives, and programs auto-attach would attach. Each
 * refusal comes before anything is made: the kernel's program and map ids are as before. The caller is
 * root, restricted by a rule that matches uid 0 (which is otherwise an admin).
 */
class ObjectPolicyTest {
    static LoadObjectRequest.Builder load(byte[] elf, String name, String... programs) {
        return LoadObjectRequest.newBuilder().setObject(ObjectSource.newBuilder().setElf(
                com.google.protobuf.ByteString.copyFrom(elf)).setName(name)).addAllPrograms(List.of(programs));
    }

    static BpfAgentException refused(BpfClient c, LoadObjectRequest r) {
        Set<Integer> progs = new HashSet<>(KernelObjects.programIds());
        Set<Integer> maps = new HashSet<>(KernelObjects.mapIds());
        var e = assertThrows(BpfAgentException.class, () -> c.loadObject(r).close(), r.getProgramsList().toString());
        assertEquals(Status.Code.PERMISSION_DENIED, e.code(), e.getMessage());
        assertEquals("POLICY_DENIED", e.reason(), e.getMessage());
        // refused before the loader ran: nothing was made, not even for a moment that left a trace
        assertTrue(KernelObjects.programIds().stream().allMatch(progs::contains), "no program was loaded");
        assertTrue(KernelObjects.mapIds().stream().allMatch(maps::contains), "no map was made");
        return e;
    }

    static void deleteTree(Path dir) throws java.io.IOException {
        try (var all = Files.walk(dir)) {
            for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    static AgentProcess agentWith(Path dir, String rule) throws Exception {
        Path policy = dir.resolve("policy.json");
        Files.writeString(policy, "{\"rules\": [" + rule + "]}");
        return AgentProcess.start("--policy", policy.toString());
    }

    @Test
    void typesFromOverridesUnknownSectionsAndAutoAttachAreAuthorizedAsLoaded() throws Exception {
        Kernel.assumeRoot();
        byte[] sections = ObjectsOverAgentTest.object("sections");
        Path dir = Files.createTempDirectory("bpf-agent-object-policy");
        try (AgentProcess agent = agentWith(dir, """
                {"name": "ops", "match": {"uids": [0]}, "role": "ROLE_OPERATE"}""");
             BpfClient c = BpfClient.connect(agent.unixTarget())) {
            // the bypass: a section libbpf does not know, made a KPROBE by an override
            var e = refused(c, load(sections, "sections.o", "unknown").putOverrides("unknown", ProgramOverride
                    .newBuilder().setType(ProgramType.PROGRAM_TYPE_KPROBE).build()).build());
            assertTrue(e.getMessage().contains("'unknown'") && e.getMessage().contains("PROGRAM_TYPE_KPROBE"),
                    e.getMessage());
            // an override that turns an allowed section into an excluded type
            e = refused(c, load(sections, "sections.o", "tc_pass").putOverrides("tc_pass", ProgramOverride
                    .newBuilder().setType(ProgramType.PROGRAM_TYPE_SYSCALL).build()).build());
            assertTrue(e.getMessage().contains("PROGRAM_TYPE_SYSCALL"), e.getMessage());
            // sections whose own type is excluded
            e = refused(c, load(sections, "sections.o", "kp").build());
            assertTrue(e.getMessage().contains("'kp'") && e.getMessage().contains("PROGRAM_TYPE_KPROBE"), e.getMessage());
            e = refused(c, load(sections, "sections.o", "fe").build());
            assertTrue(e.getMessage().contains("PROGRAM_TYPE_TRACING"), e.getMessage());
            // the whole object (every program, as auto-attach would attach them): one excluded program refuses all
            e = refused(c, load(sections, "sections.o", "count_sleeps", "kp").setAttach(true).build());
            assertTrue(e.getMessage().contains("'kp'"), e.getMessage());
            assertEquals(0, c.agentInfo().getProgramsHeld());
            assertEquals(0, c.agentInfo().getMapsHeld());

            // the same unknown section, given an allowed type, loads and runs
            try (CollectionHandle h = c.loadObject(load(sections, "sections.o", "unknown").putOverrides("unknown",
                    ProgramOverride.newBuilder().setType(ProgramType.PROGRAM_TYPE_SOCKET_FILTER).build()).build())) {
                int id = h.collection().getPrograms(0).getProgramId();
                assertEquals(ProgramType.PROGRAM_TYPE_SOCKET_FILTER, c.program(id).getKernel().getType());
                assertEquals(0, c.testRun(id, TestRunOptions.ofData(TestPackets.udp().build())).retval());
            }
            // auto-attach of an allowed program under the same rule
            try (CollectionHandle h = c.loadObject(load(sections, "sections.o", "count_sleeps").setAttach(true).build())) {
                assertEquals(1, h.collection().getLinksCount(), h.collection().toString());
            }
            assertEquals(0, c.agentInfo().getProgramsHeld());
        } finally {
            deleteTree(dir);
        }
    }

    @Test
    void sleepableSectionsAndOverriddenAttachTypesAreAuthorizedAsLoaded() throws Exception {
        Kernel.assumeRoot();
        byte[] sleepable = ObjectsOverAgentTest.object("sleepable");
        byte[] sections = ObjectsOverAgentTest.object("sections");
        Path dir = Files.createTempDirectory("bpf-agent-object-policy");
        try (AgentProcess agent = agentWith(dir, """
                {"name": "probes", "match": {"uids": [0]}, "role": "ROLE_OPERATE", "limits": {
                  "programTypes": ["PROGRAM_TYPE_KPROBE", "PROGRAM_TYPE_XDP", "PROGRAM_TYPE_CGROUP_SOCK_ADDR"],
                  "attachTypes": ["ATTACH_TYPE_CGROUP_INET4_BIND", "ATTACH_TYPE_XDP"]}}""");
             BpfClient c = BpfClient.connect(agent.unixTarget())) {
            // KPROBE is allowed, sleeping is not: the ".s" section's BPF_F_SLEEPABLE is what is checked
            var e = refused(c, load(sleepable, "sleepable.o").build());
            assertTrue(e.getMessage().contains("'sleepy'") && e.getMessage().contains("BPF_F_SLEEPABLE"), e.getMessage());
            try (CollectionHandle h = c.loadObject(load(sleepable, "sleepable.o", "awake").build())) {
                assertEquals(1, h.collection().getProgramsCount());
            }
            // cgroup/connect4's attach type is not among the rule's; overridden to inet4_bind it is
            e = refused(c, load(sections, "sections.o", "cg_connect").build());
            assertTrue(e.getMessage().contains("ATTACH_TYPE_CGROUP_INET4_CONNECT"), e.getMessage());
            try (CollectionHandle h = c.loadObject(load(sections, "sections.o", "cg_connect").putOverrides("cg_connect",
                    ProgramOverride.newBuilder().setExpectedAttachType(AttachType.ATTACH_TYPE_CGROUP_INET4_BIND)
                            .build()).build())) {
                int id = h.collection().getPrograms(0).getProgramId();
                assertEquals(ProgramType.PROGRAM_TYPE_CGROUP_SOCK_ADDR, c.program(id).getKernel().getType());
            }
            assertEquals(0, c.agentInfo().getProgramsHeld());
        } finally {
            deleteTree(dir);
        }
    }
}
