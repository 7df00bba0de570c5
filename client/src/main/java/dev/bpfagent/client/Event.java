package dev.bpfagent.client;

import dev.bpfagent.proto.v1.EventStreamStarted;
import dev.bpfagent.proto.v1.SubscribeEventsResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * What an event subscription delivers, in sequence order: records ({@link Data}) and notices of records
 * this subscription did not get ({@link Loss}). Every sequence number is either a Data or inside a Loss.
 * A {@link EventPublisher} also delivers {@link Started} first; {@link EventStream} hands it over as
 * {@link EventStream#started()}.
 */
public sealed interface Event permits Event.Data, Event.Loss, Event.Started {

    /**
     * One record a program wrote. cpu is the perf buffer's CPU (perf event arrays), empty for ring
     * buffers. Perf records may end with up to 7 bytes of padding; fixed-layout decoding ignores it.
     */
    record Data(long sequence, OptionalInt cpu, byte[] data) implements Event {
        /** The record read by a codec of map values (which see exactly its size: padding cut off). */
        public <T> T decode(MapCodec.Codec<T> codec, int size) {
            if (data.length < size) {
                throw new IllegalArgumentException("record " + sequence + " has " + data.length + " bytes, not "
                        + size);
            }
            return codec.decode(data.length == size ? data : java.util.Arrays.copyOf(data, size));
        }

        /** The record in the kernel's byte order (little-endian), for reading fields at their offsets. */
        public ByteBuffer buffer() {
            return ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        }

        /** The u32 at byte offset. */
        public int u32(int offset) {
            return buffer().getInt(offset);
        }

        /** The u64 at byte offset. */
        public long u64(int offset) {
            return buffer().getLong(offset);
        }
    }

    /**
     * Records firstSequence .. firstSequence + count - 1 were lost: droppedByAgent of them because this
     * subscriber's queue in the agent was full, lostInKernel because a perf buffer was full.
     */
    record Loss(long firstSequence, long count, long droppedByAgent, long lostInKernel) implements Event {
    }

    /** The subscription is live; the limits it runs with. */
    record Started(EventStreamStarted info) implements Event {
    }

    /** The events one stream message carries, in order. */
    static List<Event> of(SubscribeEventsResponse m) {
        List<Event> out = new ArrayList<>();
        switch (m.getEventCase()) {
            case STARTED -> out.add(new Started(m.getStarted()));
            case LOSS -> out.add(new Loss(m.getLoss().getFirstSequence(), m.getLoss().getCount(),
                    m.getLoss().getDroppedByAgent(), m.getLoss().getLostInKernel()));
            case BATCH -> {
                var batch = m.getBatch();
                long seq = batch.getFirstSequence();
                if (batch.getPackedSizesCount() > 0) {
                    byte[] all = batch.getPackedData().toByteArray();
                    boolean cpus = batch.getPackedCpusCount() == batch.getPackedSizesCount();
                    int at = 0;
                    for (int i = 0; i < batch.getPackedSizesCount(); i++) {
                        int size = batch.getPackedSizes(i);
                        out.add(new Data(seq++, cpus ? OptionalInt.of(batch.getPackedCpus(i)) : OptionalInt.empty(),
                                java.util.Arrays.copyOfRange(all, at, at + size)));
                        at += size;
                    }
                    return out;
                }
                for (var r : batch.getRecordsList()) {
                    out.add(new Data(seq++, r.hasCpu() ? OptionalInt.of(r.getCpu()) : OptionalInt.empty(),
                            r.getData().toByteArray()));
                }
            }
            default -> {
                // a kind this client does not know yet: skipped
            }
        }
        return out;
    }
}
