package dev.bpfagent.agent.kernel;

/**
 * The inputs of BPF_MAP_CREATE, named as in union bpf_attr. fds that are null are passed as 0.
 *
 * @param map_name at most 15 bytes; longer is refused, never cut
 */
public record MapCreateAttr(
        int map_type,
        int key_size,
        int value_size,
        int max_entries,
        int map_flags,
        Fd inner_map_fd,
        int numa_node,
        String map_name,
        int map_ifindex,
        Fd btf_fd,
        int btf_key_type_id,
        int btf_value_type_id,
        long map_extra) {
}
