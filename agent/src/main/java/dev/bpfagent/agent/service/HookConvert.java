package dev.bpfagent.agent.service;

import dev.bpfagent.agent.bpf.Hook;
import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.proto.v1.CgroupHook;
import dev.bpfagent.proto.v1.Interface;
import dev.bpfagent.proto.v1.TcDirection;
import dev.bpfagent.proto.v1.XdpMode;

/** proto Hook to the bpf layer's {@link Hook} and back; the records check their own fields. */
final class HookConvert {
    private HookConvert() {
    }

    static Hook fromProto(dev.bpfagent.proto.v1.Hook h) {
        return switch (h.getHookCase()) {
            case TRACEPOINT -> new Hook.Tracepoint(h.getTracepoint().getCategory(), h.getTracepoint().getName(),
                    h.getTracepoint().getCookie());
            case RAW_TRACEPOINT -> new Hook.RawTracepoint(h.getRawTracepoint().getName(),
                    h.getRawTracepoint().getCookie());
            case KPROBE -> new Hook.Kprobe(h.getKprobe().getFunction(), h.getKprobe().getOffset(),
                    h.getKprobe().getRetprobe(), h.getKprobe().getCookie());
            case UPROBE -> {
                var u = h.getUprobe();
                yield new Hook.Uprobe(u.getBinary(), u.getSymbol(), u.getOffset(), u.getRetprobe(),
                        u.hasPid() ? u.getPid() : -1, u.getCookie());
            }
            case XDP -> new Hook.Xdp(iface(h.getXdp().hasInterface(), h.getXdp().getInterface(), "hook.xdp.interface"),
                    switch (h.getXdp().getMode()) {
                        case XDP_MODE_UNSPECIFIED -> Hook.XdpMode.DEFAULT;
                        case XDP_MODE_SKB -> Hook.XdpMode.SKB;
                        case XDP_MODE_DRV -> Hook.XdpMode.DRV;
                        case XDP_MODE_HW -> Hook.XdpMode.HW;
                        case UNRECOGNIZED -> throw RequestException.invalid("hook.xdp.mode", "unknown XDP mode number");
                    });
            case TCX -> {
                var t = h.getTcx();
                if (t.getDirection() == TcDirection.TC_DIRECTION_UNSPECIFIED
                        || t.getDirection() == TcDirection.UNRECOGNIZED) {
                    throw RequestException.invalid("hook.tcx.direction", "is required: TC_DIRECTION_INGRESS or"
                            + " TC_DIRECTION_EGRESS");
                }
                yield new Hook.Tcx(iface(t.hasInterface(), t.getInterface(), "hook.tcx.interface"),
                        t.getDirection() == TcDirection.TC_DIRECTION_INGRESS, t.getBeforeProgramId(),
                        t.getAfterProgramId());
            }
            case CGROUP -> {
                CgroupHook c = h.getCgroup();
                if (!c.hasAttachType()) {
                    throw RequestException.invalid("hook.cgroup.attach_type", "is required (e.g."
                            + " ATTACH_TYPE_CGROUP_INET4_CONNECT)");
                }
                yield new Hook.Cgroup(c.getPath(), ProtoConvert.attachType(c.getAttachType(), "hook.cgroup.attach_type"));
            }
            case PERF_EVENT -> {
                var p = h.getPerfEvent();
                if (!p.hasPid() && !p.hasCpu()) {
                    throw RequestException.invalid("hook.perf_event.cpu", "give a cpu, a pid, or both");
                }
                yield new Hook.PerfEvent(p.getType(), p.getConfig(), p.getSamplePeriod(), p.hasPid() ? p.getPid() : -1,
                        p.hasCpu() ? p.getCpu() : -1, p.getCookie());
            }
            case KPROBE_MULTI -> new Hook.KprobeMulti(h.getKprobeMulti().getFunctionsList(),
                    h.getKprobeMulti().getRetprobe());
            case TC -> {
                var t = h.getTc();
                if (t.getDirection() == TcDirection.TC_DIRECTION_UNSPECIFIED
                        || t.getDirection() == TcDirection.UNRECOGNIZED) {
                    throw RequestException.invalid("hook.tc.direction", "is required: TC_DIRECTION_INGRESS or"
                            + " TC_DIRECTION_EGRESS");
                }
                yield new Hook.Tc(iface(t.hasInterface(), t.getInterface(), "hook.tc.interface"),
                        t.getDirection() == TcDirection.TC_DIRECTION_INGRESS, t.getPriority(), t.getHandle());
            }
            case UPROBE_MULTI -> {
                var u = h.getUprobeMulti();
                yield new Hook.UprobeMulti(u.getBinary(), u.getSymbolsList(), u.getRetprobe(),
                        u.hasPid() ? u.getPid() : -1);
            }
            case TRACING -> new Hook.Tracing(0);
            case NETNS -> new Hook.Netns(h.getNetns().getPath());
            case NETFILTER -> new Hook.Netfilter(h.getNetfilter().getPf(), h.getNetfilter().getHooknum(),
                    h.getNetfilter().getPriority(), h.getNetfilter().getFlags());
            case ITER -> new Hook.Iter(null); // the map is resolved by LinkHandler
            case HOOK_NOT_SET -> throw RequestException.invalid("hook", "is required");
        };
    }

