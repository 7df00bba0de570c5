package dev.bpfagent.agent.bpf;

import dev.bpfagent.agent.bpf.btf.BtfTypes;
import dev.bpfagent.agent.bpf.btf.KernelBtf;
import java.util.Optional;

/**
 * Names to attach targets: the kernel BTF type a tracing, LSM or iterator program is loaded against,
 * looked up the way libbpf does — fentry/fexit/fmod_ret: the function (BTF FUNC "name"); lsm: the hook
 * (FUNC "bpf_lsm_name"); tp_btf: the tracepoint (TYPEDEF "btf_trace_name"); iter: the target (FUNC
 * "bpf_iter_name"). The seed's load-fentry-program, by name instead of by id.
 */
public final class KernelFunctions {
    private KernelFunctions() {
    }

    /** The target for a program of this type and expected attach type named function. */
    public static ProgramSpec.AttachTarget attachTarget(ProgramType type, Optional<AttachType> expected,
                                                        String function) {
        if (function == null || function.isEmpty() || function.length() > 255 || !Hook.TRACE_NAME.matcher(function)
                .matches()) {
            throw new InvalidSpecException("attach_target.function", "'" + function + "' is not a kernel symbol name");
        }
        BtfTypes.Kind kind = BtfTypes.Kind.FUNC;
        String name = function;
        AttachType at = expected.orElse(null);
        if (type == ProgramType.LSM) {
            name = prefixed("bpf_lsm_", function);
        } else if (type == ProgramType.TRACING && at == AttachType.TRACE_RAW_TP) {
            kind = BtfTypes.Kind.TYPEDEF;
            name = prefixed("btf_trace_", function);
        } else if (type == ProgramType.TRACING && at == AttachType.TRACE_ITER) {
            name = prefixed("bpf_iter_", function);
        } else if (type != ProgramType.TRACING) {
            throw new InvalidSpecException("attach_target.function", "is for TRACING and LSM programs (fentry,"
                    + " fexit, fmod_ret, tp_btf, iter, lsm); a " + type + " program names no kernel function");
        } else if (at == null) {
            throw new InvalidSpecException("expected_attach_type", "is required with attach_target.function for a"
                    + " TRACING program: ATTACH_TYPE_TRACE_FENTRY, _TRACE_FEXIT, _MODIFY_RETURN, _TRACE_RAW_TP or"
                    + " _TRACE_ITER");
        }
        if (!KernelBtf.available()) {
            throw HookException.unsupported("attach_target.function", "KERNEL_BTF_UNAVAILABLE", "this kernel has no"
                    + " BTF (/sys/kernel/btf/vmlinux; CONFIG_DEBUG_INFO_BTF is off): give attach_target.btf_id");
        }
        String looked = name;
        KernelBtf.Target t = KernelBtf.find(kind, name).orElseThrow(() -> HookException.notFound(
                "attach_target.function", "FUNCTION_NOT_FOUND", "no " + (looked.startsWith("btf_trace_")
                        ? "BTF tracepoint" : "function") + " '" + looked + "' in the kernel's BTF (vmlinux or a"
                        + " loaded module's)"));
        return new ProgramSpec.AttachTarget(t.btfId(), t.btfObjId(), 0);
    }

    private static String prefixed(String prefix, String name) {
        return name.startsWith(prefix) ? name : prefix + name;
    }
}
