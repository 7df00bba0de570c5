package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.agent.bpf.ProgramFds;
import dev.bpfagent.agent.bpf.AttachType;
import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.Fd;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.proto.v1.ProgramType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * ProgramAttached is answered from the kernel: a BPF link made outside the agent (here an XDP link on
 * a veth this test creates and deletes) is seen, and its removal too.
 */
class AttachedTest {
    static int run(String... cmd) throws Exception {
        var r = Processes.run(30, java.util.List.of(cmd));
        if (r.exit() != 0) {
            System.err.println(String.join(" ", cmd) + ": " + r.output());
        }
        return r.exit();
    }

    @Test
    void aLinkMadeOutsideTheAgentCountsAsAttached() throws Exception {
        Kernel.assumeRoot();
        String ip = Files.isExecutable(Path.of("/usr/sbin/ip")) ? "/usr/sbin/ip" : "/sbin/ip";
        Assumptions.assumeTrue(Files.isExecutable(Path.of(ip)), "needs iproute2's ip to make a veth pair");
        String veth = "bpfag" + UUID.randomUUID().toString().substring(0, 6);
        assertEquals(0, run(ip, "link", "add", veth, "type", "veth", "peer", "name", veth + "p"));
        try (AgentProcess agent = AgentProcess.start(); BpfClient c = BpfClient.connect(agent.unixTarget());
             ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(2))
                     .name("attached").build())) {
            int ifindex = Integer.parseInt(Files.readString(Path.of("/sys/class/net/" + veth + "/ifindex")).strip());
            assertFalse(c.programAttached(p.id()));
            try (Program mine = Program.fromId(p.id());
                 Fd link = Bpf.linkCreate(ProgramFds.fd(mine), ifindex, AttachType.XDP.value, 0)) {
                var r = c.programAttached(p.id());
                assertTrue(r, "an XDP link on " + veth + " exists");
                assertTrue(p.attached());
                // A pinned link is not a program: GetPinnedProgram says so and holds nothing.
                Path linkPin = agent.bpffsDir.resolve("a_link");
                Bpf.objPin(link, linkPin.toString());
                var e = assertThrows(dev.bpfagent.client.BpfAgentException.class, () -> c.getPinned(linkPin.toString()));
                assertEquals(io.grpc.Status.Code.FAILED_PRECONDITION, e.code(), e.getMessage());
                assertEquals("KIND_MISMATCH", e.reason());
                assertEquals(1, c.agentInfo().getProgramsHeld());
                Files.delete(linkPin);
            }
            assertFalse(c.programAttached(p.id()), "the link is gone with its fd");
        } finally {
            run(ip, "link", "del", veth);
        }
    }

    @Test
    void anXdpProgramAttachedWithIpLinkCountsAsAttached() throws Exception {
        Kernel.assumeRoot();
        String ip = Files.isExecutable(Path.of("/usr/sbin/ip")) ? "/usr/sbin/ip" : "/sbin/ip";
        Assumptions.assumeTrue(Files.isExecutable(Path.of(ip)), "needs iproute2's ip to make a veth pair");
        String veth = "bpfan" + UUID.randomUUID().toString().substring(0, 6);
        assertEquals(0, run(ip, "link", "add", veth, "type", "veth", "peer", "name", veth + "p"));
        try (AgentProcess agent = AgentProcess.start(); BpfClient c = BpfClient.connect(agent.unixTarget());
             ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.returnImm(2))
                     .name("by_ip_link").build())) {
            String pin = p.pin("by_ip_link");
            assertFalse(c.programAttached(p.id()));
            // attached by someone else, with netlink (no BPF link): still seen
            assertEquals(0, run(ip, "link", "set", "dev", veth, "xdpgeneric", "pinned", pin));
            var links = c.program(p.id(), true).getLinks();
            assertTrue(links.getAttached(), links.toString());
            assertEquals(java.util.List.of(veth), links.getXdpInterfacesList());
            assertEquals(0, links.getLinkIdsCount(), "no BPF link: netlink attached it");
            assertTrue(c.listPrograms(dev.bpfagent.proto.v1.ListProgramsRequest.newBuilder().setWithLinks(true)
                    .build()).getProgramsList().stream().anyMatch(x -> x.getId() == p.id()
                    && x.getLinks().getXdpInterfacesList().contains(veth)));
            assertEquals(0, run(ip, "link", "set", "dev", veth, "xdpgeneric", "off"));
            assertFalse(c.programAttached(p.id()));
        } finally {
            run(ip, "link", "del", veth);
        }
    }
}
