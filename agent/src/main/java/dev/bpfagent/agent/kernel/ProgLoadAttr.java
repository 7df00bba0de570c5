package dev.bpfagent.agent.kernel;

/**
 * The inputs of BPF_PROG_LOAD, named as in union bpf_attr. fds that are null are passed as 0.
 *
 * @param insns struct bpf_insn[], 8 bytes each
 * @param log_size size of the log buffer to give the kernel (0 when log_level is 0)
 * @param func_info struct bpf_func_info records, or empty; func_info_cnt is its length / func_info_rec_size
 * @param line_info struct bpf_line_info records, or empty
 */
public record ProgLoadAttr(
        int prog_type,
        byte[] insns,
        String license,
        int log_level,
        int log_size,
        int kern_version,
        int prog_flags,
        String prog_name,
        int prog_ifindex,
        int expected_attach_type,
        Fd prog_btf_fd,
        int attach_btf_id,
        Fd attach_btf_obj_fd,
        Fd attach_prog_fd,
        byte[] func_info,
        int func_info_rec_size,
        byte[] line_info,
        int line_info_rec_size) {

    public ProgLoadAttr withLog(int level, int size) {
        return new ProgLoadAttr(prog_type, insns, license, level, size, kern_version, prog_flags, prog_name,
                prog_ifindex, expected_attach_type, prog_btf_fd, attach_btf_id, attach_btf_obj_fd, attach_prog_fd,
                func_info, func_info_rec_size, line_info, line_info_rec_size);
    }
}
