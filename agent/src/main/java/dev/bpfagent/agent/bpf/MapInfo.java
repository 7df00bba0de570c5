package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.kernel.BpfMapInfo;
import java.util.Optional;

/**
 * What the kernel says of a map (struct bpf_map_info).
 *
 * @param type empty when this agent does not know the kernel's number for it
 * @param mapFlags the BPF_F_* flags it was created with
 */
public record MapInfo(int id, Optional<MapType> type, int typeNumber, int keySize, int valueSize, int maxEntries,
                      int mapFlags, String name, int ifindex, int btfId, int btfKeyTypeId, int btfValueTypeId,
                      long mapExtra) {

    static MapInfo of(BpfMapInfo i) {
        return new MapInfo(i.id(), MapType.of(i.type()), i.type(), i.key_size(), i.value_size(), i.max_entries(),
                i.map_flags(), i.name(), i.ifindex(), i.btf_id(), i.btf_key_type_id(), i.btf_value_type_id(),
                i.map_extra());
    }
}
