package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.LinkCreateAttr;
import java.nio.file.Files;
import java.nio.file.Path;

/** kprobe_multi (5.18+ with fprobe) and uprobe_multi (6.6+): many functions as one BPF link. */
final class MultiProbeHooks {
    private MultiProbeHooks() {
    }

    /** BPF_F_KPROBE_MULTI_RETURN */
    static final int BPF_F_KPROBE_MULTI_RETURN = 1;

    static Link kprobeMulti(Program p, Hook.KprobeMulti h) {
        Link.expect(p, "program", "kprobe_multi", ProgramType.KPROBE);
        if (p.expectedAttachType().isPresent() && p.expectedAttachType().get() != AttachType.TRACE_KPROBE_MULTI) {
            throw new InvalidSpecException("program", "program " + p.id() + " was loaded with expected_attach_type "
                    + p.expectedAttachType().get() + "; kprobe_multi needs TRACE_KPROBE_MULTI");
        }
        try {
            return Link.adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), null, 0, AttachType.TRACE_KPROBE_MULTI.value, 0,
                    new LinkCreateAttr.KprobeMulti(h.functions().toArray(String[]::new), new long[0],
                            h.retprobe() ? BPF_F_KPROBE_MULTI_RETURN : 0))), p, h, String.join(",", h.functions()));
        } catch (KernelException e) {
            if (e.errno() == Errno.ENOENT || e.errno() == Errno.ESRCH) {
                throw HookException.notFound("hook.kprobe_multi.functions", "FUNCTION_NOT_FOUND", "one of "
                        + h.functions() + " is not a kernel function that can be probed (see"
                        + " /sys/kernel/tracing/available_filter_functions)");
            }
            if (e.errno() == Errno.EOPNOTSUPP || e.errno() == Errno.EINVAL) {
                throw HookException.unsupported("hook.kprobe_multi", "KPROBE_MULTI_UNAVAILABLE", "this kernel has no"
                        + " kprobe_multi links (5.18+ with CONFIG_FPROBE; " + e.errno() + "): attach one kprobe per"
                        + " function, or load the program with expected_attach_type TRACE_KPROBE_MULTI");
            }
            throw Link.refused(e, h);
        }
    }

    /** BPF_F_UPROBE_MULTI_RETURN */
    static final int BPF_F_UPROBE_MULTI_RETURN = 1;

    static Link uprobeMulti(Program p, Hook.UprobeMulti h) {
        Link.expect(p, "program", "uprobe_multi", ProgramType.KPROBE);
        if (p.expectedAttachType().isPresent() && p.expectedAttachType().get() != AttachType.TRACE_UPROBE_MULTI) {
            throw new InvalidSpecException("program", "program " + p.id() + " was loaded with expected_attach_type "
                    + p.expectedAttachType().get() + "; uprobe_multi needs TRACE_UPROBE_MULTI");
        }
        Path binary = Path.of(h.binary());
        if (!Files.isRegularFile(binary)) {
            throw HookException.notFound("hook.uprobe_multi.binary", "BINARY_NOT_FOUND", "no file " + binary
                    + " on the agent's host");
        }
        long[] offsets = new long[h.symbols().size()];
        for (int i = 0; i < offsets.length; i++) {
            try {
                offsets[i] = PerfEventHooks.uprobeOffset(new Hook.Uprobe(h.binary(), h.symbols().get(i), 0, h.retprobe(), h.pid(),
                        0));
            } catch (HookException e) {
                throw new HookException(e.kind(), "hook.uprobe_multi.symbols[" + i + "]", e.reason(),
                        e.getMessage().substring(e.field().length() + 2));
            } catch (InvalidSpecException e) {
                throw new InvalidSpecException("hook.uprobe_multi.binary", e.getMessage().substring(
                        e.field().length() + 2));
            }
        }
        try {
            return Link.adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), null, 0, AttachType.TRACE_UPROBE_MULTI.value, 0,
                    new LinkCreateAttr.UprobeMulti(h.binary(), offsets, new long[0],
                            h.retprobe() ? BPF_F_UPROBE_MULTI_RETURN : 0, Math.max(h.pid(), 0)))), p, h,
                    h.binary() + ":" + String.join(",", h.symbols()));
        } catch (KernelException e) {
            if (e.errno() == Errno.EINVAL && !KernelVersion.atLeast(6, 6)) {
                throw HookException.unsupported("hook.uprobe_multi", "UPROBE_MULTI_UNAVAILABLE", "uprobe_multi links"
                        + " need Linux 6.6+: attach one uprobe per function");
            }
            if (e.errno() == Errno.EINVAL) {
                throw e.withContext("attaching to " + h.describe() + ": the program must be loaded with"
                        + " expected_attach_type TRACE_UPROBE_MULTI");
            }
            throw Link.refused(e, h);
        }
    }
}
