package dev.bpfagent.agent.kernel;

/**
 * The head of struct bpf_link_info: type (enum bpf_link_type), id, prog_id, and the first two u64 of
 * the per-type union, raw (their meaning depends on type: see {@link Bpf#linkInfo}).
 */
public record BpfLinkInfo(int type, int id, int prog_id, long union0, long union1) {
    /** type, id, prog_id, padding, then the union's first 16 bytes. */
    static final int SIZE = 32;

    /** The union's first u32 (XDP, tcx, netkit: the ifindex). */
    public int unionInt0() {
        return (int) union0;
    }

    /** The union's second u32 (tcx: the attach type). */
    public int unionInt1() {
        return (int) (union0 >>> 32);
    }
}
