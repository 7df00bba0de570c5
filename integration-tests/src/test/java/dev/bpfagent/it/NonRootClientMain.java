package dev.bpfagent.it;

import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.proto.v1.ProgramType;

/** Run by NonRootClientTest as an unprivileged user: loads, runs and closes a program through the agent. */
public final class NonRootClientMain {
    private NonRootClientMain() {
    }

    public static void main(String[] args) {
        try (BpfClient c = BpfClient.connect(args[0]);
             ProgramHandle p = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.xdpDropUdp()).build())) {
            System.out.println("owner_uid=" + p.owner().getUid() + " retval=" + p.testRun(TestPackets.udp().build()).retval());
        }
    }
}
