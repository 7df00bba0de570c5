package dev.bpfagent.bench;

import com.google.protobuf.ByteString;
import dev.bpfagent.client.Applications;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.proto.v1.ApplicationObject;
import dev.bpfagent.proto.v1.ApplicationProgram;
import dev.bpfagent.proto.v1.ApplicationSpec;
import dev.bpfagent.proto.v1.AttachMechanism;
import dev.bpfagent.proto.v1.AttachRule;
import dev.bpfagent.proto.v1.FeatureState;
import dev.bpfagent.proto.v1.Hook;
import dev.bpfagent.proto.v1.TcDirection;
import dev.bpfagent.proto.v1.TcxHook;
import dev.bpfagent.proto.v1.XdpHook;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * One interface hook shared by priority, as an orchestrator changes it: a third application added
 * between two and deleted again, each timed on its own. On tcx (tcorder.o: BPF_F_BEFORE the next one)
 * and, where the kernel takes freplace, on XDP through the dispatcher (xdporder.o: a new dispatcher
 * swapped in per change) beside xdp-loader loading the same object into that dispatcher and unloading it.
 */
final class SharedHookBench {
    private SharedHookBench() {
    }

    static ByteString u32(int v) {
        return ByteString.copyFrom(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array());
    }

    static ApplicationSpec spec(byte[] elf, Hook hook, String iface, int digit, int priority, boolean dispatched) {
        AttachRule.Builder rule = AttachRule.newBuilder().setHook(hook).addInterfaces(iface).setPriority(priority);
        if (dispatched) {
            rule.setMechanism(AttachMechanism.ATTACH_MECHANISM_XDP_DISPATCHER);
        }
        return ApplicationSpec.newBuilder().addObjects(ApplicationObject.newBuilder().setName("order")
                .setSource(Applications.elf(elf)).putRodata("digit", u32(digit)).putRodata("port", u32(9))
                .addPrograms(ApplicationProgram.newBuilder().setName("record").addAttach(rule))).build();
    }

    /** Rows for the interface iface; lines say what was left out and why. */
    static void run(BpfClient c, Path objects, String iface, int n, List<AgentBench.Row> rows, List<String> lines)
            throws Exception {
        Applications apps = c.applications();
        Path tc = objects.resolve("tcorder.o"), xdp = objects.resolve("xdporder.o");
        if (Files.exists(tc)) {
            Hook h = Hook.newBuilder().setTcx(TcxHook.newBuilder().setDirection(TcDirection.TC_DIRECTION_INGRESS)).build();
            times(apps, Files.readAllBytes(tc), h, iface, n, null, "tcx", rows);
        }
        boolean freplace = c.kernelFeatures(false).getAttachList().stream().anyMatch(f -> f.getName().equals("freplace")
                && f.getState() == FeatureState.FEATURE_STATE_SUPPORTED);
        if (!freplace || !Files.exists(xdp)) {
            lines.add("shared XDP hook rows left out: " + (freplace ? "no " + xdp : "this kernel refuses freplace (EXT)"
                    + " loads, which the dispatcher needs (run the bench in a kernel matrix guest for them)"));
            return;
        }
        Hook h = Hook.newBuilder().setXdp(XdpHook.getDefaultInstance()).build();
        long[][] loader = times(apps, Files.readAllBytes(xdp), h, iface, n, xdp, "XDP dispatcher", rows);
        rows.add(ApplicationBench.row("shared XDP hook: xdp-loader load into the dispatcher", "xdp-loader (1 process)",
                loader[0]));
        rows.add(ApplicationBench.row("shared XDP hook: xdp-loader unload --id", "xdp-loader (1 process)", loader[1]));
    }

    /**
     * Two applications at 10 and 30, then n rounds of a third at 20 applied and deleted; dispatched (an
     * XDP dispatcher's, loaderObject given): xdp-loader loading loaderObject at 20 and unloading it too.
     */
    private static long[][] times(Applications apps, byte[] elf, Hook h, String iface, int n, Path loaderObject,
                                  String what, List<AgentBench.Row> rows) throws Exception {
        boolean dispatched = loaderObject != null;
        long[] add = new long[n], del = new long[n], lload = new long[n], lunload = new long[n];
        try {
            apps.apply("shared-a", spec(elf, h, iface, 1, 10, dispatched));
            apps.apply("shared-c", spec(elf, h, iface, 3, 30, dispatched));
            for (int i = 0; i < n; i++) {
                long s = System.nanoTime();
                apps.apply("shared-b", spec(elf, h, iface, 2, 20, dispatched));
                add[i] = System.nanoTime() - s;
                s = System.nanoTime();
                apps.delete("shared-b");
                del[i] = System.nanoTime() - s;
                if (dispatched) {
                    s = System.nanoTime();
                    ApplicationBench.sh("xdp-loader", "load", "-p", "20", iface, loaderObject.toString());
                    lload[i] = System.nanoTime() - s;
                    int id = apps.hooks(iface).stream().filter(x -> x.getHook().equals("xdp")).flatMap(x -> x
                            .getProgramsList().stream()).filter(p -> p.getApplication().isEmpty()).findFirst()
                            .orElseThrow().getProgramId();
                    s = System.nanoTime();
                    ApplicationBench.sh("xdp-loader", "unload", iface, "--id", String.valueOf(id));
                    lunload[i] = System.nanoTime() - s;
                }
            }
        } finally {
            for (String a : List.of("shared-a", "shared-b", "shared-c")) {
                try {
                    apps.delete(a);
                } catch (RuntimeException gone) {
                    // deleted already
                }
            }
        }
        rows.add(ApplicationBench.row("shared " + what + " hook: add an application between two", "uds", add));
        rows.add(ApplicationBench.row("shared " + what + " hook: delete the middle one", "uds", del));
        return new long[][] {lload, lunload};
    }
}
