package dev.bpfagent.agent.bpf.btf;

import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.BpfCmd;
import dev.bpfagent.agent.kernel.Fd;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The running kernel's BTF (/sys/kernel/btf/vmlinux, and each module's split BTF beside it): where a
 * named kernel function, LSM hook or BTF tracepoint is, for loads of fentry/fexit/fmod_ret, lsm,
 * tp_btf and iter programs (bpf_attr.attach_btf_id, and attach_btf_obj_fd for a module's).
 */
public final class KernelBtf {
    static final Path DIR = Path.of("/sys/kernel/btf");

    private KernelBtf() {
    }

    /**
     * A type in kernel BTF.
     *
     * @param module "" for vmlinux, else the module whose BTF has it
     * @param btfObjId the module BTF object's id (attach_btf_obj_fd is opened from it); 0 for vmlinux
     */
    public record Target(int btfId, String module, int btfObjId) {
    }

    public static boolean available() {
        return Files.isReadable(DIR.resolve("vmlinux"));
    }

    /** Looks a type of this kind and name up in vmlinux, then in every module's BTF. */
    public static Optional<Target> find(BtfTypes.Kind kind, String name) {
        BtfTypes vmlinux;
        try {
            vmlinux = BtfTypes.read(DIR.resolve("vmlinux"), null);
        } catch (IOException e) {
            throw new BtfException("cannot read " + DIR.resolve("vmlinux") + ": " + e.getMessage()
                    + " (a kernel built without CONFIG_DEBUG_INFO_BTF has none)");
        }
        Optional<Integer> id = vmlinux.find(kind, name);
        if (id.isPresent()) {
            return Optional.of(new Target(id.get(), "", 0));
        }
        List<Path> modules;
        try (var list = Files.list(DIR)) {
            modules = list.filter(p -> !p.getFileName().toString().equals("vmlinux")).sorted().toList();
        } catch (IOException e) {
            return Optional.empty();
        }
        for (Path m : modules) {
            try {
                Optional<Integer> mid = BtfTypes.read(m, vmlinux).find(kind, name);
                if (mid.isPresent()) {
                    String module = m.getFileName().toString();
                    return Optional.of(new Target(mid.get(), module, moduleBtfObjId(module)));
                }
            } catch (IOException | BtfException e) {
                // a module unloaded while listed, or BTF this reader cannot walk: look on
            }
        }
        return Optional.empty();
    }

    /** The id of a module's BTF object (BPF_BTF_GET_NEXT_ID over every BTF, matching its name). */
    static int moduleBtfObjId(String module) {
        int id = 0;
        while (true) {
            OptionalInt next = Bpf.getNextId(BpfCmd.BPF_BTF_GET_NEXT_ID, id);
            if (next.isEmpty()) {
                throw new BtfException("module " + module + "'s BTF has no BTF object in the kernel");
            }
            id = next.getAsInt();
            try (Fd fd = Bpf.getFdById(BpfCmd.BPF_BTF_GET_FD_BY_ID, id)) {
                Bpf.BtfInfo info = Bpf.btfInfo(fd);
                if (info.kernelBtf() && info.name().equals(module)) {
                    return id;
                }
            } catch (KernelException.NotFound gone) {
                // freed while walking
            }
        }
    }
}
