package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.kernel.BpfProgInfo;
import java.util.List;

/**
 * What the kernel says of a loaded program (struct bpf_prog_info), as the bpf layer hands it upward.
 *
 * @param type the program type; empty when this agent does not know the kernel's number
 * @param typeNumber the kernel's number for the type, known or not
 * @param tag 16 hex digits, as bpftool prints it
 * @param loadTimeNs CLOCK_BOOTTIME nanoseconds at load
 * @param runTimeNs total run time, counted only while run stats are on
 */
public record ProgramInfo(
        int id,
        java.util.Optional<ProgramType> type,
        int typeNumber,
        String name,
        String tag,
        int jitedProgLen,
        int xlatedProgLen,
        long loadTimeNs,
        int createdByUid,
        List<Integer> mapIds,
        int ifindex,
        boolean gplCompatible,
        int btfId,
        long runTimeNs,
        long runCnt,
        long recursionMisses,
        int verifiedInsns,
        int attachBtfObjId,
        int attachBtfId) {

    static ProgramInfo of(BpfProgInfo i) {
        return new ProgramInfo(i.id(), ProgramType.of(i.type()), i.type(), i.name(), i.tagHex(), i.jited_prog_len(),
                i.xlated_prog_len(), i.load_time(), i.created_by_uid(),
                java.util.Arrays.stream(i.map_ids()).boxed().toList(), i.ifindex(), i.gpl_compatible(), i.btf_id(),
                i.run_time_ns(), i.run_cnt(), i.recursion_misses(), i.verified_insns(), i.attach_btf_obj_id(),
                i.attach_btf_id());
    }
}
