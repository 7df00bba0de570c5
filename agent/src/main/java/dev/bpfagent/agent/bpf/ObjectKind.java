package dev.bpfagent.agent.bpf;

/** The kinds of BPF object an fd (or a bpffs pin) can be, as the kernel names their anon inodes. */
public enum ObjectKind {
    PROGRAM("bpf-prog"), MAP("bpf-map"), LINK("bpf_link"), BTF("btf"),
    /** Not a kernel object: the agent's tail-call chain (a prog array and its programs). */
    CHAIN(null),
    /** Not a kernel object: the agent's collection of a loaded ELF object's maps and programs. */
    COLLECTION(null),
    OTHER("");

    /** The anon inode's name in /proc/self/fd ("anon_inode:bpf-prog"). */
    final String inodeName;

    ObjectKind(String inodeName) {
        this.inodeName = inodeName;
    }

    static ObjectKind ofInode(String name) {
        for (ObjectKind k : values()) {
            if (k.inodeName != null && k != OTHER && k.inodeName.equals(name)) {
                return k;
            }
        }
        if ("bpf-link".equals(name)) {
            return LINK; // a link's fd from BPF_OBJ_GET or GET_FD_BY_ID; new links are "bpf_link"
        }
        return OTHER;
    }

    @Override
    public String toString() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
