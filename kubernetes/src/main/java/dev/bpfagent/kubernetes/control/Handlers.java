package dev.bpfagent.kubernetes.control;

import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import java.util.function.Consumer;

/** Informer handlers that hand every add, update and delete to one consumer (which enqueues a key). */
public final class Handlers {
    private Handlers() {
    }

    public static <T> ResourceEventHandler<T> each(Consumer<T> on) {
        return new ResourceEventHandler<>() {
            @Override
            public void onAdd(T obj) {
                on.accept(obj);
            }

            @Override
            public void onUpdate(T oldObj, T newObj) {
                on.accept(newObj);
            }

            @Override
            public void onDelete(T obj, boolean deletedFinalStateUnknown) {
                on.accept(obj);
            }
        };
    }
}
