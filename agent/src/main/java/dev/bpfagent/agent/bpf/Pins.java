package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.kernel.Bpf;
import dev.bpfagent.agent.kernel.Fd;

/** Questions about bpffs pins that do not depend on the kind of object pinned. */
public final class Pins {
    private Pins() {
    }

    /** The kind of object pinned at an absolute bpffs path (BPF_OBJ_GET, then its fd's kind). */
    public static ObjectKind kindAt(String path) {
        try (Fd fd = Bpf.objGet(path)) {
            return ObjectKind.ofInode(fd.kind());
        }
    }
}
