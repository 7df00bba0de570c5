package dev.bpfagent.agent.service;

import com.google.protobuf.ByteString;
import dev.bpfagent.agent.bpf.KernelObjects;
import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.agent.bpf.ProgramInfo;
import dev.bpfagent.agent.bpf.ProgramSpec;
import dev.bpfagent.agent.bpf.TestRun;
import dev.bpfagent.agent.bpf.VerifierException;
import dev.bpfagent.agent.errno.KernelException;
import dev.bpfagent.agent.service.errors.VerifierRejection;
import dev.bpfagent.agent.service.state.VerifierLogs;
import dev.bpfagent.proto.v1.GetVerifierLogRequest;
import dev.bpfagent.proto.v1.GetVerifierLogResponse;
import dev.bpfagent.agent.service.auth.Caller;
import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.agent.service.state.Labels;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.CloseProgramRequest;
import dev.bpfagent.proto.v1.CloseProgramResponse;
import dev.bpfagent.proto.v1.GetProgramRequest;
import dev.bpfagent.proto.v1.ListProgramsRequest;
import dev.bpfagent.proto.v1.ListProgramsResponse;
import dev.bpfagent.proto.v1.LoadProgramRequest;
import dev.bpfagent.proto.v1.LoadProgramResponse;
import dev.bpfagent.proto.v1.ObjectRef;
import dev.bpfagent.proto.v1.TestRunProgramRequest;
import dev.bpfagent.proto.v1.TestRunProgramResponse;
import dev.bpfagent.agent.service.transport.Deadlines;
import io.grpc.Context;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** The program resource: load, get, list, close, test-run. */
final class ProgramHandler {
    static final Registry.Kind KIND = Registry.Kind.PROGRAM;
    static final int MAX_TEST_BUFFER = 16 * 1024 * 1024;
    /** A test run holds a server thread for repeat x run time; at ~10-100 ns a run this is seconds. */
    static final int MAX_TEST_REPEAT = 100_000_000;

    /** The largest page of GetVerifierLog: well inside gRPC's default 4 MiB message limit. */
    static final int MAX_LOG_PAGE = 1024 * 1024;

    private final Registry registry;
    private final Refs refs;
    private final VerifierLogs logs;

    ProgramHandler(Registry registry, Refs refs, VerifierLogs logs) {
        this.registry = registry;
        this.refs = refs;
        this.logs = logs;
    }

    /**
     * A quick program (short, loop-free: {@link ProgramSpec#isQuick}) is loaded where the call
     * arrived, without a thread hand-off; any other goes to the pool, since its verification has no
     * small bound.
     */
    void load(LoadProgramRequest req, StreamObserver<LoadProgramResponse> out, Offload offload) {
        if (!req.getAttachTarget().getFunction().isEmpty()) {
            // looking a kernel function up reads the kernel's BTF (megabytes): not on the event loop
            offload.reply(out, () -> load(prepare(req)));
            return;
        }
        Prepared p = prepare(req);
        if (p.spec().isQuick()) {
            reply(out, load(p));
        } else {
            offload.reply(out, () -> load(p));
        }
    }

    /** A load request checked and turned into a spec, with what the agent records beside it. */
    private record Prepared(ProgramSpec spec, Map<String, String> labels, Set<Registry.Key> dependsOn) {
    }

    private Prepared prepare(LoadProgramRequest req) {
        Map<String, String> labels = Labels.check(req.getLabelsMap(), "labels");
        int targetId = 0;
        Set<Registry.Key> dependsOn = new java.util.HashSet<>();
        List<dev.bpfagent.agent.bpf.BpfMap> maps = new ArrayList<>();
        for (int i = 0; i < req.getMapsCount(); i++) {
            var ref = req.getMaps(i);
            String field = "maps[" + i + "].map";
            Registry.Entry m = refs.held(ref.hasMap(), ref.getMap(), Registry.Kind.MAP, field);
            maps.add(m.object(dev.bpfagent.agent.bpf.BpfMap.class));
            dependsOn.add(m.key());
        }
        if (req.getAttachTarget().hasProgram()) {
            ObjectRef t = req.getAttachTarget().getProgram();
            Refs.require(true, t, "attach_target.program");
            Refs.checkKind(t, KIND, "attach_target.program");
            Registry.Entry held = t.getRefCase() == ObjectRef.RefCase.ID
                    ? registry.find(new Registry.Key(KIND, Refs.id(t, "attach_target.program")))
                    : refs.held(true, t, KIND, "attach_target.program");
            targetId = held != null ? held.key().id() : t.getId();
            if (held != null) {
                dependsOn.add(held.key());
            }
        }
        ProgramSpec spec = ProtoConvert.spec(req, targetId, maps);
        if (spec.usesRawMapFds()) {
            throw RequestException.invalid("instructions", "an ld_imm64 names a map by fd (BPF_PSEUDO_MAP_FD or"
                    + " _VALUE): an fd of your process means nothing in the agent; name the map in maps and refer"
                    + " to it by index (BPF_PSEUDO_MAP_IDX, src_reg 5, imm = its index)");
        }
        return new Prepared(spec, labels, Set.copyOf(dependsOn));
    }

