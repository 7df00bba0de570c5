package dev.bpfagent.it;

import static org.junit.jupiter.api.Assertions.*;

import dev.bpfagent.client.BpfAgentException;
import dev.bpfagent.client.BpfClient;
import dev.bpfagent.client.LoadOptions;
import dev.bpfagent.client.ProgramHandle;
import dev.bpfagent.client.TestPackets;
import dev.bpfagent.proto.v1.*;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The v1 resource shape against a real agent: paging, labels, ObjectRefs, generic pins, dependencies. */
class ResourceShapeTest extends OneAgentPerClass {
    static LoadOptions.Builder xdp() {
        return LoadOptions.builder(ProgramType.PROGRAM_TYPE_XDP, Asm.xdpDropUdp());
    }

    @Test
    void tenThousandHeldProgramsComeBackInPagesEachOnce() throws Exception {
        int n = 10_000;
        List<Integer> loaded = new ArrayList<>(n);
        try {
            // Loaded through the async client, 64 in flight: the agent holds them all at once.
            List<CompletableFuture<ProgramHandle>> inFlight = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                inFlight.add(c.async().load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_SOCKET_FILTER, Asm.returnImm(0))
                        .name("page").label("test", "paging").build()));
                if (inFlight.size() == 64 || i == n - 1) {
                    for (var f : inFlight) {
                        loaded.add(f.get(120, TimeUnit.SECONDS).id());
                    }
                    inFlight.clear();
                }
            }
            assertEquals(n, c.agentInfo().getProgramsHeld());

            ListProgramsRequest first = ListProgramsRequest.newBuilder().putLabels("test", "paging").setPageSize(777).build();
            List<Integer> seen = new ArrayList<>();
            int pages = 0;
            String token = "";
            do {
                ListProgramsResponse page = c.listPrograms(first.toBuilder().setPageToken(token).build());
                assertTrue(page.getProgramsCount() <= 777);
                page.getProgramsList().forEach(p -> seen.add(p.getId()));
                token = page.getNextPageToken();
                pages++;
                if (pages == 3) {
                    // Programs closed and loaded between pages: none listed twice, the ones ahead not lost.
                    c.closeProgram(loaded.remove(loaded.size() - 1), false);
                }
            } while (!token.isEmpty());
            assertEquals((n - 1 + 776) / 777, pages);
            assertEquals(new HashSet<>(seen).size(), seen.size(), "a program was listed twice");
            assertEquals(Set.copyOf(loaded), Set.copyOf(seen));
            List<Integer> sorted = new ArrayList<>(seen);
            sorted.sort(Integer::compareUnsigned);
            assertEquals(sorted, seen, "pages follow the id order");

            // The whole kernel, in pages of the default size, sees each of ours exactly once too.
            List<Program> everything = c.listAll(ListProgramsRequest.newBuilder().setIncludeKernel(true).build());
            List<Integer> kernelIds = everything.stream().map(Program::getId).toList();
            assertEquals(new HashSet<>(kernelIds).size(), kernelIds.size());
            assertTrue(kernelIds.containsAll(loaded));
        } finally {
            List<CompletableFuture<CloseProgramResponse>> closes = new ArrayList<>();
            for (int id : loaded) {
                closes.add(c.async().closeProgram(id, false));
                if (closes.size() == 64) {
                    closes.forEach(CompletableFuture::join);
                    closes.clear();
                }
            }
            closes.forEach(CompletableFuture::join);
        }
        assertEquals(0, c.agentInfo().getProgramsHeld());
    }

    @Test
    void listFiltersOnLabelsTypeAndOwner() {
        String run = "r" + System.nanoTime();
        try (ProgramHandle a = c.load(xdp().label("run", run).label("team", "net").build());
             ProgramHandle b = c.load(xdp().label("run", run).label("team", "sec").build());
             ProgramHandle s = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_SOCKET_FILTER, Asm.returnImm(0))
                     .label("run", run).label("team", "net").build())) {
            assertEquals(java.util.Map.of("run", run, "team", "net"), a.labels());
            assertEquals(List.of(a.id(), b.id(), s.id()), ids(ListProgramsRequest.newBuilder().putLabels("run", run)));
            assertEquals(List.of(a.id(), s.id()), ids(ListProgramsRequest.newBuilder().putLabels("run", run)
                    .putLabels("team", "net")));
            assertEquals(List.of(a.id()), ids(ListProgramsRequest.newBuilder().putLabels("run", run)
                    .putLabels("team", "net").setType(ProgramType.PROGRAM_TYPE_XDP)));
            assertEquals(List.of(), ids(ListProgramsRequest.newBuilder().putLabels("run", run).putLabels("team", "ops")));
            // owner: this process loaded them over the Unix socket as root
            assertEquals(List.of(a.id(), b.id(), s.id()), ids(ListProgramsRequest.newBuilder().putLabels("run", run)
                    .setOwner(OwnerFilter.newBuilder().setUid(0))));
            assertEquals(List.of(), ids(ListProgramsRequest.newBuilder().putLabels("run", run)
                    .setOwner(OwnerFilter.newBuilder().setUid(4242))));
            // with include_kernel, label filters still match only held programs
            assertEquals(List.of(a.id(), b.id(), s.id()), ids(ListProgramsRequest.newBuilder().putLabels("run", run)
                    .setIncludeKernel(true)));
        }
    }

    static List<Integer> ids(ListProgramsRequest.Builder req) {
        return c.listAll(req.build()).stream().map(Program::getId).toList();
    }

    @Test
    void pinAnyObjectByRefAndUseItByPath() {
        try (ProgramHandle p = c.load(xdp().name("byref").build())) {
            ObjectRef ref = ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_PROGRAM).setId(p.id()).build();
            PinResponse pinned = c.pin(ref, "refs/byref");
            assertEquals(agent.bpffsDir.resolve("refs/byref").toString(), pinned.getPath());
            assertEquals(ref, pinned.getObject());
            assertTrue(Files.exists(Path.of(pinned.getPath())));
            // the pin names the program in other calls: by relative path and by absolute path
            ObjectRef byPath = ObjectRef.newBuilder().setPath("refs/byref").build();
            var stub = BpfServiceGrpc.newBlockingStub(c.channel());
            assertEquals(1, stub.testRunProgram(TestRunProgramRequest.newBuilder().setProgram(byPath)
                    .setDataIn(com.google.protobuf.ByteString.copyFrom(TestPackets.udp().build())).build()).getRetval());
            assertEquals(p.id(), stub.getProgram(GetProgramRequest.newBuilder().setProgram(
                    ObjectRef.newBuilder().setPath(pinned.getPath())).build()).getId());
            // a second pin by path of the first
            PinResponse second = c.pin(byPath, "refs/again");
            assertEquals(p.id(), second.getObject().getId());
            assertEquals(List.of(second.getPath(), pinned.getPath()), p.info().getAgent().getPinnedPathsList(),
                    "pins are listed sorted");
            // closing by path removes both pins
            CloseProgramResponse closed = stub.closeProgram(CloseProgramRequest.newBuilder().setProgram(byPath).build());
            assertEquals(Set.of(pinned.getPath(), second.getPath()), Set.copyOf(closed.getUnpinnedPathsList()));
            assertEquals(List.of(ref), closed.getClosedList());
            assertTrue(closed.getUnloaded());
            assertFalse(Files.exists(agent.bpffsDir.resolve("refs")));
        }
    }

    @Test
    void aProgramOthersDependOnIsNotClosedUnlessCascaded() throws InterruptedException {
        ProgramHandle target = c.load(xdp().name("target").btf(Btf.globalIntFunction())
                .funcInfo(Btf.funcInfoAtZero(), 0).build());
        ProgramHandle ext;
        try {
            ext = c.load(LoadOptions.builder(ProgramType.PROGRAM_TYPE_EXT, Asm.returnImm(2)).name("ext")
                    .attachProgram(target.id(), 3).btf(Btf.globalIntFunction()).funcInfo(Btf.funcInfoAtZero(), 0)
                    .build());
        } catch (BpfAgentException.PermissionDenied e) {
            target.close();
            Assumptions.abort("this kernel refuses freplace (EXT) loads: " + e.getMessage());
            return;
        } catch (RuntimeException e) {
            target.close();
            throw e;
        }
        assertEquals(List.of(ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_PROGRAM).setId(target.id()).build()),
                ext.program().getAgent().getDependsOnList());
        assertEquals(List.of(ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_PROGRAM).setId(ext.id()).build()),
                target.info().getAgent().getDependentsList());

        BpfAgentException refused = assertThrows(BpfAgentException.class, () -> c.closeProgram(target.id(), false));
        assertEquals(Status.Code.FAILED_PRECONDITION, refused.code());
        assertEquals("HAS_DEPENDENTS", refused.reason());
        assertTrue(refused.getMessage().contains("program " + ext.id()), refused.getMessage());
        assertTrue(c.programExists(target.id()) && c.program(target.id()).getAgent().getHeld(), "still held");

        CloseProgramResponse r = c.closeProgram(CloseProgramRequest.newBuilder()
                .setProgram(ObjectRef.newBuilder().setId(target.id())).setCascade(true).build());
        assertEquals(List.of(ext.id(), target.id()), r.getClosedList().stream().map(ObjectRef::getId).toList());
        assertTrue(Kernel.eventually(() -> !c.programExists(ext.id())));
        // the extension's hold on its target is put from bpf_prog_free_deferred (a work item): wait for it
        assertTrue(Kernel.eventually(() -> !c.programExists(target.id())), "target " + target.id() + " freed");
    }
}
