package dev.bpfagent.agent.service.auth;

import java.util.Map;

/**
 * What each BpfService call does, for the policy: READ looks, OPERATE makes or changes objects, ADMIN
 * changes the kernel for everyone. A method missing here is ADMIN (a new call is closed until it is
 * classified; MethodsTest fails for one that is not).
 */
public final class Methods {
    public enum Action { READ, OPERATE, ADMIN }

    private static final String PREFIX = "bpfagent.v1.BpfService/";

    static final Map<String, Action> ACTIONS = Map.ofEntries(
            read("GetLink"), read("ListLinks"), read("ReadIterator"), read("GetProgram"), read("ListPrograms"),
            read("GetVerifierLog"), read("GetMap"), read("ListMaps"), read("LookupMapElem"), read("GetNextMapKey"),
            read("DumpMap"), read("ReadRingBuffer"), read("SubscribeEvents"), read("GetChain"), read("ListChains"),
            read("InspectObject"), read("GetCollection"), read("ListCollections"), read("GetAgentInfo"),
            read("GetKernelFeatures"),
            operate("AttachProgram"), operate("DetachLink"), operate("UpdateLink"), operate("LoadProgram"),
            operate("CloseProgram"), operate("TestRunProgram"), operate("CreateMap"), operate("CloseMap"),
            operate("UpdateMapElem"), operate("DeleteMapElem"), operate("LookupAndDeleteMapElem"),
            operate("UpdateMapBatch"), operate("DeleteMapBatch"), operate("FreezeMap"), operate("CreateChain"),
            operate("SetChainEntry"), operate("ClearChainEntry"), operate("CloseChain"), operate("LoadObject"),
            operate("AttachCollection"), operate("CloseCollection"), operate("Pin"), operate("Unpin"),
            operate("GetPinned"),
            Map.entry(PREFIX + "SetRunStats", Action.ADMIN));

    private Methods() {
    }

    private static Map.Entry<String, Action> read(String m) {
        return Map.entry(PREFIX + m, Action.READ);
    }

    private static Map.Entry<String, Action> operate(String m) {
        return Map.entry(PREFIX + m, Action.OPERATE);
    }

    /** The action of a full method name; health and reflection are READ, anything unknown ADMIN. */
    public static Action of(String fullMethod) {
        Action a = ACTIONS.get(fullMethod);
        if (a != null) {
            return a;
        }
        if (fullMethod.startsWith("grpc.health.") || fullMethod.startsWith("grpc.reflection.")) {
            return Action.READ;
        }
        return Action.ADMIN;
    }

    /** The method's short name, "LoadProgram". */
    public static String shortName(String fullMethod) {
        return fullMethod.substring(fullMethod.lastIndexOf('/') + 1);
    }
}
