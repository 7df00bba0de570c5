package dev.bpfagent.agent.service;

import dev.bpfagent.agent.bpf.KernelObjects;
import dev.bpfagent.agent.bpf.KernelVersion;
import dev.bpfagent.agent.bpf.Program;
import dev.bpfagent.agent.bpf.ProgramSpec;
import dev.bpfagent.agent.bpf.RunStats;
import dev.bpfagent.agent.bpf.TestRun;
import dev.bpfagent.agent.kernel.BpfProgInfo;
import dev.bpfagent.agent.kernel.Errno;
import dev.bpfagent.agent.kernel.KernelException;
import dev.bpfagent.proto.v1.*;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;

/**
 * BpfService: validates each request, calls the bpf layer, answers. Errors are thrown and mapped to
 * statuses by {@link ErrorInterceptor}; nothing here touches the kernel directly.
 */
public final class BpfServiceImpl extends BpfServiceGrpc.BpfServiceImplBase {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(BpfServiceImpl.class.getName());
    /** BPF_COMPLEXITY_LIMIT_INSNS */
    static final int MAX_INSNS = 1_000_000;
    static final int MAX_TEST_BUFFER = 16 * 1024 * 1024;
    /** A test run holds a server thread for repeat x run time; at ~10-100 ns a run this is seconds. */
    static final int MAX_TEST_REPEAT = 100_000_000;
    private static final Pattern PROG_NAME = Pattern.compile("[A-Za-z0-9_.]{0,15}");

    private final ProgramRegistry registry;
    private final PinPaths pins;
    private final String version;
    /** Guards runStats. */
    private final Object statsLock = new Object();
    private RunStats runStats;

    public BpfServiceImpl(ProgramRegistry registry, PinPaths pins, String version) {
        this.registry = registry;
        this.pins = pins;
        this.version = version;
    }

    private static <T> void reply(StreamObserver<T> out, T value) {
        out.onNext(value);
        out.onCompleted();
    }

    private static int requireId(int id, String field) {
        if (id == 0) {
            throw RequestException.invalid(field, "is required (a kernel program id, as LoadProgram returned it)");
        }
        return id;
    }

    @Override
    public void loadProgram(LoadProgramRequest req, StreamObserver<LoadProgramResponse> out) {
        var type = Convert.programType(req.getType(), "type");
        byte[] insns = req.getInstructions().toByteArray();
        if (insns.length == 0) {
            throw RequestException.invalid("instructions", "is required (struct bpf_insn[], 8 bytes each)");
        }
        if (insns.length % 8 != 0) {
            throw RequestException.invalid("instructions", "length " + insns.length
                    + " is not a multiple of 8 (each struct bpf_insn is 8 bytes)");
        }
        if (insns.length / 8 > MAX_INSNS) {
            throw RequestException.invalid("instructions", (insns.length / 8) + " instructions; the kernel takes at most "
                    + MAX_INSNS);
        }
        if (req.getLicense().indexOf('\0') >= 0) {
            throw RequestException.invalid("license", "contains a NUL byte");
        }
        if (!PROG_NAME.matcher(req.getName()).matches()
                || req.getName().getBytes(StandardCharsets.UTF_8).length > 15) {
            throw RequestException.invalid("name", "'" + req.getName()
                    + "' must be at most 15 characters of [A-Za-z0-9_.] (the kernel's BPF_OBJ_NAME_LEN)");
        }
        if (Integer.toUnsignedLong(req.getLogLevel()) > 15) {
            throw RequestException.invalid("log_level", req.getLogLevel()
                    + " is not a verifier log level: use 0, 1 or 2, optionally OR 4 (stats)");
        }
        if (Integer.toUnsignedLong(req.getLogSize()) > Program.MAX_LOG_SIZE) {
            throw RequestException.invalid("log_size", req.getLogSize() + " bytes is above the agent's limit of "
                    + Program.MAX_LOG_SIZE);
        }
        var attach = Convert.attachType(req.getExpectedAttachType(), "expected_attach_type");
        if (req.getAttachBtfObjId() != 0 && req.getAttachProgId() != 0) {
            throw RequestException.invalid("attach_prog_id",
                    "cannot be given with attach_btf_obj_id: the kernel takes one or the other");
        }
        checkRecords("func_info", req.getFuncInfo().size(), req.getFuncInfoRecSize(), ProgramSpec.FUNC_INFO_SIZE);
        checkRecords("line_info", req.getLineInfo().size(), req.getLineInfoRecSize(), ProgramSpec.LINE_INFO_SIZE);
        if ((!req.getFuncInfo().isEmpty() || !req.getLineInfo().isEmpty()) && req.getProgBtf().isEmpty()) {
            throw RequestException.invalid("prog_btf", "is required with func_info or line_info (their type ids"
                    + " point into it)");
        }
        ProgramSpec spec = new ProgramSpec(type, insns, req.getLicense(), req.getName(), req.getLogLevel(),
                req.getLogSize(), req.getKernVersion(), req.getProgFlags(), attach, req.getAttachBtfId(),
                req.getAttachBtfObjId(), req.getAttachProgId(), req.getProgBtf().toByteArray(), req.getProgIfindex(),
                req.getFuncInfo().toByteArray(), req.getFuncInfoRecSize(), req.getLineInfo().toByteArray(),
                req.getLineInfoRecSize());
        Program.Loaded loaded = Program.load(spec);
        ProgramRegistry.Entry entry = registry.add(loaded.program(), Caller.current());
        reply(out, LoadProgramResponse.newBuilder()
                .setProgram(Convert.program(entry))
                .setVerifierLog(loaded.verifierLog())
                .setVerifierLogTruncated(loaded.logTruncated())
                .build());
    }

