package dev.bpfagent.agent.bpf;

/** BPF_PROG_TEST_RUN input and output as values. */
public final class TestRun {
    private TestRun() {
    }

    /**
     * @param dataIn packet or other input; may be empty
     * @param dataSizeOut output buffer size; 0 for dataIn's size plus {@link #DEFAULT_HEADROOM}
     * @param ctxIn the program type's context; may be empty
     * @param ctxSizeOut context output buffer size; 0 for none
     * @param repeat runs; 0 or 1 for one
     */
    public record Input(byte[] dataIn, int dataSizeOut, byte[] ctxIn, int ctxSizeOut, int repeat, int flags, int cpu,
                        int batchSize) {
        public Input {
            dataIn = dataIn == null ? new byte[0] : dataIn;
            ctxIn = ctxIn == null ? new byte[0] : ctxIn;
        }

        /** The same input with another repeat count. */
        public Input withRepeat(int n) {
            return new Input(dataIn, dataSizeOut, ctxIn, ctxSizeOut, n, flags, cpu, batchSize);
        }

        public static Input ofData(byte[] data) {
            return new Input(data, 0, null, 0, 1, 0, 0, 0);
        }

        int effectiveDataSizeOut() {
            return dataSizeOut > 0 ? dataSizeOut : (dataIn.length == 0 ? 0 : dataIn.length + DEFAULT_HEADROOM);
        }
    }

    /** A cancellable run's first batch, which measures how long one run takes. */
    static final long FIRST_BATCH = 64;
    /** How long a cancellable run's later batches take: a cancel waits at most about this long. */
    static final long BATCH_NANOS = 50_000_000;

    /** Room for programs that grow the packet (bpf_xdp_adjust_head/tail), when no output size is given. */
    public static final int DEFAULT_HEADROOM = 256;

    /**
     * @param durationNs mean duration of one run, as the kernel measured it
     * @param dataSizeOut the output size the kernel reported
     */
    public record Result(int retval, byte[] dataOut, byte[] ctxOut, int durationNs, int dataSizeOut) {
    }
}
