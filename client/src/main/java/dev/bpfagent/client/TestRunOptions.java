package dev.bpfagent.client;

/**
 * BPF_PROG_TEST_RUN input (the seed's test-run-program options).
 *
 * @param dataSizeOut 0: data's size plus 256 bytes
 * @param ctxSizeOut 0: no context out
 * @param repeat 0 or 1: one run
 * @param flags BPF_F_TEST_RUN_ON_CPU (1), BPF_F_TEST_XDP_LIVE_FRAMES (2)
 */
public record TestRunOptions(byte[] data, int dataSizeOut, byte[] ctx, int ctxSizeOut, int repeat, int flags,
                             int cpu, int batchSize) {
    public TestRunOptions {
        data = data == null ? new byte[0] : data;
        ctx = ctx == null ? new byte[0] : ctx;
    }

    public static TestRunOptions ofData(byte[] data) {
        return new TestRunOptions(data, 0, null, 0, 1, 0, 0, 0);
    }

    public TestRunOptions withRepeat(int n) {
        return new TestRunOptions(data, dataSizeOut, ctx, ctxSizeOut, n, flags, cpu, batchSize);
    }

    /** bpf_attr.test.flags: BPF_F_TEST_RUN_ON_CPU (1, with cpu), BPF_F_TEST_XDP_LIVE_FRAMES (2). */
    public TestRunOptions withFlags(int testFlags) {
        return new TestRunOptions(data, dataSizeOut, ctx, ctxSizeOut, repeat, testFlags, cpu, batchSize);
    }

    public TestRunOptions withCtx(byte[] ctxIn, int sizeOut) {
        return new TestRunOptions(data, dataSizeOut, ctxIn, sizeOut, repeat, flags, cpu, batchSize);
    }
}
