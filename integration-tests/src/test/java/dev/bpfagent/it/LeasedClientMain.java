package dev.bpfagent.it;

import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.proto.v1.ProgramType;

/** Run by LeaseTest: loads a program with a lease, prints its id, and waits to be killed. */
public final class LeasedClientMain {
    private LeasedClientMain() {
    }

    public static void main(String[] args) throws Exception {
        BpfClient c = BpfClient.connect(args[0]);
        var p = c.withLease().load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_SOCKET_FILTER, Asm.returnImm(0))
                .name("leased").build());
        System.out.println("loaded " + p.id());
        System.out.flush();
        Thread.sleep(600_000);
    }
}
