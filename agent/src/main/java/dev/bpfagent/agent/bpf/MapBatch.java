package dev.bpfagent.agent.bpf;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One page of a map's entries, from a batch lookup or a walk of next keys.
 *
 * @param keys the keys, in the kernel's order
 * @param values each key's value (per-CPU maps: every CPU's, as {@link BpfMap#perCpu} splits them)
 * @param position where the next page starts (give it back to continue); meaningless when done
 * @param done no entries follow these
 */
public record MapBatch(List<byte[]> keys, List<byte[]> values, byte[] position, boolean done) {

    static MapBatch split(byte[] keys, byte[] values, int count, int keySize, int valueSize, byte[] position,
                          boolean done) {
        List<byte[]> ks = new ArrayList<>(count);
        List<byte[]> vs = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            ks.add(Arrays.copyOfRange(keys, i * keySize, (i + 1) * keySize));
            vs.add(Arrays.copyOfRange(values, i * valueSize, (i + 1) * valueSize));
        }
        return new MapBatch(ks, vs, position, done);
    }
}