    /** A records field: a whole number of records of rec_size bytes (default the kernel struct's size). */
    private static void checkRecords(String field, int bytes, int recSize, int defaultSize) {
        if (Integer.toUnsignedLong(recSize) > 1024) {
            throw RequestException.invalid(field + "_rec_size", Integer.toUnsignedString(recSize)
                    + " bytes is not a record size (struct size " + defaultSize + ")");
        }
        int size = recSize == 0 ? defaultSize : recSize;
        if (bytes % size != 0) {
            throw RequestException.invalid(field, bytes + " bytes is not a whole number of " + size + "-byte records");
        }
    }

    @Override
    public void testRunProgram(TestRunProgramRequest req, StreamObserver<TestRunProgramResponse> out) {
        var entry = registry.get(requireId(req.getProgramId(), "program_id"));
        if (req.getDataIn().size() > MAX_TEST_BUFFER) {
            throw RequestException.invalid("data_in", "is larger than " + MAX_TEST_BUFFER + " bytes");
        }
        if (Integer.toUnsignedLong(req.getDataSizeOut()) > MAX_TEST_BUFFER) {
            throw RequestException.invalid("data_size_out", "is larger than " + MAX_TEST_BUFFER + " bytes");
        }
        if (Integer.toUnsignedLong(req.getRepeat()) > MAX_TEST_REPEAT) {
            throw RequestException.invalid("repeat", Integer.toUnsignedString(req.getRepeat())
                    + " runs is above the agent's limit of " + MAX_TEST_REPEAT + "; run in batches");
        }
        if (req.getCtxIn().size() > MAX_TEST_BUFFER) {
            throw RequestException.invalid("ctx_in", "is larger than " + MAX_TEST_BUFFER + " bytes");
        }
        if (Integer.toUnsignedLong(req.getCtxSizeOut()) > MAX_TEST_BUFFER) {
            throw RequestException.invalid("ctx_size_out", "is larger than " + MAX_TEST_BUFFER + " bytes");
        }
        TestRun.Input in = new TestRun.Input(req.getDataIn().toByteArray(), req.getDataSizeOut(),
                req.getCtxIn().toByteArray(), req.getCtxSizeOut(), req.getRepeat(), req.getFlags(), req.getCpu(),
                req.getBatchSize());
        TestRun.Result r;
        try {
            r = entry.program().testRun(in);
        } catch (KernelException.NoSpace e) {
            throw e.withContext("the output did not fit: raise data_size_out or ctx_size_out");
        } catch (KernelException.InvalidArgument e) {
            throw e.withContext("the kernel refused this input for a " + entry.program().type() + " program:"
                    + " packet types need data_in (at least an Ethernet header, 14 bytes); ctx_in must be the"
                    + " type's context struct or empty; flags and cpu must be ones the type supports");
        } catch (KernelException.NotSupported e) {
            throw e.withContext("this kernel cannot test-run " + entry.program().type() + " programs");
        }
        reply(out, TestRunProgramResponse.newBuilder()
                .setRetval(r.retval())
                .setDataOut(com.google.protobuf.ByteString.copyFrom(r.dataOut()))
                .setCtxOut(com.google.protobuf.ByteString.copyFrom(r.ctxOut()))
                .setDurationNs(r.durationNs())
                .setDataSizeOut(r.dataSizeOut())
                .build());
    }