    private static Hook.Interface iface(boolean present, Interface i, String field) {
        if (!present || i.getInterfaceCase() == Interface.InterfaceCase.INTERFACE_NOT_SET) {
            throw RequestException.invalid(field, "is required: an interface name or index");
        }
        return i.getInterfaceCase() == Interface.InterfaceCase.NAME ? new Hook.Interface(i.getName(), 0, i.getNetns())
                : new Hook.Interface("", i.getIndex() > 0 ? i.getIndex() : -1, i.getNetns());
    }

    private static Interface iface(Hook.Interface i) {
        return (i.name().isEmpty() ? Interface.newBuilder().setIndex(i.index())
                : Interface.newBuilder().setName(i.name())).setNetns(i.netns()).build();
    }

    static dev.bpfagent.proto.v1.Hook toProto(Hook hook) {
        var b = dev.bpfagent.proto.v1.Hook.newBuilder();
        switch (hook) {
            case Hook.Tracepoint h -> b.getTracepointBuilder().setCategory(h.category()).setName(h.name())
                    .setCookie(h.cookie());
            case Hook.RawTracepoint h -> b.getRawTracepointBuilder().setName(h.name()).setCookie(h.cookie());
            case Hook.Kprobe h -> b.getKprobeBuilder().setFunction(h.function()).setOffset(h.offset())
                    .setRetprobe(h.retprobe()).setCookie(h.cookie());
            case Hook.Uprobe h -> {
                var u = b.getUprobeBuilder().setBinary(h.binary()).setSymbol(h.symbol()).setOffset(h.offset())
                        .setRetprobe(h.retprobe()).setCookie(h.cookie());
                if (h.pid() > 0) {
                    u.setPid(h.pid());
                }
            }
            case Hook.Xdp h -> b.getXdpBuilder().setInterface(iface(h.iface())).setMode(switch (h.mode()) {
                case DEFAULT -> XdpMode.XDP_MODE_UNSPECIFIED;
                case SKB -> XdpMode.XDP_MODE_SKB;
                case DRV -> XdpMode.XDP_MODE_DRV;
                case HW -> XdpMode.XDP_MODE_HW;
            });
            case Hook.Tcx h -> {
                var t = b.getTcxBuilder().setInterface(iface(h.iface())).setDirection(h.ingress()
                        ? TcDirection.TC_DIRECTION_INGRESS : TcDirection.TC_DIRECTION_EGRESS);
                if (h.beforeProgramId() != 0) {
                    t.setBeforeProgramId(h.beforeProgramId());
                } else if (h.afterProgramId() != 0) {
                    t.setAfterProgramId(h.afterProgramId());
                }
            }
            case Hook.Cgroup h -> b.getCgroupBuilder().setPath(h.path())
                    .setAttachTypeValue(h.attachType().value);
            case Hook.PerfEvent h -> {
                var p = b.getPerfEventBuilder().setType(h.type()).setConfig(h.config())
                        .setSamplePeriod(h.samplePeriod()).setCookie(h.cookie());
                if (h.pid() > 0) {
                    p.setPid(h.pid());
                }
                if (h.cpu() >= 0) {
                    p.setCpu(h.cpu());
                }
            }
            case Hook.KprobeMulti h -> b.getKprobeMultiBuilder().addAllFunctions(h.functions())
                    .setRetprobe(h.retprobe());
            case Hook.Tc h -> b.getTcBuilder().setInterface(iface(h.iface())).setDirection(h.ingress()
                    ? TcDirection.TC_DIRECTION_INGRESS : TcDirection.TC_DIRECTION_EGRESS).setPriority(h.priority())
                    .setHandle(h.handle());
            case Hook.UprobeMulti h -> {
                var u = b.getUprobeMultiBuilder().setBinary(h.binary()).addAllSymbols(h.symbols())
                        .setRetprobe(h.retprobe());
                if (h.pid() > 0) {
                    u.setPid(h.pid());
                }
            }
            case Hook.Tracing h -> b.getTracingBuilder();
            case Hook.Netns h -> b.getNetnsBuilder().setPath(h.path());
            case Hook.Netfilter h -> b.getNetfilterBuilder().setPf(h.pf()).setHooknum(h.hooknum())
                    .setPriority(h.priority()).setFlags(h.flags());
            case Hook.Iter h -> b.getIterBuilder().setMapId(h.map() != null ? h.map().id() : 0);
        }
        return b.build();
    }
}
