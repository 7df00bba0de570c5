package dev.bpfagent.it;

import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.client.TestRunOptions;
import dev.bpfagent.proto.v1.ProgramType;

/**
 * Run by AccessControlTest as user nobody (a member of the agent's socket group, ROLE_OPERATE by the
 * policy): each step prints "STEP=OK ..." or "STEP=CODE reason rule", one line each.
 * Arguments: target, root's program id, root's pin path.
 */
public final class AccessControlClientMain {
    private AccessControlClientMain() {
    }

    interface Step {
        String run() throws Exception;
    }

    static void step(String name, Step s) {
        try {
            System.out.println(name + "=OK " + s.run());
        } catch (BpfAgentException e) {
            System.out.println(name + "=" + e.code() + " " + e.reason() + " " + e.metadata().get("rule") + " :: "
                    + e.getMessage());
        } catch (Exception e) {
            System.out.println(name + "=ERROR " + e);
        }
    }

    public static void main(String[] args) {
        int rootProgram = Integer.parseInt(args[1]);
        String rootPin = args[2];
        try (BpfClient c = BpfClient.connect(args[0])) {
            ProgramHandle[] mine = new ProgramHandle[1];
            step("load_xdp", () -> {
                mine[0] = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.xdpDropUdp()).build());
                return "id=" + mine[0].id() + " owner_uid=" + mine[0].owner().getUid();
            });
            step("test_run", () -> "retval=" + mine[0].testRun(TestPackets.udp().build()).retval());
            step("load_syscall", () -> "id=" + c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_SYSCALL,
                    Asm.returnImm(0)).build()).id());
            step("live_frames", () -> "retval=" + mine[0].testRun(TestRunOptions.ofData(TestPackets.udp().build())
                    .withFlags(2)).retval());
            step("close_roots", () -> c.closeProgram(rootProgram, false).toString().replace('\n', ' '));
            step("unpin_roots", () -> c.unpin(rootPin));
            step("pin_outside", () -> mine[0].pin("elsewhere/mine"));
            step("pin_own", () -> mine[0].pin("ops/mine"));
            step("get_pinned_roots", () -> {
                ProgramHandle ref = c.getPinned(rootPin);
                int id = ref.id();
                ref.close(); // releases this caller's reference only
                return "id=" + id;
            });
            step("close_own", () -> {
                c.unpin("ops/mine");
                mine[0].close();
                return "closed";
            });
        }
    }
}