    private LoadProgramResponse load(Prepared p) {
        Context call = Context.current();
        if (call.isCancelled()) {
            throw Deadlines.statusOf(call).asRuntimeException(); // gave up while queued: never verified
        }
        Program.Loaded loaded;
        try {
            loaded = Program.load(p.spec());
        } catch (VerifierException rejected) {
            throw new VerifierRejection(rejected, logs.put(rejected.log(), rejected.truncated()));
        }
        if (call.isCancelled()) {
            // The client gave up while the verifier worked: nobody will learn this program's id, so
            // nothing of it may stay.
            loaded.program().close();
            throw Deadlines.statusOf(call).asRuntimeException();
        }
        Registry.Entry entry = registry.add(KIND, loaded.program(), Caller.current(), p.labels(), p.dependsOn());
        return LoadProgramResponse.newBuilder()
                .setProgram(ProtoConvert.program(loaded.program().initialInfo(), entry, List.of(), Optional.empty()))
                .setVerifierLog(loaded.verifierLog())
                .setVerifierLogTruncated(loaded.logTruncated())
                .build();
    }

    GetVerifierLogResponse verifierLog(GetVerifierLogRequest req) {
        if (req.getLogId().isEmpty()) {
            throw RequestException.invalid("log_id", "is required (VerifierLog.log_id of a rejected load)");
        }
        VerifierLogs.Log log = logs.get(req.getLogId()).orElseThrow(() -> RequestException.notFound("LOG_NOT_FOUND",
                "no verifier log " + req.getLogId() + ": logs are kept 10 minutes (64 MiB at most)"));
        long size = log.bytes().length;
        if (req.getOffset() < 0 || req.getOffset() > size) {
            throw RequestException.invalid("offset", Long.toUnsignedString(req.getOffset()) + " is past the log's end ("
                    + size + " bytes)");
        }
        long max = req.getMaxBytes() == 0 ? MAX_LOG_PAGE : Math.min(Integer.toUnsignedLong(req.getMaxBytes()), MAX_LOG_PAGE);
        int from = (int) req.getOffset();
        int len = (int) Math.min(max, size - from);
        return GetVerifierLogResponse.newBuilder()
                .setData(ByteString.copyFrom(log.bytes(), from, len))
                .setOffset(from)
                .setSize(size)
                .setTruncated(log.truncated())
                .build();
    }

    /** The Program message of a held program, its kernel info read now. */
    dev.bpfagent.proto.v1.Program describe(Registry.Entry e, boolean withLinks) {
        Program p = e.object(Program.class);
        ProgramInfo info = p.info();
        return ProtoConvert.program(info, e, registry.dependents(e.key()),
                withLinks ? Optional.of(KernelObjects.attachmentsOf(p.id())) : Optional.empty());
    }

    dev.bpfagent.proto.v1.Program get(GetProgramRequest req) {
        Refs.require(req.hasProgram(), req.getProgram(), "program");
        ObjectRef ref = req.getProgram();
        Refs.checkKind(ref, KIND, "program");
        if (ref.getRefCase() == ObjectRef.RefCase.PATH) {
            Path path = refs.pins().any(ref.getPath(), "program.path");
            Registry.Entry e = registry.byPin(path);
            if (e != null && e.key().kind() == KIND) {
                return describe(e, req.getWithLinks());
            }
            try (Program p = PinHandler.openPinnedProgram(path)) { // a pin the agent does not hold: look, let go
                return ProtoConvert.program(p.info(), null, List.of(), req.getWithLinks()
                        ? Optional.of(KernelObjects.attachmentsOf(p.id())) : Optional.empty());
            }
        }
        int id = Refs.id(ref, "program");
        Registry.Entry e = registry.find(new Registry.Key(KIND, id));
        if (e != null) {
            return describe(e, req.getWithLinks());
        }
        ProgramInfo info = Program.infoById(id).orElseThrow(() -> RequestException.notFound("PROGRAM_NOT_FOUND",
                "the kernel has no program with id " + Integer.toUnsignedString(id)));
        return ProtoConvert.program(info, null, List.of(),
                req.getWithLinks() ? Optional.of(KernelObjects.attachmentsOf(id)) : Optional.empty());
    }

    ListProgramsResponse list(ListProgramsRequest req) {
        Listing.Query q = Listing.query(req.getPageSize(), req.getPageToken(), req.getIncludeKernel(),
                req.getLabelsMap(), req.getOwner(), refs::visible);
        Optional<dev.bpfagent.agent.bpf.ProgramType> type = req.getType()
                == dev.bpfagent.proto.v1.ProgramType.PROGRAM_TYPE_UNSPECIFIED
                ? Optional.empty() : Optional.of(ProtoConvert.programType(req.getType(), "type"));
        Listing.Page<Candidate> page = Listing.page(registry, KIND, q, KernelObjects::nextProgramId,
                e -> infoOf(e).map(i -> new Candidate(i, e)),
                id -> Program.infoById(id).map(i -> new Candidate(i, null)),
                c -> matchesType(c.info(), type));
        Map<Integer, KernelObjects.Attachments> links = req.getWithLinks() ? KernelObjects.attachmentsByProgram()
                : Map.of();
        Map<Registry.Key, List<Registry.Key>> dependents = registry.dependentsIndex();
        ListProgramsResponse.Builder out = ListProgramsResponse.newBuilder().setNextPageToken(page.nextPageToken());
        for (Candidate c : page.items()) {
            out.addPrograms(ProtoConvert.program(c.info, c.held,
                    c.held == null ? List.of() : dependents.getOrDefault(c.held.key(), List.of()),
                    req.getWithLinks() ? Optional.of(links.getOrDefault(c.info.id(),
                            new KernelObjects.Attachments(List.of(), List.of()))) : Optional.empty()));
        }
        return out.build();
    }

