package dev.bpfagent.agent.service;

import dev.bpfagent.agent.bpf.KernelVersion;
import dev.bpfagent.agent.bpf.RunStats;
import dev.bpfagent.agent.service.state.PinPaths;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.FeatureState;
import dev.bpfagent.proto.v1.GetAgentInfoResponse;
import dev.bpfagent.proto.v1.GetKernelFeaturesRequest;
import dev.bpfagent.proto.v1.GetKernelFeaturesResponse;
import dev.bpfagent.proto.v1.KernelFeature;
import dev.bpfagent.proto.v1.SetRunStatsRequest;
import dev.bpfagent.proto.v1.SetRunStatsResponse;

/** The agent itself and kernel-wide switches. */
final class AgentHandler {
    private final Registry registry;
    private final PinPaths pins;
    private final String version;
    /** Guards runStats. */
    private final Object statsLock = new Object();
    private RunStats runStats;

    AgentHandler(Registry registry, PinPaths pins, String version) {
        this.registry = registry;
        this.pins = pins;
        this.version = version;
    }

    /** The first probe's report (the kernel does not change under a running agent); guarded by this. */
    private dev.bpfagent.agent.bpf.KernelFeatures.Report features;
    private long probedAt;
    /** A refresh within this long of the last probe gets the last probe's report: probes are not free. */
    static final long MIN_REPROBE_NANOS = 10_000_000_000L;

    synchronized GetKernelFeaturesResponse features(GetKernelFeaturesRequest req) {
        if (features == null || (req.getRefresh() && System.nanoTime() - probedAt > MIN_REPROBE_NANOS)) {
            features = dev.bpfagent.agent.bpf.KernelFeatures.probe();
            probedAt = System.nanoTime();
        }
        var r = features;
        return GetKernelFeaturesResponse.newBuilder().setKernelRelease(r.kernelRelease())
                .addAllProgramTypes(r.programTypes().stream().map(AgentHandler::feature).toList())
                .addAllMapTypes(r.mapTypes().stream().map(AgentHandler::feature).toList())
                .addAllAttach(r.attach().stream().map(AgentHandler::feature).toList())
                .addAllOther(r.other().stream().map(AgentHandler::feature).toList()).build();
    }

    private static KernelFeature feature(dev.bpfagent.agent.bpf.KernelFeatures.Feature f) {
        return KernelFeature.newBuilder().setName(f.name()).setDetail(f.detail()).setState(switch (f.state()) {
            case SUPPORTED -> FeatureState.FEATURE_STATE_SUPPORTED;
            case MISSING -> FeatureState.FEATURE_STATE_MISSING;
            case REFUSED -> FeatureState.FEATURE_STATE_REFUSED;
        }).build();
    }

    GetAgentInfoResponse info() {
        return GetAgentInfoResponse.newBuilder()
                .setAgentVersion(version)
                .setKernelRelease(KernelVersion.release())
                .setBpffsDir(pins.root().toString())
                .setProgramsHeld(registry.size(Registry.Kind.PROGRAM))
                .setMapsHeld(registry.size(Registry.Kind.MAP))
                .setPossibleCpus(dev.bpfagent.agent.bpf.PossibleCpus.count())
                .setUnheld(registry.unheld())
                .build();
    }

    SetRunStatsResponse setRunStats(SetRunStatsRequest req) {
        synchronized (statsLock) {
            if (req.getEnabled() && runStats == null) {
                runStats = RunStats.enable();
            } else if (!req.getEnabled() && runStats != null) {
                runStats.close();
                runStats = null;
            }
            return SetRunStatsResponse.newBuilder().setEnabled(runStats != null).build();
        }
    }

    /** At stop: run stats off. */
    void shutdown() {
        synchronized (statsLock) {
            if (runStats != null) {
                runStats.close();
                runStats = null;
            }
        }
    }
}
