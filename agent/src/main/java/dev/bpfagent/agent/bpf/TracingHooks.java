package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.LinkCreateAttr;

/** Raw tracepoints, tracing targets (fentry, fexit, fmod_ret, lsm, tp_btf, freplace) and iterators. */
final class TracingHooks {
    private TracingHooks() {
    }

    static Link rawTracepoint(Program p, Hook.RawTracepoint h) {
        Link.expect(p, "program", "a raw tracepoint", ProgramType.RAW_TRACEPOINT, ProgramType.RAW_TRACEPOINT_WRITABLE);
        try {
            return Link.adopt(Bpf.rawTracepointOpen(h.name(), p.fd(), h.cookie()), p, h, h.name());
        } catch (KernelException e) {
            if (e.errno() == Errno.ENOENT) {
                throw HookException.notFound("hook.raw_tracepoint.name", "TRACEPOINT_NOT_FOUND", "the kernel has no"
                        + " tracepoint '" + h.name() + "' (raw tracepoints take the name without its category)");
            }
            throw Link.refused(e, h);
        }
    }

    static Link tracing(Program p, Hook.Tracing h) {
        Link.expect(p, "program", "a tracing target (fentry, fexit, fmod_ret, lsm, tp_btf, freplace)", ProgramType.TRACING,
                ProgramType.LSM, ProgramType.EXT);
        int attachType = p.expectedAttachType().map(t -> t.value).orElse(
                p.type() == ProgramType.LSM ? AttachType.LSM_MAC.value : 0);
        try {
            return Link.adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), null, 0, attachType, 0,
                    new LinkCreateAttr.Tracing(0))), p, h, "its load's attach target");
        } catch (KernelException.InvalidArgument old) {
            // before 5.13 BPF_LINK_CREATE does not take tracing programs: BPF_RAW_TRACEPOINT_OPEN with no
            // name attaches them at their load's target (as libbpf does there)
            try {
                return Link.adopt(Bpf.rawTracepointOpen(null, p.fd(), 0), p, h, "its load's attach target");
            } catch (KernelException e) {
                throw Link.refused(e, h);
            }
        } catch (KernelException e) {
            throw Link.refused(e, h);
        }
    }

    /** An iterator link: BPF_LINK_CREATE with TRACE_ITER (and the map for map iterators). */
    static Link iter(Program p, Hook.Iter h) {
        Link.expect(p, "program", "an iterator", ProgramType.TRACING);
        if (p.expectedAttachType().isPresent() && p.expectedAttachType().get() != AttachType.TRACE_ITER) {
            throw new InvalidSpecException("program", "program " + p.id() + " was loaded with expected_attach_type "
                    + p.expectedAttachType().get() + "; an iterator is loaded with TRACE_ITER and"
                    + " attach_target.function naming it (task, bpf_map_elem, ...)");
        }
        try {
            return Link.adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), null, 0, AttachType.TRACE_ITER.value, 0,
                    new LinkCreateAttr.Iter(h.map() != null ? h.map().fd() : null))), p, h, h.describe());
        } catch (KernelException e) {
            if (e.errno() == Errno.EINVAL || e.errno() == Errno.EACCES) {
                throw e.withContext("attaching " + h.describe() + (h.map() == null ? ": iterators over map"
                        + " elements need hook.iter.map_id" : ": only iterators over map elements take a map,"
                        + " and the program must read values no bigger than the map's"));
            }
            throw Link.refused(e, h);
        }
    }
}
