package dev.bpfagent.agent.service.auth;

import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.Message;
import dev.bpfagent.agent.Agent;
import dev.bpfagent.agent.service.BpfServiceImpl;
import dev.bpfagent.agent.service.errors.RequestException;
import dev.bpfagent.agent.service.state.PinPaths;
import dev.bpfagent.agent.service.state.Registry;
import dev.bpfagent.proto.v1.*;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ClientCalls;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every method of the service passes the one authorization point, with the objects its request
 * names, before any handler runs: checked for each method the service descriptor lists, so a new RPC
 * cannot be added without passing it. No kernel needed: the authorizer refuses everything.
 */
class AuthorizationTest {
    final ConcurrentLinkedQueue<Authorizer.Call> seen = new ConcurrentLinkedQueue<>();
    Server server;
    ManagedChannel channel;

    @BeforeEach
    void start() throws Exception {
        Authorizer refuseAll = call -> {
            seen.add(call);
            throw RequestException.permissionDenied("DENIED_FOR_TEST", "no");
        };
        String name = "authz-" + System.nanoTime();
        var service = new BpfServiceImpl(new Registry(), new PinPaths(Path.of("/nonexistent/bpf-agent-test")), "test");
        server = InProcessServerBuilder.forName(name).directExecutor()
                .addService(Agent.intercepted(service, refuseAll)).build().start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    }

    @AfterEach
    void stop() {
        channel.shutdownNow();
        server.shutdownNow();
    }

    /** A request of each method's type with an ObjectRef set wherever it has one at the top. */
    static Message sampleRequest(MethodDescriptor<?, ?> m) {
        Message proto = ((MethodDescriptor.PrototypeMarshaller<?>) m.getRequestMarshaller()).getMessagePrototype() instanceof Message msg
                ? msg : null;
        Message.Builder b = proto.newBuilderForType();
        for (var f : b.getDescriptorForType().getFields()) {
            if (f.getJavaType() == com.google.protobuf.Descriptors.FieldDescriptor.JavaType.MESSAGE
                    && f.getMessageType().equals(ObjectRef.getDescriptor()) && !f.isRepeated()) {
                b.setField(f, ObjectRef.newBuilder().setId(42).build());
            }
        }
        return b.build();
    }

    @Test
    void everyMethodIsAuthorizedBeforeItRuns() {
        var descriptor = BpfServiceGrpc.getServiceDescriptor();
        Set<String> called = new TreeSet<>();
        for (MethodDescriptor<?, ?> m : descriptor.getMethods()) {
            @SuppressWarnings("unchecked")
            MethodDescriptor<Message, Message> bytes = MethodDescriptor.<Message, Message>newBuilder()
                    .setType(m.getType()).setFullMethodName(m.getFullMethodName())
                    .setRequestMarshaller(ProtoUtils.marshaller(sampleRequest(m).getDefaultInstanceForType()))
                    .setResponseMarshaller((MethodDescriptor.Marshaller<Message>) m.getResponseMarshaller())
                    .build();
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(
                    channel, bytes, CallOptions.DEFAULT, sampleRequest(m)), m.getFullMethodName());
            assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode(), m.getFullMethodName());
            assertNotNull(StatusProto.fromThrowable(e), "with details");
            called.add(m.getFullMethodName());
        }
        Set<String> authorized = seen.stream().map(Authorizer.Call::method).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(called, authorized);
        assertEquals(descriptor.getMethods().size(), seen.size(), "each call checked once");
    }

    @Test
    void theAuthorizerSeesTheObjectsARequestNames() {
        var stub = BpfServiceGrpc.newBlockingStub(channel);
        ObjectRef target = ObjectRef.newBuilder().setKind(ObjectKind.OBJECT_KIND_PROGRAM).setPath("team/p").build();
        assertThrows(StatusRuntimeException.class, () -> stub.loadProgram(LoadProgramRequest.newBuilder()
                .setAttachTarget(AttachTarget.newBuilder().setBtfId(5).setProgram(target))
                .addMaps(MapReference.newBuilder().setMap(ObjectRef.newBuilder().setId(9))).build()));
        Authorizer.Call call = seen.poll();
        assertEquals("bpfagent.v1.BpfService/LoadProgram", call.method());
        assertEquals(List.of(target, ObjectRef.newBuilder().setId(9).build()), call.objects());
        assertEquals(Caller.Transport.IN_PROCESS, call.caller().transport());
    }
}
