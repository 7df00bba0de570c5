package dev.bpfagent.agent.service;

import dev.bpfagent.agent.bpf.KernelVersion;
import dev.bpfagent.agent.bpf.RunStats;
import dev.bpfagent.agent.service.state.PinPaths;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.GetAgentInfoResponse;
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

    GetAgentInfoResponse info() {
        return GetAgentInfoResponse.newBuilder()
                .setAgentVersion(version)
                .setKernelRelease(KernelVersion.release())
                .setBpffsDir(pins.root().toString())
                .setProgramsHeld(registry.size(Registry.Kind.PROGRAM))
                .setMapsHeld(registry.size(Registry.Kind.MAP))
                .setPossibleCpus(dev.bpfagent.agent.bpf.PossibleCpus.count())
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
