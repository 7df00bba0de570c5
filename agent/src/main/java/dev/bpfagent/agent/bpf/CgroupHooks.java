package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.errno.Errno;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.Fd;
import dev.bpfagent.agent.kernel.LinkCreateAttr;
import java.nio.file.Files;
import java.nio.file.Path;

/** cgroup v2 hooks: a cgroup BPF link (5.7+), or BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI. */
final class CgroupHooks {
    private CgroupHooks() {
    }

    static Link cgroup(Program p, Hook.Cgroup h) {
        checkCgroup(p, h);
        try (Fd cg = Fd.openReadOnly(h.path())) {
            return Link.adopt(Bpf.linkCreate(new LinkCreateAttr(p.fd(), cg, 0, h.attachType().value, 0, null)), p, h,
                    h.path());
        } catch (KernelException e) {
            if (e.errno() == Errno.EINVAL && !KernelVersion.atLeast(5, 7)) {
                return cgroupProgAttach(p, h); // cgroup links are 5.7+
            }
            if (e.errno() == Errno.EINVAL) {
                throw e.withContext("attaching to " + h.describe() + ": the program must be loaded with"
                        + " expected_attach_type " + h.attachType() + " when its type needs one (cgroup/sock_addr,"
                        + " cgroup/sock, sockopt)");
            }
            throw Link.refused(e, h);
        }
    }

    static void checkCgroup(Program p, Hook.Cgroup h) {
        Link.expect(p, "program", "a cgroup hook", ProgramType.CGROUP_SKB, ProgramType.CGROUP_SOCK,
                ProgramType.CGROUP_SOCK_ADDR, ProgramType.SOCK_OPS, ProgramType.CGROUP_DEVICE,
                ProgramType.CGROUP_SYSCTL, ProgramType.CGROUP_SOCKOPT, ProgramType.LSM);
        Path dir = Path.of(h.path());
        if (!Files.isDirectory(dir) || !Files.exists(dir.resolve("cgroup.procs"))) {
            throw HookException.notFound("hook.cgroup.path", "CGROUP_NOT_FOUND", h.path() + " is not a cgroup"
                    + " directory (no cgroup.procs in it)");
        }
        if (!Files.exists(dir.resolve("cgroup.controllers"))) {
            throw new InvalidSpecException("hook.cgroup.path", h.path() + " is a cgroup v1 directory: BPF attaches to"
                    + " cgroup v2 (e.g. under " + Host.cgroup2().orElse(Path.of("/sys/fs/cgroup")) + ")");
        }
    }

    /**
     * BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI (before 5.7 the only way; still what bpftool cgroup attach
     * does): other programs keep running beside it. The cgroup's fd is kept to detach this program only.
     */
    static Link cgroupProgAttach(Program p, Hook.Cgroup h) {
        checkCgroup(p, h);
        Fd cg = Fd.openReadOnly(h.path());
        try {
            Bpf.progAttach(cg, p.fd(), h.attachType().value, Bpf.BPF_F_ALLOW_MULTI);
        } catch (KernelException e) {
            cg.close();
            if (e.errno() == Errno.EPERM) {
                throw e.withContext("attaching to " + h.describe() + ": a program attached there without"
                        + " BPF_F_ALLOW_MULTI (or with BPF_F_ALLOW_OVERRIDE) keeps others out");
            }
            if (e.errno() == Errno.EINVAL) {
                throw e.withContext("attaching to " + h.describe() + ": the program must be loaded with"
                        + " expected_attach_type " + h.attachType() + " when its type needs one");
            }
            throw Link.refused(e, h);
        } catch (RuntimeException e) {
            cg.close();
            throw e;
        }
        Fd prog = p.fd();
        Runnable undo = () -> {
            try (cg) {
                Bpf.progDetach(cg, prog, h.attachType().value);
            } catch (KernelException gone) {
                // the cgroup was removed, and its programs with it
            }
        };
        return Link.undone(Link.Mechanism.PROG_ATTACH, undo, p.id(), h, h.path());
    }
}
