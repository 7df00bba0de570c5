package dev.bpfagent.agent.kernel;

/** enum bpf_cmd (include/uapi/linux/bpf.h): the commands this agent issues. */
public enum BpfCmd {
    BPF_MAP_CREATE(0),
    BPF_PROG_LOAD(5),
    BPF_OBJ_PIN(6),
    BPF_OBJ_GET(7),
    BPF_PROG_TEST_RUN(10),
    BPF_PROG_GET_NEXT_ID(11),
    BPF_PROG_GET_FD_BY_ID(13),
    BPF_OBJ_GET_INFO_BY_FD(15),
    BPF_BTF_LOAD(18),
    BPF_BTF_GET_FD_BY_ID(19),
    BPF_LINK_CREATE(28),
    BPF_LINK_GET_FD_BY_ID(30),
    BPF_LINK_GET_NEXT_ID(31),
    BPF_ENABLE_STATS(32);

    public final int value;

    BpfCmd(int value) {
        this.value = value;
    }
}