    @Override
    public void pinProgram(PinProgramRequest req, StreamObserver<PinProgramResponse> out) {
        var entry = registry.get(requireId(req.getProgramId(), "program_id"));
        Path path = pins.own(req.getPath(), "path");
        pins.createParents(path);
        try {
            entry.program().pin(path.toString());
        } catch (KernelException e) {
            pins.pruneEmptyParents(path);
            if (e.errno() == Errno.EEXIST) {
                throw RequestException.alreadyExists("PIN_EXISTS", path + " is already pinned; unpin it first"
                        + " or choose another path");
            }
            throw e;
        }
        entry.pins().add(path);
        reply(out, PinProgramResponse.newBuilder().setPath(path.toString()).build());
    }

    @Override
    public void getPinnedProgram(GetPinnedProgramRequest req, StreamObserver<GetPinnedProgramResponse> out) {
        Path path = pins.any(req.getPath(), "path");
        if (java.nio.file.Files.isDirectory(path)) {
            throw RequestException.failedPrecondition("NOT_A_PROGRAM", path + " is a directory, not a pin");
        }
        if (req.getExpectedType() == dev.bpfagent.proto.v1.ProgramType.UNRECOGNIZED) {
            throw RequestException.invalid("expected_type", "unknown program type number");
        }
        Program p;
        try {
            p = Program.fromPinned(path.toString());
        } catch (KernelException e) {
            if (e.errno() == Errno.ENOENT) {
                throw RequestException.notFound("PIN_NOT_FOUND", "nothing is pinned at " + path);
            }
            throw e;
        }
        try {
            if (req.getExpectedType() != dev.bpfagent.proto.v1.ProgramType.PROGRAM_TYPE_UNSPECIFIED
                    && req.getExpectedType().getNumber() != p.type().value) {
                throw RequestException.failedPrecondition("TYPE_MISMATCH", "the program pinned at " + path + " is "
                        + p.type() + ", not " + req.getExpectedType());
            }
            if (!req.getExpectedName().isEmpty() && !req.getExpectedName().equals(p.name())) {
                throw RequestException.failedPrecondition("NAME_MISMATCH", "the program pinned at " + path
                        + " is named '" + p.name() + "', not '" + req.getExpectedName() + "'");
            }
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
        var entry = registry.add(p, Caller.current());
        if (path.startsWith(pins.root())) {
            entry.pins().add(path);
        }
        reply(out, GetPinnedProgramResponse.newBuilder().setProgram(Convert.program(entry)).build());
    }

    @Override
    public void unpinProgram(UnpinProgramRequest req, StreamObserver<UnpinProgramResponse> out) {
        Path path = pins.own(req.getPath(), "path");
        if (!pins.remove(path)) {
            throw RequestException.notFound("PIN_NOT_FOUND", "nothing is pinned at " + path);
        }
        var holder = registry.byPin(path);
        if (holder != null) {
            holder.pins().remove(path);
        }
        reply(out, UnpinProgramResponse.newBuilder().setPath(path.toString()).build());
    }

    @Override
    public void closeProgram(CloseProgramRequest req, StreamObserver<CloseProgramResponse> out) {
        int id = requireId(req.getProgramId(), "program_id");
        var entry = registry.remove(id);
        List<String> unpinned = new ArrayList<>();
        if (!req.getKeepPins()) {
            for (Path pin : List.copyOf(entry.pins())) {
                if (pins.remove(pin)) {
                    unpinned.add(pin.toString());
                }
                entry.pins().remove(pin);
            }
        }
        entry.program().close();
        reply(out, CloseProgramResponse.newBuilder()
                .addAllUnpinnedPaths(unpinned)
                .setUnloaded(!Program.existsInKernel(id))
                .build());
    }

    @Override
    public void programExists(ProgramExistsRequest req, StreamObserver<ProgramExistsResponse> out) {
        int id = requireId(req.getProgramId(), "program_id");
        reply(out, ProgramExistsResponse.newBuilder()
                .setExists(Program.existsInKernel(id))
                .setHeldByAgent(registry.holds(id))
                .build());
    }

    @Override
    public void programAttached(ProgramAttachedRequest req, StreamObserver<ProgramAttachedResponse> out) {
        int id = requireId(req.getProgramId(), "program_id");
        if (!Program.existsInKernel(id)) {
            throw RequestException.notFound("PROGRAM_NOT_FOUND", "the kernel has no program with id " + id);
        }
        List<Integer> links = KernelObjects.linksOfProgram(id);
        reply(out, ProgramAttachedResponse.newBuilder().setAttached(!links.isEmpty()).addAllLinkIds(links).build());
    }

    @Override
    public void getProgramInfo(GetProgramInfoRequest req, StreamObserver<GetProgramInfoResponse> out) {
        int id = requireId(req.getProgramId(), "program_id");
        reply(out, GetProgramInfoResponse.newBuilder().setInfo(infoOf(id)).build());
    }

    private ProgramInfo infoOf(int id) {
        ProgramRegistry.Entry held = registry.find(id);
        if (held != null) {
            return Convert.info(held.program().info(), held);
        }
        try (Program p = Program.fromId(id)) {
            return Convert.info(p.info(), null);
        } catch (KernelException e) {
            if (e.errno() == Errno.ENOENT) {
                throw RequestException.notFound("PROGRAM_NOT_FOUND", "the kernel has no program with id " + id);
            }
            throw e;
        }
    }

    @Override
    public void listPrograms(ListProgramsRequest req, StreamObserver<ListProgramsResponse> out) {
        List<ProgramInfo> infos = new ArrayList<>();
        for (var e : registry.all()) {
            try {
                infos.add(Convert.info(e.program().info(), e));
            } catch (KernelException ex) {
                if (ex.errno() != Errno.EBADF && ex.errno() != Errno.ENOENT) {
                    throw ex; // closed while we listed: skip it
                }
            }
        }
        if (req.getIncludeKernel()) {
            for (int id : KernelObjects.programIds()) {
                if (registry.holds(id)) {
                    continue;
                }
                try (Program p = Program.fromId(id)) {
                    BpfProgInfo i = p.info();
                    infos.add(Convert.info(i, null));
                } catch (KernelException ex) {
                    if (ex.errno() != Errno.ENOENT) {
                        throw ex; // unloaded while we listed: skip it
                    }
                }
            }
        }
        infos.sort(Comparator.comparingInt(ProgramInfo::getId));
        reply(out, ListProgramsResponse.newBuilder().addAllPrograms(infos).build());
    }

    @Override
    public void setRunStats(SetRunStatsRequest req, StreamObserver<SetRunStatsResponse> out) {
        synchronized (statsLock) {
            if (req.getEnabled() && runStats == null) {
                runStats = RunStats.enable();
            } else if (!req.getEnabled() && runStats != null) {
                runStats.close();
                runStats = null;
            }
            reply(out, SetRunStatsResponse.newBuilder().setEnabled(runStats != null).build());
        }
    }

    @Override
    public void getAgentInfo(GetAgentInfoRequest req, StreamObserver<GetAgentInfoResponse> out) {
        reply(out, GetAgentInfoResponse.newBuilder()
                .setAgentVersion(version)
                .setKernelRelease(KernelVersion.release())
                .setBpffsDir(pins.root().toString())
                .setProgramsHeld(registry.size())
                .build());
    }

    /**
     * At start: hold again the programs a previous agent pinned under the agent's directory, so they are
     * listed, closable by id, and their pins known. Pins of other objects are left alone.
     *
     * @return how many programs were adopted
     */
    public int adoptPins() {
        int adopted = 0;
        List<Path> files;
        try (var walk = java.nio.file.Files.walk(pins.root())) {
            files = walk.filter(java.nio.file.Files::isRegularFile).sorted().toList();
        } catch (java.io.IOException e) {
            LOG.warning("cannot walk " + pins.root() + ": " + e.getMessage());
            return 0;
        }
        for (Path pin : files) {
            try {
                var entry = registry.add(Program.fromPinned(pin.toString()), Caller.ADOPTED);
                entry.pins().add(pin);
                adopted++;
            } catch (RuntimeException e) {
                LOG.info("not adopting " + pin + ": " + e.getMessage());
            }
        }
        return adopted;
    }

    /** At stop: run stats off. Programs are closed by the registry. */
    public void shutdown() {
        synchronized (statsLock) {
            if (runStats != null) {
                runStats.close();
                runStats = null;
            }
        }
    }
}
