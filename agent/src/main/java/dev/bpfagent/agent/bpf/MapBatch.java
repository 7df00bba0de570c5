package dev.bpfagent.agent.bpf;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One page of a map's entries, from a batch lookup or a walk of next keys, kept as the kernel laid
 * them out: count keys end to end, count values end to end.
 *
 * @param keySize bytes a key takes in packedKeys
 * @param valueSize bytes a value takes in packedValues (per-CPU maps: all CPUs' values, as
 *        {@link BpfMap#perCpu} splits them)
 * @param position where the next page starts (give it back to continue); meaningless when done
 * @param done no entries follow these
 */
public record MapBatch(byte[] packedKeys, byte[] packedValues, int count, int keySize, int valueSize, byte[] position,
                       boolean done) {

    public List<byte[]> keys() {
        return split(packedKeys, keySize);
    }

    public List<byte[]> values() {
        return split(packedValues, valueSize);
    }

    private List<byte[]> split(byte[] packed, int size) {
        List<byte[]> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(Arrays.copyOfRange(packed, i * size, (i + 1) * size));
        }
        return out;
    }

    static MapBatch of(List<byte[]> keys, List<byte[]> values, int keySize, int valueSize, byte[] position,
                       boolean done) {
        byte[] k = new byte[keys.size() * keySize];
        byte[] v = new byte[values.size() * valueSize];
        for (int i = 0; i < keys.size(); i++) {
            System.arraycopy(keys.get(i), 0, k, i * keySize, keySize);
            System.arraycopy(values.get(i), 0, v, i * valueSize, valueSize);
        }
        return new MapBatch(k, v, keys.size(), keySize, valueSize, position, done);
    }
}