    private record Candidate(ProgramInfo info, Registry.Entry held) {
    }

    private static boolean matchesType(ProgramInfo info, Optional<dev.bpfagent.agent.bpf.ProgramType> type) {
        return type.isEmpty() || info.typeNumber() == type.get().value;
    }

    /** A held program's info, or empty when it was closed while the list ran. */
    private static Optional<ProgramInfo> infoOf(Registry.Entry e) {
        try {
            return Optional.of(e.object(Program.class).info());
        } catch (KernelException.Closed | KernelException.NotFound gone) {
            return Optional.empty();
        }
    }

    CloseProgramResponse close(CloseProgramRequest req) {
        Registry.Entry target = refs.held(req.hasProgram(), req.getProgram(), KIND, "program");
        var closed = Closer.close(registry, refs.pins(), target, req.getCascade(), req.getKeepPins(), "program");
        return CloseProgramResponse.newBuilder()
                .addAllUnpinnedPaths(closed.unpinned())
                .addAllClosed(closed.closed())
                .setUnloaded(!Program.existsInKernel(target.key().id()))
                .build();
    }

    /**
     * A single run (repeat 0 or 1, no flags) is answered where the call arrived: one short syscall,
     * no thread hand-off. Repeats go to the pool in time-bounded batches, and stop when the call ends.
     */
    void testRun(TestRunProgramRequest req, StreamObserver<TestRunProgramResponse> out, Offload offload) {
        Registry.Entry entry = refs.held(req.hasProgram(), req.getProgram(), KIND, "program");
        Program program = entry.object(Program.class);
        checkSize("data_in", req.getDataIn().size());
        checkSize("data_size_out", req.getDataSizeOut());
        checkSize("ctx_in", req.getCtxIn().size());
        checkSize("ctx_size_out", req.getCtxSizeOut());
        if (Integer.toUnsignedLong(req.getRepeat()) > MAX_TEST_REPEAT) {
            throw RequestException.invalid("repeat", Integer.toUnsignedString(req.getRepeat())
                    + " runs is above the agent's limit of " + MAX_TEST_REPEAT + "; run in batches");
        }
        TestRun.Input in = new TestRun.Input(req.getDataIn().toByteArray(), req.getDataSizeOut(),
                req.getCtxIn().toByteArray(), req.getCtxSizeOut(), req.getRepeat(), req.getFlags(), req.getCpu(),
                req.getBatchSize());
        if (Integer.toUnsignedLong(req.getRepeat()) <= 1 && req.getFlags() == 0) {
            reply(out, run(program, in));
        } else {
            offload.reply(out, () -> run(program, in));
        }
    }

    private static <T> void reply(StreamObserver<T> out, T value) {
        out.onNext(value);
        out.onCompleted();
    }

    private static TestRunProgramResponse run(Program program, TestRun.Input in) {
        TestRun.Result r;
        Context call = Context.current();
        try {
            r = program.testRun(in, call::isCancelled);
        } catch (java.util.concurrent.CancellationException e) {
            throw Deadlines.statusOf(call).withDescription(e.getMessage()).asRuntimeException();
        } catch (KernelException.NoSpace e) {
            throw e.withContext("the output did not fit: raise data_size_out or ctx_size_out");
        } catch (KernelException.InvalidArgument e) {
            throw e.withContext("the kernel refused this input for a " + program.type() + " program:"
                    + " packet types need data_in (at least an Ethernet header, 14 bytes); ctx_in must be the"
                    + " type's context struct or empty; flags and cpu must be ones the type supports");
        } catch (KernelException.NotSupported e) {
            throw e.withContext("this kernel cannot test-run " + program.type() + " programs");
        }
        return TestRunProgramResponse.newBuilder()
                .setRetval(r.retval())
                .setDataOut(ByteString.copyFrom(r.dataOut()))
                .setCtxOut(ByteString.copyFrom(r.ctxOut()))
                .setDurationNs(r.durationNs())
                .setDataSizeOut(r.dataSizeOut())
                .build();
    }

    private static void checkSize(String field, int size) {
        if (Integer.toUnsignedLong(size) > MAX_TEST_BUFFER) {
            throw RequestException.invalid(field, Integer.toUnsignedString(size) + " bytes is larger than "
                    + MAX_TEST_BUFFER);
        }
    }
}
